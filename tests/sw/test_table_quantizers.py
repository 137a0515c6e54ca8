"""TTQ and codebook weights in training: the quantizers' rules, and exact export.

The rules: TTQ's threshold ``delta = 0.05 * max|w|`` and its integer scales, its gradients
(Zhu et al. 2017); k-means with linear initialisation; centroid gradients that sum each
cluster's (Deep Compression). Exactness: short trainings whose integer artifact predicts what
the model predicts on all 360 held-out digits, per layer and in the CNN.
"""

import numpy as np
import pytest
import torch

from qnnforge.sw import reference
from qnnforge.sw.config import TrainConfig
from qnnforge.sw.encoding import codebook, ttq
from qnnforge.sw.export import export_artifact, quantized_predict
from qnnforge.sw.model import QuantMLP
from qnnforge.sw.precision import PRECISIONS, layer_precisions
from qnnforge.sw.quantizers import CodebookWeightQuantizer, TTQWeightQuantizer, kmeans_linear
from qnnforge.sw.train import train_quantized


def _ttq(wp: float, wn: float) -> TTQWeightQuantizer:
    quantizer = TTQWeightQuantizer()
    with torch.no_grad():
        quantizer.wp.fill_(wp)
        quantizer.wn.fill_(wn)
    return quantizer


def test_ttq_threshold_and_integer_scales():
    quantizer = _ttq(2.0, 0.9)
    # s = 2 / 15: a = 15, b = round(0.9 * 7.5) = round(6.75) = 7
    assert quantizer.integer_scales() == (15, 7)
    assert quantizer.encoding() == ttq(7, 15)
    weight = torch.tensor([[-2.0, -0.1, -0.09, 0.0, 0.1, 0.11, 1.5]])
    # delta = 0.05 * max|w| = 0.1: only magnitudes above it are kept
    assert float(quantizer.delta(weight)) == pytest.approx(0.1)
    assert quantizer(weight).tolist() == [[-7, 0, 0, 0, 0, 15, 15]]


def test_ttq_scales_are_at_least_one_and_the_larger_is_full_scale():
    assert _ttq(0.01, 3.0).integer_scales() == (1, 15)
    assert _ttq(1.0, 1.0).integer_scales() == (15, 15)
    assert _ttq(-2.0, 1.0).integer_scales() == (15, 8)  # magnitudes: a sign flip is no scale


def test_ttq_gradients_follow_the_paper():
    quantizer = _ttq(2.0, 1.0)  # s = 2/15, a = 15, b = 8
    weight = torch.tensor([1.0, -1.0, 0.01, 0.8, -0.5], requires_grad=True)
    grad = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    quantizer(weight).backward(grad)
    s = 2.0 / 15
    # the float weight is the integer times s: d/dWp sums the positive weights' gradients,
    # d/dWn minus the negative ones'; the latent weights get Wp, 1 or Wn times theirs
    assert float(quantizer.wp.grad) == pytest.approx((1.0 + 4.0) / s)
    assert float(quantizer.wn.grad) == pytest.approx(-(2.0 + 5.0) / s)
    np.testing.assert_allclose(weight.grad.numpy(),
                               np.array([2.0 * 1, 1.0 * 2, 1.0 * 3, 2.0 * 4, 1.0 * 5]) / s,
                               rtol=1e-6)


def test_ttq_rejects_bad_parameters():
    with pytest.raises(ValueError, match=r"^TTQ threshold must lie in \(0, 1\), not 1\.5$"):
        TTQWeightQuantizer(threshold=1.5)
    with pytest.raises(ValueError, match=r"^TTQ scale bits must be an integer in 1\.\.8, not 0$"):
        TTQWeightQuantizer(scale_bits=0)


def test_kmeans_starts_linear_keeps_empty_clusters_and_the_outlier():
    values = np.array([0.0] * 100 + [0.1] * 100 + [10.0])
    # linear start 0, 5, 10: the outlier keeps a centroid (a density start would lose it)
    # and the empty middle cluster stays where it began
    np.testing.assert_allclose(kmeans_linear(values, 3), [0.05, 5.0, 10.0])


def test_kmeans_iterates_to_the_cluster_means():
    values = np.array([0.0, 1.0, 2.0, 10.0, 12.0])
    # start 0, 12: {0, 1, 2} and {10, 12} -> 1, 11 -> no change
    np.testing.assert_allclose(kmeans_linear(values, 2), [1.0, 11.0])
    np.testing.assert_allclose(kmeans_linear(values, 1), [5.0])


