"""Export: batch-norm + sign folded into integer thresholds, and the exported network end to end.

The folding contract: for every integer accumulator ``a`` in ``-B..B``, the artifact's
``direction * a >= threshold`` equals the model's ``sign(norm(a)) == +1`` evaluated in float64
(the precision :func:`quantized_predict` uses), ties included.
"""

import copy
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from qnnforge.sw.artifact import ArtifactError, InputQuantizer, ScoreOutput, ThresholdActivation
from qnnforge.sw.artifact import load_artifact
from qnnforge.sw.config import ConfigError, TrainConfig
from qnnforge.sw.encoding import BIPOLAR, uint
from qnnforge.sw.export import export_artifact, fold_threshold, quantized_predict
from qnnforge.sw.model import QuantMLP, ThresholdBatchNorm
from qnnforge.sw.quantizers import bipolar_sign
from qnnforge.sw.reference import predict, run
from qnnforge.sw.train import digits_input_quantizer, train_quantized

from .conftest import DIGITS_QUANTIZER, assert_same_artifact


def make_norm(gamma, beta, mean, var, eps=1e-5, dtype=torch.float64) -> ThresholdBatchNorm:
    norm = ThresholdBatchNorm(len(gamma), eps=eps).to(dtype).eval()
    with torch.no_grad():
        for tensor, values in ((norm.weight, gamma), (norm.bias, beta),
                               (norm.running_mean, mean), (norm.running_var, var)):
            tensor.copy_(torch.tensor(values, dtype=torch.float64))
    return norm


def model_fires(norm: ThresholdBatchNorm, bound: int) -> np.ndarray:
    """Return ``sign(norm(a)) == +1`` for a in -bound..bound (rows) and every channel (columns)."""
    exact = copy.deepcopy(norm).to(torch.float64).eval()
    a = torch.arange(-bound, bound + 1, dtype=torch.float64)[:, None].repeat(1, len(norm.weight))
    with torch.no_grad():
        return (bipolar_sign(exact(a)) == 1).numpy()


