"""Folding: how many PE x SIMD lanes each layer gets, and the cycle model that follows.

A layer with fan-in ``K`` and fan-out ``N`` folded onto ``PE`` x ``SIMD`` lanes takes
``ceil(K / SIMD) * (N / PE)`` cycles per vector. Layers run concurrently (dataflow), so the
network's steady-state cycles per inference is the slowest stage: a layer, or the input stream
(``K / input_lanes`` beats).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["LayerFolding", "Folding", "layer_cycles", "default_folding", "parse_folding",
           "DEFAULT_TARGET_CYCLES"]

DEFAULT_TARGET_CYCLES = 128


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
                raise ValueError(f"{name.upper()} must be a positive integer, not {value!r}")


@dataclass(frozen=True)
class Folding:
    """The folding of a whole network plus the width of its input stream."""

    layers: tuple[LayerFolding, ...]
    input_lanes: int

    def to_json(self) -> dict:
        return {"input_lanes": self.input_lanes,
                "layers": [{"pe": f.pe, "simd": f.simd} for f in self.layers]}


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _fold_layer(fan_in: int, fan_out: int, target: int) -> LayerFolding:
    """Return the cheapest (fewest lanes) folding that meets ``target`` cycles, else the fastest.

    Ties prefer a SIMD that divides the fan-in (no idle padding lanes), then fewer cycles, then
    the larger SIMD (wider popcounts are cheaper per lane than more accumulators).
    """
    candidates = []
    for pe in _divisors(fan_out):
        for simd in range(1, fan_in + 1):
            cycles = layer_cycles(fan_in, fan_out, pe, simd)
            candidates.append((cycles > target, pe * simd, fan_in % simd != 0, cycles, -simd, pe))
    best = min(candidates)
    return LayerFolding(pe=best[5], simd=-best[4])


def default_folding(shapes: list[tuple[int, int]], target_cycles: int = DEFAULT_TARGET_CYCLES,
                    overrides: dict[int, LayerFolding] | None = None) -> Folding:
    """Return a folding for layers of ``(fan_in, fan_out)`` that meets ``target_cycles``.

    Parameters
    ----------
    shapes : list of (int, int)
        Fan-in and fan-out of each layer, in order.
    target_cycles : int
        Cycles per inference to aim for.
    overrides : dict, optional
        Layer index -> folding chosen by the user; kept as given.

    Raises
    ------
    ValueError
        If ``target_cycles`` is not a positive integer or an override does not fit its layer.
    """
    if not isinstance(target_cycles, int) or target_cycles < 1:
        raise ValueError(f"target cycles must be a positive integer, not {target_cycles!r}")
    overrides = overrides or {}
    layers = []
    for index, (fan_in, fan_out) in enumerate(shapes):
        folding = overrides.get(index) or _fold_layer(fan_in, fan_out, target_cycles)
        check_layer_folding(index, fan_in, fan_out, folding)
        layers.append(folding)
    fan_in = shapes[0][0]
    # narrowest input stream that does not become the bottleneck
    bottleneck = max(layer_cycles(k, n, f.pe, f.simd) for (k, n), f in zip(shapes, layers))
    lanes = next(d for d in _divisors(fan_in) if fan_in // d <= bottleneck)
    return Folding(layers=tuple(layers), input_lanes=lanes)


def check_layer_folding(index: int, fan_in: int, fan_out: int, folding: LayerFolding) -> None:
    """Raise ValueError if ``folding`` does not fit layer ``index``."""
    if fan_out % folding.pe:
        raise ValueError(f"layer {index}: PE must divide the fan-out {fan_out}, not {folding.pe}")
    if folding.simd > fan_in:
        raise ValueError(f"layer {index}: SIMD must not exceed the fan-in {fan_in}, "
                         f"not {folding.simd}")


_SPEC = re.compile(r"^(\d+):(\d+)x(\d+)$")


def parse_folding(specs: list[str]) -> dict[int, LayerFolding]:
    """Parse user folding specs ``"LAYER:PExSIMD"`` (e.g. ``"0:8x16"``) into overrides.

    Raises
    ------
    ValueError
        If a spec does not have that form or names a layer twice.
    """
    overrides: dict[int, LayerFolding] = {}
    for spec in specs:
        match = _SPEC.match(spec.strip())
        if match is None:
            raise ValueError(f"folding must look like LAYER:PExSIMD (e.g. 0:8x16), not {spec!r}")
        index, pe, simd = (int(g) for g in match.groups())
        if index in overrides:
            raise ValueError(f"folding for layer {index} is given twice")
        overrides[index] = LayerFolding(pe=pe, simd=simd)
    return overrides
