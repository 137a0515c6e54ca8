"""The package list in pyproject.toml names every package directory, so a wheel misses none."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOPS = ("qnnforge", "hw", "sw", "sim", "boards")


def test_every_package_directory_is_installed():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = {Path(directory) for directory in project["package-dir"].values()}
    on_disk = {init.parent.relative_to(ROOT)
               for top in TOPS for init in (ROOT / top).rglob("__init__.py")}
    assert on_disk - declared == set()
    assert declared - on_disk == set()
    assert set(project["packages"]) == set(project["package-dir"])
