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
from .folding import DEFAULT_TARGET_CYCLES, Folding, LayerFolding, default_folding, layer_cycles
from .interface import design_interface
from ..tools.files import write_atomic
from .network import Network
from .options import HardwareOptions

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

    Cycle model: every stage works on whole vectors and overlaps with its neighbours (double
    buffered inputs), so the steady-state interval is the slowest stage. The latency of one
    inference through an idle pipeline, from its first input beat being accepted to its result
    being offered, is the input beats plus, per layer, its cycles per vector and two pipeline
    registers (issue and output); the argmax's register takes the cycle the last input beat
    would otherwise need.
    """
    folding = network.folding
    layers = []
    for layer, fold in zip(network.lowered, folding.layers):
        cycles = layer_cycles(layer.fan_in, layer.fan_out, fold.pe, fold.simd)
        synapse_folds = -(-layer.fan_in // fold.simd)
        layers.append({
            "name": layer.name, "fan_in": layer.fan_in, "fan_out": layer.fan_out,
            "dot": layer.dot, "pe": fold.pe, "simd": fold.simd,
            "synapse_folds": synapse_folds, "neuron_folds": layer.fan_out // fold.pe,
            "cycles_per_vector": cycles,
            "input_bits": layer.input_shape.width, "accumulator_bits": layer.acc_shape.width,
            "output_bits": layer.output_shape.width,
            "weight_memory": {"width": fold.pe * fold.simd * layer.weight_shape.width,
                              "depth": cycles,
                              "bits": fold.pe * fold.simd * layer.weight_shape.width * cycles},
        })
    input_beats = network.lowered[0].fan_in // folding.input_lanes
    stages = [("input", input_beats)] + [(entry["name"], entry["cycles_per_vector"])
                                         for entry in layers]
    bottleneck, interval = max(stages, key=lambda stage: stage[1])
    latency = input_beats + sum(entry["cycles_per_vector"] + 2 for entry in layers)
    last = network.lowered[-1]
    return {
        "top": top,
        "folding": folding.to_json(),
        "layers": layers,
        "input": {"lanes": folding.input_lanes, "element_bits": network.lowered[0].input_shape.width,
                  "beats_per_inference": input_beats},
        "output": {"classes": last.fan_out, "score_bits": last.output_shape.width,
                   "cls_bits": len(network.o_stream.payload.cls)},
        "cycles_per_inference": interval,
        "bottleneck": bottleneck,
        "latency_cycles": latency,
        "weight_bits": sum(entry["weight_memory"]["bits"] for entry in layers),
    }


def generate(artifact: Artifact, out_dir: str | os.PathLike, folding: Folding | None = None,
             *, target_cycles: int = DEFAULT_TARGET_CYCLES,
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
        Exact folding; by default one is chosen by :func:`~.folding.default_folding` from
        ``target_cycles`` and the user's per-layer ``overrides``.
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
        shapes = [(layer.in_features, layer.out_features) for layer in artifact.layers]
        folding = default_folding(shapes, target_cycles, overrides)
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
    write_atomic(verilog_path, text)
    write_atomic(summary_path, json.dumps(summary, indent=2) + "\n")
    return Design(verilog_path, summary_path, summary)
