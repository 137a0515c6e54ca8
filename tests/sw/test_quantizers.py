"""Quantizers: exact forward values and straight-through gradients."""

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

from qnnforge.sw.model import QuantDense
from qnnforge.sw.quantizers import BinaryWeightQuantizer, SignActivation, bipolar_sign, round_ste

finite = st.floats(-4, 4, allow_nan=False, width=64)
vectors = arrays(np.float64, st.integers(1, 30), elements=st.one_of(
    finite, st.sampled_from([-1.0, 1.0, 0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5])))


def test_bipolar_sign_maps_zero_to_plus_one():
    x = torch.tensor([-3.0, -1.0, -1e-12, -0.0, 0.0, 1e-12, 1.0, 7.0])
    assert bipolar_sign(x).tolist() == [-1, -1, -1, 1, 1, 1, 1, 1]


@given(vectors, st.integers(0, 2**31 - 1))
def test_bipolar_sign_gradient_is_one_inside_the_unit_interval(values, seed):
    x = torch.tensor(values, requires_grad=True)
    upstream = torch.randn(len(values), dtype=torch.float64,
                           generator=torch.Generator().manual_seed(seed))
    y = bipolar_sign(x)
    np.testing.assert_array_equal(y.detach().numpy(), np.where(values >= 0, 1.0, -1.0))
    y.backward(upstream)
    np.testing.assert_array_equal(x.grad.numpy(),
                                  np.where(np.abs(values) <= 1, upstream.numpy(), 0.0))


def test_bipolar_sign_gradient_at_the_edges():
    x = torch.tensor([-1.0001, -1.0, 0.0, 1.0, 1.0001], requires_grad=True)
    bipolar_sign(x).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_round_ste_rounds_half_to_even():
    x = torch.tensor([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 0.49999, 2.50001, -2.6])
    assert round_ste(x).tolist() == [0.0, 2.0, 2.0, 4.0, -0.0, -2.0, -2.0, 0.0, 3.0, -3.0]


@given(vectors, st.integers(0, 2**31 - 1))
def test_round_ste_matches_numpy_with_identity_gradient(values, seed):
    x = torch.tensor(values, requires_grad=True)
    upstream = torch.randn(len(values), dtype=torch.float64,
                           generator=torch.Generator().manual_seed(seed))
    y = round_ste(x)
    np.testing.assert_array_equal(y.detach().numpy(), np.round(values))
    y.backward(upstream)
    np.testing.assert_array_equal(x.grad.numpy(), upstream.numpy())


def test_modules_apply_the_bipolar_sign():
    x = torch.tensor([-2.0, -0.0, 0.3, 3.0], requires_grad=True)
    for module in (BinaryWeightQuantizer(), SignActivation()):
        y = module(x)
        assert y.tolist() == [-1.0, 1.0, 1.0, 1.0]
        (grad,) = torch.autograd.grad(y.sum(), x)
        assert grad.tolist() == [0.0, 1.0, 1.0, 0.0]


def test_quant_dense_uses_signed_weights_and_clips_latents():
    layer = QuantDense(3, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.2, -0.0, -3.0], [1.5, -0.1, 0.0]]))
    assert layer.quantized_weight().tolist() == [[1.0, 1.0, -1.0], [1.0, -1.0, 1.0]]
    assert layer(torch.tensor([[1.0, 2.0, 4.0]])).tolist() == [[-1.0, 3.0]]
    layer.clip_latent()
    assert layer.weight.tolist() == [[pytest.approx(0.2), -0.0, -1.0],
                                     [1.0, pytest.approx(-0.1), 0.0]]
    assert (layer.in_features, layer.out_features) == (3, 2)