def check_fold(norm: ThresholdBatchNorm, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """Fold ``norm`` and check it against the model on every accumulator and canonical form."""
    thresholds, directions = fold_threshold(norm, bound)
    channels = len(norm.weight)
    assert thresholds.shape == directions.shape == (channels,)
    assert thresholds.dtype == directions.dtype == np.int64
    fires = model_fires(norm, bound)
    a = np.arange(-bound, bound + 1)[:, None]
    np.testing.assert_array_equal(directions * a >= thresholds, fires)
    scale = (norm.weight.detach().double() / torch.sqrt(norm.running_var.double() + norm.eps))
    for c in range(channels):
        assert directions[c] == (-1 if scale[c] < 0 else 1)
        firing = a[fires[:, c], 0]
        # Canonical and clamped: the extreme firing accumulator, -B for always, B + 1 for never.
        if not len(firing):
            expected = bound + 1
        else:
            expected = int(firing.min()) if directions[c] > 0 else -int(firing.max())
        assert thresholds[c] == expected, (c, thresholds[c], expected)
        assert -bound <= thresholds[c] <= bound + 1
    return thresholds, directions


gammas = st.one_of(st.floats(1e-3, 20), st.floats(-20, -1e-3), st.sampled_from([0.0, -0.0]),
                   st.floats(1e-7, 1e-4), st.integers(-4, 4).map(float))
betas = st.one_of(st.floats(-30, 30), st.integers(-5, 5).map(float))
means = st.one_of(st.floats(-60, 60), st.integers(-45, 45).map(float))
variances = st.one_of(st.floats(0, 400), st.sampled_from([0.0, 0.25, 1.0, 4.0]))
channel = st.tuples(gammas, betas, means, variances)


@given(st.lists(channel, min_size=1, max_size=6), st.integers(1, 40),
       st.sampled_from([1e-5, 1e-3, 0.1]), st.sampled_from([torch.float64, torch.float32]))
def test_fold_matches_the_model_on_every_accumulator(channels, bound, eps, dtype):
    gamma, beta, mean, var = (list(column) for column in zip(*channels))
    check_fold(make_norm(gamma, beta, mean, var, eps, dtype), bound)


@given(m=st.integers(-40, 40), k=st.integers(-40, 40), gamma=st.sampled_from([0.5, 1, 2, 3, -0.5,
       -1, -2, -3]), var=st.sampled_from([0.25, 1.0, 4.0, 16.0]), bound=st.integers(1, 40))
def test_fold_exact_ties_fire(m, k, gamma, var, bound):
    # eps = 0 and these scales are exact in binary, so f(m - k) = -k*s + k*s = 0 exactly: a tie.
    scale = gamma / math.sqrt(var)
    norm = make_norm([gamma], [k * scale], [float(m)], [var], eps=0.0)
    thresholds, directions = check_fold(norm, bound)
    if -bound <= m - k <= bound:
        assert directions[0] * (m - k) >= thresholds[0]  # the tie fires
        beyond = m - k - directions[0]  # one step to the non-firing side
        if -bound <= beyond <= bound:
            assert not directions[0] * beyond >= thresholds[0]


@given(m=st.integers(-40, 40), k=st.integers(-40, 40),
       gamma=st.one_of(st.floats(1e-3, 20), st.floats(-20, -1e-3)), var=st.floats(0, 50),
       bound=st.integers(1, 40))
def test_fold_near_ties_match(m, k, gamma, var, bound):
    # beta = k * scale rounds, so f(m - k) lands within an ulp of 0 on either side: the estimate
    # mean - beta / scale is then often off by one and only evaluating f decides.
    norm = make_norm([gamma], [k * (gamma / math.sqrt(var + 1e-5))], [float(m)], [var])
    check_fold(norm, bound)


@pytest.mark.parametrize("gamma, beta, mean, threshold, direction", [
    # ceil(mean - beta / gamma) = ceil(-17.999999999999996) = -17, yet f(-18) >= 0.
    (1.4761632444607014, 41.332570844899635, 10.0, -18, 1),
    # floor(mean - beta / gamma) = floor(3.9999999999999964) = 3, yet f(4) >= 0 (gamma < 0).
    (-0.09114571412234802, 2.0052057106916563, -18.0, -4, -1),
])
def test_fold_corrects_an_overshooting_estimate(gamma, beta, mean, threshold, direction):
    # var = 1 and eps = 0 make the scale exactly gamma on any platform.
    norm = make_norm([gamma], [beta], [mean], [1.0], eps=0.0)
    estimate = mean - beta / gamma
    assert (math.ceil(estimate) if direction > 0 else -math.floor(estimate)) != threshold
    assert [t.tolist() for t in check_fold(norm, 40)] == [[threshold], [direction]]


def test_fold_uses_the_models_own_scale():
    # f(-1) = -scale + scale is an exact tie only if both scales are the same double; torch's
    # float64 sqrt(3 + 1e-5) is one ulp below the correctly rounded one (numpy's) on some CPUs,
    # so a fold that recomputes the scale in numpy disagrees with the model at a = -1 there.
    scale = ThresholdBatchNorm(1).double().eval()
    with torch.no_grad():
        scale.running_var.fill_(3.0)
        tie = float(scale.scale())
    check_fold(make_norm([1.0, -1.0], [tie, -tie], [0.0, 0.0], [3.0, 3.0]), 3)


@pytest.mark.parametrize("gamma, threshold, direction", [(1.0, 3, 1), (-1.0, -3, -1),
                                                         (0.37, 3, 1), (-5.5, -3, -1)])
def test_fold_tie_at_the_mean_fires(gamma, threshold, direction):
    norm = make_norm([gamma], [0.0], [3.0], [2.0])  # f(3) = 0 * scale + 0 = 0
    assert [t.tolist() for t in check_fold(norm, 40)] == [[threshold], [direction]]


@pytest.mark.parametrize("gamma, mean, threshold, direction", [
    (1.0, 1000.0, 11, 1),      # f(a) < 0 everywhere: never
    (1.0, -1000.0, -10, 1),    # always
    (-1.0, 1000.0, -10, -1),   # fires for a <= 1000: always
    (-1.0, -1000.0, 11, -1),   # never
    (2.0, 10.0, 10, 1),        # the switch exactly at +B
    (2.0, -10.0, -10, 1),      # the switch exactly at -B: always
    (-2.0, 10.0, -10, -1),     # fires for a <= 10 = B: always
    (-2.0, -10.0, 10, -1),     # fires only at a = -B
    (1.0, 10.5, 11, 1),        # would switch at 11: never
])
def test_fold_clamps_to_the_accumulator_range(gamma, mean, threshold, direction):
    norm = make_norm([gamma], [0.0], [mean], [1.0])
    assert [t.tolist() for t in check_fold(norm, 10)] == [[threshold], [direction]]


@pytest.mark.parametrize("gamma, beta, threshold", [
    (0.0, 0.0, -10), (0.0, -0.0, -10), (0.0, 0.25, -10), (0.0, -0.25, 11), (-0.0, 0.0, -10),
    (-0.0, -3.0, 11),
])
def test_fold_zero_scale_is_always_or_never(gamma, beta, threshold):
    norm = make_norm([gamma], [beta], [2.5], [1.0])
    assert [t.tolist() for t in check_fold(norm, 10)] == [[threshold], [1]]


def test_fold_survives_an_overflowing_estimate():
    # beta / scale overflows to inf in float64; the model still fires everywhere (f ~ 1e10).
    norm = make_norm([1e-300, -1e-300], [1e10, 1e10], [0.0, 0.0], [1.0, 1.0])
    assert [t.tolist() for t in check_fold(norm, 10)] == [[-10, -10], [1, -1]]


# --- export of untrained models with random statistics (fast, broad) -----------------------------

@st.composite
def random_models(draw):
    in_features = draw(st.integers(1, 8))
    hidden = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
    classes = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**31 - 1))
    torch.manual_seed(seed)
    model = QuantMLP(in_features, hidden, classes).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for dense, norm in zip(model.dense, model.norms):
            fan_in = dense.in_features * (15 if dense is model.dense[0] else 1)
            width = len(norm.weight)
            # Integer means and zero betas put ties on integer accumulators.
            integer = torch.rand(width, generator=generator) < 0.5
            mean = (torch.rand(width, generator=generator) * 2 - 1) * fan_in
            norm.running_mean.copy_(torch.where(integer, mean.round(), mean))
            norm.running_var.copy_(torch.rand(width, generator=generator) * 10)
            gamma = torch.randn(width, generator=generator)
            norm.weight.copy_(torch.where(torch.rand(width, generator=generator) < 0.15, 0, gamma))
            norm.bias.copy_(torch.where(integer, 0, torch.randn(width, generator=generator)))
        bound = hidden[-1]
        model.head.bias.copy_((torch.rand(classes, generator=generator) * 2 - 1) * (bound + 0.49))
    return model


