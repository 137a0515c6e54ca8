"""8N1 UART receiver and transmitter with a fixed baud divisor (clock cycles per bit).

The receiver synchronizes ``rx`` with two flip-flops, takes a falling edge as a start bit,
confirms it half a bit later, then samples each data bit and the stop bit in the middle of its
bit time. It returns to idle in the middle of the stop bit, which tolerates a clock mismatch of
about ``1 / (2 * 10)`` = 5 % between the two ends. A byte is offered on ``o_stream`` for as long
as it is not taken; a byte arriving before the previous one was taken, or a missing stop bit,
pulses ``error`` (the byte is dropped).
"""

from amaranth.hdl import Cat, Const, Module, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

__all__ = ["MIN_DIVISOR", "UARTReceiver", "UARTTransmitter", "baud_divisor"]

MIN_DIVISOR = 4
"""Fewest clock cycles per bit; below it the mid-bit sample has no margin."""


def _check_divisor(kind: str, divisor: int) -> None:
    if not isinstance(divisor, int) or isinstance(divisor, bool):
        raise TypeError(f"{kind} divisor must be an integer, not {divisor!r}")
    if divisor < MIN_DIVISOR:
        raise ValueError(f"{kind} divisor must be at least {MIN_DIVISOR} cycles per bit, "
                         f"not {divisor}")


def baud_divisor(clock_hz: float, baud: int, tolerance: float = 0.02) -> int:
    """Return the cycles per bit for ``baud`` at ``clock_hz``.

    Raises
    ------
    ValueError
        If the divisor is below :data:`MIN_DIVISOR` or the baud rate it gives is off by more
        than ``tolerance``.
    """
    if not isinstance(baud, int) or baud < 1:
        raise ValueError(f"baud rate must be a positive integer, not {baud!r}")
    divisor = round(clock_hz / baud)
    if divisor < MIN_DIVISOR:
        raise ValueError(f"{baud} baud needs at least {MIN_DIVISOR * baud / 1e6:g} MHz, "
                         f"not {clock_hz / 1e6:g} MHz")
    error = abs(clock_hz / divisor - baud) / baud
    if error > tolerance:
        raise ValueError(f"{baud} baud is {error:.1%} off at {clock_hz / 1e6:g} MHz "
                         f"(divisor {divisor}); choose another baud rate or clock")
    return divisor


class UARTReceiver(wiring.Component):
    """8N1 receiver.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, at least :data:`MIN_DIVISOR`.

    Attributes
    ----------
    rx : In(1)
        The serial line (idle high); synchronized inside.
    o_stream : Out(stream.Signature(8))
        Received bytes.
    error : Out(1)
        One-cycle pulse for a missing stop bit or a byte lost to overrun, in the cycle after the
        stop bit's sample (with ``o_stream.valid`` of an overrunning byte).

    Raises
    ------
    TypeError
        If ``divisor`` is not an integer.
    ValueError
        If ``divisor`` is below :data:`MIN_DIVISOR`.
    """

    rx: In(1, init=1)
    o_stream: Out(stream.Signature(8))
    error: Out(1)

    def __init__(self, divisor: int):
        _check_divisor("UART", divisor)
        self._divisor = divisor
        super().__init__()

    @property
    def divisor(self) -> int:
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(self._divisor))
        bit = Signal(range(8))
        shift = Signal(8)
        o = self.o_stream

        with m.If(o.ready):
            m.d.sync += o.valid.eq(0)
        # a register, like o.valid: the FSM and its timer do not reach the consumer's logic
        m.d.sync += self.error.eq(0)
        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += timer.eq(self._divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(self._divisor - 1), bit.eq(0)]
                    with m.If(rx):  # a glitch, not a start bit
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(self._divisor - 1), shift.eq(Cat(shift[1:], rx)),
                                 bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(rx):
                        m.d.sync += [o.valid.eq(1), o.payload.eq(shift)]
                        m.d.sync += self.error.eq(o.valid & ~o.ready)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += self.error.eq(1)
                        m.next = "BREAK"
            with m.State("BREAK"):  # wait out a held-low line before looking for a start bit
                with m.If(rx):
                    m.next = "IDLE"
        return m


class UARTTransmitter(wiring.Component):
    """8N1 transmitter.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, at least :data:`MIN_DIVISOR`.

    Attributes
    ----------
    i_stream : In(stream.Signature(8))
        Bytes to send; one is taken whenever the line is idle.
    tx : Out(1)
        The serial line, high when idle.

    Raises
    ------
    TypeError
        If ``divisor`` is not an integer.
    ValueError
        If ``divisor`` is below :data:`MIN_DIVISOR`.
    """

    i_stream: In(stream.Signature(8))
    tx: Out(1, init=1)

    def __init__(self, divisor: int):
        _check_divisor("UART", divisor)
        self._divisor = divisor
        super().__init__()

    @property
    def divisor(self) -> int:
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        # The bit timer counts down to -1, so its sign bit ends a bit time without a comparison,
        # and `idle` is a register: the line's enable is one LUT from registers (at 50 MHz a
        # comparison of the timer, or of a bit count with 0, on the way to it was the UP5K's
        # longest path: the UART sits by its pins, far from the rest).
        timer = Signal(signed(bits_for(self._divisor - 2) + 1), reset_less=True)
        bits_left = Signal(range(10))  # bits still to follow the one on the line
        idle = Signal(init=1)
        # start bit, 8 data bits LSB first, stop bit; the idle line shifts in as ones
        shift = Signal(unsigned(10), init=Const(0x3FF, 10).value)
        i = self.i_stream

        m.d.comb += [self.tx.eq(shift[0]), i.ready.eq(idle)]
        with m.If(i.valid & idle):
            m.d.sync += [shift.eq(Cat(Const(0, 1), i.payload, Const(1, 1))), bits_left.eq(9),
                         idle.eq(0), timer.eq(self._divisor - 2)]
        with m.Elif(~idle):
            with m.If(timer[-1]):
                m.d.sync += [shift.eq(Cat(shift[1:], Const(1, 1))), bits_left.eq(bits_left - 1),
                             timer.eq(self._divisor - 2)]
                with m.If(bits_left == 0):
                    m.d.sync += idle.eq(1)
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m
