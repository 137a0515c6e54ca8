"""The resource estimator's error on every demo, in sample and leave one out:
``bench/results/estimate.json``.

For each demo report (``bench/results/demo-*.json``) and fabric it was synthesized for, the
estimate of its recreated artifact (``bench/calibrate.py`` recreates them) at its folding is
compared with the flat Yosys figures of the report, twice:

* **in sample**: with the calibration fitted to every demo (what ``qnnforge summary`` uses);
* **leave one out**: with a calibration fitted to the other demos only, so the demo's own
  synthesis (its totals and its dot parts) did not shape the coefficients; its dot units keep
  the cost explorer's per-lane measurements, which are apart from any demo.

The report also keeps each demo's layer costs, so a test can re-estimate them without the
artifacts. Run after ``bench/calibrate.py``::

    .venv/bin/python bench/estimate.py [--artifacts build/estimate]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from qnnforge.hw.explore.estimate import estimate_layers, load_calibration
from qnnforge.hw.tools.files import write_atomic

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate import ARTIFACTS, RESULTS, calibrate, cost_records, load_demos  # noqa: E402

SCHEMA = "qnnforge-estimate/1"
TARGET = 0.15
"""The error on LUTs the estimate aims to stay within, for every precision."""
RESOURCES = ("lut", "ff", "bram", "dsp")


def _error(estimate: int, measured: int) -> float | None:
    return round((estimate - measured) / measured, 4) if measured else None


def evaluate(demos, records, full) -> list[dict]:
    """Return one row per demo and fabric: estimates with the calibration ``full`` (in sample)
    and with one fitted without the demo (left out), measured, errors."""
    rows = []
    for demo in demos:
        left_out = calibrate(demos, records, exclude=demo.name)
        for fabric in demo.fabrics:
            measured = {key: demo.resources[fabric][key] for key in RESOURCES}
            inside = estimate_layers(demo.costs, full.model(fabric))
            outside = estimate_layers(demo.costs, left_out.model(fabric))
            rows.append({
                "demo": demo.name, "arch": demo.report["arch"],
                "precision": demo.report["precision"]["preset"],
                "layers": demo.report["precision"]["layers"], "fabric": fabric,
                "folding": demo.report["folding"], "measured": measured,
                "in_sample": {key: inside[key] for key in RESOURCES},
                "leave_one_out": {key: outside[key] for key in RESOURCES},
                "in_sample_error": {key: _error(inside[key], measured[key]) for key in RESOURCES},
                "leave_one_out_error": {key: _error(outside[key], measured[key])
                                        for key in RESOURCES},
            })
    return rows


def summarize(rows: list[dict]) -> dict:
    """Return the largest and mean absolute LUT error per fabric, in sample and left out."""
    summary = {}
    for fabric in sorted({row["fabric"] for row in rows}):
        mine = [row for row in rows if row["fabric"] == fabric]
        summary[fabric] = {}
        for kind in ("in_sample_error", "leave_one_out_error"):
            errors = [abs(row[kind]["lut"]) for row in mine]
            summary[fabric][kind] = {"max_abs_lut": round(max(errors), 4),
                                     "mean_abs_lut": round(sum(errors) / len(errors), 4),
                                     "within_target": sum(e <= TARGET for e in errors),
                                     "demos": len(errors)}
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=ARTIFACTS,
                        help="the demos' recreated artifacts (default: %(default)s)")
    args = parser.parse_args(argv)
    demos = load_demos(RESULTS, args.artifacts)
    rows = evaluate(demos, cost_records(), load_calibration())
    report = {"schema": SCHEMA, "target_lut_error": TARGET, "rows": rows,
              "summary": summarize(rows),
              "costs": {demo.name: [asdict(layer) for layer in demo.costs] for demo in demos}}
    write_atomic(RESULTS / "estimate.json", json.dumps(report, indent=1) + "\n")
    for row in rows:
        inside, outside = row["in_sample_error"]["lut"], row["leave_one_out_error"]["lut"]
        print(f"{row['demo']:>12} {row['fabric']:>6}  LUT {row['measured']['lut']:>6} measured, "
              f"{row['in_sample']['lut']:>6} in sample ({100 * inside:+.1f} %), "
              f"{row['leave_one_out']['lut']:>6} left out ({100 * outside:+.1f} %)")
    print(f"wrote {RESULTS / 'estimate.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
