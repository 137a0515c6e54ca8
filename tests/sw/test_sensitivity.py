"""Per-layer sensitivity on a tiny MLP: drops, proxy, correlation, the files, and the cache."""

import csv
import json

import pytest
import torch

from qnnforge.sw.config import ConfigError, TrainConfig
from qnnforge.sw.data import load_digits_split
from qnnforge.sw.sensitivity import (_perturbation, hessian_traces, layer_names,
                                     run_sensitivity, spearman, write_report)
from qnnforge.sw.sweep import open_client
from qnnforge.sw.train import quantized_model

TINY = TrainConfig(hidden=(12,), seed=3)


@pytest.fixture(scope="module")
def client():
    """One local cluster of two workers for the module (their torch imported once)."""
    with open_client(workers=2) as client:
        yield client


@pytest.fixture(scope="module")
def tiny(client, tmp_path_factory):
    cache = tmp_path_factory.mktemp("sweep-cache")
    report = run_sensitivity(TINY, ("int2", "binary"), epochs=1, baseline_epochs=2, samples=4,
                             scheduler=client, cache=cache, progress=False)
    return cache, report


def test_every_cell_has_its_drop_against_the_reference(tiny):
    _, report = tiny
    assert report["layers"] == ["fc0", "fc1"] and report["weights"] == [64 * 12, 12 * 10]
    assert [(c["name"], c["precision"], c["feasible"]) for c in report["cells"]] == [
        ("fc0", "int2", True), ("fc0", "binary", False), ("fc1", "int2", True),
        ("fc1", "binary", True)]
    reference = report["reference"]
    for cell in report["cells"]:
        if not cell["feasible"]:
            assert cell["reason"] == ("layer 1: int8 weights need fixed-point inputs, but "
                                      "layer 0 (binary) outputs bipolar activations")
            continue
        assert 0 <= cell["accuracy"] <= 1
        assert cell["drop"] == pytest.approx(reference["accuracy"] - cell["accuracy"], abs=1e-6)
        assert cell["drop_before"] == pytest.approx(
            reference["accuracy_before"] - cell["accuracy_before"], abs=1e-6)
        assert cell["proxy"] == pytest.approx(
            cell["trace"] / report["weights"][cell["layer"]] * cell["perturbation"])
        assert cell["perturbation"] > 0
    assert report["baseline"] == {"precision": "int8", "epochs": 2,
                                  "accuracy": report["baseline"]["accuracy"]}
    assert report["baseline"]["accuracy"] > 0.5


def test_the_proxy_correlation_is_reported(tiny):
    _, report = tiny
    proxy = report["proxy"]
    assert set(proxy) >= {"spearman", "spearman_before", "spearman_loss",
                          "spearman_loss_before", "spearman_per_precision"}
    assert -1 <= proxy["spearman_loss_before"] <= 1  # losses are continuous: never constant
    feasible = [c for c in report["cells"] if c["feasible"]]
    assert proxy["spearman_loss_before"] == pytest.approx(
        spearman([c["proxy"] for c in feasible], [c["loss_increase_before"] for c in feasible]))


def test_the_report_files(tiny, tmp_path):
    _, report = tiny
    json_path, csv_path, png_path = write_report(report, tmp_path / "out")
    assert json.loads(json_path.read_text()) == report
    rows = list(csv.DictReader(csv_path.open()))
    assert [(r["name"], r["precision"]) for r in rows] == [
        ("fc0", "int2"), ("fc0", "binary"), ("fc1", "int2"), ("fc1", "binary")]
    assert rows[1]["feasible"] == "False" and rows[1]["drop"] == ""
    assert float(rows[0]["drop"]) == report["cells"][0]["drop"]
    assert png_path.read_bytes()[:4] == b"\x89PNG"


def test_a_rerun_trains_nothing(tiny, monkeypatch):
    import qnnforge.sw.sweep as sweep

    cache, report = tiny

    def no_cluster(*args):
        raise AssertionError("a job ran again")
    monkeypatch.setattr(sweep, "open_client", no_cluster)
    again = run_sensitivity(TINY, ("int2", "binary"), epochs=1, baseline_epochs=2, samples=4,
                            cache=cache, progress=False)
    assert again["cells"] == report["cells"] and again["proxy"] == report["proxy"]


