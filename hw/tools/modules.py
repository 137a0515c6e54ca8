"""Synthesis per distinct module: identical leaf modules of a generated design merged into one.

Amaranth emits one Verilog module per component instance, named by its path
(``qnnforge_top.fc0.dot0 .. dot15``): sixteen identical 784-lane dot units are sixteen modules
that a synthesis maps sixteen times. :func:`merge_identical_modules` finds the leaf modules
(those that instantiate no other module) that are the same up to the names of their ports and
wires, keeps one of each, and points every instance of the others at it, renaming the named
port connections. A synthesis that keeps the hierarchy (:func:`~.breakdown.module_cells`) then
maps each distinct module once, and :func:`~.breakdown.total_cells` counts its cells once per
instance.

Two modules are *the same* when their token sequences agree after every declared name (port,
wire, reg) is replaced by the index of its first appearance: a bijective renaming, so the merged
design computes exactly what the original does. Whitespace is not compared. Optimisation across
module boundaries is lost, as in any hierarchical synthesis (:mod:`.breakdown`), so the counts
are close to, not equal to, a flattened synthesis.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .breakdown import module_cells, total_cells
from .fabrics import get_fabric
from .synth import Resources

__all__ = ["MergedVerilog", "merge_identical_modules", "synthesize_distinct"]

_MODULE = re.compile(r"(?:^\(\*[^\n]*\*\)\n)*^module (\\\S+ |\w+) ?\(.*?^endmodule\n?",
                     re.M | re.S)
"""A module with the attribute lines before it (a merged-away module takes them along)."""
_TOKEN = re.compile(r"\\\S+|\d*'[sS]?[bodhBODH][0-9a-fA-FxzXZ_?]+|[A-Za-z_$][A-Za-z0-9_$]*"
                    r"|\S")
_DECLARATION = re.compile(r"^\s*(?:input|output|inout|wire|reg)\b(?:\s+signed)?"
                          r"(?:\s*\[[^\]]*\])?\s*(\\\S+|[A-Za-z_][A-Za-z0-9_$]*)", re.M)
_PORT = re.compile(r"\.(\\\S+ |[A-Za-z_][A-Za-z0-9_$]*)\s*\(")


@dataclass(frozen=True)
class MergedVerilog:
    """A design with identical leaf modules merged.

    Attributes
    ----------
    text : str
        The Verilog: every module of the original but the merged-away ones.
    modules : int
        Modules of the original design.
    distinct : int
        Modules left.
    """

    text: str
    modules: int
    distinct: int


@dataclass(frozen=True)
class _Module:
    name: str
    text: str
    key: tuple[str, ...]
    names: tuple[str, ...]  # declared names, in order of first appearance


def _parse(match: re.Match) -> _Module:
    name = match.group(1).strip()
    text = match.group(0)
    declared = {found.strip() for found in _DECLARATION.findall(text)}
    order: dict[str, int] = {}
    key = []
    for token in _TOKEN.findall(text):
        token = token.strip()
        if token == name:
            key.append("\0module")
        elif token in declared:
            key.append(f"\0{order.setdefault(token, len(order))}")
        else:
            key.append(token)
    return _Module(name, text, tuple(key), tuple(order))


def _escaped(name: str) -> str:
    """Return ``name`` as it is written before whitespace (an escaped identifier ends in one)."""
    return f"{name} " if name.startswith("\\") else name


def merge_identical_modules(text: str) -> MergedVerilog:
    """Return ``text`` with every group of identical leaf modules merged into its first module.

    Instances of a merged-away module name the kept one, and their named port connections
    (``.port(...)``) take the kept module's port names.
    """
    modules = [_parse(match) for match in _MODULE.finditer(text)]
    names = {module.name for module in modules}
    kept: dict[tuple[str, ...], _Module] = {}
    replaced: dict[str, tuple[str, dict[str, str]]] = {}
    for module in modules:
        if any(token in names for token in module.key):
            continue  # instantiates another module: not a leaf
        first = kept.setdefault(module.key, module)
        if first is not module:
            replaced[module.name] = (first.name, dict(zip(module.names, first.names)))
    if not replaced:
        return MergedVerilog(text, len(modules), len(modules))
    instance = re.compile(r"^(\s*)(" + "|".join(re.escape(_escaped(name)) for name in replaced)
                          + r")(\s*\S+\s*\(.*?\);)", re.M | re.S)

    def point(match: re.Match) -> str:
        target, ports = replaced[match.group(2).strip()]
        connections = _PORT.sub(lambda port: f".{_escaped(ports[port.group(1).strip()])}(",
                                match.group(3))
        return f"{match.group(1)}{_escaped(target)}{connections}"

    parts, distinct = [], 0
    position = 0
    for match, module in zip(_MODULE.finditer(text), modules):
        parts.append(text[position:match.start()])
        position = match.end()
        if module.name not in replaced:
            parts.append(instance.sub(point, module.text))
            distinct += 1
    parts.append(text[position:])
    return MergedVerilog("".join(parts), len(modules), distinct)


def synthesize_distinct(verilog: str | os.PathLike, top: str, fabric: str, dsp: bool = True,
                        timeout: float = 1800) -> tuple[Resources, MergedVerilog]:
    """Synthesize ``top`` for ``fabric`` mapping each distinct module once; return its counts
    (every instance counted) and the merge.

    Raises
    ------
    ValueError
        If ``fabric`` is unknown.
    ToolMissingError
        If Yosys is not installed.
    SynthesisError
        If Yosys fails.
    """
    target = get_fabric(fabric)
    merged = merge_identical_modules(Path(verilog).read_text())
    with tempfile.TemporaryDirectory(prefix="qnnforge-merged-") as scratch:
        path = Path(scratch) / f"{top}.v"
        path.write_text(merged.text)
        cells = total_cells(top, module_cells(path, top, fabric, dsp=dsp, timeout=timeout))
    return Resources.from_cells(target, cells), merged
