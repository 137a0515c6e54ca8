"""Sliding-window unit: FINN's convolution input generator, on line buffers.

Images arrive channels-last, pixel by pixel in row-major order, each pixel as ``C / L`` beats of
``L`` channels. For every output pixel ``(oy, ox)`` the unit emits the ``KH x KW`` window of the
padded image, kernel row by kernel row, pixel by pixel, ``C / L`` beats a pixel: the order of
:func:`qnnforge.sw.reference.windows` flattened, and of a convolution's weights. Padding pixels
are ``pad_code`` in every lane. Images follow each other with no gap.

Structure::

                 writer: whole rows, circularly            reader: (oy, ox, ky, kx, cg)
    i_stream -> [ row slot 0 | row slot 1 | ... | row slot R-1 ] -> read port -> [pad?] -> o_stream
                  ^ base_slot (oldest held row, image row base_row)    stage 1     output register

* The buffer is one :class:`~amaranth.lib.memory.Memory` of ``R`` row slots of ``W * C / L``
  words (one word is one beat). The writer fills whole rows into consecutive slots, wrapping
  around; ``rows_held`` rows are complete and not yet freed, the oldest being image row
  ``base_row`` (relative to the image the reader is in) in slot ``base_slot``. The writer takes
  beats while a slot is free (``rows_held < R``), so it never writes a slot being read.
* The reader emits output row ``oy`` once every image row it needs is written:
  ``base_row + rows_held > need(oy) = clamp(oy * SH - top + KH - 1, -1, H - 1)``. The clamp at
  ``-1`` makes an output row that lies wholly in the top padding wait until the previous image
  is fully written, which bounds how far the reader can run ahead of the writer. Row ``iy``
  lives in slot ``base_slot + iy - base_row`` (less ``R`` when that reaches ``R``).
* Rows below ``release(oy) = clamp(oy * SH - top, 0, H)`` are never read again; one a cycle is
  freed once complete. When the reader moves to the next image, ``base_row`` drops by ``H``: the
  old image's rows that no window needed become negative and are freed as soon as written.
* ``R`` is the smallest number of slots that holds the rows the current output row reads plus
  every row the next output row needs, and, at the last output row of an image, the rest of the
  image plus the rows of the next image's first output row (at most ``2 KH + SH - 1``). So a
  writer that keeps up is never blocked while the reader still has work, and the reader emits
  one beat a cycle, with no bubble between windows, output rows or images.
* Backpressure: as in the matrix-vector unit, the read pipeline (read address, stage-1 valid and
  pad flag aligned with the read data, output register) advances only when the output register
  is empty or being emptied (``advance = ~o.valid | o.ready``); the read port is enabled by
  ``advance``, so a stalled output holds its read data and no beat is lost or repeated.
"""

from __future__ import annotations

from amaranth.hdl import C, Module, Mux, Shape, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ...sw.reference import output_size
from .params import index_shape, memory_depth, positive_int

__all__ = ["SlidingWindow"]