@settings(max_examples=40)
@given(random_models(), st.integers(1, 6), st.data())
def test_exported_random_models_match_the_model(model, bits, data):
    quantizer = InputQuantizer(uint(bits), 0, 16, (1 << bits) - 1, 4)
    artifact = export_artifact(model, quantizer, "random", {"seed": 1})
    assert artifact.metadata == {"seed": 1}
    # Structure: one layer per dense, names, encodings, sign(latent) weights (sign(0) = +1).
    assert [layer.name for layer in artifact.layers] == [f"fc{i}" for i in range(len(model.dense))]
    assert artifact.layers[0].input_encoding == uint(bits)
    for layer, dense in zip(artifact.layers, model.dense):
        assert layer.weight_encoding == BIPOLAR
        np.testing.assert_array_equal(layer.weights,
                                      np.where(dense.weight.detach().numpy() >= 0, 1, -1))
        assert all(later.input_encoding == BIPOLAR for later in artifact.layers[1:])
    np.testing.assert_array_equal(artifact.layers[-1].output.bias,
                                  np.round(model.head.bias.detach().double().numpy()))
    x = np.array(data.draw(st.lists(st.lists(st.integers(0, 16), min_size=artifact.in_features,
                                             max_size=artifact.in_features),
                                    min_size=1, max_size=30)))
    q = quantizer.quantize(x)
    exact = copy.deepcopy(model).double()
    with torch.no_grad():
        scores = exact.integer_scores(torch.as_tensor(q, dtype=torch.float64)).numpy()
        hidden = exact.hidden_forward(torch.as_tensor(q, dtype=torch.float64)).numpy()
    trace = run(artifact, q)
    np.testing.assert_array_equal(trace.outputs[-2], hidden)
    np.testing.assert_array_equal(trace.scores, scores)
    np.testing.assert_array_equal(predict(artifact, x), quantized_predict(model, q))


