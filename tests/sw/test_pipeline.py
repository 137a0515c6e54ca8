"""The software flow as one call, and the binary preset bit for bit the binarized MLP it replaced.

Until the fold into one model class, the binary preset trained either ``BinarizedMLP`` or a
``QuantMLP`` of binary precisions (a test showed both bit-identical, then they were folded).
:class:`BinarizedOracle` keeps the former's layout, built from the same parts, as the oracle.
"""

import copy
from contextlib import nullcontext

import numpy as np
import pytest
import torch
from torch import nn

from qnnforge.sw import reference
from qnnforge.sw.artifact import Artifact, DenseLayer, ScoreOutput, ThresholdActivation
from qnnforge.sw.config import TrainConfig
from qnnforge.sw.encoding import BIPOLAR
from qnnforge.sw.errors import QnnforgeError, VerificationError
from qnnforge.sw.export import export_artifact, quantized_predict
from qnnforge.sw.model import QuantDense, ScoreHead, ThresholdBatchNorm
from qnnforge.sw import pipeline
from qnnforge.sw.pipeline import ReferenceMismatchError, check_reference, train_and_export
from qnnforge.sw.quantizers import SignActivation, bipolar_sign
from qnnforge.sw.train import digits_input_quantizer, train_model, train_quantized

from .conftest import assert_same_artifact, tiny_artifact


