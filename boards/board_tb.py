"""cocotb tests of the whole board design through its serial pins, with a UART model.

The design under test is :class:`qnnforge.boards.top.UartAccelerator` (ports ``rx``, ``tx``,
``activity``, ``fault``). Driver, monitor, model and checker are kept apart: :class:`UartSource`
drives ``rx`` bit by bit, :class:`UartSink` decodes ``tx`` into bytes, the expected classes and
scores were computed before simulation by :mod:`qnnforge.sw.reference`, and the checker compares
responses in order and names the first mismatch. Parameters come from the JSON file that
:func:`qnnforge.sim.runner.load_config` reads (written by :mod:`qnnforge.boards.verify`), the
score width among them, taken from the design's interface.
"""

from __future__ import annotations

import json

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

from ..sim.runner import load_config
from .protocol import (REQUEST, SYNC, Status, checksum, decode_response, encode_request,
                       response_length)

__all__ = ["UartSource", "UartSink", "ResponseReader"]


class UartSource:
    """Drive 8N1 bytes onto ``line``, ``divisor`` clock cycles per bit."""

    def __init__(self, clk, line, divisor: int):
        self.clk = clk
        self.line = line
        self.divisor = divisor
        line.value = 1

    async def send(self, data: bytes) -> None:
        for byte in data:
            for bit in (0, *((byte >> index) & 1 for index in range(8)), 1):
                self.line.value = bit
                await ClockCycles(self.clk, self.divisor)

    async def idle(self, cycles: int) -> None:
        self.line.value = 1
        await ClockCycles(self.clk, cycles)