def test_hutchinson_estimates_the_exact_trace():
    split = load_digits_split()
    network, quantizer = quantized_model(TrainConfig(hidden=(6,), precision="int8"))
    x = torch.as_tensor(quantizer.quantize(split.x_train[:200]), dtype=torch.float32)
    y = torch.as_tensor(split.y_train[:200])
    estimate = hessian_traces(network, x, y, samples=300, seed=0)
    network.train()
    weights = [stage.module.weight for stage in network.stages()]
    loss = torch.nn.functional.cross_entropy(network(x), y)
    gradients = torch.autograd.grad(loss, weights, create_graph=True)
    exact = []
    for index, weight in enumerate(weights):
        flat = gradients[index].reshape(-1)
        exact.append(sum(float(torch.autograd.grad(flat[i], weight, retain_graph=True)[0]
                               .reshape(-1)[i]) for i in range(flat.numel())))
    assert estimate == pytest.approx(exact, rel=0.15)
    assert all(value > 0 for value in exact)


def test_perturbation_takes_the_best_scale_per_channel():
    codes = torch.tensor([[4.0, -2.0], [1.0, 3.0]])
    assert _perturbation(codes, codes / 2, per_channel=True) == pytest.approx(0)
    scaled = torch.stack([codes[0] / 2, codes[1] * 3])
    assert _perturbation(codes, scaled, per_channel=True) == pytest.approx(0)
    assert _perturbation(codes, scaled, per_channel=False) > 1
    sign = torch.sign(codes)  # least squares: a = <s, c> / <s, s> per row
    expected = sum(float(((row_s * (row_s @ row_c) / (row_s @ row_s)) - row_c).pow(2).sum())
                   for row_s, row_c in zip(sign, codes))
    assert _perturbation(codes, sign, per_channel=True) == pytest.approx(expected)


def test_spearman():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1)
    assert spearman([1, 2, 3], [1, 1, 1]) is None
    assert spearman([1, 2], [1, 2]) is None


def test_layer_names_are_the_artifact_names():
    assert layer_names(quantized_model(TrainConfig(arch="cnn"))[0]) == [
        "conv0", "conv1", "conv2", "fc0"]


@pytest.mark.parametrize("precisions, kwargs, message", [
    (("int8",), {}, r"^precisions must be among binary, ternary, int2, int4, ttq, codebook2, "
                    r"codebook3, codebook4, codebook5, not 'int8'$"),
    (("int3",), {}, r"^precisions must be among .*, not 'int3'$"),
    (("codebook4",), {}, r"^precisions: codebook4 is not supported \(a codebook is learned by "
                         r"clustering during training, not in a short fine-tune\)$"),
    (("int2", "int2"), {}, r"^precisions must differ, not int2, int2$"),
    ((), {}, r"^precisions must name at least one precision$"),
    (("int2",), {"epochs": 0}, r"^epochs must be a positive integer, not 0$"),
    (("int2",), {"repeats": -1}, r"^repeats must be a positive integer, not -1$"),
    (("int2",), {"samples": 2.5}, r"^samples must be a positive integer, not 2\.5$"),
])
def test_options_are_checked(precisions, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        run_sensitivity(TINY, precisions, cache=None, progress=False, **kwargs)


def test_cli_runs_on_a_scheduler_and_writes_the_files(client, tmp_path, capsys):
    from qnnforge.cli import main

    status = main(["sensitivity", "--precisions", "int2", "--epochs", "1",
                   "--baseline-epochs", "1", "--samples", "2",
                   "--scheduler", client.scheduler.address,
                   "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache")])
    assert status == 0
    out = capsys.readouterr().out
    assert "Sensitivity (mlp, one layer narrower than int8" in out
    assert "proxy vs accuracy drop, Spearman:" in out
    report = json.loads((tmp_path / "out" / "sensitivity.json").read_text())
    assert [c["name"] for c in report["cells"]] == ["fc0", "fc1", "fc2"]
    assert report["environment"]["seed"] == 0
    assert (tmp_path / "out" / "sensitivity.png").exists()
