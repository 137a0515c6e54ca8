"""Verify a generated network bit-exactly against the integer reference in Verilator.

:func:`verify_network` computes the reference outputs of every layer, builds (or reuses) the
Verilator model of the design and runs :mod:`qnnforge.sim.network_tb` twice over the same
samples: once at full rate, measuring cycles per inference and latency, and once with random
input stalls and output backpressure. Any difference in any layer fails the run and names the
sample, the layer and the first differing value.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..hw.compiler.folding import Folding, LayerFolding
from ..hw.compiler.generate import Design
from ..hw.compiler.interface import DesignInterface, InterfaceError, design_interface
from ..hw.tools.files import save_npz_atomic
from ..sw import reference
from ..sw.artifact import Artifact
from .runner import SimulationFailed, build_design

__all__ = ["VerifyResult", "reference_vectors", "verify_network"]


@dataclass(frozen=True)
class VerifyResult:
    """What simulation measured."""

    samples: int
    mismatches: int
    classes: np.ndarray
    cycles_per_inference: float
    latency_cycles: int
    stalled_mismatches: int

    def to_json(self) -> dict:
        return {"samples": self.samples, "mismatches": self.mismatches,
                "cycles_per_inference": self.cycles_per_inference,
                "latency_cycles": self.latency_cycles,
                "stalled_mismatches": self.stalled_mismatches}


def reference_vectors(artifact: Artifact, codes: np.ndarray) -> dict[str, np.ndarray]:
    """Return the input codes and the reference's values of every layer, scores and classes.

    Layer outputs are values (bipolar -1/+1, two's complement numbers), keyed by layer name;
    the testbench reads each stream's codes into values as the design interface says.
    """
    trace = reference.run(artifact, codes)
    vectors = {"input_codes": artifact.input.encoding.to_code(trace.inputs)}
    for layer, output in zip(artifact.layers, trace.outputs):
        vectors[f"{layer.name}_values"] = output
    vectors["scores"] = trace.scores
    vectors["classes"] = trace.classes
    return vectors


def _interface_of(artifact: Artifact, summary: dict) -> DesignInterface:
    """Return the design's interface after checking that it was generated from ``artifact``."""
    interface = DesignInterface.from_json(summary.get("interface"))
    # the streams depend on the lanes of a folding only, which the interface itself records
    lanes = Folding(layers=tuple(LayerFolding(pe=layer.lanes, simd=1)
                                 for layer in interface.layers),
                    input_lanes=interface.input.lanes)
    try:
        matches = design_interface(artifact, lanes) == interface
    except ValueError:  # another number of layers, or lanes that do not divide a layer
        matches = False
    if not matches:
        raise InterfaceError("interface", f"does not describe a design of artifact "
                                          f"{artifact.name!r} (was it generated from another "
                                          f"artifact?)")
    return interface


def verify_network(artifact: Artifact, design: Design, codes: np.ndarray,
                   work_dir: str | os.PathLike, *, stall: float = 0.3,
                   backpressure: float = 0.3, seed: int = 1,
                   weight_beats: Sequence[int] = ()) -> VerifyResult:
    """Simulate ``design`` on quantized inputs ``codes`` and compare with the reference.

    The testbench learns the streams' lanes, element formats and the result word's layout from
    the ``"interface"`` section of the design summary. With ``weight_beats`` (a design with
    writable weights: :meth:`~qnnforge.hw.compiler.network.Network.weight_beats` of
    ``artifact``), each run first loads them through ``w_stream``, under the same stalls, so
    ``artifact`` is the network the load makes of the one built.

    Raises
    ------
    ValueError
        If ``stall`` or ``backpressure`` is not in [0, 1).
    InterfaceError
        If the design summary has no valid interface section, or one of another artifact.
    SimulationFailed
        If any layer output, score or class differs, or a result is missing.
    """
    for name, value in (("stall", stall), ("backpressure", backpressure)):
        if not 0 <= value < 1:
            raise ValueError(f"{name} must lie in [0, 1), not {value}")
    summary = design.summary
    interface = _interface_of(artifact, summary)
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    vectors_path = work_dir / "vectors.npz"
    save_npz_atomic(vectors_path, **reference_vectors(artifact, codes))
    results = {key: str(work_dir / f"result-{key}.json") for key in ("full_rate", "stalls")}
    for path in results.values():
        Path(path).unlink(missing_ok=True)
    config = {"vectors": str(vectors_path), "interface": interface.to_json(),
              "latency_cycles": summary["latency_cycles"],
              "cycles_per_inference": summary["cycles_per_inference"], "stall": stall,
              "backpressure": backpressure, "seed": seed, "results": results,
              "weight_beats": [f"{beat:x}" for beat in weight_beats]}
    built = build_design(design.verilog, design.top)
    try:
        built.run("qnnforge.sim.network_tb", config, name="network")
    except SimulationFailed as failure:
        details = []
        for path in results.values():
            if Path(path).exists():
                details += json.loads(Path(path).read_text())["errors"]
        raise SimulationFailed("; ".join(details) or str(failure)) from None
    full = json.loads(Path(results["full_rate"]).read_text())
    stalled = json.loads(Path(results["stalls"]).read_text())
    return VerifyResult(samples=full["samples"], mismatches=full["mismatches"],
                        classes=np.array(full["classes"], dtype=np.int64),
                        cycles_per_inference=full["cycles_per_inference"],
                        latency_cycles=full["latency_cycles"],
                        stalled_mismatches=stalled["mismatches"])
