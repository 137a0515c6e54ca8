"""Where the resources go: synthesis that keeps the module hierarchy, summed per layer and part.

Amaranth emits one Verilog module per component instance, named by its path
(``qnnforge_top.conv1.matrix.dot0``), so a synthesis that does not flatten (``synth_* -noflatten``
on Lattice fabrics, ``synth_xilinx`` without ``-flatten``) counts the cells of every unit
separately. :func:`resource_breakdown` sums each module's own cells and those of everything below
it, and groups a layer's units into *parts* by their path with instance numbers dropped:
``matrix.dot0 .. matrix.dot7`` are the part ``matrix.dot``, the cells of the layer's matrix-vector
unit itself (input buffer, weight and constant memories, accumulators, control) the part
``matrix``. Optimisation across module boundaries is lost, so the total is close to, not equal
to, a flattened synthesis; the parts show where a change has to cut.
"""

from __future__ import annotations

import json
import os
import re

from .fabrics import get_fabric
from .synth import run_yosys

__all__ = ["module_cells", "total_cells", "resource_breakdown"]

_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_INSTANCE = re.compile(r"\d+$")


def module_cells(verilog: str | os.PathLike, top: str, fabric: str, dsp: bool = True,
                 timeout: float = 1800) -> dict[str, dict[str, int]]:
    """Return each module's own cells (submodule instances included, by module name).

    Raises
    ------
    ToolMissingError
        If Yosys is not installed.
    SynthesisError
        If Yosys fails.
    """
    target = get_fabric(fabric)
    # without the top attribute, Yosys 0.23's stat -json prints no hierarchy text into it
    text = run_yosys(verilog, top, fabric,
                     f"{target.synth_script(top, dsp=dsp, flatten=False)}; "
                     "setattr -mod -unset top", "stat -json", timeout=timeout)
    # Yosys 0.23 leaves a comma before the closing brace of "modules"
    stats = json.loads(_TRAILING_COMMA.sub(r"\1", text))
    return {name.lstrip("\\"): dict(module["num_cells_by_type"])
            for name, module in stats["modules"].items()}


def total_cells(name: str, modules: dict[str, dict[str, int]],
                memo: dict[str, dict[str, int]] | None = None) -> dict[str, int]:
    """Return the cells of module ``name`` and of every module below it, each instance
    counted (``modules`` as :func:`module_cells` returns them; ``memo`` caches per module)."""
    memo = {} if memo is None else memo
    if name not in memo:
        total: dict[str, int] = {}
        for cell, count in modules[name].items():
            inner = total_cells(cell, modules, memo) if cell in modules else {cell: 1}
            for kind, number in inner.items():
                total[kind] = total.get(kind, 0) + count * number
        memo[name] = total
    return memo[name]


def resource_breakdown(verilog: str | os.PathLike, top: str, fabric: str,
                       dsp: bool = True) -> dict:
    """Return the resources of every layer of ``top`` and of each part of every layer.

    Returns
    -------
    dict
        ``{"fabric", "total": counts, "units": {unit: {"total": counts, "parts": {part:
        counts}}}}`` where a unit is a direct submodule of the top (a layer, the argmax) and
        counts are the fabric's resource classes (``lut``, ``ff``, ``carry``, ``bram``, ``dsp``,
        ...), LUTs of carry cells included as in :func:`~.synth.synthesize`.
    """
    target = get_fabric(fabric)
    modules = module_cells(verilog, top, fabric, dsp)
    memo: dict[str, dict[str, int]] = {}

    def counts(cells: dict[str, int]) -> dict[str, int]:
        return target.count(cells)

    units = {}
    for unit in sorted(name for name in modules if name.count(".") == 1
                       and name.startswith(f"{top}.")):
        parts: dict[str, dict[str, int]] = {}
        for name in modules:
            if name != unit and not name.startswith(f"{unit}."):
                continue
            part = ".".join(_INSTANCE.sub("", piece) for piece in name[len(unit) + 1:].split("."))
            own = {cell: count for cell, count in modules[name].items() if cell not in modules}
            merged = parts.setdefault(part or "(itself)", {})
            for cell, count in own.items():
                merged[cell] = merged.get(cell, 0) + count
        units[unit[len(top) + 1:]] = {
            "total": counts(total_cells(unit, modules, memo)),
            "parts": {part: counts(cells) for part, cells in sorted(parts.items())
                      if any(counts(cells).values())}}
    own_top = {cell: count for cell, count in modules[top].items() if cell not in modules}
    return {"fabric": fabric, "total": counts(total_cells(top, modules, memo)),
            "top_logic": counts(own_top), "units": units}
