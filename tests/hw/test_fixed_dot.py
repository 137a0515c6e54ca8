"""Fixed-point multipliers and dot products for any widths and signedness, DSP or LUT-only."""

import numpy as np
import pytest
from amaranth.hdl import signed, unsigned
from hypothesis import given, settings, strategies as st

from qnnforge.hw.cores.fixed_dot import FixedDot, FixedMultiplier

from .simulate import run_comb

shapes = st.tuples(st.integers(1, 10), st.booleans()).map(
    lambda t: signed(max(t[0], 2)) if t[1] else unsigned(t[0]))


def _range(shape):
    if shape.signed:
        return -(1 << (shape.width - 1)), (1 << (shape.width - 1)) - 1
    return 0, (1 << shape.width) - 1


@settings(max_examples=30, deadline=None)
@given(x_shape=shapes, w_shape=shapes, dsp=st.booleans(), seed=st.integers(0, 2**16))
def test_multiplier_is_exact_for_any_widths(x_shape, w_shape, dsp, seed):
    rng = np.random.default_rng(seed)
    (xl, xh), (wl, wh) = _range(x_shape), _range(w_shape)
    cases = [{"x": xl, "w": wl}, {"x": xh, "w": wh}, {"x": xl, "w": wh}, {"x": xh, "w": wl},
             {"x": 0, "w": wl}]
    cases += [{"x": int(rng.integers(xl, xh + 1)), "w": int(rng.integers(wl, wh + 1))}
              for _ in range(8)]
    dut = FixedMultiplier(x_shape, w_shape, dsp=dsp)

    def check(ctx, case):
        assert ctx.get(dut.product) == case["x"] * case["w"], case
    run_comb(dut, cases, check)


@settings(max_examples=20, deadline=None)
@given(lanes=st.integers(1, 6), x_shape=shapes, w_shape=shapes, dsp=st.booleans(),
       seed=st.integers(0, 2**16))
def test_dot_matches_numpy(lanes, x_shape, w_shape, dsp, seed):
    rng = np.random.default_rng(seed)
    (xl, xh), (wl, wh) = _range(x_shape), _range(w_shape)
    cases = [{"x": [xl] * lanes, "w": [wl] * lanes}, {"x": [xh] * lanes, "w": [wl] * lanes},
             {"x": [0] * lanes, "w": [wh] * lanes}]
    cases += [{"x": [int(v) for v in rng.integers(xl, xh + 1, size=lanes)],
               "w": [int(v) for v in rng.integers(wl, wh + 1, size=lanes)]} for _ in range(6)]
    dut = FixedDot(lanes, x_shape, w_shape, dsp=dsp)

    def check(ctx, case):
        assert ctx.get(dut.sum) == int(np.dot(case["x"], case["w"])), case
    run_comb(dut, cases, check)


def test_most_negative_times_most_negative_fits():
    dut = FixedDot(3, signed(8), signed(8))
    assert dut.sum.shape() == signed(17)  # 3 * 128 * 128 = 49152 needs 16 bits and a sign

    def check(ctx, case):
        assert ctx.get(dut.sum) == 3 * 128 * 128
    run_comb(dut, [{"x": [-128] * 3, "w": [-128] * 3}], check)


def test_dot_rejects_bad_lanes():
    with pytest.raises(TypeError, match=r"^FixedDot lanes must be a positive integer, not 'x'$"):
        FixedDot("x", unsigned(4), signed(4))


@pytest.mark.parametrize("dsp", [True, False])
def test_dsp_choice_reaches_synthesis(dsp, tmp_path):
    from amaranth.back import verilog

    from qnnforge.hw.tools.synth import synthesize

    dut = FixedDot(1, signed(8), signed(8), dsp=dsp)
    path = tmp_path / "dot.v"
    path.write_text(verilog.convert(dut, name="dot", emit_src=False))
    resources = synthesize(path, "dot", "xc7", log=tmp_path / "yosys.log")
    if dsp:
        assert resources.dsp > 0
    else:
        assert resources.dsp == 0 and resources.lut > 0
