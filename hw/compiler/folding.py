"""Folding: how many PE x SIMD lanes a matrix-vector layer gets, and its cycle formula.

A matrix of fan-in ``K`` and fan-out ``N`` folded onto ``PE`` x ``SIMD`` lanes takes
``ceil(K / SIMD) * (N / PE)`` cycles per vector (:func:`layer_cycles`, the one place this formula
lives). Which layers fold like this, and what a whole network's folding and cycle model are, is
for the layer kinds (:mod:`.layers`) and :mod:`.plan`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...sw.errors import QnnforgeError
from ...sw.specs import parse_layer_specs

__all__ = ["LayerFolding", "Folding", "FoldingError", "layer_cycles", "fold_matrix",
           "check_matrix_folding", "check_lanes", "lanes_within", "divisors", "parse_folding",
           "resolve_overrides", "DEFAULT_TARGET_CYCLES",
           "DEFAULT_IMAGE_TARGET_CYCLES"]

DEFAULT_TARGET_CYCLES = 128
"""Cycles per inference the default folding of a network with a flat input aims for."""
DEFAULT_IMAGE_TARGET_CYCLES = 1024
"""... and of a network with an image input (a convolution reads every pixel many times)."""


class FoldingError(QnnforgeError, ValueError):
    """A folding (given by the user or asked for) does not fit the network."""


def layer_cycles(fan_in: int, fan_out: int, pe: int, simd: int) -> int:
    """Return the steady-state cycles per vector of a layer folded onto ``pe`` x ``simd``."""
    return math.ceil(fan_in / simd) * (fan_out // pe)


@dataclass(frozen=True)
class LayerFolding:
    """PE (output channels in parallel) and SIMD (inputs per cycle) of one layer."""

    pe: int
    simd: int

    def __post_init__(self) -> None:
        for name in ("pe", "simd"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise FoldingError(f"{name.upper()} must be a positive integer, not {value!r}")


@dataclass(frozen=True)
class Folding:
    """The folding of a whole network plus the width of its input stream."""

    layers: tuple[LayerFolding, ...]
    input_lanes: int

    def to_json(self) -> dict:
        return {"input_lanes": self.input_lanes,
                "layers": [{"pe": f.pe, "simd": f.simd} for f in self.layers]}

    @classmethod
    def from_json(cls, data: dict) -> Folding:
        """Return the folding :meth:`to_json` wrote (e.g. a build's report.json)."""
        return cls(layers=tuple(LayerFolding(pe=layer["pe"], simd=layer["simd"])
                                for layer in data["layers"]), input_lanes=data["input_lanes"])


def divisors(n: int) -> list[int]:
    """Return the positive divisors of ``n`` in increasing order."""
    return [d for d in range(1, n + 1) if n % d == 0]


def fold_matrix(fan_in: int, fan_out: int, target: int, min_pe: int = 1) -> LayerFolding:
    """Return the cheapest (fewest lanes) folding that meets ``target`` cycles, else the fastest.

    Ties prefer a SIMD that divides the fan-in (no idle padding lanes), then fewer cycles, then
    the larger SIMD (wider popcounts are cheaper per lane than more accumulators). ``min_pe``
    asks for at least that many outputs a beat (the next layer's windows need them); the
    smallest PE dividing the fan-out that reaches it, or the fan-out, is the least taken.
    """
    candidates = []
    least = next((pe for pe in divisors(fan_out) if pe >= min_pe), fan_out)
    for pe in (pe for pe in divisors(fan_out) if pe >= least):
        for simd in range(1, fan_in + 1):
            cycles = layer_cycles(fan_in, fan_out, pe, simd)
            candidates.append((cycles > target, pe * simd, fan_in % simd != 0, cycles, -simd, pe))
    best = min(candidates)
    return LayerFolding(pe=best[5], simd=-best[4])


def check_matrix_folding(index: int, fan_in: int, fan_out: int, folding: LayerFolding) -> None:
    """Raise :class:`FoldingError` if ``folding`` does not fit the matrix of layer ``index``."""
    if fan_out % folding.pe:
        raise FoldingError(f"layer {index}: PE must divide the fan-out {fan_out}, "
                           f"not {folding.pe}")
    if folding.simd > fan_in:
        raise FoldingError(f"layer {index}: SIMD must not exceed the fan-in {fan_in}, "
                           f"not {folding.simd}")


def lanes_within(size: int, beats_per_lane, target: int, at_least: int = 1) -> int:
    """Return the smallest divisor ``L >= at_least`` of ``size`` with ``beats_per_lane(L) <=
    target`` (``size`` itself if none is small enough)."""
    for lanes in divisors(size):
        if lanes >= at_least and beats_per_lane(lanes) <= target:
            return lanes
    return size


def check_lanes(index: int, what: str, size: int, lanes: int) -> None:
    """Raise :class:`FoldingError` unless ``lanes`` elements per beat divide ``size``."""
    if size % lanes:
        raise FoldingError(f"layer {index}: the input stream's {lanes} elements per beat must "
                           f"divide {what} {size}")


def parse_folding(specs: list[str]) -> dict[int | str, LayerFolding]:
    """Parse user folding specs ``"LAYER:PExSIMD"`` into overrides.

    ``LAYER`` is a layer index (``"0:8x16"``) or a layer name (``"conv0:4x9"``); names are
    resolved against the network by :func:`resolve_overrides`.

    Raises
    ------
    FoldingError
        If a spec does not have that form or names a layer twice.
    """
    specs = parse_layer_specs(specs, r"^(\d+|[A-Za-z_]\w*):(\d+)x(\d+)$", form="LAYER:PExSIMD",
                              example="0:8x16 or conv0:4x9", name="folding", value="folding",
                              error=FoldingError)
    return {layer: LayerFolding(pe=int(pe), simd=int(simd))
            for layer, (pe, simd) in specs.items()}


def resolve_overrides(names: list[str], overrides: dict[int | str, LayerFolding]
                      ) -> dict[int, LayerFolding]:
    """Return ``overrides`` keyed by layer index, given the network's layer ``names``.

    Raises
    ------
    FoldingError
        If an override names no layer, or names one layer twice (by index and by name).
    """
    resolved: dict[int, LayerFolding] = {}
    for layer, folding in overrides.items():
        if isinstance(layer, str):
            if layer not in names:
                raise FoldingError(f"folding names layer {layer!r}, but the network's layers "
                                   f"are {', '.join(names)}")
            index = names.index(layer)
        else:
            if not 0 <= layer < len(names):
                raise FoldingError(f"folding names layer {layer}, but the network has "
                                   f"{len(names)} layers (0..{len(names) - 1})")
            index = layer
        if index in resolved:
            raise FoldingError(f"folding for layer {index} ({names[index]}) is given twice")
        resolved[index] = folding
    return resolved
