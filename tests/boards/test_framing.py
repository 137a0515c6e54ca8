"""Request parser and response serializer in Amaranth's simulator, and the protocol codec."""

import numpy as np
import pytest
from amaranth.hdl import signed
from amaranth.sim import Simulator
from hypothesis import given, settings
from hypothesis import strategies as st

from qnnforge.boards.framing import FrameReceiver, ResponseSender
from qnnforge.boards.protocol import (REQUEST, SYNC, ProtocolError, Response, Status, checksum,
                                      decode_response, encode_request, request_length)
from qnnforge.sim.packing import pack_rows

FEATURES, BITS, LANES, QUIET = 12, 4, 3, 40


def _receive(chunks: list[bytes], gap: int = 2, backpressure: bool = False):
    """Feed ``chunks`` of bytes (silence of ``QUIET + 5`` cycles between them); return the
    output words and statuses."""
    dut = FrameReceiver(FEATURES, BITS, LANES, QUIET)
    words, statuses = [], []

    async def feed(ctx):
        for chunk in chunks:
            for byte in chunk:
                ctx.set(dut.i_stream.payload, byte)
                ctx.set(dut.i_stream.valid, 1)
                await ctx.tick()
                ctx.set(dut.i_stream.valid, 0)
                if gap:
                    await ctx.tick().repeat(gap)
            await ctx.tick().repeat(QUIET + 5)
        await ctx.tick().repeat(3 * FEATURES)

    async def drain(ctx):
        ctx.set(dut.o_status.ready, 1)
        cycle = 0
        async for _, _, valid, word, ready, s_valid, status in ctx.tick().sample(
                dut.o_stream.valid, dut.o_stream.payload, dut.o_stream.ready,
                dut.o_status.valid, dut.o_status.payload):
            cycle += 1
            ctx.set(dut.o_stream.ready, not backpressure or cycle % 3 == 0)
            if valid and ready:
                words.append(word.as_value().value)
            if s_valid:
                statuses.append(Status(status))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(feed)
    sim.add_testbench(drain, background=True)
    sim.run()
    return words, statuses


def _raw(codes) -> list[int]:
    return pack_rows(np.asarray(codes).reshape(1, -1), LANES, BITS)


@pytest.mark.parametrize("backpressure", [False, True])
def test_good_requests_become_words_in_order(backpressure):
    rng = np.random.default_rng(3)
    images = rng.integers(0, 16, size=(3, FEATURES))
    words, statuses = _receive([encode_request(image, BITS) for image in images],
                               backpressure=backpressure)
    assert statuses == [Status.OK] * 3
    assert words == sum((_raw(image) for image in images), [])


def test_back_to_back_requests_without_silence():
    images = np.arange(2 * FEATURES).reshape(2, FEATURES) % 16
    words, statuses = _receive([b"".join(encode_request(image, BITS) for image in images)],
                               gap=0)
    assert statuses == [Status.OK, Status.OK]
    assert words == _raw(images[0]) + _raw(images[1])


def _with_code(good: bytes, value: int) -> bytes:
    body = bytearray(good[2:-1])
    body[2] = value
    return bytes([SYNC, REQUEST]) + bytes(body) + bytes([checksum(body)])


@pytest.mark.parametrize("frame, status", [
    (bytes([SYNC, 0x00]), Status.BAD_HEADER),
    (bytes([0x42, 0x43]), Status.BAD_HEADER),
    ("short", Status.BAD_LENGTH),
    ("corrupt", Status.BAD_CHECKSUM),
    ("value", Status.BAD_VALUE),
    ("cut", Status.TIMEOUT),
])
def test_malformed_request_is_rejected_and_the_next_is_accepted(frame, status):
    image = np.arange(FEATURES) % 16
    good = encode_request(image, BITS)
    frame = {"short": encode_request(image[:-1], BITS),
             "corrupt": good[:-1] + bytes([good[-1] ^ 4]),
             "value": _with_code(good, 16), "cut": good[:7]}.get(frame, frame)
    words, statuses = _receive([frame, good])
    assert statuses == [status, Status.OK]
    assert words == _raw(image)


