"""The sliding-window unit against reference.windows: geometries, stalls, full rate, errors."""

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import signed, unsigned
from amaranth.sim import Simulator
from hypothesis import given, settings, strategies as st

from qnnforge.hw.cores.sliding_window import SlidingWindow
from qnnforge.sw import reference

from .simulate import run_stream

SHAPES = [unsigned(1), unsigned(4), signed(3)]


def _code_range(shape):
    if shape.signed:
        return -(1 << shape.width - 1), (1 << shape.width - 1) - 1
    return 0, (1 << shape.width) - 1


def _images(shape, size, seed):
    low, high = _code_range(shape)
    return np.random.default_rng(seed).integers(low, high + 1, size=size)


def _beats(x, lanes):
    return [[int(v) for v in beat] for beat in np.asarray(x).reshape(-1, lanes)]


def _check(shape, images, lanes, kernel, stride, padding=(0, 0, 0, 0), pad_code=0, *,
           stall=0.0, backpressure=0.0, seed=0):
    unit = SlidingWindow(shape, in_shape=images.shape[1:], lanes=lanes, kernel=kernel,
                         stride=stride, padding=padding, pad_code=pad_code)
    expected = reference.windows(images, kernel, stride, padding, pad_code)
    assert expected.shape[1:3] == unit.out_shape[:2]
    assert len(images) * unit.beats_per_image == expected.size // lanes
    received = run_stream(unit, _beats(images, lanes), expected.size // lanes, stall=stall,
                          backpressure=backpressure, seed=seed)
    actual = np.array([[int(v) for v in beat] for beat in received])
    mismatches = np.flatnonzero((actual != expected.reshape(-1, lanes)).any(axis=1))
    assert not mismatches.size, (f"beat {mismatches[0]}: {actual[mismatches[0]]} != "
                                 f"{expected.reshape(-1, lanes)[mismatches[0]]}")


