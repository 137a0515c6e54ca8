"""The README's figures are the ones the committed report files hold (bench/readme.py)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _readme_module():
    spec = importlib.util.spec_from_file_location("bench_readme", ROOT / "bench" / "readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_figures_come_from_the_reports():
    readme = _readme_module()
    current = (ROOT / "README.md").read_text()
    assert readme.render_readme(current, readme.render_sections()) == current, (
        "README.md figures differ from bench/results: run python bench/readme.py")


def test_a_changed_report_changes_the_readme():
    readme = _readme_module()
    sections = readme.render_sections()
    report = readme._load("demo-binary.json")
    report["hw_accuracy"] = 0.5
    assert readme.demo_section(report) != sections["demo"]
    assert "| hardware accuracy (Verilator) | 0.5000 |" in readme.demo_section(report)


def test_sections_must_match_the_readme():
    readme = _readme_module()
    with pytest.raises(ValueError, match=r"^README lacks the figures sections demo$"):
        readme.render_readme("no sections here", {"demo": "x"})
    with pytest.raises(ValueError, match=r"^README has a figures section 'other' that nothing "
                                         r"renders$"):
        readme.render_readme("<!-- figures:other -->\n<!-- /figures:other -->", {})


def test_the_imported_models_table_comes_from_the_qonnx_bench():
    readme = _readme_module()
    report = readme._load("qonnx.json")
    name, model = next(iter(report["models"].items()))
    model["agreement"] -= 1
    section = readme.qonnx_section(report)
    assert section != readme.render_sections()["qonnx"]
    assert f"| {model['agreement']}/{model['compared']} (" in section