def test_export_rounds_the_bias_half_to_even():
    torch.manual_seed(0)
    model = QuantMLP(3, (4,), 4).eval()
    with torch.no_grad():
        model.head.bias.copy_(torch.tensor([0.5, 1.5, 2.5, -0.5]))
    artifact = export_artifact(model, DIGITS_QUANTIZER, "b")
    np.testing.assert_array_equal(artifact.layers[-1].output.bias, [0, 2, 2, 0])


def test_export_refuses_a_bias_beyond_the_accumulator_bound():
    # Clipping it would change the argmax, so the export must fail instead.
    torch.manual_seed(0)
    model = QuantMLP(3, (4,), 3).eval()
    with torch.no_grad():
        model.head.bias.copy_(torch.tensor([6.0, 0.0, -2.0]))
    with pytest.raises(ArtifactError, match=r"^layers\[1\]\.output\.bias: values must lie in "
                                            r"-4\.\.4$"):
        export_artifact(model, DIGITS_QUANTIZER, "b")


def test_quantized_predict_breaks_ties_to_the_lowest_index():
    model = QuantMLP(2, (3,), 4).eval()
    with torch.no_grad():
        model.dense[1].weight.fill_(0.5)  # every class sees the same accumulator
        model.head.bias.copy_(torch.tensor([-1.0, 1.0, 1.0, 0.0]))
    x = np.array([[0, 0], [15, 3], [7, 15]])
    np.testing.assert_array_equal(quantized_predict(model, x), [1, 1, 1])
    artifact = export_artifact(model, DIGITS_QUANTIZER, "ties")
    np.testing.assert_array_equal(run(artifact, x).classes, [1, 1, 1])
    with torch.no_grad():
        model.head.bias.zero_()
    np.testing.assert_array_equal(quantized_predict(model, x), [0, 0, 0])
    assert model.dense[0].weight.dtype == torch.float32 and not model.training


# --- trained end to end --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained(digits_split):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads only add contention
    try:
        result = train_quantized(digits_split, TrainConfig(hidden=(32,), epochs=3))
    finally:
        torch.set_num_threads(threads)
    return result, export_artifact(result.model, result.quantizer, "digits", {"epochs": 3})


def test_trained_artifact_matches_the_quantized_model(trained, digits_split):
    result, artifact = trained
    q = result.quantizer.quantize(digits_split.x_test)
    expected = quantized_predict(result.model, q)
    assert expected.shape == (360,)
    np.testing.assert_array_equal(predict(artifact, digits_split.x_test), expected)
    exact = copy.deepcopy(result.model).double()
    with torch.no_grad():
        scores = exact.integer_scores(torch.as_tensor(q, dtype=torch.float64)).numpy()
    np.testing.assert_array_equal(run(artifact, q).scores, scores)
    assert result.quantized_accuracy == pytest.approx(np.mean(expected == digits_split.y_test))
    assert result.quantized_accuracy > 0.5  # it learned something in 3 epochs