@st.composite
def geometries(draw, max_beats=3000):
    height, width = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(4))
    kernel = (draw(st.integers(1, min(5, height + padding[0] + padding[2]))),
              draw(st.integers(1, min(5, width + padding[1] + padding[3]))))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    out_h = reference.output_size(height, kernel[0], stride[0], padding[0], padding[2])
    out_w = reference.output_size(width, kernel[1], stride[1], padding[1], padding[3])
    count = draw(st.integers(1, 3))
    # Channel groups C/L drawn within the simulation budget; then C = groups * L up to 16.
    budget = max_beats // (count * out_h * out_w * kernel[0] * kernel[1])
    groups = draw(st.integers(1, max(1, min(16, budget))))
    lanes = draw(st.integers(1, 16 // groups))
    return count, (height, width, groups * lanes), lanes, kernel, stride, padding


@settings(max_examples=100, deadline=None)
@given(geometry=geometries(), shape=st.sampled_from(SHAPES), data=st.data(),
       stall=st.sampled_from([0.0, 0.3]), backpressure=st.sampled_from([0.0, 0.3]),
       seed=st.integers(0, 2**16))
def test_windows_match_reference(geometry, shape, data, stall, backpressure, seed):
    count, in_shape, lanes, kernel, stride, padding = geometry
    pad_code = data.draw(st.integers(*_code_range(shape)))
    _check(shape, _images(shape, (count, *in_shape), seed), lanes, kernel, stride, padding,
           pad_code, stall=stall, backpressure=backpressure, seed=seed)


@pytest.mark.parametrize("in_shape, lanes, kernel, stride, padding", [
    pytest.param((8, 8, 16), 4, (3, 3), (1, 1), (1, 1, 1, 1), id="3x3-pad1-stride1"),
    pytest.param((8, 6, 3), 3, (2, 2), (2, 2), (0, 0, 0, 0), id="2x2-stride2-pool"),
    pytest.param((9, 7, 2), 1, (3, 3), (2, 2), (0, 0, 0, 0), id="kernel-over-stride"),
    pytest.param((10, 11, 4), 2, (2, 1), (3, 3), (0, 0, 0, 0), id="stride-over-kernel"),
    pytest.param((3, 4, 2), 2, (1, 1), (1, 1), (2, 2, 2, 2), id="windows-wholly-in-padding"),
    pytest.param((1, 1, 1), 1, (1, 1), (3, 3), (2, 2, 0, 0), id="image-never-read"),
    pytest.param((2, 3, 4), 4, (5, 5), (1, 1), (2, 2, 2, 2), id="kernel-over-image"),
    pytest.param((12, 12, 16), 16, (5, 5), (1, 2), (2, 1, 0, 2), id="asymmetric"),
])
@pytest.mark.parametrize("stall, backpressure", [(0.0, 0.0), (0.3, 0.5)])
def test_explicit_geometries(in_shape, lanes, kernel, stride, padding, stall, backpressure):
    images = _images(unsigned(4), (3, *in_shape), seed=sum(in_shape))
    _check(unsigned(4), images, lanes, kernel, stride, padding, pad_code=11, stall=stall,
           backpressure=backpressure, seed=lanes)


def test_padding_lanes_carry_the_pad_code_not_zero():
    images = np.zeros((1, 2, 2, 2), dtype=np.int64)
    unit = SlidingWindow(signed(3), in_shape=(2, 2, 2), lanes=2, kernel=(3, 3), stride=(1, 1),
                         padding=(1, 1, 1, 1), pad_code=-3)
    received = run_stream(unit, _beats(images, 2), 4 * 9)
    window = np.array([[int(v) for v in beat] for beat in received[:9]])
    np.testing.assert_array_equal(window[:, 0], [-3, -3, -3, -3, 0, 0, -3, 0, 0])
    _check(signed(3), images, 2, (3, 3), (1, 1), (1, 1, 1, 1), pad_code=-3)


def _output_cycles(unit, beats, count):
    """Feed ``beats`` as fast as accepted; return the cycle of each of ``count`` output beats."""
    cycles = []

    async def driver(ctx):
        for beat in beats:
            ctx.set(unit.i_stream.payload, beat)
            ctx.set(unit.i_stream.valid, 1)
            await ctx.tick().until(unit.i_stream.ready)
        ctx.set(unit.i_stream.valid, 0)

    async def monitor(ctx):
        ctx.set(unit.o_stream.ready, 1)
        cycle = 0
        while len(cycles) < count:
            _, _, valid = await ctx.tick().sample(unit.o_stream.valid)
            if valid:
                cycles.append(cycle)
            cycle += 1
            assert cycle < 100_000

    sim = Simulator(unit)
    sim.add_clock(1e-8)
    sim.add_testbench(driver)
    sim.add_testbench(monitor)
    sim.run()
    return cycles


@pytest.mark.parametrize("in_shape, lanes, kernel, stride, padding", [
    ((8, 8, 16), 4, (3, 3), (1, 1), (1, 1, 1, 1)),
    ((8, 8, 2), 1, (3, 3), (2, 2), (0, 0, 0, 0)),  # leftover row 7 before the next image
    ((6, 5, 3), 3, (3, 2), (1, 1), (0, 1, 2, 0)),
])
def test_read_side_emits_one_beat_a_cycle(in_shape, lanes, kernel, stride, padding):
    unit = SlidingWindow(unsigned(4), in_shape=in_shape, lanes=lanes, kernel=kernel,
                         stride=stride, padding=padding)
    assert unit.beats_per_image > unit.input_beats_per_image  # input is fed fast enough
    beats = unit.beats_per_image
    cycles = _output_cycles(unit, _beats(_images(unsigned(4), (3, *in_shape), 0), lanes),
                            3 * beats)
    # Images 2 and 3, fed back to back after the first: no bubble in or between them.
    assert cycles[-1] - cycles[beats] + 1 == 2 * beats
    assert cycles[2 * beats - 1] - cycles[beats] + 1 == beats


def test_properties():
    unit = SlidingWindow(unsigned(4), in_shape=(8, 6, 16), lanes=4, kernel=(3, 2),
                         stride=(2, 1), padding=(1, 0, 1, 0), pad_code=7)
    assert unit.out_shape == (4, 5, 16)
    assert unit.beats_per_image == 4 * 5 * 3 * 2 * 4
    assert unit.input_beats_per_image == 8 * 6 * 4
    # The last output row holds rows 5..7, the next image's first one reads rows 0..1.
    assert unit.buffer_rows == 5
    assert (unit.in_shape, unit.lanes, unit.kernel, unit.stride, unit.padding,
            unit.pad_code) == ((8, 6, 16), 4, (3, 2), (2, 1), (1, 0, 1, 0), 7)


@pytest.mark.parametrize("shape", SHAPES)
def test_converts_to_verilog(shape):
    unit = SlidingWindow(shape, in_shape=(5, 4, 6), lanes=3, kernel=(3, 3), stride=(2, 1),
                         padding=(1, 1, 1, 1), pad_code=_code_range(shape)[1])
    text = verilog.convert(unit, name="sliding_window", emit_src=False)
    assert "module sliding_window" in text


_VALID = dict(in_shape=(4, 4, 8), lanes=2, kernel=(3, 3), stride=(1, 1), padding=(1, 1, 1, 1))


@pytest.mark.parametrize("change, error, message", [
    (dict(in_shape=(4, 4)), TypeError, r"in_shape must be a tuple of 3 integers, not \(4, 4\)"),
    (dict(in_shape=(4, 0, 8)), TypeError, r"in_shape width must be a positive integer, not 0"),
    (dict(lanes=0), TypeError, r"lanes must be a positive integer, not 0"),
    (dict(lanes=3), ValueError, r"lanes must be a positive integer dividing 8, not 3"),
    (dict(kernel=3), TypeError, r"kernel must be a tuple of 2 integers, not 3"),
    (dict(kernel=(0, 3)), TypeError, r"kernel height must be a positive integer, not 0"),
    (dict(stride=(1, 1.0)), TypeError, r"stride must be a tuple of 2 integers, not \(1, 1.0\)"),
    (dict(stride=(1, 0)), TypeError, r"stride width must be a positive integer, not 0"),
    (dict(padding=(1, 1)), TypeError, r"padding must be a tuple of 4 integers, not \(1, 1\)"),
    (dict(padding=(0, 0, -1, 0)), ValueError,
     r"padding bottom must be a non-negative integer, not -1"),
    (dict(kernel=(7, 3)), ValueError, r"kernel height must not exceed the padded height 6, not 7"),
    (dict(kernel=(3, 5), padding=(1, 0, 1, 0)), ValueError,
     r"kernel width must not exceed the padded width 4, not 5"),
    (dict(pad_code="0"), TypeError, r"pad_code must be an integer, not '0'"),
    (dict(pad_code=16), ValueError, r"pad_code must lie in 0..15 \(unsigned\(4\)\), not 16"),
    (dict(pad_code=-1), ValueError, r"pad_code must lie in 0..15 \(unsigned\(4\)\), not -1"),
])
def test_rejects_invalid_parameters(change, error, message):
    with pytest.raises(error, match=rf"^{message}$"):
        SlidingWindow(unsigned(4), **{**_VALID, **change})


def test_rejects_pad_code_outside_signed_shape():
    with pytest.raises(ValueError, match=r"^pad_code must lie in -4..3 \(signed\(3\)\), not 4$"):
        SlidingWindow(signed(3), **_VALID, pad_code=4)
