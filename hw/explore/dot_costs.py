"""What the dot units cost, as synthesis measured them: one line in the lanes per dot kind and
operand pair and fabric, from the cost explorer's records (``qnnforge cost``) or, for a pair it
has not measured, a demo's per-layer ``dot`` part; and the nearest measured pair for one that
neither measured. :mod:`.estimate` charges each layer's dot unit by it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ...sw.encoding import BIPOLAR, TERNARY, Encoding, codebook, sint, ttq, uint
from ...sw.errors import QnnforgeError
from ..compiler.dots import DOT_KINDS, dot_for
from ..compiler.options import HardwareOptions

__all__ = ["DotCostError", "PerLane", "operand_name", "lane_costs", "nearest_lane"]


class DotCostError(QnnforgeError, ValueError):
    """A cost record cannot be read, or no dot unit cost is known at all."""


_ENCODING = re.compile(r"^(bipolar|ternary|uint|int|codebook|ttq)(\d*)(\[(.*)\])?$")


def _parse_encoding(text: str) -> Encoding:
    """Return the encoding ``str(Encoding)`` wrote (the cost explorer's record fields)."""
    match = _ENCODING.match(text)
    if match is None:
        raise DotCostError(f"cost record encoding {text!r} is not one the estimator reads")
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


def operand_name(encoding: Encoding) -> str:
    """Return the name the per-lane costs key an operand by: its kind and width, without a
    table's values (``uint4``, ``int8``, ``bipolar``, ``ternary``, ``codebook4``, ``ttq``)."""
    if encoding.kind in ("bipolar", "ternary", "ttq"):
        return encoding.kind
    return f"{encoding.kind}{encoding.bits}"


@dataclass(frozen=True)
class PerLane:
    """What a dot unit of one kind costs at given operand widths, on one fabric, as a line in
    its lanes: ``lut * lanes + lut_fixed`` (the fixed part: the adder tree is one adder short
    of one per lane, and wider for more lanes), FFs alike, DSPs per lane.

    Attributes
    ----------
    dot : str
        Dot-product kind.
    inputs : str
        The input operand (:func:`operand_name`).
    input_bits, weight_bits : int
        Operand widths (the weight code's width).
    lut, lut_fixed, ff, ff_fixed, dsp : float
        Per lane and fixed.
    sources : tuple of str
        Where it was measured (``cost`` for the cost explorer, ``demo:<name>`` for a demo's
        breakdown).
    """

    dot: str
    inputs: str
    input_bits: int
    weight_bits: int
    lut: float
    lut_fixed: float
    ff: float
    ff_fixed: float
    dsp: float
    sources: tuple[str, ...] = ()

    def cost(self, lanes: int) -> tuple[float, float, float]:
        """Return the LUTs, FFs and DSPs of a unit of ``lanes`` lanes."""
        return (max(0.0, self.lut * lanes + self.lut_fixed),
                max(0.0, self.ff * lanes + self.ff_fixed), self.dsp * lanes)

    def to_json(self) -> dict:
        return {"dot": self.dot, "inputs": self.inputs, "input_bits": self.input_bits,
                "weight_bits": self.weight_bits, "lut": self.lut, "lut_fixed": self.lut_fixed,
                "ff": self.ff, "ff_fixed": self.ff_fixed, "dsp": self.dsp,
                "sources": list(self.sources)}

    @classmethod
    def from_json(cls, data: dict) -> PerLane:
        return cls(data["dot"], data["inputs"], data["input_bits"], data["weight_bits"],
                   data["lut"], data["lut_fixed"], data["ff"], data["ff_fixed"], data["dsp"],
                   tuple(data["sources"]))


def _record_architecture(dot: str, options: HardwareOptions) -> str:
    return options.popcount if dot_counts(dot) else "adder_tree"


def dot_counts(name: str) -> bool:
    """Return whether the dot kind ``name`` counts (its popcount architecture applies)."""
    return any(kind.name == name and kind.counts for kind in DOT_KINDS)


def _line(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Return slope and intercept of the least-squares line through ``(lanes, count)`` points
    (through the origin if they share one lane count)."""
    lanes = np.array([p[0] for p in points], dtype=float)
    counts = np.array([p[1] for p in points], dtype=float)
    if len(set(lanes)) < 2:
        return float(np.mean(counts / lanes)), 0.0
    slope, intercept = np.polyfit(lanes, counts, 1)
    return float(slope), float(intercept)


def lane_costs(cost_records: Iterable[dict], demo_lanes: Iterable[tuple[str, dict]],
               fabric: str, options: HardwareOptions) -> tuple[PerLane, ...]:
    """Return the dot units' costs measured on ``fabric``, one line per (dot kind, operands):
    through the cost explorer's lane counts where it measured the pair, else through the
    demos' dot parts.

    Parameters
    ----------
    cost_records : iterable of dict
        The cost explorer's records (``cost.json``'s ``records``); the dot units of this
        fabric, DSP setting and popcount architecture count.
    demo_lanes : iterable of (str, dict)
        ``(demo name, sample)`` with sample keys ``dot``, ``inputs``, ``input_bits``,
        ``weight_bits``, ``lanes``, ``lut``, ``ff``, ``dsp`` (a demo layer's ``dot`` part).
    """
    samples: dict[tuple, list[tuple[int, float, float, float, str]]] = {}
    for record in cost_records:
        if (record.get("kind") != "dot" or record.get("fabric") != fabric or "error" in record
                or record.get("dsp_inference") != options.dsp):
            continue
        activations = _parse_encoding(record["activations"])
        weights = _parse_encoding(record["weights"])
        dot = dot_for("cost record", activations, weights).name
        if record["architecture"] != _record_architecture(dot, options):
            continue
        samples.setdefault((dot, operand_name(activations), activations.bits, weights.bits),
                           []).append((record["lanes"], record["lut"], record["ff"],
                                       record["dsp"], "cost"))
    for demo, sample in demo_lanes:
        key = (sample["dot"], sample["inputs"], sample["input_bits"], sample["weight_bits"])
        samples.setdefault(key, []).append((sample["lanes"], sample["lut"], sample["ff"],
                                            sample["dsp"], f"demo:{demo}"))
    table = []
    for key, found in sorted(samples.items()):
        # a dot unit synthesized on its own is measured alike for every pair; a demo's part
        # only stands in for a pair the cost explorer has not measured
        found = [s for s in found if s[4] == "cost"] or found
        lut = _line([(s[0], s[1]) for s in found])
        ff = _line([(s[0], s[2]) for s in found])
        dsp = float(np.mean([s[3] / s[0] for s in found]))
        table.append(PerLane(*key, lut[0], lut[1], ff[0], ff[1], dsp,
                             tuple(sorted({s[4] for s in found}))))
    return tuple(table)


def nearest_lane(table: Sequence[PerLane], dot: str, inputs: str, input_bits: int,
                 weight_bits: int) -> PerLane:
    """Return the cost of ``dot`` with these operands: the measured one, else the nearest
    measured pair of the same kind (in ``log2`` of the operand bits' product; a wider one on
    ties; then the same input operand kind), else the nearest of any kind.

    Raises
    ------
    DotCostError
        If the table is empty.
    """
    if not table:
        raise DotCostError("no dot unit costs are known")
    same = [entry for entry in table if entry.dot == dot] or list(table)
    size = math.log2(input_bits * weight_bits)
    return min(same, key=lambda e: (abs(math.log2(e.input_bits * e.weight_bits) - size),
                                    -e.input_bits * e.weight_bits, e.inputs != inputs,
                                    abs(e.input_bits - input_bits)))
