"""The max-pool layer kind, hardware side: a sliding-window unit feeding a window-max unit.

A pool carries its input stream's lanes through (its folding's PE is those lanes; there is
nothing else to fold) and takes one cycle per window beat.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Shape

from ....sw.layers import MaxPool2dLayer
from ...cores.pooling import MaxPoolUnit
from ..folding import FoldingError, LayerFolding, check_lanes, lanes_within
from ..lowering import element_shape
from ..options import HardwareOptions
from .conv2d import Geometry, window_beats

__all__ = ["LoweredMaxPool2d", "MaxPool2dHardware"]

PIPELINE_REGISTERS = 3
"""Registers a window passes besides its cycles: two in the window unit, one in the max."""


@dataclass(frozen=True)
class LoweredMaxPool2d:
    """A max-pool as its unit builds it: the window geometry and the element shape."""

    name: str
    geometry: Geometry
    element_shape: Shape

    @property
    def output_shape(self) -> Shape:
        return self.element_shape


def _geometry(layer: MaxPool2dLayer) -> Geometry:
    return Geometry(tuple(layer.in_shape), tuple(layer.out_shape), tuple(layer.kernel),
                    tuple(layer.stride), (0, 0, 0, 0), 0)


class MaxPool2dHardware:
    """The hardware of :class:`~qnnforge.sw.layers.maxpool2d.MaxPool2dLayer`."""

    op = MaxPool2dLayer.op
    latency_exact = False

    def input_lanes(self, layer: MaxPool2dLayer, target_cycles: int, out_lanes: int) -> int:
        geometry = _geometry(layer)
        return lanes_within(layer.channels, lambda lanes: window_beats(geometry, lanes),
                            target_cycles, out_lanes)

    def fold(self, layer: MaxPool2dLayer, target_cycles: int, in_lanes: int,
             out_lanes: int) -> LayerFolding:
        return LayerFolding(pe=in_lanes, simd=1)

    def check_folding(self, index: int, layer: MaxPool2dLayer, folding: LayerFolding,
                      in_lanes: int) -> None:
        check_lanes(index, "the channels", layer.channels, in_lanes)
        if (folding.pe, folding.simd) != (in_lanes, 1):
            raise FoldingError(f"layer {index}: a max-pool passes its input's {in_lanes} lanes "
                               f"through, so its folding must be {in_lanes}x1, not "
                               f"{folding.pe}x{folding.simd}")

    def cycles(self, layer: MaxPool2dLayer, folding: LayerFolding, in_lanes: int) -> int:
        return window_beats(_geometry(layer), in_lanes)

    def latency(self, layer: MaxPool2dLayer, folding: LayerFolding, in_lanes: int,
                options: HardwareOptions) -> int:
        return self.cycles(layer, folding, in_lanes) + PIPELINE_REGISTERS

    def out_lanes(self, folding: LayerFolding) -> int:
        return folding.pe

    def lower(self, layer: MaxPool2dLayer) -> LoweredMaxPool2d:
        return LoweredMaxPool2d(layer.name, _geometry(layer),
                                element_shape(layer.input_encoding))

    def build(self, lowered: LoweredMaxPool2d, folding: LayerFolding, in_lanes: int,
              options: HardwareOptions) -> MaxPoolUnit:
        return MaxPoolUnit(lowered, lanes=in_lanes)

    def summary(self, lowered: LoweredMaxPool2d, folding: LayerFolding, in_lanes: int) -> dict:
        geometry = lowered.geometry
        beats = window_beats(geometry, in_lanes)
        return {"name": lowered.name, "op": self.op, "in_shape": list(geometry.in_shape),
                "out_shape": list(geometry.out_shape), "kernel": list(geometry.kernel),
                "stride": list(geometry.stride), "pe": in_lanes, "simd": 1,
                "window_lanes": in_lanes, "window_beats": beats, "cycles": beats,
                "input_bits": lowered.element_shape.width,
                "output_bits": lowered.element_shape.width}