def test_kmeans_rejects_bad_input():
    with pytest.raises(ValueError, match=r"^k-means needs at least one value$"):
        kmeans_linear(np.array([]), 2)
    with pytest.raises(ValueError, match=r"^clusters must be a positive integer, not 0$"):
        kmeans_linear(np.array([1.0]), 0)


def test_codebook_centroid_gradients_sum_each_cluster():
    quantizer = CodebookWeightQuantizer(2)
    # linear start -1, -1/3, 1/3, 1: each pair is one cluster from the first assignment
    weight = torch.tensor([[-1.0, -0.9, -0.3, -0.2], [0.3, 0.35, 1.0, 0.95]], requires_grad=True)
    quantizer.cluster(weight)
    assignment = quantizer.assignment.numpy()
    assert assignment.tolist() == [[0, 0, 1, 1], [2, 2, 3, 3]]
    centroids = quantizer.centroids.detach().numpy()
    np.testing.assert_allclose(centroids, [-0.95, -0.25, 0.325, 0.975], rtol=1e-6)
    values = quantizer(weight)
    # integer centroids: c / s with s = max|c| / 127, rounded
    expected = np.round(centroids / (0.975 / 127))
    np.testing.assert_array_equal(values.detach().numpy(), expected[assignment])
    grad = torch.arange(1.0, 9.0).reshape(2, 4)
    values.backward(grad)
    sums = np.array([1 + 2, 3 + 4, 5 + 6, 7 + 8], dtype=np.float64)
    np.testing.assert_allclose(quantizer.centroids.grad.numpy(), sums / (0.975 / 127),
                               rtol=1e-5)
    assert weight.grad is None  # assignments are fixed: the latent weights no longer learn
    assert quantizer.encoding() == codebook(2, sorted(int(v) for v in expected))


def test_codebook_trains_fixed_point_until_clustered():
    quantizer = CodebookWeightQuantizer(3)
    weight = torch.tensor([[-1.0, 0.5, 0.26, 0.0]])
    quantizer.train()
    # before clustering: 8-bit fixed point with one max-abs scale
    assert quantizer(weight).tolist() == [[-127, 64, 33, 0]]
    assert not bool(quantizer.clustered)
    model = QuantMLP(4, (3,), 2, layer_precisions("codebook3", 2))
    model.after_step(1, 4)
    assert not any(bool(dense.weight_quant.clustered) for dense in model.dense)
    model.after_step(2, 4)  # half of the steps: every codebook layer is clustered
    assert all(bool(dense.weight_quant.clustered) for dense in model.dense)


def test_codebook_rejects_bad_parameters():
    with pytest.raises(ValueError, match=r"^codebook bits must be an integer in 1\.\.8, not 9$"):
        CodebookWeightQuantizer(9)
    with pytest.raises(ValueError, match=r"^codebook value bits must be an integer in 2\.\.16, "
                                         r"not 1$"):
        CodebookWeightQuantizer(2, value_bits=1)


def _exact(digits_split, config):
    result = train_quantized(digits_split, config)
    codes = result.quantizer.quantize(digits_split.x_test)
    artifact = export_artifact(result.model, result.quantizer, "digits")
    assert len(codes) == 360
    np.testing.assert_array_equal(reference.run(artifact, codes).classes,
                                  quantized_predict(result.model, codes))
    return result, artifact


@pytest.mark.parametrize("precision", ["ttq", "codebook2", "codebook3", "codebook4",
                                       "codebook5"])
def test_reference_equals_the_model_on_every_test_sample(precision, digits_split):
    result, artifact = _exact(digits_split, TrainConfig(precision=precision, epochs=3,
                                                        hidden=(32, 16)))
    assert result.quantized_accuracy > 0.7
    template = PRECISIONS[precision].weights
    for layer, dense in zip(artifact.layers, result.model.dense):
        encoding = layer.weight_encoding
        assert encoding.kind == template.kind and encoding.bits == template.bits
        assert encoding.max_abs <= template.max_abs
        # the artifact's weights are exactly what the forward pass used
        with torch.no_grad():
            np.testing.assert_array_equal(layer.weights, dense.quantized_weight().numpy())
    if precision == "codebook4":
        # k-means found more than a handful of shared values
        assert all(len(layer.weight_encoding.values) > 8 for layer in artifact.layers)


def test_table_precisions_per_layer_in_the_cnn(digits_split):
    config = TrainConfig(arch="cnn", channels=(4, 4, 8), precision="int4", epochs=1,
                         layer_precision=((0, "ttq"), (2, "codebook3"), (3, "codebook2")))
    _, artifact = _exact(digits_split, config)
    kinds = [layer.weight_encoding.kind for layer in artifact.layers
             if hasattr(layer, "weight_encoding")]
    assert kinds == ["ttq", "int", "codebook", "codebook"]
