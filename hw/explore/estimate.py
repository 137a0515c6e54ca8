"""Resource estimate of a generated accelerator without synthesizing it: a calibrated cost model.

The model has few terms, each a physical quantity of the design the generator would build for
an artifact and a folding (:func:`layer_costs` elaborates the :class:`~..compiler.network.Network`
and reads them off its units and memories, so nothing is re-derived here):

================  ==========================================================================
term              per layer
================  ==========================================================================
dot               the dot unit of ``PE * SIMD`` lanes of the layer's kind and operands, as the
                  cost explorer measured it alone (``bench/results/cost.json`` and
                  ``cost-pairs.json``, ``qnnforge cost``: a line through its lane counts),
                  or, for a pair it has not measured, the demos' per-layer ``dot`` parts
                  (their ``breakdown``), or the nearest measured pair of the kind; units with
                  DSP multipliers (``dsp_dot``) and without (``dot``) apart, since the logic
                  around a DSP and LUT arithmetic each scale in their own way in a design
constant bits     the output constants read per cycle (``PE`` channels' thresholds,
                  requantization constants or score offsets): a comparator or adder bit each
accumulator bits  ``PE`` x accumulator width: an adder bit and a register each
ROM, RAM bits     weight and constant memories (ROM: LUT logic) and input and line buffers
                  (RAM: registers and read multiplexers, or LUT RAM) too shallow for block RAM
read bits         the read data registers of those memories (FFs)
units             one per unit and the argmax (counters, handshakes)
output multipl.   a requantizer's ``acc * multiplier`` per channel (DSPs)
================  ==========================================================================

Per fabric, ``LUT`` is a non-negative combination of :data:`LUT_TERMS`, ``FF`` the dot units'
own registers plus one of :data:`FF_TERMS`, ``DSP`` the dot units' own plus one of
:data:`DSP_TERMS`; ``bench/calibrate.py`` fits the coefficients to the flat Yosys totals of
the demo reports (``bench/results/demo-*.json``) and writes :data:`DEFAULT_CALIBRATION`. A memory
goes to block RAM from a depth on (one for RAM, one for ROM, which Yosys turns into logic
sooner; both chosen to fit the reports' block RAM counts best) and takes the fabric's fewest
blocks (:meth:`~..tools.fabrics.Fabric.bram_blocks`). ``bench/estimate.py`` measures the
error, in sample and leaving each demo out of the calibration.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from amaranth.hdl import Fragment, Shape
from amaranth.lib import data

from ...sw.artifact import Artifact
from ...sw.errors import QnnforgeError
from ...sw.summary import weight_encoding
from ..compiler.folding import Folding
from ..compiler.network import Network
from ..compiler.options import HardwareOptions
from ..tools.fabrics import get_fabric
from .dot_costs import PerLane, nearest_lane, operand_name

__all__ = ["MemoryBlock", "LayerCost", "FabricModel", "Calibration", "CalibrationError",
           "DEFAULT_CALIBRATION", "LUT_TERMS", "FF_TERMS", "DSP_TERMS", "layer_costs",
           "fit_fabric", "load_calibration", "estimate_resources", "estimate_layers"]

DEFAULT_CALIBRATION = Path(__file__).with_name("calibration.json")
"""The calibration ``bench/calibrate.py`` writes and :func:`estimate_resources` loads."""

SCHEMA = "qnnforge-estimate-calibration/1"
LUT_TERMS = ("dot", "dsp_dot", "constant_bits", "accumulator_bits", "rom_logic_bits",
             "ram_logic_bits", "units")
FF_TERMS = ("accumulator_bits", "ram_logic_bits", "read_bits", "units")
DSP_TERMS = ("output_multipliers",)


class CalibrationError(QnnforgeError, ValueError):
    """The estimator has no calibration for a fabric, or its calibration file is malformed."""


@dataclass(frozen=True)
class MemoryBlock:
    """One memory of a unit: its role (``weights``, ``constants`` or ``buffer``), its size, and
    the ``multiplier`` constants one word holds (a requantizer's, one a channel)."""

    role: str
    width: int
    depth: int
    multipliers: int = 0

    @property
    def bits(self) -> int:
        return self.width * self.depth

    @property
    def writable(self) -> bool:
        """Whether the unit writes it (a buffer: RAM); weights and constants are ROM."""
        return self.role == "buffer"


@dataclass(frozen=True)
class LayerCost:
    """The quantities of one layer's unit that the cost model charges for.

    Attributes
    ----------
    name, op : str
        Layer name and kind.
    dot : str or None
        Dot-product kind of its lanes (None: the unit has none, e.g. a pool).
    inputs : str
        The input operand (:func:`operand_name`).
    lanes : int
        Dot-product lanes, ``PE * SIMD``.
    input_bits, weight_bits : int
        Widths of one input element and one weight code.
    accumulator_bits : int
        ``PE`` x accumulator width: the registers the lanes sum into.
    constant_bits : int
        Output constants read per cycle (``PE`` channels' worth).
    output_multipliers : int
        Multipliers of the output stages (a requantizer's ``acc * multiplier`` per channel).
    memories : tuple of MemoryBlock
        The unit's memories, as the generator builds them.
    """

    name: str
    op: str
    dot: str | None
    inputs: str
    lanes: int
    input_bits: int
    weight_bits: int
    accumulator_bits: int
    constant_bits: int
    output_multipliers: int
    memories: tuple[MemoryBlock, ...]

    def memory_bits(self, role: str) -> int:
        """Return the bits of this layer's memories of ``role``."""
        return sum(memory.bits for memory in self.memories if memory.role == role)


def _memory_role(name: str) -> str:
    return name if name in ("weights", "constants") else "buffer"


def _multipliers(shape) -> int:
    """Return how many fields named ``multiplier`` a memory word of ``shape`` holds."""
    if isinstance(shape, data.ArrayLayout):
        return shape.length * _multipliers(shape.elem_shape)
    if isinstance(shape, data.StructLayout):
        return int("multiplier" in dict(shape.members))
    return 0


def _memories(fragment) -> list[MemoryBlock]:
    """Return every memory below ``fragment`` (an elaborated unit)."""
    found = []
    for sub, name, _ in fragment.subfragments:
        # an elaborated lib.memory.Memory is a MemoryInstance holding its MemoryData (shape,
        # depth, init); Amaranth 0.5 keeps it as ``_data`` (pinned <0.6 in pyproject.toml)
        memory = getattr(sub, "_data", None)
        if memory is not None and hasattr(memory, "depth"):
            found.append(MemoryBlock(_memory_role(name), Shape.cast(memory.shape).width,
                                     memory.depth, _multipliers(memory.shape)))
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
    network = Network(artifact, folding, options=options or HardwareOptions())
    units = {name: unit for unit, name, _ in Fragment.get(network, None).subfragments}
    costs = []
    for layer, fold, entry in zip(artifact.layers, folding.layers, network.layer_summaries()):
        memories = tuple(_memories(units[layer.name]))
        matrix = "fan_in" in entry  # a matrix-vector unit (dense, or a convolution's windows)
        constants = [m for m in memories if m.role == "constants"]
        weights = weight_encoding(layer)
        costs.append(LayerCost(
            name=layer.name, op=layer.op, dot=entry["dot"] if matrix else None,
            inputs=operand_name(layer.input_encoding),
            lanes=fold.pe * fold.simd if matrix else 0, input_bits=entry["input_bits"],
            weight_bits=weights.bits if weights is not None else 0,
            accumulator_bits=fold.pe * entry["accumulator_bits"] if matrix else 0,
            constant_bits=sum(m.width for m in constants),
            output_multipliers=sum(m.multipliers for m in constants), memories=memories))
    return tuple(costs)


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
    lut, ff, dsp_per : dict of str to float
        Coefficients of :data:`LUT_TERMS`, :data:`FF_TERMS` and :data:`DSP_TERMS`.
    ram_depth, rom_depth : int or None
        RAMs (buffers) and ROMs (weights, constants) at least this deep go to block RAM
        (None: none do).
    demos : tuple of str
        The demo reports it was fitted to.
    dsp, popcount, pipeline :
        The hardware options the demos and per-lane costs were built with; the model
        estimates designs built with the same.
    """

    fabric: str
    lanes: tuple[PerLane, ...]
    lut: dict[str, float]
    ff: dict[str, float]
    dsp_per: dict[str, float]
    ram_depth: int | None
    rom_depth: int | None
    demos: tuple[str, ...] = ()
    dsp: bool = True
    popcount: str = "adder_tree"
    pipeline: int = 0

    def check_options(self, options: HardwareOptions) -> None:
        """Raise :class:`CalibrationError` unless ``options`` build what the model was fitted
        to (DSP inference, popcount, pipeline registers, memories placed by synthesis)."""
        fitted = (self.dsp, self.popcount, self.pipeline)
        if (options.dsp, options.popcount, options.pipeline) != fitted:
            raise CalibrationError(
                f"the {self.fabric} estimate is calibrated for designs with DSP inference "
                f"{'on' if self.dsp else 'off'}, the {self.popcount} popcount and pipeline "
                f"{self.pipeline}, not {'on' if options.dsp else 'off'}, {options.popcount} "
                f"and {options.pipeline}")
        placed = ([f"weight memories asked for block RAM from {options.block_rom_words} words"]
                  if options.block_rom_words is not None else [])
        placed += ["whole-word input-buffer writes"] if options.whole_word_writes else []
        placed += ["writable weights"] if options.writable_weights else []
        if placed:
            raise CalibrationError(
                f"the {self.fabric} estimate is calibrated for designs whose memories synthesis "
                f"places, not with {' and '.join(placed)}")

    def in_bram(self, memory: MemoryBlock) -> bool:
        """Return whether ``memory`` is estimated to go to block RAM."""
        depth = self.ram_depth if memory.writable else self.rom_depth
        return (depth is not None and memory.depth >= depth
                and bool(get_fabric(self.fabric).bram_shapes))

    def terms(self, layer: LayerCost) -> dict[str, float]:
        """Return the model's terms of ``layer`` (per-lane costs already applied)."""
        lut, ff, dsp = (nearest_lane(self.lanes, layer.dot, layer.inputs, layer.input_bits,
                                     layer.weight_bits).cost(layer.lanes)
                        if layer.dot is not None else (0.0, 0.0, 0.0))
        logic = [m for m in layer.memories if not self.in_bram(m)]
        # the logic around DSP multipliers (operand and sum widths) and LUT multipliers and
        # adders scale apart from their units measured alone
        return {"dot": 0.0 if dsp else lut, "dsp_dot": lut if dsp else 0.0,
                "dot_ff": ff, "dot_dsp": dsp,
                "accumulator_bits": float(layer.accumulator_bits),
                "constant_bits": float(layer.constant_bits),
                "rom_logic_bits": float(sum(m.bits for m in logic if not m.writable)),
                "ram_logic_bits": float(sum(m.bits for m in logic if m.writable)),
                # a synchronous read port's data register, where the memory is not a block RAM
                "read_bits": float(sum(m.width for m in logic)),
                "output_multipliers": float(layer.output_multipliers), "units": 1.0}

    def layer(self, layer: LayerCost) -> dict:
        """Return the estimated ``lut``, ``ff``, ``bram``, ``dsp`` of one layer's unit."""
        terms = self.terms(layer)
        fabric = get_fabric(self.fabric)
        return {
            "lut": sum(self.lut[t] * terms[t] for t in LUT_TERMS),
            "ff": terms["dot_ff"] + sum(self.ff[t] * terms[t] for t in FF_TERMS),
            "bram": sum(fabric.bram_blocks(m.width, m.depth) for m in layer.memories
                        if self.in_bram(m)),
            "dsp": terms["dot_dsp"] + sum(self.dsp_per[t] * terms[t] for t in DSP_TERMS),
        }

    def to_json(self) -> dict:
        return {"fabric": self.fabric, "lut": self.lut, "ff": self.ff, "dsp_per": self.dsp_per,
                "ram_depth": self.ram_depth, "rom_depth": self.rom_depth,
                "demos": list(self.demos), "dsp": self.dsp,
                "popcount": self.popcount, "pipeline": self.pipeline,
                "lanes": [lane.to_json() for lane in self.lanes]}

    @classmethod
    def from_json(cls, data: dict) -> FabricModel:
        return cls(data["fabric"], tuple(PerLane.from_json(x) for x in data["lanes"]),
                   dict(data["lut"]), dict(data["ff"]), dict(data["dsp_per"]),
                   data["ram_depth"], data["rom_depth"],
                   tuple(data["demos"]), data["dsp"], data["popcount"],
                   data.get("pipeline", 0))


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
        try:
            return cls({name: FabricModel.from_json(model)
                        for name, model in data["fabrics"].items()})
        except (KeyError, TypeError, AttributeError) as error:
            raise CalibrationError(f"calibration is malformed: {type(error).__name__} "
                                   f"{error}") from None


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


def _nnls(rows: np.ndarray, targets: np.ndarray, relative: bool = True) -> np.ndarray:
    from scipy.optimize import nnls

    # relative error is what matters: weight each design by 1 / its measured total (a count
    # that is often 0, DSPs, by its absolute error)
    weights = 1.0 / np.maximum(targets, 1.0) if relative else np.ones_like(targets)
    solution, _ = nnls(rows * weights[:, None], targets * weights)
    return solution


def fit_fabric(fabric: str, lanes: tuple[PerLane, ...],
               designs: Sequence[tuple[str, Sequence[LayerCost], dict]],
               options: HardwareOptions | None = None) -> FabricModel:
    """Return the model of ``fabric`` fitted to measured designs.

    Parameters
    ----------
    lanes : tuple of PerLane
        Per-lane costs (:func:`lane_costs`).
    designs : sequence of (str, sequence of LayerCost, dict)
        ``(demo name, its layers' costs, its flat resources on this fabric)`` with resource
        keys ``lut``, ``ff``, ``bram``.
    options : HardwareOptions, optional
        What the designs were built with (default: the generator's defaults).

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

    def bram_error(ram: int | None, rom: int | None) -> int:
        model = FabricModel(fabric, lanes, dict.fromkeys(LUT_TERMS, 0.0),
                            dict.fromkeys(FF_TERMS, 0.0), dict.fromkeys(DSP_TERMS, 0.0),
                            ram, rom)
        return sum(abs(sum(model.layer(layer)["bram"] for layer in layers) - measured["bram"])
                   for _, layers, measured in designs)

    # the least error; among equals the deepest thresholds (fewest memories assumed in BRAM)
    ram_depth, rom_depth = min(((ram, rom) for ram in candidates for rom in candidates),
                               key=lambda pair: (bram_error(*pair),
                                                 *(-(d or 1 << 30) for d in pair)))
    probe = FabricModel(fabric, lanes, {}, {}, {}, ram_depth, rom_depth)
    sums = [{name: sum(probe.terms(layer)[name] for layer in layers)
             for name in (*LUT_TERMS, *FF_TERMS, *DSP_TERMS, "dot_ff", "dot_dsp")}
            for _, layers, _ in designs]
    # the argmax is one more unit
    for total in sums:
        total["units"] += 1
    lut = _nnls(np.array([[s[t] for t in LUT_TERMS] for s in sums]),
                np.array([float(m["lut"]) for _, _, m in designs]))
    ff = _nnls(np.array([[s[t] for t in FF_TERMS] for s in sums]),
               np.array([float(m["ff"]) - s["dot_ff"] for s, (_, _, m) in zip(sums, designs)]))
    dsp = _nnls(np.array([[s[t] for t in DSP_TERMS] for s in sums]),
                np.array([float(m["dsp"]) - s["dot_dsp"] for s, (_, _, m) in zip(sums, designs)]),
                relative=False)
    options = options or HardwareOptions()
    return FabricModel(fabric, lanes, dict(zip(LUT_TERMS, map(float, lut))),
                       dict(zip(FF_TERMS, map(float, ff))), dict(zip(DSP_TERMS, map(float, dsp))),
                       ram_depth, rom_depth,
                       tuple(name for name, _, _ in designs), options.dsp, options.popcount,
                       options.pipeline)


# --- the estimate --------------------------------------------------------------------------

def estimate_layers(costs: Sequence[LayerCost], model: FabricModel) -> dict:
    """Return the estimate of layers whose costs are ``costs`` under ``model``: the dict
    :func:`estimate_resources` returns."""
    layers = {layer.name: model.layer(layer) for layer in costs}
    control = {"lut": model.lut["units"], "ff": model.ff["units"], "bram": 0, "dsp": 0.0}
    # the argmax is one more unit, which no layer owns
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
        If the fabric has no calibration, or one for other DSP or popcount options.
    FoldingError
        If the folding does not fit.
    """
    options = options or HardwareOptions()
    model = (calibration or load_calibration()).model(fabric)
    model.check_options(options)
    return estimate_layers(layer_costs(artifact, folding, options), model)
