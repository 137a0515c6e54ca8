"""A whole network's folding and cycle model, from the layer kinds' own answers.

Layers run concurrently (dataflow) and every stage works on whole vectors, double buffered, so
the network's steady-state cycles per inference is its slowest stage: a layer, or the input
stream (``K / input_lanes`` beats). The latency of one inference through an idle pipeline, from
its first input beat being accepted to its result being offered, is the input beats plus each
layer's latency; the argmax's register takes the cycle the last input beat would otherwise need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...sw.layers import Layer
from .folding import DEFAULT_TARGET_CYCLES, Folding, FoldingError, LayerFolding, divisors
from .layers import hardware_for

__all__ = ["default_folding", "check_folding", "CycleModel", "cycle_model"]


def default_folding(layers: Sequence[Layer], target_cycles: int = DEFAULT_TARGET_CYCLES,
                    overrides: dict[int, LayerFolding] | None = None) -> Folding:
    """Return a folding for ``layers`` that meets ``target_cycles``.

    Each layer gets its kind's cheapest folding within the target (or its fastest one); the
    input stream gets the fewest lanes that do not make it the bottleneck.

    Parameters
    ----------
    layers : sequence of Layer
        The artifact's layers, in order.
    target_cycles : int
        Cycles per inference to aim for.
    overrides : dict, optional
        Layer index -> folding chosen by the user; kept as given.

    Raises
    ------
    FoldingError
        If ``target_cycles`` is not a positive integer, an override names no layer or does not
        fit its layer.
    """
    if not isinstance(target_cycles, int) or isinstance(target_cycles, bool) or target_cycles < 1:
        raise FoldingError(f"target cycles must be a positive integer, not {target_cycles!r}")
    overrides = overrides or {}
    for index in sorted(overrides):
        if not 0 <= index < len(layers):
            raise FoldingError(f"folding names layer {index}, but the network has "
                               f"{len(layers)} layers (0..{len(layers) - 1})")
    chosen = []
    for index, layer in enumerate(layers):
        kind = hardware_for(layer)
        folding = overrides.get(index) or kind.fold(layer, target_cycles)
        kind.check_folding(index, layer, folding)
        chosen.append(folding)
    bottleneck = max(hardware_for(layer).cycles(layer, folding)
                     for layer, folding in zip(layers, chosen))
    fan_in = layers[0].in_features
    lanes = next(d for d in divisors(fan_in) if fan_in // d <= bottleneck)
    return Folding(layers=tuple(chosen), input_lanes=lanes)


def check_folding(layers: Sequence[Layer], folding: Folding) -> None:
    """Raise :class:`FoldingError` unless ``folding`` has one fitting entry per layer."""
    if len(folding.layers) != len(layers):
        raise FoldingError(f"folding has {len(folding.layers)} layers, the artifact "
                           f"{len(layers)}")
    for index, (layer, layer_folding) in enumerate(zip(layers, folding.layers)):
        hardware_for(layer).check_folding(index, layer, layer_folding)
    if layers[0].in_features % folding.input_lanes:
        raise FoldingError(f"input lanes must divide the input size {layers[0].in_features}, "
                           f"not {folding.input_lanes}")


@dataclass(frozen=True)
class CycleModel:
    """Predicted timing of a folded network (checked against simulation by verification).

    Attributes
    ----------
    input_beats : int
        Input stream beats per inference.
    layer_cycles : tuple of int
        Steady-state cycles per inference of each layer.
    interval : int
        Steady-state cycles per inference of the network (its slowest stage).
    bottleneck : str
        The slowest stage: ``"input"`` or a layer name (the first of equals).
    latency : int
        Cycles from the first input beat accepted to the result offered, through an idle
        pipeline.
    """

    input_beats: int
    layer_cycles: tuple[int, ...]
    interval: int
    bottleneck: str
    latency: int


def cycle_model(layers: Sequence[Layer], folding: Folding) -> CycleModel:
    """Return the cycle model of ``layers`` folded by ``folding``."""
    input_beats = layers[0].in_features // folding.input_lanes
    kinds = [hardware_for(layer) for layer in layers]
    cycles = tuple(kind.cycles(layer, fold)
                   for kind, layer, fold in zip(kinds, layers, folding.layers))
    stages = [("input", input_beats)] + [(layer.name, c) for layer, c in zip(layers, cycles)]
    bottleneck, interval = max(stages, key=lambda stage: stage[1])
    latency = input_beats + sum(kind.latency(layer, fold)
                                for kind, layer, fold in zip(kinds, layers, folding.layers))
    return CycleModel(input_beats=input_beats, layer_cycles=cycles, interval=interval,
                      bottleneck=bottleneck, latency=latency)