def _int_tuple(name: str, value, count: int) -> tuple[int, ...]:
    if (not isinstance(value, (tuple, list)) or len(value) != count
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise TypeError(f"{name} must be a tuple of {count} integers, not {value!r}")
    return tuple(value)


def _less(value, values: range, bound: int):
    """Return ``value < bound`` for a ``value`` that only takes the ``values``: a constant where
    all of them decide it alike, so the Verilog holds no comparison that never changes."""
    if values.start >= bound:
        return C(0, 1)
    if values[-1] < bound:
        return C(1, 1)
    return value < bound


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


class SlidingWindow(wiring.Component):
    """The windows of a stream of channels-last images, ``lanes`` channels a beat.

    Parameters
    ----------
    element_shape : Shape
        Shape of one element (one channel of one pixel).
    in_shape : (int, int, int)
        Image height ``H``, width ``W`` and channels ``C``.
    lanes : int
        Elements per beat ``L``; must divide ``C``.
    kernel : (int, int)
        Window height ``KH`` and width ``KW``.
    stride : (int, int)
        Vertical and horizontal step ``SH``, ``SW``.
    padding : (int, int, int, int)
        Rows and columns of padding (top, left, bottom, right), each at least 0.
    pad_code : int
        Element code of a padding pixel: a value of ``element_shape`` (``0..2**n-1`` for
        ``unsigned(n)``, ``-2**(n-1)..2**(n-1)-1`` for ``signed(n)``), so
        ``Const(pad_code, element_shape)`` holds it exactly.

    Attributes
    ----------
    i_stream : In(stream.Signature(ArrayLayout(element_shape, lanes)))
        Input pixels, ``C / L`` beats each, channel 0 in the first beat's lane 0.
    o_stream : Out(stream.Signature(ArrayLayout(element_shape, lanes)))
        Windows in :func:`~qnnforge.sw.reference.windows` order, ``KH * KW * C / L`` beats each.

    Raises
    ------
    TypeError
        If ``in_shape``, ``kernel``, ``stride`` or ``padding`` is not a tuple of integers of
        the right length, if a size, ``lanes`` or a stride is not a positive integer, or if
        ``pad_code`` is not an integer.
    ValueError
        If ``lanes`` does not divide ``C``, a padding is negative, the kernel exceeds the padded
        image or ``pad_code`` is outside ``element_shape``.
    """

    def __init__(self, element_shape, *, in_shape, lanes: int, kernel, stride,
                 padding=(0, 0, 0, 0), pad_code: int = 0):
        shape = Shape.cast(element_shape)
        height, width, channels = _int_tuple("in_shape", in_shape, 3)
        for name, value in (("height", height), ("width", width), ("channels", channels)):
            positive_int(f"in_shape {name}", value)
        positive_int("lanes", lanes)
        if channels % lanes:
            raise ValueError(f"lanes must be a positive integer dividing {channels}, not {lanes}")
        kernel = _int_tuple("kernel", kernel, 2)
        stride = _int_tuple("stride", stride, 2)
        padding = _int_tuple("padding", padding, 4)
        for axis, k, s in zip(("height", "width"), kernel, stride):
            positive_int(f"kernel {axis}", k)
            positive_int(f"stride {axis}", s)
        for side, p in zip(("top", "left", "bottom", "right"), padding):
            if p < 0:
                raise ValueError(f"padding {side} must be a non-negative integer, not {p}")
        for axis, size, k, before, after in (("height", height, kernel[0], padding[0], padding[2]),
                                             ("width", width, kernel[1], padding[1], padding[3])):
            if k > size + before + after:
                raise ValueError(f"kernel {axis} must not exceed the padded {axis} "
                                 f"{size + before + after}, not {k}")
        if not isinstance(pad_code, int) or isinstance(pad_code, bool):
            raise TypeError(f"pad_code must be an integer, not {pad_code!r}")
        low, high = ((-(1 << shape.width - 1), (1 << shape.width - 1) - 1) if shape.signed
                     else (0, (1 << shape.width) - 1))
        if not low <= pad_code <= high:
            raise ValueError(f"pad_code must lie in {low}..{high} ({shape!r}), not {pad_code}")
        self._element_shape = shape
        self._in_shape = (height, width, channels)
        self._lanes = lanes
        self._kernel = kernel
        self._stride = stride
        self._padding = padding
        self._pad_code = pad_code
        layout = data.ArrayLayout(shape, lanes)
        super().__init__({
            "i_stream": In(stream.Signature(layout)),
            "o_stream": Out(stream.Signature(layout)),
        })

    @property
    def element_shape(self) -> Shape:
        return self._element_shape

    @property
    def in_shape(self) -> tuple[int, int, int]:
        return self._in_shape

    @property
    def lanes(self) -> int:
        return self._lanes

    @property
    def kernel(self) -> tuple[int, int]:
        return self._kernel

    @property
    def stride(self) -> tuple[int, int]:
        return self._stride

    @property
    def padding(self) -> tuple[int, int, int, int]:
        return self._padding

    @property
    def pad_code(self) -> int:
        return self._pad_code

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """``(OH, OW, C)``: windows down, windows across, channels."""
        (height, width, channels), (kh, kw), (sh, sw) = self._in_shape, self._kernel, self._stride
        top, left, bottom, right = self._padding
        return (output_size(height, kh, sh, top, bottom), output_size(width, kw, sw, left, right),
                channels)

    @property
    def beats_per_image(self) -> int:
        """Output beats per image, ``OH * OW * KH * KW * C / L``: the read side's cycles."""
        out_height, out_width, channels = self.out_shape
        return out_height * out_width * self._kernel[0] * self._kernel[1] * channels // self._lanes

    @property
    def input_beats_per_image(self) -> int:
        """Input beats per image, ``H * W * C / L``."""
        height, width, channels = self._in_shape
        return height * width * channels // self._lanes

    def _need(self, oy: int) -> int:
        """The last image row output row ``oy`` reads (clamped; ``-1``: none)."""
        return _clamp(oy * self._stride[0] - self._padding[0] + self._kernel[0] - 1,
                      -1, self._in_shape[0] - 1)

    def _release(self, oy: int) -> int:
        """The first image row output row ``oy`` or a later one of its image can read."""
        return _clamp(oy * self._stride[0] - self._padding[0], 0, self._in_shape[0])

    @property
    def buffer_rows(self) -> int:
        """``R``: row slots of the line buffer (see the module docstring for the rule)."""
        height, out_height = self._in_shape[0], self.out_shape[0]
        held = [self._need(oy) - self._release(oy) + 1 for oy in range(out_height)]
        ahead = [self._need(oy + 1) - self._release(oy) + 1 for oy in range(out_height - 1)]
        last = height - self._release(out_height - 1) + self._need(0) + 1
        return max(1, last, *held, *ahead)

    # --- elaboration -----------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        height, width, channels = self._in_shape
        rows, row_words = self.buffer_rows, width * channels // self._lanes
        layout = data.ArrayLayout(self._element_shape, self._lanes)
        m.submodules.buffer = buffer = Memory(shape=layout, depth=memory_depth(rows * row_words),
                                            init=[])

        # Ring of row slots; rows indexed relative to the image the reader is in.
        rows_held = Signal(range(rows + 1))
        base_slot = Signal(index_shape(rows))
        base_row = Signal(range(-(rows + height), rows + height + 1))
        row_done, free, next_image = Signal(), Signal(), Signal()
        release = self._reader(m, buffer.read_port(), layout, row_words, rows, rows_held,
                               base_slot, base_row, next_image)
        m.d.comb += free.eq((rows_held != 0) & (base_row < release))
        m.d.sync += [rows_held.eq(rows_held + row_done - free),
                     base_row.eq(base_row + free - Mux(next_image, height, 0))]
        with m.If(free):
            m.d.sync += base_slot.eq(Mux(base_slot == rows - 1, 0, base_slot + 1))
        self._writer(m, buffer.write_port(), rows * row_words, row_words, rows_held, row_done)
        return m

    def _writer(self, m, port, depth, row_words, rows_held, row_done):
        i = self.i_stream
        address = Signal(index_shape(depth))
        word = Signal(index_shape(row_words))
        m.d.comb += [i.ready.eq(rows_held < self.buffer_rows),
                     port.addr.eq(address), port.data.eq(i.payload), port.en.eq(i.valid & i.ready),
                     row_done.eq(port.en & (word == row_words - 1))]
        with m.If(port.en):
            m.d.sync += [address.eq(Mux(address == depth - 1, 0, address + 1)),
                         word.eq(Mux(row_done, 0, word + 1))]

    def _reader(self, m, port, layout, row_words, rows, rows_held, base_slot, base_row,
                next_image):
        height, width, channels = self._in_shape
        (kh, kw), (sh, sw) = self._kernel, self._stride
        top, left = self._padding[:2]
        groups = channels // self._lanes
        out_height, out_width, _ = self.out_shape

        # Counters: output row and column, kernel row, and (kernel column, channel group) as
        # one step; iy is the image row read, column the word of the row read (ix * C/L + cg).
        oy, ox = Signal(index_shape(out_height)), Signal(index_shape(out_width))
        ky = Signal(index_shape(kh))
        step = Signal(index_shape(kw * groups))
        iy_base = Signal(range(-top, out_height * sh + 1), init=-top)
        iy = Signal(range(-top, out_height * sh + kh), init=-top)
        column_base = Signal(range(-left * groups, out_width * sw * groups + 1),
                             init=-left * groups)
        column = Signal(range(-left * groups, (out_width * sw + kw) * groups), init=-left * groups)

        o = self.o_stream
        advance, rows_ready, issue, pad = Signal(), Signal(), Signal(), Signal()
        need = Signal(range(-1, height))
        release = Signal(range(height + 1))
        # The ranges of the counters decide some comparisons (no top padding: iy is never
        # negative); those are written as constants, not as comparisons that never change.
        iy_bases = range(-top, out_height * sh + 1)
        iys = range(-top, out_height * sh + kh)
        columns = range(-left * groups, (out_width * sw + kw) * groups)
        last_rows = range(iy_bases.start + kh - 1, iy_bases.stop + kh - 1)
        last_row = iy_base + kh - 1
        m.d.comb += [
            need.eq(Mux(_less(last_row, last_rows, 0), -1,
                        Mux(~_less(last_row, last_rows, height), height - 1, last_row))),
            release.eq(Mux(_less(iy_base, iy_bases, 0), 0,
                           Mux(~_less(iy_base, iy_bases, height + 1), height, iy_base))),
            advance.eq(~o.valid | o.ready),
            rows_ready.eq(base_row + rows_held > need),
            issue.eq(advance & rows_ready),
            pad.eq(_less(iy, iys, 0) | ~_less(iy, iys, height)
                   | _less(column, columns, 0) | ~_less(column, columns, row_words)),
        ]

        # Slot of row iy: iy - base_row < rows for every row the reader may read.
        offset = Signal(range(2 * rows))
        slot = Signal(index_shape(rows))
        m.d.comb += [offset.eq(base_slot + (iy - base_row)[:len(offset)]),
                     slot.eq(Mux(offset >= rows, offset - rows, offset)),
                     port.en.eq(advance),
                     port.addr.eq(Mux(pad, 0, slot * row_words + column))]

        with m.If(issue):
            with m.If(step != kw * groups - 1):
                m.d.sync += [step.eq(step + 1), column.eq(column + 1)]
            with m.Else():
                m.d.sync += step.eq(0)
                with m.If(ky != kh - 1):
                    m.d.sync += [ky.eq(ky + 1), iy.eq(iy + 1), column.eq(column_base)]
                with m.Else():
                    m.d.sync += ky.eq(0)
                    self._next_window(m, oy, ox, iy, iy_base, column, column_base, next_image)

        # Stage 1 (aligned with the read data), then the output register.
        valid1, pad1 = Signal(), Signal()
        pad_word = layout.const([self._pad_code] * self._lanes).as_value()
        with m.If(advance):
            m.d.sync += [valid1.eq(issue), pad1.eq(pad),
                         o.valid.eq(valid1),
                         o.payload.eq(Mux(pad1, pad_word, port.data.as_value()))]
        return release

    def _next_window(self, m, oy, ox, iy, iy_base, column, column_base, next_image):
        (sh, sw), groups = self._stride, self._in_shape[2] // self._lanes
        top, left = self._padding[:2]
        out_height, out_width, _ = self.out_shape
        with m.If(ox != out_width - 1):
            m.d.sync += [ox.eq(ox + 1), iy.eq(iy_base),
                         column_base.eq(column_base + sw * groups),
                         column.eq(column_base + sw * groups)]
        with m.Else():
            m.d.sync += [ox.eq(0), column_base.eq(-left * groups), column.eq(-left * groups)]
            with m.If(oy != out_height - 1):
                m.d.sync += [oy.eq(oy + 1), iy_base.eq(iy_base + sh), iy.eq(iy_base + sh)]
            with m.Else():
                m.d.sync += [oy.eq(0), iy_base.eq(-top), iy.eq(-top)]
                m.d.comb += next_image.eq(1)
