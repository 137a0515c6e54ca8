"""Max-pool unit: a sliding-window unit feeding a window-max unit.

::

    i_stream -> SlidingWindow (line buffers, no padding) -> WindowMax -> o_stream

Both carry the input stream's lanes through, so a pool never changes the stream's width. The
maximum is over the element shape's values (unsigned codes, or two's complement numbers), which
is the order of the encoded values; for bipolar codes it is an OR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .sliding_window import SlidingWindow
from .window_max import WindowMax

if TYPE_CHECKING:
    from ..compiler.layers.maxpool2d import LoweredMaxPool2d

__all__ = ["MaxPoolUnit"]


class MaxPoolUnit(wiring.Component):
    """One max-pool layer with a streamed input and output.

    Parameters
    ----------
    layer : LoweredMaxPool2d
        The window geometry and the element shape.
    lanes : int
        Channels per beat, in and out; must divide the channels.

    Attributes
    ----------
    i_stream : In(stream.Signature(ArrayLayout(element_shape, lanes)))
    o_stream : Out(stream.Signature(ArrayLayout(element_shape, lanes)))
        Images pixel by pixel in row-major order, each pixel's channels in order.
    """

    def __init__(self, layer: LoweredMaxPool2d, *, lanes: int):
        geometry = layer.geometry
        self._window = SlidingWindow(
            layer.element_shape, in_shape=geometry.in_shape, lanes=lanes,
            kernel=geometry.kernel, stride=geometry.stride, padding=(0, 0, 0, 0), pad_code=0)
        self._max = WindowMax(layer.element_shape, channels=geometry.in_shape[2], lanes=lanes,
                              window=geometry.kernel[0] * geometry.kernel[1])
        super().__init__({
            "i_stream": In(stream.Signature(data.ArrayLayout(layer.element_shape, lanes))),
            "o_stream": Out(stream.Signature(data.ArrayLayout(layer.element_shape, lanes))),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.window = self._window
        m.submodules.max = self._max
        # the unit's own ports first: the first signal of a name keeps it in the Verilog, and
        # the testbench finds a layer's output stream by the port names o_stream__*
        wiring.connect(m, self._max.o_stream, wiring.flipped(self.o_stream))
        wiring.connect(m, wiring.flipped(self.i_stream), self._window.i_stream)
        wiring.connect(m, self._window.o_stream, self._max.i_stream)
        return m
