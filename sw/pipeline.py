"""The software flow on the digits as one call: train, export the integer artifact, check it.

The network is an MLP or a CNN (``config.arch``); the artifact is named
``digits-binarized-mlp`` (all-binary MLP), ``digits-<preset>-mlp`` or ``digits-<preset>-cnn``.

:func:`train_and_export` trains the float baseline (the figure to compare with) and the quantized
model of a :class:`~.config.TrainConfig`, exports the model's integer artifact and checks that
the integer reference predicts exactly what the quantized model predicts on every held-out
sample. The artifact is returned, not written: ``result.artifact.save(path)`` writes it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np
import torch

from . import reference
from .artifact import Artifact
from .config import TrainConfig
from .data import DigitsSplit, load_digits_split
from .errors import VerificationError
from .export import export_artifact, quantized_predict
from .train import Progress, train_float_baseline, train_quantized

__all__ = ["DATASET", "StageProgress", "ReferenceMismatchError", "TrainedArtifact",
           "check_reference", "train_and_export"]

DATASET = "sklearn.datasets.load_digits, stratified 80/20 split, random_state=0"
"""How the artifact's metadata names the data it was trained and measured on."""

StageProgress = Callable[[str, int], AbstractContextManager[Progress | None]]
"""Called as ``stage_progress(description, epochs)`` around each training run; the context
yields the per-epoch ``progress(epoch, epochs, loss)`` callback, or None."""


class ReferenceMismatchError(VerificationError):
    """The integer reference disagrees with the quantized model the artifact was exported from."""


@dataclass(frozen=True)
class TrainedArtifact:
    """The exported artifact of a training run and the accuracies on the held-out split.

    Attributes
    ----------
    artifact : Artifact
        The integer model, checked against the quantized model.
    config : TrainConfig
        The configuration it was trained with.
    test_samples : int
        Number of held-out samples every accuracy is measured on.
    float_accuracy, quantized_accuracy, reference_accuracy : float
        Accuracy of the float baseline, of the quantized PyTorch model and of the integer
        reference (the last two are equal, since their predictions are).
    torch_threads : int
        ``torch.get_num_threads()`` while training ran (recorded in reports).
    """

    artifact: Artifact
    config: TrainConfig
    test_samples: int
    float_accuracy: float
    quantized_accuracy: float
    reference_accuracy: float
    torch_threads: int


def check_reference(artifact: Artifact, codes: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Return the integer reference's classes for ``codes``, checked against ``expected``.

    Raises
    ------
    ReferenceMismatchError
        If any class differs from ``expected`` (the quantized model's prediction).
    """
    classes = reference.run(artifact, codes).classes
    differ = np.flatnonzero(classes != np.asarray(expected))
    if len(differ):
        first = int(differ[0])
        raise ReferenceMismatchError(
            f"the integer reference disagrees with the quantized model on {len(differ)} of "
            f"{len(codes)} test samples (first: sample {first}, reference class "
            f"{classes[first]}, model class {expected[first]})")
    return classes


def _artifact_name(config: TrainConfig) -> str:
    if config.arch == "mlp" and config.all_binary:
        return "digits-binarized-mlp"
    return f"digits-{config.precision}-{config.arch}"


def _training_metadata(config: TrainConfig) -> dict:
    """Return the artifact's ``metadata.training``; an MLP's has no ``arch`` (older artifacts
    do not either: no ``arch`` means ``mlp``)."""
    if config.arch == "mlp":
        training = {"hidden": list(config.hidden)}
    else:
        training = {"arch": config.arch, "channels": list(config.channels)}
    training.update({"epochs": config.epochs, "input_bits": config.input_bits,
                     "seed": config.seed})
    if not config.all_binary or config.arch != "mlp":
        training["precision"] = config.precision_summary()
    if config.stochastic:
        training["rounding"] = config.rounding
    return training


def train_and_export(config: TrainConfig = TrainConfig(), *,
                     stage_progress: StageProgress | None = None,
                     split: DigitsSplit | None = None) -> TrainedArtifact:
    """Train the float baseline and the quantized model, export the artifact and check it.

    Training runs on one torch thread (the models are tiny: a second thread adds no speed and
    oversubscribes a busy machine); the previous thread count is restored afterwards.

    Parameters
    ----------
    config : TrainConfig
        Architecture, widths or channels, precision per layer, epochs, seed.
    stage_progress : StageProgress, optional
        Progress display of each training run.
    split : DigitsSplit, optional
        The data; by default :func:`~.data.load_digits_split`'s fixed split.

    Raises
    ------
    ReferenceMismatchError
        If the exported artifact does not predict what the quantized model predicts.
    """
    stage_progress = stage_progress or (lambda description, epochs: nullcontext())
    split = load_digits_split() if split is None else split
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        training_threads = torch.get_num_threads()
        with stage_progress("float baseline", config.epochs) as update:
            float_accuracy = train_float_baseline(split, config, update)
        label = "binarized QAT" if config.all_binary else f"{config.precision} QAT"
        label = label if config.arch == "mlp" else f"{label} ({config.arch})"
        with stage_progress(label, config.epochs) as update:
            result = train_quantized(split, config, update)
    finally:
        torch.set_num_threads(threads)
    codes = result.quantizer.quantize(split.x_test)
    metadata = {"dataset": DATASET, "test_samples": int(len(split.y_test)),
                "float_accuracy": float_accuracy,
                "quantized_accuracy": result.quantized_accuracy,
                "training": _training_metadata(config)}
    artifact = export_artifact(result.model, result.quantizer, _artifact_name(config), metadata)
    classes = check_reference(artifact, codes, quantized_predict(result.model, codes))
    return TrainedArtifact(artifact, config, int(len(split.y_test)), float_accuracy,
                           result.quantized_accuracy, float(np.mean(classes == split.y_test)),
                           training_threads)