def test_trained_artifact_structure(trained):
    result, artifact = trained
    assert artifact.input == digits_input_quantizer(4)
    assert [(layer.in_features, layer.out_features) for layer in artifact.layers] == [
        (64, 32), (32, 10)]
    assert [layer.accumulator_bound for layer in artifact.layers] == [960, 32]
    fc0, fc1 = artifact.layers
    assert isinstance(fc0.output, ThresholdActivation) and isinstance(fc1.output, ScoreOutput)
    thresholds, directions = check_fold(result.model.norms[0], 960)
    np.testing.assert_array_equal(fc0.output.thresholds, thresholds)
    np.testing.assert_array_equal(fc0.output.directions, directions)


def test_trained_artifact_round_trips(trained, digits_split, tmp_path_factory):
    result, artifact = trained
    path = artifact.save(tmp_path_factory.mktemp("trained") / "digits")
    loaded = load_artifact(path)
    assert_same_artifact(loaded, artifact)
    assert loaded.metadata == {"epochs": 3}
    np.testing.assert_array_equal(
        predict(loaded, digits_split.x_test),
        quantized_predict(result.model, result.quantizer.quantize(digits_split.x_test)))


# --- input rule and configuration ----------------------------------------------------------------

def test_digits_input_quantizer_is_the_documented_rule():
    assert digits_input_quantizer() == DIGITS_QUANTIZER
    for bits in range(1, 9):
        codes = digits_input_quantizer(bits).quantize(np.arange(17))
        assert codes[0] == 0 and codes[-1] == (1 << bits) - 1  # the full code range
        assert np.all(np.diff(codes) >= 0)


@pytest.mark.parametrize("bits, message", [
    (0, r"^input bits must be an integer in 1\.\.8, not 0$"),
    (9, r"^input bits must be an integer in 1\.\.8, not 9$"),
    ("4", r"^input bits must be an integer in 1\.\.8, not '4'$"),
])
def test_digits_input_quantizer_rejects_bad_bits(bits, message):
    with pytest.raises(ValueError, match=message):
        digits_input_quantizer(bits)


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 0}, r"^epochs must be a positive integer, not 0$"),
    ({"batch_size": 2.5}, r"^batch_size must be a positive integer, not 2\.5$"),
    ({"hidden": ()}, r"^hidden must be a non-empty tuple of positive integers, not \(\)$"),
    ({"hidden": (32, 0)}, r"^hidden must be a non-empty tuple of positive integers, not "
                          r"\(32, 0\)$"),
    ({"learning_rate": 0.0}, r"^learning_rate must be positive, not 0\.0$"),
    ({"dropout": 1.0}, r"^dropout must lie in \[0, 1\), not 1\.0$"),
])
def test_train_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**kwargs)


@pytest.mark.parametrize("hidden, message", [
    ((), r"^QuantMLP needs at least one hidden layer$"),
    ((8, 0), r"^layer widths must be positive integers, not 0$"),
    ((8.0,), r"^layer widths must be positive integers, not 8\.0$"),
])
def test_model_rejects_bad_widths(hidden, message):
    with pytest.raises(ValueError, match=message):
        QuantMLP(4, hidden, 3)


def test_threshold_batchnorm_evaluates_like_batchnorm():
    norm = make_norm([1.5, -0.5, 0.0], [0.25, 1.0, -2.0], [3.0, -1.0, 0.5], [2.0, 0.5, 1.0])
    reference = torch.nn.BatchNorm1d(3).double().eval()
    reference.load_state_dict(norm.state_dict())
    x = torch.randn(7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(norm(x), reference(x))
        norm.train(), reference.train()
        torch.testing.assert_close(norm(x), reference(x))
