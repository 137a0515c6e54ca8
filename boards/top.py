"""The board-level design: UART in, accelerator, UART out, status LEDs.

::

    rx -> UARTReceiver -> FrameReceiver -> Network -> ResponseSender -> UARTTransmitter -> tx
                                  \\------ statuses, in order -----/

:class:`UartAccelerator` has plain ports (``rx``, ``tx`` and two LED drives) and is what the
board testbench simulates; :class:`BoardTop` places it on an amaranth-boards platform, requests
the UART and LEDs, and optionally runs it from a PLL (see :mod:`.clocking`).
"""

from amaranth.hdl import ClockDomain, Elaboratable, Module, Signal, signed
from amaranth.lib import io, wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from ..hw.compiler.folding import Folding
from ..hw.compiler.interface import DesignInterface, design_interface
from ..hw.compiler.network import Network
from ..hw.compiler.options import HardwareOptions
from ..sw.artifact import Artifact
from .framing import FrameReceiver, ResponseSender
from .protocol import Status
from .uart import UARTReceiver, UARTTransmitter

__all__ = ["UartAccelerator", "BoardTop", "PulseStretcher", "DEFAULT_BAUD", "quiet_cycles"]

DEFAULT_BAUD = 115200
QUIET_BYTES = 64
"""Byte times of silence that end a cut-short or rejected request (5.6 ms at 115200 baud)."""


def quiet_cycles(divisor: int, quiet_bytes: int = QUIET_BYTES) -> int:
    """Return the receiver timeout in cycles: ``quiet_bytes`` byte times of 10 bits."""
    return 10 * divisor * quiet_bytes


class PulseStretcher(wiring.Component):
    """Hold ``output`` high for ``cycles`` after each ``pulse``, so a person can see it on a LED.

    A pulse loads ``-cycles`` into a count that then climbs to 0, where its sign bit stops it and
    turns the output off. Written for the clock speed of a LED count of 10**6 cycles and more
    (some 20 bits): the count's only enable is its own sign bit, added as the increment, and it
    has no reset (a LED count needs none); on iCE40, a load, an enable and a synchronous reset
    on one carry chain split it through LUTs (a 24-bit count reached 18 MHz that way, 76 MHz
    this way, UP5K).

    Parameters
    ----------
    cycles : int
        Cycles ``output`` stays high after the last pulse.

    Attributes
    ----------
    pulse : In(1)
    output : Out(1)
    """

    pulse: In(1)
    output: Out(1)

    def __init__(self, cycles: int):
        self._cycles = cycles
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        count = Signal(signed(bits_for(self._cycles) + 1), reset_less=True)
        with m.If(self.pulse):
            m.d.sync += count.eq(-self._cycles)
        with m.Else():
            m.d.sync += count.eq(count + count[-1])
        m.d.comb += self.output.eq(count[-1])
        return m


