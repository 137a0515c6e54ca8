"""Per-layer precision sensitivity: the accuracy lost when one layer alone is made narrower.

The baseline is the network of a :class:`~.config.TrainConfig` trained with every
matrix-vector layer at :data:`BASELINE` (int8 weights, 8-bit requantized activations: the
widest precision the trainer has; it has no float layer, and a float network's layers are not
those of the quantized one). For each layer and each lower precision
(:data:`~.precision.PRECISIONS`), a copy of the trained baseline with only that layer at that
precision (its weights and the activation it produces) is fine-tuned for a few epochs and
measured on the held-out split. So that fine-tuning itself is not counted, the reference is the
baseline fine-tuned the same way with no layer changed; a cell's *drop* is that reference
accuracy minus its own. Each copy is also measured before fine-tuning, its batch-norm statistics
recomputed (*drop before*, and the increase of the held-out cross-entropy, which is what the
proxy below predicts and which, unlike 360 digits' accuracy, is not counted in steps of 0.28 %).
Where the hardware has no such network (a hidden layer's bipolar output read by a layer of
non-binary weights: binary is a precision of the last layer only, in an otherwise wider
network) the cell says why instead.

A fine-tuned copy starts from the baseline's trained values; a value the new precision
initializes differently (an activation's step, the score head's scale) keeps the trained value
shifted by the difference of the two initial values, so a 2-bit activation starts covering the
range the 8-bit one had learned.

Beside it, a second-order proxy that needs no training (HAWQ-V2, Dong et al. 2020, from the
surveys): ``Omega(l, p) = Tr(H_l) / n_l * ||Q_p(W_l) - Q(W_l)||^2``, the average Hessian trace of
the training loss with respect to layer ``l``'s ``n_l`` weights, estimated by Hutchinson's method
(``Tr(H) = E[v' H v]`` over Rademacher vectors ``v``, Hessian-vector products by double
back-propagation through the baseline in training mode), times the squared perturbation of the
layer's weights when the baseline's integer weights ``Q(W_l)`` are replaced by precision
``p``'s, each output channel scaled by its least-squares factor (the batch-norm after a hidden
layer absorbs a channel's scale; the last layer gets one factor, its score scale). The
straight-through quantizers pass gradients to the latent weights unchanged, so the Hessian with
respect to the latent weights is the Hessian with respect to the integer weights the forward
pass uses. The proxy sees the weights only; the measured drop includes the narrower
activation. Spearman's rank correlation between proxy and drop says how well it ranks.

Every training and the proxy are jobs of the sweep engine (:mod:`.sweep`), cached by content:
a rerun retrains nothing.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import cnn, data, export, model, quantizers, train
from .config import ConfigError, TrainConfig
from .data import load_digits_split
from .files import save_figure_atomic, write_atomic
from .model import QuantNet, weight_quantizer
from .precision import PRECISIONS, layer_precisions
from .sweep import Job, run_jobs, source_version

__all__ = ["BASELINE", "DEFAULT_PRECISIONS", "DEFAULT_EPOCHS", "DEFAULT_BASELINE_EPOCHS",
           "DEFAULT_SAMPLES", "FINETUNE_LEARNING_RATE", "DEFAULT_CACHE", "SCHEMA",
           "run_sensitivity", "train_baseline", "finetune", "hessian_proxy", "hessian_traces",
           "layer_names",
           "write_report", "write_csv", "write_heatmap", "spearman"]

BASELINE = "int8"
DEFAULT_PRECISIONS = ("int4", "ternary", "int2", "binary")
DEFAULT_EPOCHS = 6
"""Fine-tuning epochs of each (layer, precision) cell."""
DEFAULT_BASELINE_EPOCHS = 30
DEFAULT_SAMPLES = 64
"""Rademacher vectors of Hutchinson's estimate."""
FINETUNE_LEARNING_RATE = 0.25
"""Peak learning rate of fine-tuning, as a fraction of the architecture's."""
DEFAULT_CACHE = Path("build/sweep-cache")
SCHEMA = "qnnforge-sensitivity/1"


