"""Per-layer sensitivity of the digits MLP and CNN, into ``bench/results/``.

Runs ``qnnforge sensitivity`` for each architecture with three fine-tuning seeds per cell (the
other options at their defaults: int8 baseline of 30 epochs, int4/ternary/int2/binary, 6 epochs
of fine-tuning, 64 Rademacher vectors) and copies its ``sensitivity.json``, ``.csv`` and ``.png``
to ``bench/results/sensitivity-<arch>.*``. The jobs are cached in ``build/sweep-cache/``, so a
rerun only copies. ``python bench/sensitivity.py mlp`` runs one architecture.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from qnnforge.cli import main

RESULTS = Path(__file__).resolve().parent / "results"
ARCHITECTURES = ("mlp", "cnn")
REPEATS = 3


def run(architectures: list[str]) -> int:
    """Run the sensitivity of each architecture and keep its report; return the exit status."""
    for arch in architectures:
        out = Path("build") / f"sensitivity-{arch}"
        status = main(["sensitivity", "--arch", arch, "--repeats", str(REPEATS),
                       "--out", str(out)])
        if status:
            return status
        for suffix in ("json", "csv", "png"):
            shutil.copyfile(out / f"sensitivity.{suffix}",
                            RESULTS / f"sensitivity-{arch}.{suffix}")
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:] or list(ARCHITECTURES)))
