"""The convolution layer kind, hardware side: a sliding-window unit feeding a matrix-vector unit.

A convolution is the matrix-vector unit of its weights flattened to ``(out_channels, kernel_h *
kernel_w * in_channels)`` (:mod:`.dense` lowers that matrix), fed one window per output pixel by
a :class:`~qnnforge.hw.cores.sliding_window.SlidingWindow` that carries the input stream's lanes
through. The cycle model is FINN's: ``OFM_H * OFM_W * NF * SF`` for the matrix-vector unit, and
the layer takes the longer of that and the window unit's beats (one beat a cycle).
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Shape

from ....sw.layers import Conv2dLayer, DenseLayer
from ...cores.convolution import ConvolutionUnit
from ...cores.mvu import mvu_registers
from ..folding import (LayerFolding, check_lanes, check_matrix_folding, fold_matrix,
                       lanes_within, layer_cycles)
from ..options import HardwareOptions
from .dense import DenseHardware, LoweredDense

__all__ = ["LoweredConv2d", "Conv2dHardware", "window_beats"]

WINDOW_REGISTERS = 2
"""Registers a window passes in the window unit besides its cycles (the matrix-vector unit's
are :func:`~qnnforge.hw.cores.mvu.mvu_registers`)."""


@dataclass(frozen=True)
class Geometry:
    """Where the windows of a layer are: image, kernel, stride, padding and pad code."""

    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]
    pad_code: int

    @property
    def pixels(self) -> int:
        """Output pixels (windows) per image."""
        return self.out_shape[0] * self.out_shape[1]

    @property
    def window(self) -> int:
        """Elements of one window."""
        return self.kernel[0] * self.kernel[1] * self.in_shape[2]


def window_beats(geometry: Geometry, in_lanes: int) -> int:
    """Return the window unit's beats per image (a beat a cycle at full rate), or its input
    beats if those are more (a stride larger than the kernel skips pixels)."""
    return max(geometry.pixels * geometry.window,
               geometry.in_shape[0] * geometry.in_shape[1] * geometry.in_shape[2]) // in_lanes


@dataclass(frozen=True)
class LoweredConv2d:
    """A convolution as its unit builds it: the window geometry and the lowered matrix."""

    name: str
    geometry: Geometry
    matrix: LoweredDense

    @property
    def input_shape(self) -> Shape:
        return self.matrix.input_shape

    @property
    def output_shape(self) -> Shape:
        return self.matrix.output_shape


def _geometry(layer: Conv2dLayer) -> Geometry:
    pad_code = int(layer.input_encoding.to_code([layer.pad_value])[0])
    return Geometry(tuple(layer.in_shape), tuple(layer.out_shape), tuple(layer.kernel),
                    tuple(layer.stride), tuple(layer.padding), pad_code)


class Conv2dHardware:
    """The hardware of :class:`~qnnforge.sw.layers.conv2d.Conv2dLayer`."""

    op = Conv2dLayer.op
    latency_exact = False

    def input_lanes(self, layer: Conv2dLayer, target_cycles: int, out_lanes: int) -> int:
        geometry = _geometry(layer)
        return lanes_within(layer.in_shape[2], lambda lanes: window_beats(geometry, lanes),
                            target_cycles)

    def fold(self, layer: Conv2dLayer, target_cycles: int, in_lanes: int,
             out_lanes: int) -> LayerFolding:
        pixels = layer.out_shape[0] * layer.out_shape[1]
        return fold_matrix(layer.fan_in, layer.out_channels, max(1, target_cycles // pixels),
                           out_lanes)

    def check_folding(self, index: int, layer: Conv2dLayer, folding: LayerFolding,
                      in_lanes: int) -> None:
        check_matrix_folding(index, layer.fan_in, layer.out_channels, folding)
        check_lanes(index, "the input channels", layer.in_shape[2], in_lanes)

    def matrix_cycles(self, layer: Conv2dLayer, folding: LayerFolding) -> int:
        """FINN's ``OFM_H * OFM_W * NF * SF``: the matrix-vector unit's cycles per image."""
        pixels = layer.out_shape[0] * layer.out_shape[1]
        return pixels * layer_cycles(layer.fan_in, layer.out_channels, folding.pe, folding.simd)

    def cycles(self, layer: Conv2dLayer, folding: LayerFolding, in_lanes: int) -> int:
        return max(self.matrix_cycles(layer, folding), window_beats(_geometry(layer), in_lanes))

    def latency(self, layer: Conv2dLayer, folding: LayerFolding, in_lanes: int,
                options: HardwareOptions) -> int:
        return (self.cycles(layer, folding, in_lanes) + WINDOW_REGISTERS
                + mvu_registers(folding.simd, options))

    def out_lanes(self, folding: LayerFolding) -> int:
        return folding.pe

    def lower(self, layer: Conv2dLayer) -> LoweredConv2d:
        """Return the hardware form of ``layer``.

        Raises
        ------
        UnsupportedPrecisionError
            If the layer's precision pair has no hardware implementation.
        """
        matrix = DenseLayer(layer.name, layer.input_encoding, layer.weight_encoding,
                            layer.weights.reshape(layer.out_channels, -1), layer.output)
        return LoweredConv2d(layer.name, _geometry(layer), DenseHardware().lower(matrix))

    def build(self, lowered: LoweredConv2d, folding: LayerFolding, in_lanes: int,
              options: HardwareOptions) -> ConvolutionUnit:
        return ConvolutionUnit(lowered, pe=folding.pe, simd=folding.simd, lanes=in_lanes,
                               options=options)

    def summary(self, lowered: LoweredConv2d, folding: LayerFolding, in_lanes: int) -> dict:
        geometry, matrix = lowered.geometry, lowered.matrix
        entry = DenseHardware().summary(matrix, folding, in_lanes)
        per_pixel = entry.pop("cycles_per_vector")
        matrix_cycles = geometry.pixels * per_pixel
        beats = window_beats(geometry, in_lanes)
        entry.update({
            "op": self.op, "in_shape": list(geometry.in_shape),
            "out_shape": list(geometry.out_shape), "kernel": list(geometry.kernel),
            "stride": list(geometry.stride), "padding": list(geometry.padding),
            "cycles_per_pixel": per_pixel, "matrix_cycles": matrix_cycles,
            "window_lanes": in_lanes, "window_beats": beats,
            "cycles": max(matrix_cycles, beats),
        })
        return entry
