"""A whole network's folding and cycle model, from the layer kinds' own answers.

Layers run concurrently (dataflow) and every stage works on whole vectors, double buffered (a
convolution's vectors are its windows, cut from line buffers), so the network's steady-state
cycles per inference is its slowest stage: a layer, or the input stream (``K / input_lanes``
beats). The latency of one inference through an idle pipeline, from
its first input beat being accepted to its result being offered, is the input beats plus each
layer's latency; the argmax's register takes the cycle the last input beat would otherwise need.
Pipeline registers (:class:`~.options.HardwareOptions` ``pipeline``) add to the latency of the
layers and the argmax, not to the interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...sw.layers import Layer
from ..cores.argmax import argmax_registers
from ..cores.skid_buffer import SKID_LATENCY
from .folding import (DEFAULT_IMAGE_TARGET_CYCLES, DEFAULT_TARGET_CYCLES, Folding,
                      FoldingError, LayerFolding, divisors, resolve_overrides)
from .layers import hardware_for
from .options import HardwareOptions

__all__ = ["default_target_cycles", "default_folding", "check_folding", "stream_lanes",
           "CycleModel", "cycle_model"]


def stream_lanes(layers: Sequence[Layer], folding: Folding) -> list[int]:
    """Return the elements per beat of each layer's input stream under ``folding``."""
    lanes = [folding.input_lanes]
    for layer, layer_folding in zip(layers[:-1], folding.layers[:-1]):
        lanes.append(hardware_for(layer).out_lanes(layer_folding))
    return lanes


def _lanes_needed(layers: Sequence[Layer], target_cycles: int) -> list[int]:
    """Return the fewest input lanes each layer needs to meet the target (walking backwards,
    since a pool passes on what the layer after it needs)."""
    needed = [1]
    for layer in reversed(layers):
        needed.insert(0, hardware_for(layer).input_lanes(layer, target_cycles, needed[0]))
    return needed


def _fold_all(layers: Sequence[Layer], target_cycles: int, overrides: dict[int, LayerFolding],
              input_lanes: int) -> Folding:
    chosen, lanes = [], input_lanes
    needed = _lanes_needed(layers, target_cycles)
    for index, layer in enumerate(layers):
        kind = hardware_for(layer)
        folding = overrides.get(index) or kind.fold(layer, target_cycles, lanes,
                                                    needed[index + 1])
        kind.check_folding(index, layer, folding, lanes)
        chosen.append(folding)
        lanes = kind.out_lanes(folding)
    return Folding(layers=tuple(chosen), input_lanes=input_lanes)


def default_target_cycles(layers: Sequence[Layer]) -> int:
    """Return the cycles per inference a default folding aims for: :data:`DEFAULT_TARGET_CYCLES`
    for a flat input, :data:`DEFAULT_IMAGE_TARGET_CYCLES` for an image."""
    image = len(layers[0].in_shape) == 3
    return DEFAULT_IMAGE_TARGET_CYCLES if image else DEFAULT_TARGET_CYCLES


def default_folding(layers: Sequence[Layer], target_cycles: int | None = None,
                    overrides: dict[int | str, LayerFolding] | None = None) -> Folding:
    """Return a folding for ``layers`` that meets ``target_cycles``.

    Each layer gets its kind's cheapest folding within the target (or its fastest one); the
    input stream gets the fewest lanes that do not make it the bottleneck (lanes divide the
    input's channels, or its features for a flat input).

    Parameters
    ----------
    layers : sequence of Layer
        The artifact's layers, in order.
    target_cycles : int, optional
        Cycles per inference to aim for; by default :func:`default_target_cycles`.
    overrides : dict, optional
        Layer index or name -> folding chosen by the user; kept as given.

    Raises
    ------
    FoldingError
        If ``target_cycles`` is not a positive integer, an override names no layer or does not
        fit its layer.
    """
    if target_cycles is None:
        target_cycles = default_target_cycles(layers)
    if not isinstance(target_cycles, int) or isinstance(target_cycles, bool) or target_cycles < 1:
        raise FoldingError(f"target cycles must be a positive integer, not {target_cycles!r}")
    overrides = resolve_overrides([layer.name for layer in layers], overrides or {})
    least = _lanes_needed(layers, target_cycles)[0]
    choices = [d for d in divisors(layers[0].in_shape[-1]) if d >= least]
    fan_in = layers[0].in_features
    # the layers' foldings hardly depend on the input lanes (only the first layer's windows do)
    bottleneck = cycle_model(layers, _fold_all(layers, target_cycles, overrides,
                                               choices[-1])).interval
    lanes = next((d for d in choices if fan_in // d <= bottleneck), choices[-1])
    return _fold_all(layers, target_cycles, overrides, lanes)


def check_folding(layers: Sequence[Layer], folding: Folding) -> None:
    """Raise :class:`FoldingError` unless ``folding`` has one fitting entry per layer."""
    if len(folding.layers) != len(layers):
        raise FoldingError(f"folding has {len(folding.layers)} layers, the artifact "
                           f"{len(layers)}")
    if layers[0].in_shape[-1] % folding.input_lanes:
        what = "input channels" if len(layers[0].in_shape) == 3 else "input size"
        raise FoldingError(f"input lanes must divide the {what} {layers[0].in_shape[-1]}, "
                           f"not {folding.input_lanes}")
    lanes = folding.input_lanes
    for index, (layer, layer_folding) in enumerate(zip(layers, folding.layers)):
        kind = hardware_for(layer)
        kind.check_folding(index, layer, layer_folding, lanes)
        lanes = kind.out_lanes(layer_folding)


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
        pipeline: exact for dense layers, an upper bound once a layer works on windows (it
        starts before its whole input has arrived).
    latency_exact : bool
        Whether ``latency`` is exact (every layer is dense) or an upper bound.
    """

    input_beats: int
    layer_cycles: tuple[int, ...]
    interval: int
    bottleneck: str
    latency: int
    latency_exact: bool = True


def cycle_model(layers: Sequence[Layer], folding: Folding,
                options: HardwareOptions = HardwareOptions()) -> CycleModel:
    """Return the cycle model of ``layers`` folded by ``folding`` and built with ``options``
    (their pipeline registers lengthen the latency, not the interval)."""
    input_beats = layers[0].in_features // folding.input_lanes
    kinds = [hardware_for(layer) for layer in layers]
    lanes = stream_lanes(layers, folding)
    cycles = tuple(kind.cycles(layer, fold, width)
                   for kind, layer, fold, width in zip(kinds, layers, folding.layers, lanes))
    stages = [("input", input_beats)] + [(layer.name, c) for layer, c in zip(layers, cycles)]
    bottleneck, interval = max(stages, key=lambda stage: stage[1])
    latency = input_beats + sum(kind.latency(layer, fold, width, options)
                                for kind, layer, fold, width
                                in zip(kinds, layers, folding.layers, lanes))
    latency += argmax_registers(kinds[-1].out_lanes(folding.layers[-1]), options.pipelined)
    latency += 2 * SKID_LATENCY if options.pipelined else 0  # the network's skid buffers
    return CycleModel(input_beats=input_beats, layer_cycles=cycles, interval=interval,
                      bottleneck=bottleneck, latency=latency,
                      latency_exact=all(kind.latency_exact for kind in kinds))