def _version() -> str:
    """The cache version of every job here: torch's, the training code's and the jobs'."""
    from . import config as config_module
    from . import encoding, precision

    code = source_version(train, model, cnn, quantizers, export, data, precision, encoding,
                          config_module, train_baseline, finetune, hessian_proxy, _load_shifted,
                          _recalibrate, _perturbation, _state_to_json, _state_from_json,
                          hessian_traces,
                          _held_out)
    return f"torch {torch.__version__} {code}"


def _baseline_config(config: TrainConfig, epochs: int) -> TrainConfig:
    return replace(config, precision=BASELINE, layer_precision=(), epochs=epochs)


def _state_to_json(network: nn.Module) -> dict:
    return {name: value.tolist() for name, value in network.state_dict().items()}


def _state_from_json(state: dict, like: dict) -> dict:
    return {name: torch.tensor(state[name], dtype=like[name].dtype) for name in state}


def _features_classes(split) -> tuple[int, int]:
    return split.x_train.shape[1], int(split.y_train.max()) + 1


def train_baseline(config: TrainConfig) -> dict:
    """Train the baseline (a sweep job): return its held-out accuracy and its trained values.

    ``config`` is used as given (:func:`run_sensitivity` sets every layer to :data:`BASELINE`);
    training runs on one torch thread. The values are the state dict as nested lists.
    """
    torch.set_num_threads(1)
    start = time.monotonic()
    result = train.train_quantized(load_digits_split(), config)
    return {"accuracy": result.quantized_accuracy, "state": _state_to_json(result.model),
            "seconds": round(time.monotonic() - start, 2)}


def _load_shifted(network: QuantNet, base: QuantNet, state: dict) -> None:
    """Load the trained ``state`` of ``base``'s network into ``network`` (fresh, same seed).

    A value ``network`` initializes as ``base`` does takes the trained value; one initialized
    differently, the trained value plus the difference of the initial values; one the baseline
    has no equal of (a new quantizer's table), its own initial value.
    """
    own, initial = network.state_dict(), base.state_dict()
    trained = _state_from_json(state, initial)
    loaded = {}
    for name, value in own.items():
        if name not in trained or trained[name].shape != value.shape:
            continue
        if value.is_floating_point():
            loaded[name] = trained[name] + (value - initial[name])
        else:
            loaded[name] = trained[name]
    network.load_state_dict(loaded, strict=False)


