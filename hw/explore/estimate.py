"""Resource estimate of a generated accelerator without synthesizing it: a calibrated cost model.

The model has few terms, each a physical quantity of the design the generator would build for
an artifact and a folding (:func:`layer_costs` elaborates the :class:`~..compiler.network.Network`
and reads them off its units and memories, so nothing is re-derived here):

==============  ============================================================================
term            per layer
==============  ============================================================================
dot lanes       ``PE * SIMD`` lanes x the LUTs (FFs, DSPs) one lane of the layer's dot kind and
                operand widths costs: the cost explorer's per-lane synthesis
                (``bench/results/cost.json``, ``qnnforge cost``) and the demos' per-layer ``dot``
                parts (their ``breakdown``), averaged per (kind, widths); an operand pair
                measured by neither takes the nearest measured pair of its kind
output stage    bits of the output constants read per cycle (``PE`` channels' thresholds,
                requantization constants or score offsets): one comparator or adder bit each
memory          bits of the memories (weights, constants, input and line buffers) too shallow
                for block RAM, which become LUTs or LUT RAM and registers
control         one per unit (counters, handshakes, the argmax)
==============  ============================================================================

``LUT = a * dot + b * constant bits + c * logic memory bits + d * units``, per fabric, and FFs
alike with the accumulator bits (``PE`` x accumulator width) in place of the dot lanes. The
coefficients are fitted, non-negative, to the flat Yosys totals of the demo reports
(``bench/results/demo-*.json``) by ``bench/calibrate.py``, which writes
:data:`DEFAULT_CALIBRATION`; a memory goes to block RAM from the depth that fits the reports'
block RAM counts best, and takes the fabric's fewest blocks
(:meth:`~..tools.fabrics.Fabric.bram_blocks`). ``bench/estimate.py`` measures the error, in
sample and leave one demo out.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from amaranth.hdl import Fragment, Shape

from ...sw.artifact import Artifact
from ...sw.encoding import BIPOLAR, TERNARY, Encoding, codebook, sint, ttq, uint
from ...sw.errors import QnnforgeError
from ...sw.manifest import read_encoding
from ..compiler.dots import dot_for
from ..compiler.folding import Folding
from ..compiler.layers import hardware_for
from ..compiler.network import Network
from ..compiler.options import HardwareOptions
from ..compiler.plan import check_folding, stream_lanes
from ..tools.fabrics import get_fabric

__all__ = ["MemoryBlock", "LayerCost", "PerLane", "FabricModel", "Calibration",
           "CalibrationError", "DEFAULT_CALIBRATION", "layer_costs", "lane_costs",
           "fit_fabric", "load_calibration", "estimate_resources", "estimate_layers"]

DEFAULT_CALIBRATION = Path(__file__).with_name("calibration.json")
"""The calibration ``bench/calibrate.py`` writes and :func:`estimate_resources` loads."""

SCHEMA = "qnnforge-estimate-calibration/1"
LUT_TERMS = ("dot", "constant_bits", "logic_memory_bits", "units")
FF_TERMS = ("accumulator_bits", "constant_bits", "logic_memory_bits", "units")


class CalibrationError(QnnforgeError, ValueError):
    """The estimator has no calibration for a fabric, or its calibration file is malformed."""


@dataclass(frozen=True)
class MemoryBlock:
    """One memory of a unit: its role (``weights``, ``constants`` or ``buffer``) and size."""

    role: str
    width: int
    depth: int

    @property
    def bits(self) -> int:
        return self.width * self.depth


@dataclass(frozen=True)
class LayerCost:
    """The quantities of one layer's unit that the cost model charges for.

    Attributes
    ----------
    name, op : str
        Layer name and kind.
    dot : str or None
        Dot-product kind of its lanes (None: the unit has none, e.g. a pool).
    lanes : int
        Dot-product lanes, ``PE * SIMD``.
    input_bits, weight_bits : int
        Widths of one input element and one weight code.
    accumulator_bits : int
        ``PE`` x accumulator width: the registers the lanes sum into.
    constant_bits : int
        Output constants read per cycle (``PE`` channels' worth).
    memories : tuple of MemoryBlock
        The unit's memories, as the generator builds them.
    """

    name: str
    op: str
    dot: str | None
    lanes: int
    input_bits: int
    weight_bits: int
    accumulator_bits: int
    constant_bits: int
    memories: tuple[MemoryBlock, ...]

    def memory_bits(self, role: str) -> int:
        """Return the bits of this layer's memories of ``role``."""
        return sum(memory.bits for memory in self.memories if memory.role == role)


def _memory_role(name: str) -> str:
    return name if name in ("weights", "constants") else "buffer"


def _memories(fragment) -> list[tuple[str, MemoryBlock]]:
    """Return every memory below ``fragment``, with its instance name."""
    found = []
    for sub, name, _ in fragment.subfragments:
        data = getattr(sub, "_data", None)
        if data is not None and hasattr(data, "depth"):
            found.append((name, MemoryBlock(_memory_role(name), Shape.cast(data.shape).width,
                                            data.depth)))
        found.extend(_memories(sub))
    return found


def layer_costs(artifact: Artifact, folding: Folding,
                options: HardwareOptions | None = None) -> tuple[LayerCost, ...]:
    """Return the cost-model quantities of each layer of ``artifact`` folded by ``folding``.

    The network is elaborated (not converted to Verilog) so the memories are the generator's
    own; the rest comes from each layer kind's design summary.

    Raises
    ------
    FoldingError
        If the folding does not fit the artifact.
    """
    options = options or HardwareOptions()
    check_folding(artifact.layers, folding)
    network = Network(artifact, folding, options=options)
    top = Fragment.get(network, None)
    units = {name: sub for sub, name, _ in top.subfragments}
    lanes = stream_lanes(artifact.layers, folding)
    costs = []
    for layer, fold, width in zip(artifact.layers, folding.layers, lanes):
        kind = hardware_for(layer)
        entry = kind.summary(kind.lower(layer), fold, width)
        memories = tuple(memory for _, memory in _memories(units[layer.name]))
        matrix = "fan_in" in entry  # a matrix-vector unit (dense, or a convolution's windows)
        constants = [m for name, m in _memories(units[layer.name]) if m.role == "constants"]
        manifest, _ = layer.to_manifest()
        weights = (read_encoding(manifest, "weight_encoding", layer.name)
                   if "weight_encoding" in manifest else None)
        costs.append(LayerCost(
            name=layer.name, op=layer.op, dot=entry["dot"] if matrix else None,
            lanes=fold.pe * fold.simd if matrix else 0, input_bits=entry["input_bits"],
            weight_bits=weights.bits if weights is not None else 0,
            accumulator_bits=fold.pe * entry["accumulator_bits"] if matrix else 0,
            constant_bits=sum(m.width for m in constants), memories=memories))
    return tuple(costs)


# --- per-lane costs of the dot kinds ------------------------------------------------------

_ENCODING = re.compile(r"^(bipolar|ternary|uint|int|codebook|ttq)(\d*)(\[(.*)\])?$")


def _parse_encoding(text: str) -> Encoding:
    """Return the encoding ``str(Encoding)`` wrote (the cost explorer's record fields)."""
    match = _ENCODING.match(text)
    if match is None:
        raise CalibrationError(f"cost record encoding {text!r} is not one the estimator reads")
    kind, bits, values = match[1], match[2], match[4]
    if kind == "bipolar":
        return BIPOLAR
    if kind == "ternary":
        return TERNARY
    if kind == "codebook":
        return codebook(int(bits), tuple(int(v) for v in values.split(",")))
    if kind == "ttq":
        negative, _, positive = (int(v) for v in values.replace("+", "").split(","))
        return ttq(-negative, positive)
    return (uint if kind == "uint" else sint)(int(bits))


@dataclass(frozen=True)
class PerLane:
    """What one lane of a dot kind costs at given operand widths, on one fabric.

    Attributes
    ----------
    dot : str
        Dot-product kind.
    input_bits, weight_bits : int
        Operand widths (the weight code's width).
    lut, ff, dsp : float
        Per lane.
    sources : tuple of str
        Where it was measured (``cost`` for the cost explorer, ``demo:<name>`` for a demo's
        breakdown).
    """

    dot: str
    input_bits: int
    weight_bits: int
    lut: float
    ff: float
    dsp: float
    sources: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"dot": self.dot, "input_bits": self.input_bits, "weight_bits": self.weight_bits,
                "lut": self.lut, "ff": self.ff, "dsp": self.dsp, "sources": list(self.sources)}

    @classmethod
    def from_json(cls, data: dict) -> PerLane:
        return cls(data["dot"], data["input_bits"], data["weight_bits"], data["lut"],
                   data["ff"], data["dsp"], tuple(data["sources"]))


