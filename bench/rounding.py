"""Stochastic against round-to-nearest training of fixed-point layers, into bench/results/.

Gupta et al. (2015) train fixed-point networks with stochastic rounding: a value rounds up with
probability equal to its fraction, so the rounding is unbiased and small updates survive in
expectation. This trains the digits MLP (the demo's default widths and epochs) at int2 and int4
with each rounding rule and three seeds, exports every model and checks that the integer
reference predicts exactly what the model predicts (evaluation always rounds to nearest), and
writes ``bench/results/rounding.json``: every run, then the mean and the spread (sample standard
deviation, min, max) of the held-out accuracy per precision and rule.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from qnnforge.hw.tools.files import write_atomic
from qnnforge.sw import reference
from qnnforge.sw.config import ROUNDINGS, TrainConfig
from qnnforge.sw.data import load_digits_split
from qnnforge.sw.export import export_artifact, quantized_predict
from qnnforge.sw.train import train_quantized

RESULTS = Path(__file__).resolve().parent / "results"
PRECISIONS = ("int2", "int4")
SEEDS = (0, 1, 2)


def run_once(split, precision: str, rounding: str, seed: int) -> dict:
    """Train one configuration; return its accuracy, exactness and seconds."""
    config = TrainConfig(precision=precision, rounding=rounding, seed=seed)
    start = time.monotonic()
    result = train_quantized(split, config)
    seconds = time.monotonic() - start
    codes = result.quantizer.quantize(split.x_test)
    artifact = export_artifact(result.model, result.quantizer, f"digits-{precision}")
    exact = bool(np.array_equal(reference.run(artifact, codes).classes,
                                quantized_predict(result.model, codes)))
    return {"precision": precision, "rounding": rounding, "seed": seed,
            "quantized_accuracy": result.quantized_accuracy, "exact": exact,
            "train_s": round(seconds, 2)}


def summarize(runs: list[dict]) -> list[dict]:
    """Return mean, sample standard deviation, min and max of the accuracy per group."""
    rows = []
    for precision in PRECISIONS:
        for rounding in ROUNDINGS:
            accuracies = [r["quantized_accuracy"] for r in runs
                          if r["precision"] == precision and r["rounding"] == rounding]
            rows.append({"precision": precision, "rounding": rounding, "seeds": len(accuracies),
                         "mean": statistics.mean(accuracies),
                         "std": statistics.stdev(accuracies), "min": min(accuracies),
                         "max": max(accuracies)})
    return rows


def main() -> int:
    split = load_digits_split()
    config = TrainConfig()
    runs = []
    for precision in PRECISIONS:
        for rounding in ROUNDINGS:
            for seed in SEEDS:
                runs.append(run_once(split, precision, rounding, seed))
                print(json.dumps(runs[-1]), flush=True)
    report = {"model": {"hidden": list(config.hidden), "epochs": config.epochs,
                        "input_bits": config.input_bits},
              "test_samples": len(split.y_test), "runs": runs, "summary": summarize(runs)}
    write_atomic(RESULTS / "rounding.json", json.dumps(report, indent=2) + "\n")
    if not all(run["exact"] for run in runs):
        print("error: a model and its artifact disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
