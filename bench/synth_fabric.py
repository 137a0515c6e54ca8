"""Synthesize every demo's design for a fabric the demo reports do not cover (ECP5):
``bench/results/synth-<fabric>.json``, which ``bench/calibrate.py`` reads beside them.

``qnnforge demo`` synthesizes for iCE40 and xc7. For another fabric this regenerates each demo's
design from its recreated artifact (``bench/calibrate.py`` recreates them) at the report's
folding, with the generator's default options, and runs the same flat Yosys synthesis the demo
runs (:func:`qnnforge.hw.tools.synth.synthesize`), recording the resources per demo::

    .venv/bin/python bench/synth_fabric.py --fabric ecp5
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qnnforge.hw.compiler.folding import Folding
from qnnforge.hw.compiler.generate import generate
from qnnforge.hw.tools.files import write_atomic
from qnnforge.hw.tools.synth import synthesize
from qnnforge.hw.tools.toolchain import run_environment
from qnnforge.sw.artifact import load_artifact

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate import ARTIFACTS, RESULTS, recreate  # noqa: E402

SCHEMA = "qnnforge-synth-fabric/1"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fabric", default="ecp5", help="fabric (default: %(default)s)")
    parser.add_argument("--artifacts", type=Path, default=ARTIFACTS,
                        help="the demos' recreated artifacts (default: %(default)s)")
    args = parser.parse_args(argv)
    out = RESULTS / f"synth-{args.fabric}.json"
    demos = {}
    for report_path in sorted(RESULTS.glob("demo-*.json")):
        report = json.loads(report_path.read_text())
        name = report_path.stem.removeprefix("demo-")
        artifact = load_artifact(recreate(name, report, args.artifacts))
        folding = Folding.from_json(report["folding"])
        work = args.artifacts / name / args.fabric
        design = generate(artifact, work, folding)
        resources = synthesize(design.verilog, design.top, args.fabric,
                               log=work / f"yosys-{args.fabric}.log")
        demos[name] = {"folding": report["folding"], "resources": resources.to_json(),
                       "verilog_sha256": design.summary["verilog_sha256"]}
        print(f"{name}: {resources.to_json()['lut']} LUT on {args.fabric}", flush=True)
    write_atomic(out, json.dumps({"schema": SCHEMA, "fabric": args.fabric, "demos": demos,
                                  "environment": run_environment(None, ("yosys",))},
                                 indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