def _record_architecture(dot: str, options: HardwareOptions) -> str:
    return options.popcount if dot_counts(dot) else "adder_tree"


def dot_counts(name: str) -> bool:
    """Return whether the dot kind ``name`` counts (its popcount architecture applies)."""
    from ..compiler.dots import DOT_KINDS
    return any(kind.name == name and kind.counts for kind in DOT_KINDS)


def lane_costs(cost_records: Iterable[dict], demo_lanes: Iterable[tuple[str, dict]],
               fabric: str, options: HardwareOptions) -> tuple[PerLane, ...]:
    """Return the per-lane costs measured on ``fabric``, one per (dot kind, operand widths).

    Parameters
    ----------
    cost_records : iterable of dict
        The cost explorer's records (``cost.json``'s ``records``); the dot units of this
        fabric, DSP setting and popcount architecture count.
    demo_lanes : iterable of (str, dict)
        ``(demo name, sample)`` with sample keys ``dot``, ``input_bits``, ``weight_bits``,
        ``lanes``, ``lut``, ``ff``, ``dsp`` (a demo layer's ``dot`` part).
    """
    samples: dict[tuple, list[tuple[float, float, float, str]]] = {}
    for record in cost_records:
        if (record.get("kind") != "dot" or record.get("fabric") != fabric or "error" in record
                or record.get("dsp_inference") != options.dsp):
            continue
        activations = _parse_encoding(record["activations"])
        weights = _parse_encoding(record["weights"])
        dot = dot_for("cost record", activations, weights).name
        if record["architecture"] != _record_architecture(dot, options):
            continue
        lanes = record["lanes"]
        samples.setdefault((dot, activations.bits, weights.bits), []).append(
            (record["lut"] / lanes, record["ff"] / lanes, record["dsp"] / lanes, "cost"))
    for demo, sample in demo_lanes:
        lanes = sample["lanes"]
        samples.setdefault((sample["dot"], sample["input_bits"], sample["weight_bits"]),
                           []).append((sample["lut"] / lanes, sample["ff"] / lanes,
                                       sample["dsp"] / lanes, f"demo:{demo}"))
    return tuple(
        PerLane(dot, a, w, *(float(np.mean([s[i] for s in found])) for i in range(3)),
                tuple(sorted({s[3] for s in found})))
        for (dot, a, w), found in sorted(samples.items()))


