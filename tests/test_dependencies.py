"""Dependencies point one way: CLI -> boards, sim -> hw -> sw; read from every import statement.

Each module of the four packages is parsed (not imported), so lazy imports inside functions count
too, and relative imports are resolved against the module's own package.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"sw": "qnnforge.sw", "hw": "qnnforge.hw", "sim": "qnnforge.sim",
            "boards": "qnnforge.boards"}

FORBIDDEN = {
    "sw": ("amaranth", "cocotb", "qnnforge.hw", "qnnforge.sim", "qnnforge.boards"),
    "hw": ("torch", "cocotb", "qnnforge.sim", "qnnforge.boards"),
    "sim": ("torch", "qnnforge.boards"),
    "boards": ("torch",),
}
"""Package -> module prefixes none of its modules may import."""

LOWERING = ("qnnforge.hw.compiler.lowering",)
"""Amaranth internals that sim/ and boards/ must not read widths from (the interface says)."""


def _module_name(path: Path) -> tuple[str, str]:
    """Return (module, package) for a source file of one of the four packages."""
    relative = path.relative_to(ROOT).with_suffix("")
    top, *rest = relative.parts
    parts = [PACKAGES[top], *rest]
    if parts[-1] == "__init__":
        parts.pop()
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def imports_of(path: Path) -> set[str]:
    """Return the absolute names of every module that ``path`` imports, lazily or not."""
    _, package = _module_name(path)
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _sources(top: str) -> list[Path]:
    return sorted((ROOT / top).rglob("*.py"))


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("top", sorted(FORBIDDEN))
def test_packages_import_only_downstream(top):
    assert _sources(top), f"no modules found under {top}/"
    violations = [f"{path.relative_to(ROOT)} imports {name}"
                  for path in _sources(top) for name in sorted(imports_of(path))
                  if any(_matches(name, prefix) for prefix in FORBIDDEN[top])]
    assert not violations, "; ".join(violations)


@pytest.mark.parametrize("top", ["sim", "boards"])
def test_readers_of_a_design_never_read_the_lowering(top):
    violations = [f"{path.relative_to(ROOT)} imports {name}"
                  for path in _sources(top) for name in sorted(imports_of(path))
                  if any(_matches(name, prefix) for prefix in LOWERING)]
    assert not violations, "; ".join(violations)


def test_relative_imports_resolve_to_their_package():
    names = imports_of(ROOT / "boards" / "verify.py")
    assert "qnnforge.sim.runner" in names and "qnnforge.boards.top" in names
    assert "qnnforge.hw.compiler.options.HardwareOptions" in names
    assert "qnnforge.hw.compiler.interface" in imports_of(ROOT / "sim" / "network_tb.py")
