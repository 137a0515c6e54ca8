"""Calibrate the resource estimator on measured synthesis: ``hw/explore/calibration.json``.

Reads the cost explorer's per-lane results (``bench/results/cost.json``) and every demo report
(``bench/results/demo-*.json``: the flat Yosys ``resources`` per fabric and the per-layer
``breakdown``), recreates each demo's artifact with ``qnnforge train`` (same arch, preset and
seed; into ``build/estimate/<demo>/`` unless it is there already), checks that its default
folding is the report's, and fits the cost model of :mod:`qnnforge.hw.explore.estimate` per
fabric. ``make figures`` and then this script re-calibrate after a hardware change::

    .venv/bin/python bench/calibrate.py [--artifacts build/estimate]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from qnnforge.hw.compiler.folding import Folding
from qnnforge.hw.compiler.options import HardwareOptions
from qnnforge.hw.compiler.plan import default_folding
from qnnforge.hw.explore.estimate import (DEFAULT_CALIBRATION, Calibration, LayerCost,
                                          fit_fabric, lane_costs, layer_costs)
from qnnforge.hw.tools.files import write_atomic
from qnnforge.sw.artifact import load_artifact

RESULTS = Path(__file__).resolve().parent / "results"
ARTIFACTS = Path("build/estimate")


@dataclass(frozen=True)
class Demo:
    """One demo report with its recreated artifact's layer costs."""

    name: str
    report: dict
    costs: tuple[LayerCost, ...]

    @property
    def fabrics(self) -> tuple[str, ...]:
        return tuple(self.report["resources"])

    def dot_lanes(self, fabric: str) -> list[dict]:
        """Return each layer's dot unit in the breakdown on ``fabric`` (its ``dot`` part and the
        parts below it), as a per-lane sample."""
        units = self.report["breakdown"][fabric]["units"]
        samples = []
        for layer in self.costs:
            if layer.dot is None:
                continue
            parts = [p for name, p in units[layer.name]["parts"].items()
                     if "dot" in name.split(".")]  # dot, dot.lane, matrix.dot, ...
            samples.append({"dot": layer.dot, "input_bits": layer.input_bits,
                            "weight_bits": layer.weight_bits, "lanes": layer.lanes,
                            **{key: sum(p[key] for p in parts) for key in ("lut", "ff", "dsp")}})
        return samples


def recreate(name: str, report: dict, artifacts: Path) -> Path:
    """Return the artifact of demo ``name``, trained as the report was if it is missing."""
    path = artifacts / name / "model"
    if not (path / "manifest.json").exists():
        command = [sys.executable, "-m", "qnnforge", "train", "--arch", report["arch"],
                   "--precision", report["precision"]["preset"], "--seed", "0",
                   "--out", str(path)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return path


def load_demos(results: Path = RESULTS, artifacts: Path = ARTIFACTS) -> list[Demo]:
    """Return every demo report in ``results`` with its artifact's layer costs.

    Raises
    ------
    ValueError
        If a recreated artifact's default folding is not the one its report records.
    """
    demos = []
    for report_path in sorted(results.glob("demo-*.json")):
        report = json.loads(report_path.read_text())
        name = report_path.stem.removeprefix("demo-")
        artifact = load_artifact(recreate(name, report, artifacts))
        folding = default_folding(artifact.layers)
        if folding != Folding.from_json(report["folding"]):
            raise ValueError(f"demo {name}: the recreated artifact's folding "
                             f"{folding.to_json()} is not the report's {report['folding']}")
        demos.append(Demo(name, report, layer_costs(artifact, folding, HardwareOptions())))
    return demos


def calibrate(demos: list[Demo], cost_records: list[dict],
              exclude: str | None = None) -> Calibration:
    """Return the calibration fitted to ``demos`` (less the one named ``exclude``)."""
    used = [demo for demo in demos if demo.name != exclude]
    fabrics = sorted({fabric for demo in used for fabric in demo.fabrics})
    options = HardwareOptions()
    models = {}
    for fabric in fabrics:
        lanes = lane_costs(cost_records, [(demo.name, sample) for demo in used
                                          for sample in demo.dot_lanes(fabric)], fabric, options)
        models[fabric] = fit_fabric(fabric, lanes, [(demo.name, demo.costs,
                                                     demo.report["resources"][fabric])
                                                    for demo in used])
    return Calibration(models)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=ARTIFACTS,
                        help="where the demos' artifacts are recreated (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_CALIBRATION,
                        help="calibration JSON (default: the estimator's own)")
    args = parser.parse_args(argv)
    demos = load_demos(RESULTS, args.artifacts)
    records = json.loads((RESULTS / "cost.json").read_text())["records"]
    calibration = calibrate(demos, records)
    write_atomic(args.out, json.dumps(calibration.to_json(), indent=1) + "\n")
    print(f"calibrated {', '.join(calibration.fabrics)} on {len(demos)} demos: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