def nearest_lane(table: Sequence[PerLane], dot: str, input_bits: int,
                 weight_bits: int) -> PerLane:
    """Return the per-lane cost of ``dot`` at these widths: the measured one, else the nearest
    measured pair of the same kind (in ``log2`` of the operand bits' product; a wider one
    on ties), else the nearest of any kind.

    Raises
    ------
    CalibrationError
        If the table is empty.
    """
    if not table:
        raise CalibrationError("the calibration has no per-lane costs")
    same = [entry for entry in table if entry.dot == dot] or list(table)
    size = math.log2(input_bits * weight_bits)
    return min(same, key=lambda e: (abs(math.log2(e.input_bits * e.weight_bits) - size),
                                    -e.input_bits * e.weight_bits,
                                    abs(e.input_bits - input_bits)))


# --- the fitted model ---------------------------------------------------------------------

@dataclass(frozen=True)
class FabricModel:
    """The calibrated cost model of one fabric.

    Attributes
    ----------
    fabric : str
        Fabric name.
    lanes : tuple of PerLane
        Per-lane costs of the dot kinds.
    lut, ff : dict of str to float
        Coefficients of :data:`LUT_TERMS` and :data:`FF_TERMS`.
    bram_depth : int or None
        Memories at least this deep go to block RAM (None: none do).
    demos : tuple of str
        The demo reports it was fitted to.
    """

    fabric: str
    lanes: tuple[PerLane, ...]
    lut: dict[str, float]
    ff: dict[str, float]
    bram_depth: int | None
    demos: tuple[str, ...] = ()

    def in_bram(self, memory: MemoryBlock) -> bool:
        """Return whether ``memory`` is estimated to go to block RAM."""
        return (self.bram_depth is not None and memory.depth >= self.bram_depth
                and bool(get_fabric(self.fabric).bram_shapes))

    def terms(self, layer: LayerCost) -> dict[str, float]:
        """Return the model's terms of ``layer`` (per-lane costs already applied)."""
        lane = (nearest_lane(self.lanes, layer.dot, layer.input_bits, layer.weight_bits)
                if layer.dot is not None else None)
        logic = sum(m.bits for m in layer.memories if not self.in_bram(m))
        return {"dot": layer.lanes * lane.lut if lane else 0.0,
                "dot_ff": layer.lanes * lane.ff if lane else 0.0,
                "dot_dsp": layer.lanes * lane.dsp if lane else 0.0,
                "accumulator_bits": float(layer.accumulator_bits),
                "constant_bits": float(layer.constant_bits),
                "logic_memory_bits": float(logic), "units": 1.0}

    def layer(self, layer: LayerCost) -> dict:
        """Return the estimated ``lut``, ``ff``, ``bram``, ``dsp`` of one layer's unit."""
        terms = self.terms(layer)
        fabric = get_fabric(self.fabric)
        return {
            "lut": sum(self.lut[t] * terms[t] for t in LUT_TERMS),
            "ff": terms["dot_ff"] + sum(self.ff[t] * terms[t] for t in FF_TERMS),
            "bram": sum(fabric.bram_blocks(m.width, m.depth) for m in layer.memories
                        if self.in_bram(m)),
            "dsp": terms["dot_dsp"],
        }

    def to_json(self) -> dict:
        return {"fabric": self.fabric, "lut": self.lut, "ff": self.ff,
                "bram_depth": self.bram_depth, "demos": list(self.demos),
                "lanes": [lane.to_json() for lane in self.lanes]}

    @classmethod
    def from_json(cls, data: dict) -> FabricModel:
        return cls(data["fabric"], tuple(PerLane.from_json(x) for x in data["lanes"]),
                   dict(data["lut"]), dict(data["ff"]), data["bram_depth"],
                   tuple(data["demos"]))


