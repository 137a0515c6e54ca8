"""Calibrate the resource estimator on measured synthesis: ``hw/explore/calibration.json``.

Reads the cost explorer's dot units (``bench/results/cost.json`` and ``cost-pairs.json``) and
every demo report (``bench/results/demo-*.json``: the flat Yosys ``resources`` per fabric and
the per-layer ``breakdown``; and ``synth-<fabric>.json`` for fabrics the demo does not
synthesize, ``bench/synth_fabric.py``), takes each demo's artifact (the demo's own where
``make figures`` left it, else one recreated with ``qnnforge train``, same arch, preset and
seed, into ``build/estimate/<demo>/model``), checks that its default folding and accuracy are
the report's, and fits the cost model of :mod:`qnnforge.hw.explore.estimate` per fabric.
``make figures`` runs it after the demos, so a hardware change re-calibrates the estimate::

    .venv/bin/python bench/calibrate.py --sweep [--artifacts build/estimate]

``--sweep`` first runs ``qnnforge cost`` on every operand pair the demos' layers use that the
command line can name (TTQ's learned tables it cannot), with the generator's default DSP and
popcount options, on every fabric the demos were synthesized for, into
``bench/results/cost-pairs.json``: the costs of exactly those dot units, measured apart from the
demos, so that leaving a demo out of the fit still leaves its dot units measured
(``bench/estimate.py``).
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
from qnnforge.hw.explore.dot_costs import lane_costs
from qnnforge.hw.explore.estimate import (DEFAULT_CALIBRATION, Calibration, LayerCost,
                                          fit_fabric, layer_costs)
from qnnforge.hw.tools.files import write_atomic
from qnnforge.sw.artifact import load_artifact

RESULTS = Path(__file__).resolve().parent / "results"
ARTIFACTS = Path("build/estimate")
COST_FILES = ("cost.json", "cost-pairs.json")
"""The cost explorer's results the per-lane costs come from (those that exist)."""
SWEEP_LANES = "16,64"


@dataclass(frozen=True)
class Demo:
    """One demo report with its recreated artifact's layer costs, and its flat synthesis per
    fabric: the report's, and those of ``synth-<fabric>.json`` (``bench/synth_fabric.py``)."""

    name: str
    report: dict
    costs: tuple[LayerCost, ...]
    resources: dict

    @property
    def fabrics(self) -> tuple[str, ...]:
        return tuple(self.resources)

    def dot_lanes(self, fabric: str) -> list[dict]:
        """Return each layer's dot unit in the breakdown on ``fabric`` (its ``dot`` part and the
        parts below it), as a per-lane sample; none where the report has no breakdown."""
        if fabric not in self.report.get("breakdown", {}):
            return []
        units = self.report["breakdown"][fabric]["units"]
        samples = []
        for layer in self.costs:
            if layer.dot is None:
                continue
            parts = [p for name, p in units[layer.name]["parts"].items()
                     if "dot" in name.split(".")]  # dot, dot.lane, matrix.dot, ...
            samples.append({"dot": layer.dot, "inputs": layer.inputs,
                            "input_bits": layer.input_bits,
                            "weight_bits": layer.weight_bits, "lanes": layer.lanes,
                            **{key: sum(p[key] for p in parts) for key in ("lut", "ff", "dsp")}})
        return samples