class BinarizedOracle(nn.Module):
    """The removed ``BinarizedMLP``: its modules in its order, its forward pass."""

    def __init__(self, in_features, hidden, classes, dropout):
        super().__init__()
        widths = [in_features, *hidden, classes]
        self.dense = nn.ModuleList(QuantDense(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.norms = nn.ModuleList(ThresholdBatchNorm(width) for width in hidden)
        self.sign = SignActivation()
        self.dropout = nn.Dropout(dropout)
        self.head = ScoreHead(classes, widths[-2])

    def hidden_forward(self, x):
        for index, (dense, norm) in enumerate(zip(self.dense[:-1], self.norms)):
            if index:
                x = self.dropout(x)
            x = self.sign(norm(dense(x)))
        return x

    def integer_scores(self, x):
        return self.head.integer_scores(self.dense[-1](self.hidden_forward(x)))

    def forward(self, x):
        return self.head(self.dense[-1](self.hidden_forward(x)))

    def clip_latent(self):
        for dense in self.dense:
            dense.clip_latent()

    def after_step(self, step, steps):  # what train_model calls after every optimizer step
        self.clip_latent()


def brute_force_threshold(norm: ThresholdBatchNorm, bound: int) -> ThresholdActivation:
    """Return the threshold rule that fires where the model's norm and sign fire, by trying
    every accumulator in ``-bound .. bound`` in float64 (not the exporter's ``fold_threshold``):
    the smallest firing one (direction +1), or minus the largest (direction -1), and
    ``bound + 1`` for a channel that never fires."""
    exact = _float64_copy(norm)
    a = torch.arange(-bound, bound + 1, dtype=torch.float64)[:, None].repeat(1, len(norm.weight))
    with torch.no_grad():
        fires = (bipolar_sign(exact(a)) == 1).numpy()
    # the model's sign of gamma / sqrt(var + eps): the direction the exporter must choose
    directions = np.where(norm.weight.detach().double().numpy() < 0, -1, 1)
    accumulators = np.arange(-bound, bound + 1)
    thresholds = []
    for c, direction in enumerate(directions):
        firing = accumulators[fires[:, c]]
        if not len(firing):
            thresholds.append(bound + 1)
        else:
            thresholds.append(int(firing.min()) if direction > 0 else -int(firing.max()))
    return ThresholdActivation(np.array(thresholds, dtype=np.int64), directions.astype(np.int64))


def _float64_copy(norm: ThresholdBatchNorm) -> ThresholdBatchNorm:
    return copy.deepcopy(norm).to(torch.float64).eval()


def oracle_artifact(model: BinarizedOracle, quantizer, name: str) -> Artifact:
    """The removed binary exporter: sign weights, brute-force thresholds, rounded score bias."""
    layers, encoding = [], quantizer.encoding
    for index, dense in enumerate(model.dense):
        weights = np.where(dense.weight.detach().numpy() >= 0, 1, -1)
        bound = dense.in_features * encoding.max_abs
        if index < len(model.norms):
            output = brute_force_threshold(model.norms[index], bound)
        else:
            output = ScoreOutput(np.round(model.head.bias.detach().double().numpy()).astype(int))
        layers.append(DenseLayer(f"fc{index}", encoding, BIPOLAR, weights, output))
        encoding = BIPOLAR
    return Artifact(name, quantizer, tuple(layers))


def test_binary_preset_is_bit_identical_to_the_binarized_mlp(digits_split):
    config = TrainConfig(epochs=2, hidden=(32, 16))
    folded = train_quantized(digits_split, config)
    torch.manual_seed(config.seed)
    quantizer = digits_input_quantizer(config.input_bits)
    oracle = train_model(BinarizedOracle(64, config.hidden, 10, config.dropout), quantizer,
                         digits_split, config)
    assert folded.losses == oracle.losses
    assert folded.quantized_accuracy == oracle.quantized_accuracy
    for (name, a), (other, b) in zip(oracle.model.state_dict().items(),
                                     folded.model.state_dict().items(), strict=True):
        assert name == other and torch.equal(a, b), name
    codes = quantizer.quantize(digits_split.x_test)
    np.testing.assert_array_equal(quantized_predict(folded.model, codes),
                                  quantized_predict(oracle.model, codes))
    assert_same_artifact(export_artifact(folded.model, quantizer, "digits"),
                         oracle_artifact(oracle.model, quantizer, "digits"))


def test_check_reference_returns_the_reference_classes():
    artifact = tiny_artifact()
    codes = np.array([[0, 0, 0, 0], [15, 0, 15, 15], [3, 9, 1, 0]])
    classes = check_reference(artifact, codes, np.array([0, 0, 0]))
    np.testing.assert_array_equal(classes, [0, 0, 0])


def test_check_reference_names_the_first_disagreement():
    codes = np.array([[0, 0, 0, 0], [15, 0, 15, 15], [3, 9, 1, 0]])
    with pytest.raises(ReferenceMismatchError, match=r"^the integer reference disagrees with the "
                                                     r"quantized model on 2 of 3 test samples "
                                                     r"\(first: sample 1, reference class 0, "
                                                     r"model class 1\)$"):
        check_reference(tiny_artifact(), codes, np.array([0, 1, 1]))
    assert issubclass(ReferenceMismatchError, VerificationError)
    assert issubclass(ReferenceMismatchError, QnnforgeError)


def test_train_and_export_checks_and_describes_the_artifact(digits_split):
    stages = []

    def stage_progress(description, epochs):
        stages.append((description, epochs))
        return nullcontext(lambda epoch, total, loss: None)

    config = TrainConfig(epochs=1, hidden=(16,), precision="int4")
    threads = torch.get_num_threads()
    trained = train_and_export(config, stage_progress=stage_progress, split=digits_split)
    assert torch.get_num_threads() == threads
    assert stages == [("float baseline", 1), ("int4 QAT", 1)]
    assert trained.config == config and trained.test_samples == 360
    assert trained.artifact.name == "digits-int4-mlp"
    metadata = trained.artifact.metadata
    assert metadata["training"] == {"hidden": [16], "epochs": 1, "input_bits": 4, "seed": 0,
                                    "precision": {"preset": "int4",
                                                  "layers": ["int4", "int4"]}}
    assert metadata["float_accuracy"] == trained.float_accuracy
    assert metadata["quantized_accuracy"] == trained.quantized_accuracy
    assert trained.reference_accuracy == trained.quantized_accuracy
    codes = trained.artifact.input.quantize(digits_split.x_test)
    assert np.mean(reference.run(trained.artifact, codes).classes == digits_split.y_test) == \
        trained.reference_accuracy


def test_train_and_export_raises_when_the_reference_disagrees(digits_split, monkeypatch):
    monkeypatch.setattr(pipeline, "quantized_predict", lambda model, codes: np.full(len(codes), 11))
    with pytest.raises(ReferenceMismatchError, match=r"^the integer reference disagrees with the "
                                                     r"quantized model on 360 of 360 test "
                                                     r"samples \(first: sample 0, "):
        train_and_export(TrainConfig(epochs=1, hidden=(8,)), split=digits_split)


def test_binary_artifact_name_and_metadata_are_the_binarized_flows(digits_split):
    trained = train_and_export(TrainConfig(epochs=1, hidden=(8,)), split=digits_split)
    assert trained.artifact.name == "digits-binarized-mlp"
    assert "precision" not in trained.artifact.metadata["training"]
    assert trained.artifact.metadata["dataset"] == (
        "sklearn.datasets.load_digits, stratified 80/20 split, random_state=0")