@dataclass(frozen=True)
class Calibration:
    """The cost models of every calibrated fabric."""

    fabrics: dict[str, FabricModel] = field(default_factory=dict)

    def model(self, fabric: str) -> FabricModel:
        """Return the model of ``fabric``.

        Raises
        ------
        CalibrationError
            If the fabric is not calibrated.
        """
        get_fabric(fabric)
        if fabric not in self.fabrics:
            raise CalibrationError(f"fabric {fabric!r} has no calibration (calibrated: "
                                   f"{', '.join(sorted(self.fabrics))}); run bench/calibrate.py "
                                   f"on demo reports synthesized for it")
        return self.fabrics[fabric]

    def to_json(self) -> dict:
        return {"schema": SCHEMA,
                "fabrics": {name: model.to_json() for name, model in self.fabrics.items()}}

    @classmethod
    def from_json(cls, data: dict) -> Calibration:
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise CalibrationError(f"calibration schema must be {SCHEMA!r}, not "
                                   f"{data.get('schema') if isinstance(data, dict) else data!r}")
        return cls({name: FabricModel.from_json(model)
                    for name, model in data["fabrics"].items()})


def load_calibration(path: str | os.PathLike = DEFAULT_CALIBRATION) -> Calibration:
    """Return the calibration stored at ``path``.

    Raises
    ------
    CalibrationError
        If the file is missing or not a calibration.
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise CalibrationError(f"cannot read the calibration {path}: {error}") from None
    return Calibration.from_json(data)


def _nnls(rows: np.ndarray, targets: np.ndarray) -> np.ndarray:
    from scipy.optimize import nnls

    # relative error is what matters: weight each design by 1 / its measured total
    weights = 1.0 / np.maximum(targets, 1.0)
    solution, _ = nnls(rows * weights[:, None], targets * weights)
    return solution


def fit_fabric(fabric: str, lanes: tuple[PerLane, ...],
               designs: Sequence[tuple[str, Sequence[LayerCost], dict]]) -> FabricModel:
    """Return the model of ``fabric`` fitted to measured designs.

    Parameters
    ----------
    lanes : tuple of PerLane
        Per-lane costs (:func:`lane_costs`).
    designs : sequence of (str, sequence of LayerCost, dict)
        ``(demo name, its layers' costs, its flat resources on this fabric)`` with resource
        keys ``lut``, ``ff``, ``bram``.

    Raises
    ------
    CalibrationError
        If no design is given.
    """
    if not designs:
        raise CalibrationError(f"no demo report to calibrate {fabric!r} on")
    depths = sorted({m.depth for _, layers, _ in designs for layer in layers
                     for m in layer.memories})
    candidates: list[int | None] = [None, *depths] if get_fabric(fabric).bram_shapes else [None]

    def bram_error(depth):
        model = FabricModel(fabric, lanes, dict.fromkeys(LUT_TERMS, 0.0),
                            dict.fromkeys(FF_TERMS, 0.0), depth)
        return sum(abs(sum(model.layer(layer)["bram"] for layer in layers) - measured["bram"])
                   for _, layers, measured in designs)

    bram_depth = min(candidates, key=lambda d: (bram_error(d), -(d or 1 << 30)))
    probe = FabricModel(fabric, lanes, {}, {}, bram_depth)
    sums = [{name: sum(probe.terms(layer)[name] for layer in layers)
             for name in (*LUT_TERMS, *FF_TERMS, "dot_ff")} for _, layers, _ in designs]
    # the argmax is one more unit
    for total in sums:
        total["units"] += 1
    lut = _nnls(np.array([[s[t] for t in LUT_TERMS] for s in sums]),
                np.array([float(m["lut"]) for _, _, m in designs]))
    ff = _nnls(np.array([[s[t] for t in FF_TERMS] for s in sums]),
               np.array([float(m["ff"]) - s["dot_ff"] for s, (_, _, m) in zip(sums, designs)]))
    return FabricModel(fabric, lanes, dict(zip(LUT_TERMS, map(float, lut))),
                       dict(zip(FF_TERMS, map(float, ff))), bram_depth,
                       tuple(name for name, _, _ in designs))


# --- the estimate --------------------------------------------------------------------------

def estimate_layers(costs: Sequence[LayerCost], model: FabricModel) -> dict:
    """Return the estimate of layers whose costs are ``costs`` under ``model``: the dict
    :func:`estimate_resources` returns."""
    layers = {layer.name: model.layer(layer) for layer in costs}
    control = {"lut": model.lut["units"], "ff": model.ff["units"], "bram": 0, "dsp": 0.0}
    totals = {key: sum(entry[key] for entry in layers.values()) + control[key]
              for key in ("lut", "ff", "bram", "dsp")}
    return {**{key: int(round(value)) for key, value in totals.items()},
            "layers": {name: {key: int(round(value)) for key, value in entry.items()}
                       for name, entry in layers.items()}}


def estimate_resources(artifact: Artifact, folding: Folding, fabric: str,
                       options: HardwareOptions | None = None, *,
                       calibration: Calibration | None = None) -> dict:
    """Return the estimated resources of ``artifact`` folded by ``folding`` on ``fabric``.

    Parameters
    ----------
    artifact : Artifact
        The network.
    folding : Folding
        Its folding (e.g. :func:`~..compiler.plan.default_folding`).
    fabric : str
        A calibrated fabric (``ice40``, ``xc7``).
    options : HardwareOptions, optional
        DSP use and popcount (default: the generator's defaults).
    calibration : Calibration, optional
        By default :data:`DEFAULT_CALIBRATION`.

    Returns
    -------
    dict
        ``{"lut", "ff", "bram", "dsp": int, "layers": {name: {"lut", "ff", "bram", "dsp"}}}``;
        the totals include the argmax and control that no layer owns.

    Raises
    ------
    CalibrationError
        If the fabric has no calibration.
    FoldingError
        If the folding does not fit.
    """
    model = (calibration or load_calibration()).model(fabric)
    return estimate_layers(layer_costs(artifact, folding, options), model)
