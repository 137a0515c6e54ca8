"""cocotb valid/ready stream driver and monitor, with random stalls and backpressure.

Both act once per clock cycle: at the falling edge they drive their side of the handshake for
the next rising edge, then wait for the ``ReadOnly`` phase, where every combinational signal has
settled, to see whether a transfer will happen at that edge. A transfer is counted exactly when
``valid`` and ``ready`` are both high there, which is the stream protocol's definition.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from cocotb.handle import SimHandleBase
from cocotb.triggers import FallingEdge, ReadOnly

__all__ = ["StreamPort", "StreamDriver", "StreamMonitor", "CycleCounter"]


class StreamPort:
    """The three signals of a stream named ``prefix`` on ``dut`` (Amaranth's naming)."""

    def __init__(self, dut: SimHandleBase, prefix: str):
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.payload = getattr(dut, f"{prefix}__payload")
        self.name = prefix


class CycleCounter:
    """Counts rising edges seen at falling edges, so every component shares one time base."""

    def __init__(self, clk: SimHandleBase):
        self.clk = clk
        self.cycle = 0

    async def run(self) -> None:
        while True:
            await FallingEdge(self.clk)
            self.cycle += 1


class StreamDriver:
    """Send beats into a stream, idling ``valid`` at random with probability ``stall``.

    Parameters
    ----------
    port : StreamPort
        Stream whose ``valid`` and ``payload`` the driver owns.
    counter : CycleCounter
        Shared time base; ``sent_at`` records the cycle of every transfer.
    stall : float
        Probability of idling a cycle before offering a beat.
    rng : random.Random
        Source of the stalls (seeded by the test for reproducibility).
    """

    def __init__(self, port: StreamPort, counter: CycleCounter, stall: float = 0.0,
                 rng: random.Random | None = None):
        self.port = port
        self.counter = counter
        self.stall = stall
        self.rng = rng or random.Random(0)
        self.sent_at: list[int] = []
        port.valid.value = 0

    async def send(self, beats: Sequence[int]) -> None:
        """Offer ``beats`` in order; return once the last has been accepted."""
        index = 0
        while index < len(beats):
            await FallingEdge(self.counter.clk)
            offer = not (self.stall and self.rng.random() < self.stall)
            self.port.valid.value = int(offer)
            if offer:
                self.port.payload.value = beats[index]
            await ReadOnly()
            if offer and int(self.port.ready.value):
                self.sent_at.append(self.counter.cycle)
                index += 1
        await FallingEdge(self.counter.clk)
        self.port.valid.value = 0


class StreamMonitor:
    """Accept beats from a stream, dropping ``ready`` at random with probability ``backpressure``.

    With ``passive=True`` it only watches a stream that something else drives (an internal
    connection between two layers).
    """

    def __init__(self, port: StreamPort, counter: CycleCounter, backpressure: float = 0.0,
                 rng: random.Random | None = None, passive: bool = False):
        self.port = port
        self.counter = counter
        self.backpressure = backpressure
        self.rng = rng or random.Random(1)
        self.passive = passive
        self.beats: list[int] = []
        self.received_at: list[int] = []
        if not passive:
            port.ready.value = 0

    async def run(self) -> None:
        while True:
            await FallingEdge(self.counter.clk)
            if not self.passive:
                ready = not (self.backpressure and self.rng.random() < self.backpressure)
                self.port.ready.value = int(ready)
            await ReadOnly()
            if int(self.port.valid.value) and int(self.port.ready.value):
                self.beats.append(int(self.port.payload.value))
                self.received_at.append(self.counter.cycle)