class UartAccelerator(wiring.Component):
    """The accelerator behind a UART request/response protocol (:mod:`.protocol`).

    Parameters
    ----------
    artifact : Artifact
        The network.
    folding : Folding
        Its folding; the input words carry ``folding.input_lanes`` codes.
    divisor : int
        Clock cycles per UART bit.
    options : HardwareOptions
        DSP use, popcount architecture and LUT size of the accelerator (board builds pass
        ``HardwareOptions.for_fabric(board.fabric)`` unless told otherwise).
    quiet : int, optional
        Cycles of silence that end a cut-short or rejected request; by default
        :data:`QUIET_BYTES` byte times.
    led_cycles : int
        How long each LED stays lit after an event.

    Attributes
    ----------
    rx : In(1)
        Serial input (idle high).
    tx : Out(1)
        Serial output (idle high).
    activity : Out(1)
        Lit while bytes come and go.
    fault : Out(1)
        Lit after a rejected request or a line error.

    Raises
    ------
    ValueError
        If ``quiet`` is shorter than two byte times or ``led_cycles`` is not positive.
    """

    rx: In(1, init=1)
    tx: Out(1, init=1)
    activity: Out(1)
    fault: Out(1)

    def __init__(self, artifact: Artifact, folding: Folding, divisor: int, *,
                 options: HardwareOptions = HardwareOptions(), quiet: int | None = None,
                 led_cycles: int = 1 << 20):
        self._network = Network(artifact, folding, options=options)
        self._interface = design_interface(artifact, folding)
        self._options = options
        self._uart_rx = UARTReceiver(divisor)
        self._uart_tx = UARTTransmitter(divisor)
        quiet = quiet_cycles(divisor) if quiet is None else quiet
        if not isinstance(quiet, int) or quiet < 20 * divisor:
            raise ValueError(f"quiet must be at least two byte times ({20 * divisor} cycles), "
                             f"not {quiet!r}")
        if not isinstance(led_cycles, int) or led_cycles < 1:
            raise ValueError(f"led_cycles must be a positive integer, not {led_cycles!r}")
        images = self._interface.input
        self._frames = FrameReceiver(images.elements, images.element.bits, images.lanes, quiet)
        result = self._interface.result
        self._sender = ResponseSender(signed(result.score_bits), result.classes)
        self._led_cycles = led_cycles
        self._quiet = quiet
        super().__init__()

    @property
    def network(self) -> Network:
        return self._network

    @property
    def interface(self) -> DesignInterface:
        """The accelerator's streams and result layout (the score width the responses carry)."""
        return self._interface

    @property
    def options(self) -> HardwareOptions:
        return self._options

    @property
    def divisor(self) -> int:
        """Clock cycles per UART bit."""
        return self._uart_rx.divisor

    @property
    def quiet(self) -> int:
        return self._quiet

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart_rx = uart_rx = self._uart_rx
        m.submodules.frames = frames = self._frames
        m.submodules.network = network = self._network
        m.submodules.sender = sender = self._sender
        m.submodules.uart_tx = uart_tx = self._uart_tx
        m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx),
                     frames.line_error.eq(uart_rx.error)]
        wiring.connect(m, uart_rx.o_stream, frames.i_stream)
        wiring.connect(m, frames.o_stream, network.i_stream)
        wiring.connect(m, frames.o_status, sender.i_status)
        wiring.connect(m, network.o_stream, sender.i_result)
        wiring.connect(m, sender.o_stream, uart_tx.i_stream)

        m.submodules.activity = activity = PulseStretcher(self._led_cycles)
        m.submodules.fault = fault = PulseStretcher(self._led_cycles)
        status = sender.i_status
        m.d.comb += [
            activity.pulse.eq(uart_rx.o_stream.valid | uart_tx.i_stream.ready
                              & uart_tx.i_stream.valid),
            fault.pulse.eq(status.valid & status.ready & (status.payload != Status.OK)),
            self.activity.eq(activity.output), self.fault.eq(fault.output),
        ]
        return m


class BoardTop(Elaboratable):
    """:class:`UartAccelerator` on an amaranth-boards platform.

    Parameters
    ----------
    core : UartAccelerator
        The design, built for the frequency the board runs it at.
    activity_led, fault_led : (str, int)
        The platform resources (name, number) of the two status LEDs.
    pll : Pll, optional
        A PLL from :mod:`.clocking` that makes the ``sync`` clock; without one the board's own
        oscillator clocks the design. The design is held in reset until the PLL locks.
    """

    def __init__(self, core: UartAccelerator, activity_led: tuple[str, int],
                 fault_led: tuple[str, int], pll=None):
        self._core = core
        self._activity_led = activity_led
        self._fault_led = fault_led
        self._pll = pll

    def elaborate(self, platform):
        m = Module()
        if self._pll is not None:
            m.domains.sync = sync = ClockDomain("sync")
            clk, locked = self._pll.elaborate_clock(m, platform)
            m.d.comb += sync.clk.eq(clk)
            m.submodules.reset_sync = ResetSynchronizer(~locked, domain="sync")
        m.submodules.core = core = self._core
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx = rx = io.Buffer("i", uart.rx)
        m.submodules.tx = tx = io.Buffer("o", uart.tx)
        m.submodules.activity = activity = io.Buffer(
            "o", platform.request(*self._activity_led, dir="-"))
        m.submodules.fault = fault = io.Buffer("o", platform.request(*self._fault_led, dir="-"))
        m.d.comb += [core.rx.eq(rx.i), tx.o.eq(core.tx), activity.o.eq(core.activity),
                     fault.o.eq(core.fault)]
        return m