def recreate(name: str, report: dict, artifacts: Path) -> Path:
    """Return the artifact of demo ``name``: the demo's own (the report's ``artifact``) if it is
    still there, else one trained as the report was, in ``artifacts`` (once)."""
    own = Path(report["artifact"])
    if (own / "manifest.json").exists():
        return own
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
        If a recreated artifact's default folding or accuracy is not the one its report
        records (then it is not the model the report synthesized).
    """
    synthesized = [json.loads(path.read_text()) for path in sorted(results.glob("synth-*.json"))]
    demos = []
    for report_path in sorted(results.glob("demo-*.json")):
        report = json.loads(report_path.read_text())
        name = report_path.stem.removeprefix("demo-")
        artifact = load_artifact(recreate(name, report, artifacts))
        folding = default_folding(artifact.layers)
        if folding != Folding.from_json(report["folding"]):
            raise ValueError(f"demo {name}: the recreated artifact's folding "
                             f"{folding.to_json()} is not the report's {report['folding']}")
        accuracy = artifact.metadata.get("quantized_accuracy")
        if accuracy != report["quantized_accuracy"]:
            raise ValueError(f"demo {name}: the recreated artifact's accuracy {accuracy} is not "
                             f"the report's {report['quantized_accuracy']}: not the same model")
        resources = dict(report["resources"])
        for other in synthesized:
            found = other["demos"].get(name)
            if found is not None:
                if found["folding"] != report["folding"]:
                    raise ValueError(f"demo {name}: its {other['fabric']} synthesis has another "
                                     f"folding than its report")
                resources[other["fabric"]] = found["resources"]
        demos.append(Demo(name, report, layer_costs(artifact, folding, HardwareOptions()),
                          resources))
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
                                                     demo.resources[fabric])
                                                    for demo in used if fabric in demo.resources],
                                    options)
    return Calibration(models)


def demo_pairs(demos: list[Demo], artifacts: Path = ARTIFACTS) -> list[str]:
    """Return the command-line names (``u4x8``...) of the operand pairs of the demos' layers
    that :func:`~qnnforge.hw.explore.designs.parse_pair` reads back as the same kind."""
    from qnnforge.hw.explore.designs import parse_pair, precision_name
    from qnnforge.sw.artifact import load_artifact

    names = set()
    for demo in demos:
        for layer in load_artifact(artifacts / demo.name / "model").layers:
            weights = getattr(layer, "weight_encoding", None)
            if weights is None:
                continue
            name = f"{precision_name(layer.input_encoding)}x{precision_name(weights)}"
            inputs, parsed = parse_pair(name)
            if inputs == layer.input_encoding and (parsed.kind, parsed.bits) == (weights.kind,
                                                                                  weights.bits):
                names.add(name)
    return sorted(names)


def sweep(demos: list[Demo], artifacts: Path = ARTIFACTS) -> int:
    """Run ``qnnforge cost`` on the demos' operand pairs into ``cost-pairs.json``."""
    from qnnforge.cli import main as qnnforge

    fabrics = sorted({fabric for demo in demos for fabric in demo.fabrics})
    return qnnforge(["cost", "--bits", ",".join(demo_pairs(demos, artifacts)),
                     "--lanes", SWEEP_LANES, "--fabric", ",".join(fabrics), "--dsp", "on",
                     "--architectures", HardwareOptions().popcount,
                     "--json", str(RESULTS / "cost-pairs.json"),
                     "--csv", str(artifacts / "cost-pairs.csv"),
                     "--plot", str(artifacts / "cost-pairs.png")])


def cost_records(results: Path = RESULTS) -> list[dict]:
    """Return the records of every cost explorer result file in ``results``."""
    return [record for name in COST_FILES if (results / name).exists()
            for record in json.loads((results / name).read_text())["records"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=ARTIFACTS,
                        help="where the demos' artifacts are recreated (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_CALIBRATION,
                        help="calibration JSON (default: the estimator's own)")
    parser.add_argument("--sweep", action="store_true",
                        help="first synthesize the demos' dot units (qnnforge cost)")
    args = parser.parse_args(argv)
    demos = load_demos(RESULTS, args.artifacts)
    if args.sweep and sweep(demos, args.artifacts):
        return 1
    calibration = calibrate(demos, cost_records())
    write_atomic(args.out, json.dumps(calibration.to_json(), indent=1) + "\n")
    print(f"calibrated {', '.join(calibration.fabrics)} on {len(demos)} demos: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
