"""Generate the accelerator's Verilog and its design summary from an artifact.

``generate(artifact, out_dir)`` writes ``<top>.v`` and ``design.json``. The summary records the
folding of every layer, memory sizes, accumulator widths, the port layout a driver needs, and the
predicted cycles per inference (steady state) and latency, which verification checks against
simulation.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import verilog

from ...sw.artifact import Artifact
from .folding import Folding, LayerFolding
from .interface import design_interface
from ..tools.files import replace_together
from .network import Network
from .options import HardwareOptions
from .plan import cycle_model, default_folding

__all__ = ["DEFAULT_TOP", "Design", "generate", "design_summary"]

DEFAULT_TOP = "qnnforge_top"


@dataclass(frozen=True)
class Design:
    """Paths and summary of a generated accelerator."""

    verilog: Path
    summary_path: Path
    summary: dict

    @property
    def top(self) -> str:
        return self.summary["top"]


def design_summary(network: Network, top: str) -> dict:
    """Return the JSON-able summary of ``network``: folding, sizes and the cycle model.

    Each layer's entry comes from its kind; the timing from :func:`~.plan.cycle_model`; with
    writable weights, ``weight_stream`` describes the top's ``w_stream``
    (:meth:`~.network.Network.weight_stream`).
    """
    artifact, folding = network.artifact, network.folding
    layers = network.layer_summaries()
    timing = cycle_model(artifact.layers, folding, network.options)
    weight_stream = network.weight_stream()
    return {
        "top": top,
        "folding": folding.to_json(),
        "layers": layers,
        "input": {"lanes": folding.input_lanes,
                  "element_bits": artifact.input.encoding.bits,
                  "beats_per_inference": timing.input_beats},
        "output": {"classes": artifact.num_classes, "score_bits": artifact.score_bits,
                   "cls_bits": len(network.o_stream.payload.cls)},
        "cycles_per_inference": timing.interval,
        "bottleneck": timing.bottleneck,
        "latency_cycles": timing.latency,
        "latency_exact": timing.latency_exact,
        "weight_bits": sum(entry["weight_memory"]["bits"] for entry in layers
                           if "weight_memory" in entry),
        **({} if weight_stream is None else {"weight_stream": weight_stream}),
    }


def generate(artifact: Artifact, out_dir: str | os.PathLike, folding: Folding | None = None,
             *, target_cycles: int | None = None,
             overrides: dict[int, LayerFolding] | None = None, top: str = DEFAULT_TOP,
             artifact_path: str | os.PathLike | None = None,
             options: HardwareOptions = HardwareOptions()) -> Design:
    """Write ``<top>.v`` and ``design.json`` for ``artifact`` into ``out_dir``.

    Parameters
    ----------
    artifact : Artifact
        The network to build.
    out_dir : path
        Output directory (created if needed).
    folding : Folding, optional
        Exact folding; by default one is chosen by :func:`~.plan.default_folding` from
        ``target_cycles`` (by default :func:`~.plan.default_target_cycles`) and the user's
        per-layer ``overrides``.
    options : HardwareOptions
        DSP use and popcount architecture (recorded in the summary).

    Raises
    ------
    ValueError
        If the folding does not fit the network or ``top`` is not a Verilog identifier.
    """
    if not top.isidentifier():
        raise ValueError(f"top must be a Verilog identifier, not {top!r}")
    if folding is None:
        folding = default_folding(artifact.layers, target_cycles, overrides)
    network = Network(artifact, folding, options=options)
    text = verilog.convert(network, name=top, emit_src=False)
    summary = design_summary(network, top)
    summary.update(options.to_json())
    summary["interface"] = design_interface(artifact, folding).to_json()
    summary["verilog_sha256"] = hashlib.sha256(text.encode()).hexdigest()
    if artifact_path is not None:
        summary["artifact"] = str(artifact_path)
    out_dir = Path(out_dir)
    verilog_path = out_dir / f"{top}.v"
    summary_path = out_dir / "design.json"
    # both or neither: a design.json never describes another run's Verilog
    replace_together({verilog_path: text, summary_path: json.dumps(summary, indent=2) + "\n"})
    return Design(verilog_path, summary_path, summary)
