"""``make bench``: the default precision-cost sweep with Fmax, into ``bench/results/``.

Runs ``qnnforge cost`` over every default precision and the codebook comparison
(:data:`~qnnforge.hw.explore.cost.CODEBOOK_COMPARISON`), every lane count, fabric and DSP setting,
with iCE40 UP5K place and route, and writes ``bench/results/cost.json``, ``cost.csv`` and
``cost.png``. Synthesis results are cached in ``build/cost-cache/``, so a rerun is quick.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from qnnforge.cli import main
from qnnforge.hw.explore.cost import CODEBOOK_COMPARISON, DEFAULT_PRECISIONS

RESULTS = Path(__file__).resolve().parent / "results"


def run(argv: list[str] | None = None) -> int:
    """Run the sweep; extra arguments are passed to ``qnnforge cost``."""
    start = time.monotonic()
    status = main(["cost", "--fmax", "--json", str(RESULTS / "cost.json"),
                   "--bits", ",".join((*DEFAULT_PRECISIONS, *CODEBOOK_COMPARISON)),
                   *(argv if argv is not None else sys.argv[1:])])
    print(f"bench: {time.monotonic() - start:.0f} s")
    return status


if __name__ == "__main__":
    sys.exit(run())
