"""The window-max unit against reference.maxpool2d, alone and after the sliding-window unit."""

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator
from hypothesis import given, settings, strategies as st

from qnnforge.hw.cores.sliding_window import SlidingWindow
from qnnforge.hw.cores.window_max import WindowMax
from qnnforge.sw import reference

from .simulate import run_stream

SHAPES = [unsigned(1), unsigned(4), signed(3)]


def _images(shape, size, seed):
    rng = np.random.default_rng(seed)
    if shape.signed:
        return rng.integers(-(1 << shape.width - 1), 1 << shape.width - 1, size=size)
    return rng.integers(0, 1 << shape.width, size=size)


def _beats(x, lanes):
    return [[int(v) for v in beat] for beat in np.asarray(x).reshape(-1, lanes)]


def _values(received):
    return np.array([[int(v) for v in beat] for beat in received])


@settings(max_examples=60, deadline=None)
@given(shape=st.sampled_from(SHAPES), count=st.integers(1, 3), height=st.integers(1, 8),
       width=st.integers(1, 8), kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       stride=st.tuples(st.integers(1, 3), st.integers(1, 3)), groups=st.integers(1, 4),
       data=st.data(), stall=st.sampled_from([0.0, 0.3]),
       backpressure=st.sampled_from([0.0, 0.3]), seed=st.integers(0, 2**16))
def test_maxima_match_reference(shape, count, height, width, kernel, stride, groups, data,
                                stall, backpressure, seed):
    kernel = (min(kernel[0], height), min(kernel[1], width))
    lanes = data.draw(st.integers(1, 16 // groups))
    channels = groups * lanes
    images = _images(shape, (count, height, width, channels), seed)
    # Fed with the reference windows: the unit alone, independent of the sliding-window unit.
    window_beats = _beats(reference.windows(images, kernel, stride), lanes)
    expected = reference.maxpool2d(images, kernel, stride).reshape(-1, lanes)
    unit = WindowMax(shape, channels=channels, lanes=lanes, window=kernel[0] * kernel[1])
    received = run_stream(unit, window_beats, len(expected), stall=stall,
                          backpressure=backpressure, seed=seed)
    np.testing.assert_array_equal(_values(received), expected)


def test_bipolar_maximum_is_or_and_signed_maximum_is_signed():
    bipolar = WindowMax(unsigned(1), channels=4, lanes=4, window=2)
    received = run_stream(bipolar, [[0, 1, 0, 1], [0, 0, 1, 1]], 1)
    np.testing.assert_array_equal(_values(received), [[0, 1, 1, 1]])
    signed_unit = WindowMax(signed(3), channels=2, lanes=1, window=3)
    received = run_stream(signed_unit, [[-4], [-1], [3], [-2], [-1], [-3]], 2)
    np.testing.assert_array_equal(_values(received), [[3], [-1]])  # -1 > -2, not as unsigned


class _MaxPool(wiring.Component):
    """A maxpool layer as the lead will build it: SlidingWindow -> WindowMax."""

    def __init__(self, shape, in_shape, lanes, kernel, stride):
        self.window = SlidingWindow(shape, in_shape=in_shape, lanes=lanes, kernel=kernel,
                                    stride=stride)
        self.maximum = WindowMax(shape, channels=in_shape[2], lanes=lanes,
                                 window=kernel[0] * kernel[1])
        beat = stream.Signature(data.ArrayLayout(shape, lanes))
        super().__init__({"i_stream": In(beat), "o_stream": Out(beat)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.window, m.submodules.maximum = self.window, self.maximum
        wiring.connect(m, wiring.flipped(self.i_stream), self.window.i_stream)
        wiring.connect(m, self.window.o_stream, self.maximum.i_stream)
        wiring.connect(m, self.maximum.o_stream, wiring.flipped(self.o_stream))
        return m


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("in_shape, lanes, kernel, stride", [
    ((8, 8, 4), 2, (2, 2), (2, 2)),
    ((7, 5, 3), 3, (3, 3), (2, 2)),
    ((6, 9, 2), 1, (3, 2), (1, 3)),
])
def test_maxpool_chain_matches_reference(shape, in_shape, lanes, kernel, stride):
    images = _images(shape, (3, *in_shape), sum(in_shape))
    expected = reference.maxpool2d(images, kernel, stride).reshape(-1, lanes)
    received = run_stream(_MaxPool(shape, in_shape, lanes, kernel, stride), _beats(images, lanes),
                          len(expected), stall=0.3, backpressure=0.4, seed=lanes)
    np.testing.assert_array_equal(_values(received), expected)


def test_accepts_one_beat_a_cycle():
    unit = WindowMax(unsigned(4), channels=8, lanes=2, window=4)
    images = _images(unsigned(4), (2, 4, 4, 8), 1)
    window_beats = _beats(reference.windows(images, (2, 2), (2, 2)), 2)
    accepted = []

    async def testbench(ctx):
        ctx.set(unit.o_stream.ready, 1)
        ctx.set(unit.i_stream.valid, 1)
        for beat in window_beats:
            ctx.set(unit.i_stream.payload, beat)
            _, _, ready = await ctx.tick().sample(unit.i_stream.ready)
            accepted.append(ready)

    sim = Simulator(unit)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    assert all(accepted)


@pytest.mark.parametrize("shape", SHAPES)
def test_converts_to_verilog(shape):
    text = verilog.convert(WindowMax(shape, channels=6, lanes=2, window=9), name="window_max",
                           emit_src=False)
    assert "module window_max" in text


@pytest.mark.parametrize("change, error, message", [
    (dict(channels=0), TypeError, r"channels must be a positive integer, not 0"),
    (dict(lanes=True), TypeError, r"lanes must be a positive integer, not True"),
    (dict(window=0), TypeError, r"window must be a positive integer, not 0"),
    (dict(lanes=3), ValueError, r"lanes must be a positive integer dividing 8, not 3"),
])
def test_rejects_invalid_parameters(change, error, message):
    with pytest.raises(error, match=rf"^{message}$"):
        WindowMax(unsigned(4), **{**dict(channels=8, lanes=2, window=4), **change})
