"""Test-wide configuration: Hypothesis profiles (derandomized with a fixed budget in CI)."""

import os

# Tests run on parallel workers and train tiny models: one BLAS/OpenMP thread each, set before
# torch is first imported, so workers never oversubscribe the cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, max_examples=50, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