class UartSink:
    """Decode 8N1 bytes from ``line`` by sampling each bit in its middle."""

    def __init__(self, clk, line, divisor: int):
        self.clk = clk
        self.line = line
        self.divisor = divisor
        self.data = bytearray()
        self.framing_errors = 0

    async def run(self) -> None:
        while True:
            await FallingEdge(self.line)
            await ClockCycles(self.clk, self.divisor // 2)
            if int(self.line.value):
                continue  # a glitch, not a start bit
            byte = 0
            for index in range(8):
                await ClockCycles(self.clk, self.divisor)
                byte |= int(self.line.value) << index
            await ClockCycles(self.clk, self.divisor)
            if not int(self.line.value):
                self.framing_errors += 1
            self.data.append(byte)


class ResponseReader:
    """Split the sink's bytes into response frames and decode them."""

    def __init__(self, sink: UartSink, classes: int, score_bits: int):
        self.sink = sink
        self.classes = classes
        self.score_bits = score_bits
        self.offset = 0

    def take(self):
        """Return the next complete response, or None if it has not fully arrived."""
        data = self.sink.data
        if len(data) - self.offset < 3:
            return None
        try:
            length = response_length(Status(data[self.offset + 2]), self.classes,
                                     self.score_bits)
        except ValueError:
            length = 4  # let decode_response name the bad status
        if len(data) - self.offset < length:
            return None
        frame = bytes(data[self.offset:self.offset + length])
        self.offset += length
        return decode_response(frame, self.classes, self.score_bits)


async def _start(dut, config: dict) -> tuple[UartSource, UartSink, ResponseReader]:
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    source = UartSource(dut.clk, dut.rx, config["divisor"])
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    sink = UartSink(dut.clk, dut.tx, config["divisor"])
    cocotb.start_soon(sink.run())
    await ClockCycles(dut.clk, 4)
    return source, sink, ResponseReader(sink, config["classes"], config["score_bits"])


async def _collect(dut, reader: ResponseReader, count: int, budget: int) -> list:
    """Wait up to ``budget`` cycles for ``count`` responses; return those that arrived."""
    responses = []
    for _ in range(budget):
        while (response := reader.take()) is not None:
            responses.append(response)
        if len(responses) >= count:
            break
        await RisingEdge(dut.clk)
    return responses


def _check(expected: list[tuple], responses: list, sink: UartSink) -> list[str]:
    """Compare responses with ``(status, cls, scores)`` in order; name the first mismatch."""
    errors = []
    if sink.framing_errors:
        errors.append(f"{sink.framing_errors} bytes from the board had no stop bit")
    if len(responses) < len(expected):
        errors.append(f"only {len(responses)} of {len(expected)} responses arrived "
                      f"(the design hung or dropped a request)")
    if len(responses) > len(expected):
        errors.append(f"{len(responses) - len(expected)} responses more than requests")
    for index, ((status, cls, scores), response) in enumerate(zip(expected, responses)):
        actual = (response.status, response.cls,
                  None if response.scores is None else list(response.scores))
        if actual != (status, cls, scores):
            errors.append(f"request {index}: expected {status.name} class {cls} scores "
                          f"{scores}, got {response.status.name} class {response.cls} "
                          f"scores {actual[2]}")
            break
    return errors


def _record(key: str, result: dict) -> None:
    with open(load_config()["results"][key], "w") as f:
        json.dump(result, f, indent=2)


def _expected_ok(vectors, index: int) -> tuple:
    return (Status.OK, int(vectors["classes"][index]),
            [int(value) for value in vectors["scores"][index]])


@cocotb.test()
async def board_classifies_images(dut):
    """Every image as a request frame back to back: classes and scores equal the reference."""
    config = load_config()
    vectors = np.load(config["vectors"])
    codes = vectors["input_codes"]
    source, sink, reader = await _start(dut, config)
    start = cocotb.utils.get_sim_time(unit="ns")
    for row in codes:
        await source.send(encode_request(row, config["input_bits"]))
    responses = await _collect(dut, reader, len(codes), config["response_budget"])
    elapsed_cycles = (cocotb.utils.get_sim_time(unit="ns") - start) / 10
    expected = [_expected_ok(vectors, index) for index in range(len(codes))]
    errors = _check(expected, responses, sink)
    _record("images", {"requests": len(codes), "responses": len(responses), "errors": errors,
                       "classes": [r.cls for r in responses], "cycles": elapsed_cycles})
    assert not errors, "; ".join(errors)


def _malformed(codes: np.ndarray, input_bits: int) -> list[tuple[str, bytes, Status]]:
    """Return named malformed requests and the status each must be answered with."""
    good = encode_request(codes, input_bits)
    short = encode_request(codes[:-1], input_bits)
    corrupt = bytearray(good)
    corrupt[-1] ^= 0x01
    cases = [
        ("bad second header byte", bytes([SYNC, ord("X")]) + good[2:], Status.BAD_HEADER),
        ("stray bytes before a header", bytes([0x00, 0x13]) + good[2:], Status.BAD_HEADER),
        ("length one short", short, Status.BAD_LENGTH),
        ("length one long", encode_request(np.append(codes, 0), input_bits),
         Status.BAD_LENGTH),
        ("wrong checksum", bytes(corrupt), Status.BAD_CHECKSUM),
        ("cut short", good[:len(good) // 2], Status.TIMEOUT),
    ]
    if input_bits < 8:
        body = bytearray(good[2:-1])
        body[2] = 1 << input_bits  # the first code, one past the largest legal value
        cases.append(("code out of range", bytes([SYNC, REQUEST]) + bytes(body)
                      + bytes([checksum(body)]), Status.BAD_VALUE))
    return cases


@cocotb.test()
async def board_rejects_malformed_requests(dut):
    """Each malformed request is answered with its error and the next good one still works."""
    config = load_config()
    vectors = np.load(config["vectors"])
    codes = vectors["input_codes"]
    source, sink, reader = await _start(dut, config)
    expected = []
    cases = _malformed(codes[0], config["input_bits"])
    for index, (name, frame, status) in enumerate(cases):
        await source.send(frame)
        # rejected requests are drained until the line has been quiet for the timeout
        await source.idle(config["quiet"] + 20 * config["divisor"])
        expected.append((status, None, None))
        good = (index + 1) % len(codes)
        await source.send(encode_request(codes[good], config["input_bits"]))
        expected.append(_expected_ok(vectors, good))
    responses = await _collect(dut, reader, len(expected), config["response_budget"])
    errors = _check(expected, responses, sink)
    for (name, _, _), index in zip(cases, range(0, len(expected), 2)):
        if index < len(responses) and responses[index].status != expected[index][0]:
            errors.insert(0, f"case {name!r}: expected {expected[index][0].name}, "
                             f"got {responses[index].status.name}")
    _record("malformed", {"cases": [name for name, _, _ in cases],
                          "responses": [r.status.name for r in responses], "errors": errors})
    assert not errors, "; ".join(errors)
