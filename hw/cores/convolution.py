"""Convolution unit: a sliding-window unit feeding a matrix-vector unit.

::

    i_stream -> SlidingWindow (line buffers, padding) -> MatrixVectorUnit -> o_stream
    (pixels, lanes channels a beat)   (windows, lanes a beat)   (outputs, PE channels a beat)

The window unit emits each output pixel's window channel fastest, then kernel column, then
kernel row (:func:`qnnforge.sw.reference.windows`), which is the order of the weight matrix's
columns; the matrix-vector unit sees one input vector per output pixel and is the dense layer's
unit unchanged, so every precision, folding and output stage works on convolutions too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..compiler.options import HardwareOptions
from .mvu import MatrixVectorUnit
from .sliding_window import SlidingWindow

if TYPE_CHECKING:
    from ..compiler.layers.conv2d import LoweredConv2d

__all__ = ["ConvolutionUnit"]


class ConvolutionUnit(wiring.Component):
    """One folded convolution layer with a streamed input and output.

    Parameters
    ----------
    layer : LoweredConv2d
        The window geometry and the lowered weight matrix.
    pe, simd : int
        Folding of the matrix-vector unit (see :class:`~.mvu.MatrixVectorUnit`).
    lanes : int
        Channels per input beat; must divide the input channels. Windows stream at the same
        width.
    options : HardwareOptions
        DSP use and popcount architecture of the matrix-vector unit.

    Attributes
    ----------
    i_stream : In(stream.Signature(ArrayLayout(input_shape, lanes)))
        Input images, pixel by pixel in row-major order, each pixel's channels in order.
    o_stream : Out(stream.Signature(ArrayLayout(output_shape, pe)))
        Output images in the same order, ``pe`` channels a beat.
    w_stream : In(stream.Signature(unsigned(simd * weight_width)))
        Only with ``options.writable_weights``: the matrix-vector unit's weight load
        (:meth:`weight_beats`), taken between pixels.
    """

    def __init__(self, layer: LoweredConv2d, *, pe: int, simd: int, lanes: int,
                 options: HardwareOptions = HardwareOptions()):
        geometry = layer.geometry
        self._window = SlidingWindow(
            layer.input_shape, in_shape=geometry.in_shape, lanes=lanes, kernel=geometry.kernel,
            stride=geometry.stride, padding=geometry.padding, pad_code=geometry.pad_code)
        self._matrix = MatrixVectorUnit(layer.matrix, pe=pe, simd=simd, in_lanes=lanes,
                                        options=options)
        self._layer = layer
        members = {
            "i_stream": In(stream.Signature(data.ArrayLayout(layer.input_shape, lanes))),
            "o_stream": Out(stream.Signature(data.ArrayLayout(layer.output_shape, pe))),
        }
        if "w_stream" in self._matrix.signature.members:
            members["w_stream"] = self._matrix.signature.members["w_stream"]
        super().__init__(members)

    @property
    def window(self) -> SlidingWindow:
        return self._window

    @property
    def matrix(self) -> MatrixVectorUnit:
        return self._matrix

    @property
    def load_beats(self) -> int:
        """Beats of a weight load (:meth:`weight_beats`)."""
        return self._matrix.load_beats

    def weight_beats(self, layer: LoweredConv2d) -> list[int]:
        """Return the ``w_stream`` beats that load the weights of ``layer``
        (:meth:`~.mvu.MatrixVectorUnit.weight_beats` of its matrix).

        Raises
        ------
        ValueError
            If ``layer`` differs from this unit's layer in anything but its weights.
        """
        if layer.geometry != self._layer.geometry:
            raise ValueError(f"layer {self._layer.matrix.name!r}: the loaded layer's window "
                             f"geometry differs from the built one")
        return self._matrix.weight_beats(layer.matrix)

    def elaborate(self, platform):
        m = Module()
        m.submodules.window = self._window
        m.submodules.matrix = self._matrix
        # the unit's own ports first: the first signal of a name keeps it in the Verilog, and
        # the testbench finds a layer's output stream by the port names o_stream__*
        wiring.connect(m, self._matrix.o_stream, wiring.flipped(self.o_stream))
        wiring.connect(m, wiring.flipped(self.i_stream), self._window.i_stream)
        wiring.connect(m, self._window.o_stream, self._matrix.i_stream)
        if "w_stream" in self.signature.members:
            wiring.connect(m, wiring.flipped(self.w_stream), self._matrix.w_stream)
        return m
