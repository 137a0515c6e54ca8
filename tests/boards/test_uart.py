"""UART receiver and transmitter in Amaranth's simulator: loopback, framing errors, divisors."""

import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator

from qnnforge.boards.uart import UARTReceiver, UARTTransmitter, baud_divisor


def _loopback(divisor: int, data: bytes) -> bytes:
    m = Module()
    m.submodules.tx = tx = UARTTransmitter(divisor)
    m.submodules.rx = rx = UARTReceiver(divisor)
    m.d.comb += rx.rx.eq(tx.tx)
    received = []

    async def send(ctx):
        for byte in data:
            ctx.set(tx.i_stream.payload, byte)
            ctx.set(tx.i_stream.valid, 1)
            await ctx.tick().until(tx.i_stream.ready)
        ctx.set(tx.i_stream.valid, 0)
        await ctx.tick().repeat(12 * divisor)

    async def receive(ctx):
        ctx.set(rx.o_stream.ready, 1)
        async for _, _, valid, payload, error in ctx.tick().sample(
                rx.o_stream.valid, rx.o_stream.payload, rx.error):
            assert not error
            if valid:
                received.append(payload)

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(send)
    sim.add_testbench(receive, background=True)
    sim.run()
    return bytes(received)


@pytest.mark.parametrize("divisor", [4, 7])
def test_loopback_carries_every_byte_value(divisor):
    data = bytes(range(256)) if divisor == 4 else bytes([0x00, 0xFF, 0xA5, 0x5A, 0x01, 0x80])
    assert _loopback(divisor, data) == data


@pytest.mark.parametrize("divisor", [4, 9])
def test_transmitter_holds_each_bit_a_divisor_and_is_ready_after_the_stop_bit(divisor):
    tx = UARTTransmitter(divisor)
    line, ready = [], []

    async def bench(ctx):
        ctx.set(tx.i_stream.payload, 0xA6)
        ctx.set(tx.i_stream.valid, 1)
        await ctx.tick()  # the idle transmitter takes the byte at this edge
        ctx.set(tx.i_stream.payload, 0x0F)  # the next byte waits until the line is free
        async for _, _, bit, taking in ctx.tick().sample(tx.tx, tx.i_stream.ready):
            line.append(bit)
            ready.append(taking)
            if len(line) == 11 * divisor:
                break

    sim = Simulator(tx)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    frame = [0] + [(0xA6 >> k) & 1 for k in range(8)] + [1]
    # sampled after each edge: the frame's 10 bits, `divisor` cycles each, then ready again in
    # the cycle after the stop bit, where the next byte is taken and its start bit begins
    assert line[:10 * divisor] == [bit for bit in frame for _ in range(divisor)]
    assert ready.index(1) == 10 * divisor and line[10 * divisor] == 1
    assert line[10 * divisor + 1:] == [0] * (divisor - 1)


def _drive(ctx, line, divisor, bits):
    async def run():
        for bit in bits:
            ctx.set(line, bit)
            await ctx.tick().repeat(divisor)
    return run()


def test_receiver_flags_missing_stop_bit_and_drops_the_byte():
    divisor = 4
    rx = UARTReceiver(divisor)
    seen = {"bytes": [], "errors": 0}

    async def bench(ctx):
        ctx.set(rx.o_stream.ready, 1)
        await ctx.tick().repeat(4)
        # 0x55 with a low stop bit, then the line held low (a break), then a good 0x3C
        await _drive(ctx, rx.rx, divisor, [0] + [1, 0] * 4 + [0] + [0] * 12 + [1] * 3)
        await _drive(ctx, rx.rx, divisor, [0] + [(0x3C >> i) & 1 for i in range(8)] + [1] * 4)

    async def watch(ctx):
        async for _, _, valid, payload, error in ctx.tick().sample(
                rx.o_stream.valid, rx.o_stream.payload, rx.error):
            seen["errors"] += error
            if valid:
                seen["bytes"].append(payload)

    sim = Simulator(rx)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.add_testbench(watch, background=True)
    sim.run()
    assert seen == {"bytes": [0x3C], "errors": 1}


def test_receiver_ignores_a_glitch_shorter_than_half_a_bit():
    divisor = 8
    rx = UARTReceiver(divisor)
    seen = []

    async def bench(ctx):
        ctx.set(rx.o_stream.ready, 1)
        await ctx.tick().repeat(4)
        ctx.set(rx.rx, 0)
        await ctx.tick().repeat(2)
        ctx.set(rx.rx, 1)
        await ctx.tick().repeat(12 * divisor)

    async def watch(ctx):
        async for _, _, valid, error in ctx.tick().sample(rx.o_stream.valid, rx.error):
            if valid or error:
                seen.append((valid, error))

    sim = Simulator(rx)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.add_testbench(watch, background=True)
    sim.run()
    assert seen == []


def test_divisor_validation():
    with pytest.raises(TypeError, match=r"^UART divisor must be an integer, not 4\.0$"):
        UARTReceiver(4.0)
    with pytest.raises(ValueError, match=r"^UART divisor must be at least 4 cycles per bit, "
                                         r"not 3$"):
        UARTTransmitter(3)


def test_baud_divisor():
    assert baud_divisor(12e6, 115200) == 104
    assert baud_divisor(100e6, 115200) == 868
    with pytest.raises(ValueError, match=r"^115200 baud needs at least 0\.4608 MHz, "
                                         r"not 0\.3 MHz$"):
        baud_divisor(0.3e6, 115200)
    with pytest.raises(ValueError, match=r"^115200 baud is 4\.2% off at 0\.6 MHz \(divisor 5\); "
                                         r"choose another baud rate or clock$"):
        baud_divisor(0.6e6, 115200)
    with pytest.raises(ValueError, match=r"^baud rate must be a positive integer, not 0$"):
        baud_divisor(12e6, 0)