def _recalibrate(network: QuantNet, x: torch.Tensor) -> None:
    """Set every batch-norm's running statistics to those of ``x`` (one pass, no update of a
    weight): a narrower layer changes the scale of what the next layer accumulates."""
    norms = [m for m in network.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average: over one batch, its exact statistics
    network.train()
    for module in network.modules():
        if isinstance(module, nn.Dropout):
            module.eval()
    with torch.no_grad():
        network(x)
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    network.eval()


def finetune(config: TrainConfig, state: dict, layer: int | None, precision: str,
             epochs: int, seed: int) -> dict:
    """Fine-tune the trained baseline with layer ``layer`` at ``precision`` (a sweep job).

    ``config`` is the baseline's; ``layer`` None fine-tunes the baseline unchanged (the
    reference). The copy's batch-norm statistics are first recomputed on the training split
    (:func:`_recalibrate`) and its held-out accuracy and cross-entropy measured
    (``accuracy_before``, ``loss_before``); then it is
    fine-tuned for ``epochs`` epochs at :data:`FINETUNE_LEARNING_RATE` of the baseline's peak
    learning rate, batches and dropout drawn from ``seed``, on one torch thread, and measured
    again (``accuracy``, ``loss``). Accuracies are those of the integer-exact model.
    """
    torch.set_num_threads(1)
    start = time.monotonic()
    split = load_digits_split()
    features, classes = _features_classes(split)
    overrides = () if layer is None else ((layer, precision),)
    tuned = replace(config, layer_precision=overrides, epochs=epochs,
                    learning_rate=config.learning_rate * FINETUNE_LEARNING_RATE)
    base, _ = train.quantized_model(config, features, classes)
    network, quantizer = train.quantized_model(tuned, features, classes)
    _load_shifted(network, base, state)
    _recalibrate(network, torch.as_tensor(quantizer.quantize(split.x_train),
                                          dtype=torch.float32))
    before = _held_out(network, quantizer, split)
    torch.manual_seed(seed)
    train.train_model(network, quantizer, split, replace(tuned, seed=seed))
    after = _held_out(network, quantizer, split)
    return {"accuracy_before": before[0], "loss_before": before[1], "accuracy": after[0],
            "loss": after[1], "seconds": round(time.monotonic() - start, 2)}


def _held_out(network: QuantNet, quantizer, split) -> tuple[float, float]:
    """Return the held-out accuracy of the integer-exact model and its cross-entropy."""
    codes = quantizer.quantize(split.x_test)
    accuracy = float(np.mean(export.quantized_predict(network, codes) == split.y_test))
    network.eval()
    with torch.no_grad():
        logits = network(torch.as_tensor(codes, dtype=torch.float32))
        loss = nn.functional.cross_entropy(logits, torch.as_tensor(split.y_test))
    return accuracy, float(loss)


def _matrix_weights(network: QuantNet) -> list[nn.Parameter]:
    return [stage.module.weight for stage in network.stages() if stage.index is not None]


def _perturbation(codes: torch.Tensor, lower: torch.Tensor, per_channel: bool) -> float:
    """Return ``min ||a * lower - codes||^2`` over one factor ``a`` per output channel (or one)."""
    codes = codes.double().reshape(len(codes), -1)
    lower = lower.double().reshape(len(lower), -1)
    dims = {"dim": 1, "keepdim": True} if per_channel else {}
    energy = (lower * lower).sum(**dims)
    factor = torch.where(energy > 0, (lower * codes).sum(**dims) / energy.clamp(min=1e-30),
                         torch.zeros_like(energy))
    return float(((factor * lower - codes) ** 2).sum())


def hessian_traces(network: QuantNet, x: torch.Tensor, y: torch.Tensor, samples: int,
                   seed: int) -> list[float]:
    """Return Hutchinson's estimate of ``Tr(H_l)`` for each matrix-vector layer's weights.

    ``H_l`` is the Hessian of the cross-entropy of ``network`` on ``(x, y)`` (one batch) with
    respect to layer ``l``'s weights, in training mode (batch statistics, straight-through
    roundings) with dropout off; the estimate is the mean of ``v' H_l v`` over ``samples``
    Rademacher vectors drawn from ``seed``, each product by double back-propagation. The
    network is left in evaluation mode.
    """
    network.train()
    for module in network.modules():
        if isinstance(module, nn.Dropout):
            module.eval()
    weights = _matrix_weights(network)
    loss = nn.functional.cross_entropy(network(x), y)
    gradients = torch.autograd.grad(loss, weights, create_graph=True)
    generator = torch.Generator().manual_seed(seed)
    traces = np.zeros(len(weights))
    for _ in range(samples):
        vectors = [torch.randint(0, 2, w.shape, generator=generator).to(w.dtype) * 2 - 1
                   for w in weights]
        products = torch.autograd.grad(gradients, weights, grad_outputs=vectors,
                                       retain_graph=True)
        traces += [float((h * v).sum()) for h, v in zip(products, vectors)]
    network.eval()
    return (traces / samples).tolist()


def hessian_proxy(config: TrainConfig, state: dict, precisions: Sequence[str],
                  samples: int) -> dict:
    """Return HAWQ's proxy terms of the trained baseline (a sweep job).

    Returns ``traces`` (the Hutchinson estimate of ``Tr(H_l)`` per matrix-vector layer, over
    the whole training split, ``samples`` Rademacher vectors drawn from ``config.seed``),
    ``weights`` (``n_l``), ``perturbations`` (precision -> per layer
    ``min ||a Q_p(W_l) - Q(W_l)||^2``) and ``seconds``.
    """
    torch.set_num_threads(1)
    start = time.monotonic()
    split = load_digits_split()
    features, classes = _features_classes(split)
    network, quantizer = train.quantized_model(config, features, classes)
    network.load_state_dict(_state_from_json(state, network.state_dict()))
    x = torch.as_tensor(quantizer.quantize(split.x_train), dtype=torch.float32)
    traces = hessian_traces(network, x, torch.as_tensor(split.y_train), samples, config.seed)
    weights = _matrix_weights(network)
    perturbations = {}
    with torch.no_grad():
        codes = [stage.module.quantized_weight() for stage in network.stages()
                 if stage.index is not None]
        for name in precisions:
            lower = [weight_quantizer(PRECISIONS[name]).eval()(w) for w in weights]
            perturbations[name] = [_perturbation(c, q, per_channel=index < len(weights) - 1)
                                   for index, (c, q) in enumerate(zip(codes, lower))]
    return {"traces": traces, "weights": [w.numel() for w in weights],
            "perturbations": perturbations, "seconds": round(time.monotonic() - start, 2)}


def layer_names(network: QuantNet) -> list[str]:
    """Return the artifact names of the matrix-vector layers (``fc0``, ``conv1``...)."""
    counts: dict[str, int] = {}
    names = []
    for module, index in network.stages():
        prefix = module.name_prefix
        if index is not None:
            names.append(f"{prefix}{counts.get(prefix, 0)}")
        counts[prefix] = counts.get(prefix, 0) + 1
    return names


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Return Spearman's rank correlation of ``x`` and ``y`` (ties share their mean rank), or
    None with fewer than three pairs or where either is constant."""
    from scipy.stats import spearmanr

    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    return float(spearmanr(x, y).statistic)


def _check(precisions: Sequence[str], counts: dict[str, int]) -> None:
    if not precisions:
        raise ConfigError("precisions must name at least one precision")
    for name in precisions:
        if name not in PRECISIONS or name == BASELINE:
            choices = ", ".join(p for p in PRECISIONS if p != BASELINE)
            raise ConfigError(f"precisions must be among {choices}, not {name!r}")
        if name.startswith("codebook"):
            raise ConfigError(f"precisions: {name} is not supported (a codebook is learned "
                              f"by clustering during training, not in a short fine-tune)")
    if len(set(precisions)) != len(precisions):
        raise ConfigError(f"precisions must differ, not {', '.join(precisions)}")
    for field, value in counts.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{field} must be a positive integer, not {value!r}")


def _mean(values: Sequence[float]) -> float:
    return round(float(np.mean(values)), 6)


def run_sensitivity(config: TrainConfig = TrainConfig(), precisions: Sequence[str] =
                    DEFAULT_PRECISIONS, *, epochs: int = DEFAULT_EPOCHS,
                    baseline_epochs: int = DEFAULT_BASELINE_EPOCHS, repeats: int = 1,
                    samples: int = DEFAULT_SAMPLES, scheduler: str | object | None = None,
                    workers: int | None = None,
                    cache: str | os.PathLike | None = DEFAULT_CACHE,
                    progress: bool | object = True) -> dict:
    """Measure each layer's accuracy drop at each precision, and HAWQ's proxy beside it.

    Parameters
    ----------
    config : TrainConfig
        Architecture, widths or channels, input bits, seed, batch size, learning rate and
        dropout of the baseline (its precision and epochs are replaced).
    precisions : sequence of str
        Lower precisions to try per layer (keys of :data:`~.precision.PRECISIONS` other than
        :data:`BASELINE`; no codebook).
    epochs, baseline_epochs : int
        Fine-tuning epochs per cell, training epochs of the baseline.
    repeats : int
        Fine-tuning runs per cell (and of the reference), with the batch seeds
        ``config.seed``, ``config.seed + 1``...; accuracies are their mean.
    samples : int
        Rademacher vectors of Hutchinson's estimate.
    scheduler, workers, cache, progress
        Where the jobs run and what is cached (:func:`~.sweep.run_jobs`).

    Returns
    -------
    dict
        The report: ``arch``, ``baseline`` (precision, epochs, accuracy), ``reference``
        (``accuracy`` and ``accuracy_before`` of the baseline copied and fine-tuned unchanged),
        ``epochs``, ``repeats``, ``precisions``, ``layers`` (names), ``weights`` (per layer),
        ``cells`` (one per layer and precision: ``accuracy``, ``drop``, ``accuracy_before``,
        ``drop_before`` (recalibrated, not fine-tuned), ``loss_increase`` and
        ``loss_increase_before`` (held-out cross-entropy over the reference's), ``proxy``,
        ``trace``, ``perturbation``; or ``feasible`` false and ``reason``), ``proxy`` (method,
        samples, Spearman's correlation over every trained cell with the drops, ``spearman``,
        the drops before fine-tuning, ``spearman_before``, the loss increases,
        ``spearman_loss`` and ``spearman_loss_before``, and per precision over the layers) and
        ``seconds``: ``wall`` (this call, cached jobs included), and what each job took on its
        worker when it ran (``baseline_job``, ``finetune_jobs`` in all, ``finetune_job_mean``,
        ``proxy_job``).

    Raises
    ------
    ConfigError
        If a precision or a count is invalid.
    """
    _check(precisions, {"epochs": epochs, "baseline_epochs": baseline_epochs,
                        "repeats": repeats, "samples": samples})
    start = time.monotonic()
    base = _baseline_config(config, baseline_epochs)
    names = layer_names(train.quantized_model(base)[0])
    version = _version()
    baseline, = run_jobs([Job(train_baseline, (base,), label=f"{BASELINE} baseline",
                              version=version)],
                         scheduler=scheduler, workers=workers, cache=cache, progress=progress,
                         description="baseline")
    state = baseline["state"]
    seeds = [config.seed + repeat for repeat in range(repeats)]
    cells, changes = [], [(None, BASELINE)]
    for index, name in enumerate(names):
        for precision in precisions:
            cell = {"layer": index, "name": name, "precision": precision}
            try:
                layer_precisions(BASELINE, len(names), {index: precision})
            except ConfigError as error:
                cells.append({**cell, "feasible": False, "reason": str(error)})
                continue
            cells.append({**cell, "feasible": True})
            changes.append((index, precision))
    jobs = [Job(finetune, (base, state, layer, precision, epochs, seed),
                label=f"{'reference' if layer is None else names[layer]} at {precision}"
                      f"{f' (seed {seed})' if repeats > 1 else ''}", version=version)
            for layer, precision in changes for seed in seeds]
    jobs.append(Job(hessian_proxy, (base, state, tuple(precisions), samples),
                    label="Hessian proxy", version=version))
    *runs, proxy = run_jobs(jobs, scheduler=scheduler, workers=workers, cache=cache,
                            progress=progress, description="fine-tuning")
    outcomes = [runs[i:i + repeats] for i in range(0, len(runs), repeats)]
    reference = {"accuracy": _mean([r["accuracy"] for r in outcomes[0]]),
                 "accuracy_before": outcomes[0][0]["accuracy_before"],
                 "loss": _mean([r["loss"] for r in outcomes[0]]),
                 "loss_before": outcomes[0][0]["loss_before"]}
    feasible = [cell for cell in cells if cell["feasible"]]
    for cell, results in zip(feasible, outcomes[1:]):
        index, precision = cell["layer"], cell["precision"]
        accuracy = _mean([r["accuracy"] for r in results])
        trace = proxy["traces"][index]
        perturbation = proxy["perturbations"][precision][index]
        cell.update(accuracy=accuracy, drop=round(reference["accuracy"] - accuracy, 6),
                    accuracies=[r["accuracy"] for r in results],
                    accuracy_before=results[0]["accuracy_before"],
                    drop_before=round(reference["accuracy_before"]
                                      - results[0]["accuracy_before"], 6),
                    loss_increase=round(_mean([r["loss"] for r in results])
                                        - reference["loss"], 6),
                    loss_increase_before=round(results[0]["loss_before"]
                                               - reference["loss_before"], 6),
                    trace=trace, perturbation=perturbation,
                    proxy=trace / proxy["weights"][index] * perturbation)

    def rho(field: str, precision: str | None = None) -> float | None:
        chosen = [c for c in feasible if precision in (None, c["precision"])]
        return spearman([c["proxy"] for c in chosen], [c[field] for c in chosen])

    return {
        "schema": SCHEMA, "arch": config.arch,
        "baseline": {"precision": BASELINE, "epochs": baseline_epochs,
                     "accuracy": baseline["accuracy"]},
        "reference": reference, "epochs": epochs, "repeats": repeats,
        "finetune_learning_rate": config.learning_rate * FINETUNE_LEARNING_RATE,
        "seed": config.seed, "test_samples": len(load_digits_split().y_test),
        "precisions": list(precisions), "layers": names, "weights": proxy["weights"],
        "cells": cells,
        "proxy": {"method": "HAWQ-V2: Hutchinson trace of the Hessian / weights x "
                            "squared weight perturbation", "samples": samples,
                  "spearman": rho("drop"), "spearman_before": rho("drop_before"),
                  "spearman_loss": rho("loss_increase"),
                  "spearman_loss_before": rho("loss_increase_before"),
                  "spearman_per_precision": {p: rho("drop", p) for p in precisions},
                  "spearman_before_per_precision": {p: rho("drop_before", p)
                                                    for p in precisions}},
        "seconds": {"wall": round(time.monotonic() - start, 1),
                    "baseline_job": baseline["seconds"],
                    "finetune_jobs": round(sum(r["seconds"] for r in runs), 1),
                    "finetune_job_mean": round(float(np.mean([r["seconds"] for r in runs])), 2),
                    "proxy_job": proxy["seconds"]},
    }


CSV_FIELDS = ("layer", "name", "precision", "feasible", "accuracy", "drop", "accuracy_before",
              "drop_before", "loss_increase", "loss_increase_before", "trace", "perturbation",
              "proxy", "reason")


def write_csv(report: dict, path: str | os.PathLike) -> None:
    """Write one row per cell, the columns of :data:`CSV_FIELDS`."""
    stream = io.StringIO(newline="")
    writer = csv.DictWriter(stream, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for cell in report["cells"]:
        writer.writerow({k: cell.get(k, "") for k in CSV_FIELDS})
    write_atomic(Path(path), stream.getvalue())


def _grid(report: dict, field: str) -> np.ndarray:
    grid = np.full((len(report["layers"]), len(report["precisions"])), np.nan)
    for cell in report["cells"]:
        if cell["feasible"]:
            grid[cell["layer"], report["precisions"].index(cell["precision"])] = cell[field]
    return grid


def _rho(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


def write_heatmap(report: dict, path: str | os.PathLike) -> None:
    """Draw the accuracy drops after and before fine-tuning (percentage points), the loss
    increase before it and the proxy (log10) as heat maps, layers x precisions, each cell
    annotated; a cell the hardware has no network for reads n/a."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    layers, precisions = report["layers"], report["precisions"]
    proxy = _grid(report, "proxy")
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(proxy > 0, np.log10(proxy), np.nan)
    figure, axes = pyplot.subplots(2, 2, figsize=(4 + 2.6 * len(precisions),
                                                  2.4 + 1.1 * len(layers)), dpi=120)
    panels = ((_grid(report, "drop") * 100, "Reds", "{:+.1f}",
               f"accuracy drop after {report['epochs']} epochs (pp)"),
              (_grid(report, "drop_before") * 100, "Reds", "{:+.1f}",
               "accuracy drop before fine-tuning (pp)"),
              (_grid(report, "loss_increase_before"), "Purples", "{:+.3f}",
               "held-out loss increase before fine-tuning"),
              (logs, "Blues", "{:.1f}", "HAWQ proxy (log10)"))
    for ax, (values, colours, form, title) in zip(axes.flat, panels):
        image = ax.imshow(np.ma.masked_invalid(values), cmap=colours, aspect="auto")
        figure.colorbar(image, ax=ax, fraction=0.05)
        ax.set_xticks(range(len(precisions)), precisions)
        ax.set_yticks(range(len(layers)), layers)
        ax.set_title(title, fontsize=9)
        for row in range(len(layers)):
            for column in range(len(precisions)):
                value = values[row, column]
                dark = not math.isnan(value) and image.norm(value) > 0.6
                ax.text(column, row, "n/a" if math.isnan(value) else form.format(value),
                        ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
    figure.suptitle(f"{report['arch'].upper()}: one layer narrower than {BASELINE} (reference "
                    f"{report['reference']['accuracy']:.1%})\nSpearman of the proxy with the "
                    f"drop {_rho(report['proxy']['spearman'])} after, "
                    f"{_rho(report['proxy']['spearman_before'])} before fine-tuning; with the "
                    f"loss increase {_rho(report['proxy']['spearman_loss_before'])} before",
                    fontsize=9)
    figure.tight_layout()
    save_figure_atomic(path, figure)


def write_report(report: dict, out: str | os.PathLike) -> tuple[Path, Path, Path]:
    """Write ``sensitivity.json``, ``sensitivity.csv`` and ``sensitivity.png`` into ``out``;
    return their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = out / "sensitivity.json", out / "sensitivity.csv", out / "sensitivity.png"
    write_atomic(paths[0], json.dumps(report, indent=1) + "\n")
    write_csv(report, paths[1])
    write_heatmap(report, paths[2])
    return paths