def test_receiver_parameter_validation():
    with pytest.raises(TypeError, match=r"^FrameReceiver lanes must be a positive integer, "
                                        r"not 0$"):
        FrameReceiver(12, 4, 0, 40)
    with pytest.raises(ValueError, match=r"^FrameReceiver lanes must divide in_features "
                                         r"\(12\), not 5$"):
        FrameReceiver(12, 4, 5, 40)
    with pytest.raises(ValueError, match=r"^FrameReceiver input_bits must be at most 8, "
                                         r"not 9$"):
        FrameReceiver(12, 9, 3, 40)


def _send(statuses: list[Status], results: list[tuple[int, list[int]]], score_bits: int = 6):
    dut = ResponseSender(signed(score_bits), 4)
    out = bytearray()

    async def bench(ctx):
        pending = list(results)
        for status in statuses:
            ctx.set(dut.i_status.payload, status)
            ctx.set(dut.i_status.valid, 1)
            if status == Status.OK:
                cls, scores = pending.pop(0)
                ctx.set(dut.i_result.payload.cls, cls)
                for index, score in enumerate(scores):
                    ctx.set(dut.i_result.payload.scores[index], score)
                ctx.set(dut.i_result.valid, 1)
            await ctx.tick().until(dut.i_status.ready)
            ctx.set(dut.i_status.valid, 0)
            ctx.set(dut.i_result.valid, 0)
        await ctx.tick().repeat(4)

    async def collect(ctx):
        cycle = 0
        async for _, _, valid, ready, byte in ctx.tick().sample(
                dut.o_stream.valid, dut.o_stream.ready, dut.o_stream.payload):
            cycle += 1
            ctx.set(dut.o_stream.ready, cycle % 2)
            if valid and ready:
                out.append(byte)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.add_testbench(collect, background=True)
    sim.run()
    return bytes(out)


def test_sender_answers_each_status_in_order():
    data = _send([Status.OK, Status.BAD_CHECKSUM, Status.OK],
                 [(2, [-32, 31, 5, -1]), (0, [7, -7, 0, 3])])
    responses, offset = [], 0
    for length in (9, 4, 9):
        responses.append(decode_response(data[offset:offset + length], 4, 6))
        offset += length
    assert offset == len(data)
    assert responses == [Response(Status.OK, 2, (-32, 31, 5, -1)), Response(Status.BAD_CHECKSUM),
                         Response(Status.OK, 0, (7, -7, 0, 3))]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 255), min_size=1, max_size=40), st.integers(1, 8))
def test_request_encoding(codes, bits):
    codes = [code % (1 << bits) for code in codes]
    frame = encode_request(np.array(codes), bits)
    assert frame[:2] == bytes([SYNC, REQUEST])
    assert int.from_bytes(frame[2:4], "little") == len(codes)
    assert list(frame[4:-1]) == codes
    assert frame[-1] == sum(frame[2:-1]) % 256
    assert len(frame) == request_length(len(codes))


def test_request_encoding_rejects_bad_images():
    with pytest.raises(ValueError, match=r"^codes must be integers in 0\.\.15$"):
        encode_request(np.array([1, 16]), 4)
    with pytest.raises(ValueError, match=r"^an image must be a vector of 1\.\.65535 codes, "
                                         r"not shape \(2, 2\)$"):
        encode_request(np.zeros((2, 2), dtype=int), 4)


def test_response_decoding_rejects_corruption():
    good = bytes([SYNC, ord("R"), 0, 1, 0xFF, 0x01]) + bytes([checksum(bytes([0, 1, 0xFF, 0x01]))])
    assert decode_response(good, 2, 8) == Response(Status.OK, 1, (-1, 1))
    with pytest.raises(ProtocolError, match=r"^response checksum is 0x02, expected 0x01$"):
        decode_response(good[:-1] + bytes([2]), 2, 8)
    with pytest.raises(ProtocolError, match=r"^response must start with a5 52, not a5 49$"):
        decode_response(bytes([SYNC, REQUEST]) + good[2:], 2, 8)
    with pytest.raises(ProtocolError, match=r"^OK response must be 7 bytes, not 6$"):
        decode_response(good[:-2] + good[-1:], 2, 8)
    with pytest.raises(ProtocolError, match=r"^response status 99 is unknown$"):
        decode_response(bytes([SYNC, ord("R"), 99, 99]), 2, 8)
