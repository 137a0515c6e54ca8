"""Request parsing into the accelerator's input stream, and response serialization.

:class:`FrameReceiver` checks every request of :mod:`.protocol` (header, length, code range,
checksum) while writing its codes, packed ``lanes`` per word, into one of two image buffers. Only
an image whose checksum matched is released to the accelerator, so a corrupt request never
reaches it; the second buffer receives the next image while the first is read. Every request
ends in one status, queued in order for :class:`ResponseSender`, which answers each with its
status, and for an accepted image with the class and scores the accelerator produces for it.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Shape, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from ..hw.cores.argmax import result_layout
from .protocol import REQUEST, RESPONSE, SYNC, Status, response_length, score_bytes

__all__ = ["FrameReceiver", "ResponseSender", "STATUS_DEPTH"]

STATUS_DEPTH = 4
"""Statuses that may wait for the transmitter; a request is refused as busy when none is free."""


def _positive(kind: str, name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise TypeError(f"{kind} {name} must be a positive integer, not {value!r}")


class FrameReceiver(wiring.Component):
    """Parse requests from a byte stream into image words and statuses.

    Parameters
    ----------
    in_features : int
        Codes per image (the request length the receiver accepts).
    input_bits : int
        Width of one code, 1..8.
    lanes : int
        Codes per output word; must divide ``in_features``.
    timeout : int
        Cycles of silence that end a request cut short, or a rejected request's drain.

    Attributes
    ----------
    i_stream : In(stream.Signature(8))
        Received bytes; always taken.
    line_error : In(1)
        The UART lost a byte; rejects the request in progress.
    o_stream : Out(stream.Signature(ArrayLayout(unsigned(input_bits), lanes)))
        The codes of accepted images, ``in_features / lanes`` words each.
    o_status : Out(stream.Signature(Status))
        One status per request, in request order.

    Raises
    ------
    TypeError
        If a parameter is not a positive integer.
    ValueError
        If ``input_bits`` exceeds 8 or ``lanes`` does not divide ``in_features``.
    """

    def __init__(self, in_features: int, input_bits: int, lanes: int, timeout: int):
        for name, value in (("in_features", in_features), ("input_bits", input_bits),
                            ("lanes", lanes), ("timeout", timeout)):
            _positive("FrameReceiver", name, value)
        if input_bits > 8:
            raise ValueError(f"FrameReceiver input_bits must be at most 8, not {input_bits}")
        if in_features % lanes:
            raise ValueError(f"FrameReceiver lanes must divide in_features ({in_features}), "
                             f"not {lanes}")
        if in_features > 0xFFFF:
            raise ValueError(f"FrameReceiver in_features must be at most 65535, "
                             f"not {in_features}")
        self._in_features = in_features
        self._input_bits = input_bits
        self._lanes = lanes
        self._timeout = timeout
        self._word = data.ArrayLayout(unsigned(input_bits), lanes)
        super().__init__({
            "i_stream": In(stream.Signature(8)),
            "line_error": In(1),
            "o_stream": Out(stream.Signature(self._word)),
            "o_status": Out(stream.Signature(Status)),
        })

    @property
    def words(self) -> int:
        """Output words per image."""
        return self._in_features // self._lanes

    def elaborate(self, platform):
        m = Module()
        m.submodules.buffer = buffer = Memory(shape=self._word, depth=2 * self.words, init=[])
        m.submodules.statuses = statuses = SyncFIFOBuffered(width=8, depth=STATUS_DEPTH)
        full = Signal(2)  # which buffer holds a checked image the accelerator has not read
        self._parse(m, buffer.write_port(), statuses, full)
        self._read(m, buffer.read_port(), full)
        m.d.comb += [self.o_status.valid.eq(statuses.r_rdy), statuses.r_en.eq(self.o_status.ready),
                     self.o_status.payload.eq(statuses.r_data)]
        return m

    def _parse(self, m: Module, write, statuses: SyncFIFOBuffered, full: Signal) -> None:
        i = self.i_stream
        # Each byte is taken into a register a cycle before it is parsed, with its comparisons
        # against the protocol's constants, so no comparison of a byte lies between the UART
        # and the parser's enables (a byte a cycle still passes; the UART sends far fewer).
        got, byte, line_error = Signal(), Signal(8), Signal()
        is_sync, is_request, bad_code = Signal(), Signal(), Signal()
        length_low_ok, length_high_ok = Signal(), Signal()
        m.d.sync += [got.eq(i.valid), byte.eq(i.payload), line_error.eq(self.line_error),
                     is_sync.eq(i.payload == SYNC), is_request.eq(i.payload == REQUEST),
                     bad_code.eq(i.payload >> self._input_bits != 0),
                     length_low_ok.eq(i.payload == self._in_features & 0xFF),
                     length_high_ok.eq(i.payload == self._in_features >> 8)]
        bank = Signal()
        length_matches = Signal()  # the length's low byte was the image's
        total = Signal(8)  # running checksum
        count = Signal(range(self._in_features))
        lane = Signal(range(self._lanes))
        word = Signal(self._word)
        next_word = Signal(self._word)
        # cycles since the last byte, as a count from -timeout up to 0 where it stops: its sign
        # bit is its enable and no reset touches it, which keeps its carry chain whole on iCE40
        # (see boards.top.PulseStretcher); it starts at -timeout, as after a byte
        quiet = Signal(signed(bits_for(self._timeout) + 1), init=-self._timeout, reset_less=True)
        status = Signal(Status)
        finish = Signal()  # push ``status`` and leave the request

        m.d.comb += i.ready.eq(1)
        with m.If(got):
            m.d.sync += quiet.eq(-self._timeout)
        with m.Else():
            m.d.sync += quiet.eq(quiet + quiet[-1])
        timed_out = ~got & ~quiet[-1]

        m.d.comb += [next_word.eq(word), next_word[lane].eq(byte[:self._input_bits])]
        m.d.comb += [write.addr.eq(Mux(bank, self.words, 0) + count // self._lanes),
                     write.data.eq(next_word)]
        # a status that finds the queue full is lost; BUSY keeps that from happening to OK
        m.d.comb += [statuses.w_data.eq(status), statuses.w_en.eq(finish)]

        def reject(reason: Status) -> None:
            m.d.comb += [status.eq(reason), finish.eq(1)]
            m.next = "DRAIN"

        def abort_on_line() -> None:
            # inside a request, after the byte rules, so these win over them
            with m.If(line_error):
                reject(Status.LINE_ERROR)
            with m.Elif(timed_out):
                m.d.comb += [status.eq(Status.TIMEOUT), finish.eq(1)]
                m.next = "IDLE"

        with m.FSM():
            with m.State("IDLE"):
                with m.If(got & is_sync):
                    m.next = "HEADER"
                with m.Elif(got):
                    reject(Status.BAD_HEADER)
                with m.Elif(line_error):
                    reject(Status.LINE_ERROR)
            with m.State("HEADER"):
                with m.If(got & is_request):
                    m.d.sync += [total.eq(0), count.eq(0), lane.eq(0)]
                    with m.If(full.bit_select(bank, 1) | ~statuses.w_rdy):
                        reject(Status.BUSY)
                    with m.Else():
                        m.next = "LENGTH_LOW"
                with m.Elif(got):
                    reject(Status.BAD_HEADER)
                abort_on_line()
            with m.State("LENGTH_LOW"):
                with m.If(got):
                    m.d.sync += [length_matches.eq(length_low_ok), total.eq(total + byte)]
                    m.next = "LENGTH_HIGH"
                abort_on_line()
            with m.State("LENGTH_HIGH"):
                with m.If(got & length_matches & length_high_ok):
                    m.d.sync += total.eq(total + byte)
                    m.next = "PAYLOAD"
                with m.Elif(got):
                    reject(Status.BAD_LENGTH)
                abort_on_line()
            with m.State("PAYLOAD"):
                with m.If(got & bad_code):
                    reject(Status.BAD_VALUE)
                with m.Elif(got):
                    m.d.comb += write.en.eq(lane == self._lanes - 1)
                    m.d.sync += [total.eq(total + byte), word.eq(next_word),
                                 lane.eq(Mux(lane == self._lanes - 1, 0, lane + 1)),
                                 count.eq(count + 1)]
                    with m.If(count == self._in_features - 1):
                        m.next = "CHECKSUM"
                abort_on_line()
            with m.State("CHECKSUM"):
                with m.If(got & (byte == total)):
                    m.d.comb += [status.eq(Status.OK), finish.eq(1)]
                    m.d.sync += [full.bit_select(bank, 1).eq(1), bank.eq(~bank)]
                    m.next = "IDLE"
                with m.Elif(got):
                    reject(Status.BAD_CHECKSUM)
                abort_on_line()
            with m.State("DRAIN"):  # ignore the rest of a rejected request
                with m.If(timed_out):
                    m.next = "IDLE"

    def _read(self, m: Module, read, full: Signal) -> None:
        o = self.o_stream
        bank = Signal()
        index = Signal(range(self.words))
        advance = ~o.valid | o.ready
        ready = full.bit_select(bank, 1)
        m.d.comb += [read.en.eq(advance), read.addr.eq(Mux(bank, self.words, 0) + index),
                     o.payload.eq(read.data)]
        with m.If(advance):
            m.d.sync += o.valid.eq(ready)
            with m.If(ready):
                m.d.sync += index.eq(Mux(index == self.words - 1, 0, index + 1))
                with m.If(index == self.words - 1):
                    m.d.sync += [full.bit_select(bank, 1).eq(0), bank.eq(~bank)]


class ResponseSender(wiring.Component):
    """Serialize one response per status, with the accelerator's result for each OK.

    Parameters
    ----------
    score_shape : Shape
        Shape of one class score (signed).
    classes : int
        Scores per result.

    Attributes
    ----------
    i_status : In(stream.Signature(Status))
        Statuses in request order; one is taken when its response has been sent.
    i_result : In(stream.Signature(result_layout(score_shape, classes)))
        The accelerator's results; one is taken per OK status.
    o_stream : Out(stream.Signature(8))
        Response bytes.

    Raises
    ------
    TypeError
        If ``classes`` is not a positive integer.
    ValueError
        If ``classes`` exceeds 255.
    """

    def __init__(self, score_shape, classes: int):
        _positive("ResponseSender", "classes", classes)
        if classes > 255:
            raise ValueError(f"ResponseSender classes must be at most 255, not {classes}")
        self._score_shape = Shape.cast(score_shape)
        self._classes = classes
        super().__init__({
            "i_status": In(stream.Signature(Status)),
            "i_result": In(stream.Signature(result_layout(self._score_shape, classes))),
            "o_stream": Out(stream.Signature(8)),
        })

    @property
    def ok_length(self) -> int:
        """Bytes of an OK response."""
        return response_length(Status.OK, self._classes, self._score_shape.width)

    def elaborate(self, platform):
        m = Module()
        status, result, o = self.i_status, self.i_result, self.o_stream
        width = score_bytes(self._score_shape.width)
        body = Signal(data.ArrayLayout(8, self.ok_length - 1))  # everything but the checksum
        m.d.comb += [body[0].eq(SYNC), body[1].eq(RESPONSE), body[2].eq(status.payload),
                     body[3].eq(result.payload.cls)]
        for index in range(self._classes):
            score = Signal(signed(8 * width), name=f"score{index}")
            m.d.comb += score.eq(result.payload.scores[index])
            for byte in range(width):
                m.d.comb += body[4 + index * width + byte].eq(score[8 * byte:8 * (byte + 1)])

        ok = status.payload == Status.OK
        index = Signal(range(self.ok_length))
        total = Signal(8)
        last = index == Mux(ok, self.ok_length - 1, 3)
        # Each byte is picked in two registered steps, its 4-byte word (index // 4), then the
        # byte in it, so no path runs from the result through a whole body multiplexer into the
        # checksum (a UART byte takes thousands of cycles; these two cost nothing there).
        words = -(-(self.ok_length - 1) // 4)
        padded = Signal(data.ArrayLayout(32, words))
        m.d.comb += padded.as_value()[:len(body.as_value())].eq(body.as_value())
        word, byte = Signal(32), Signal(8)
        phase = Signal(range(3))  # 0: pick the word, 1: pick the byte, 2: offer it
        m.d.comb += [o.valid.eq(phase == 2), o.payload.eq(byte)]
        # whether the byte ends the response, and takes an OK's result, is registered with its
        # word: neither the status nor the UART reaches the result's ready, which is a register
        # of its own (the accelerator's last stages load on it). The result is released as the
        # last byte (the checksum, which reads no result) is picked.
        ends, release = Signal(), Signal()
        m.d.sync += release.eq(0)
        with m.If((phase == 0) & status.valid & (~ok | result.valid)):
            m.d.sync += [word.eq(padded[index[2:]]), phase.eq(1), ends.eq(last),
                         release.eq(last & ok)]
        m.d.comb += result.ready.eq(release)
        with m.If(phase == 1):
            m.d.sync += [byte.eq(Mux(ends, total, word.word_select(index[:2], 8))), phase.eq(2)]
        with m.If(o.valid & o.ready):
            m.d.sync += phase.eq(0)
            with m.If(ends):
                m.d.sync += [index.eq(0), total.eq(0)]
                m.d.comb += status.ready.eq(1)
            with m.Else():
                m.d.sync += index.eq(index + 1)
                with m.If(index >= 2):
                    m.d.sync += total.eq(total + o.payload)
        return m
