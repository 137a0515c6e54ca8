"""Fmax of a dot-product unit on iCE40 UP5K: Yosys, then nextpnr-ice40 place and route.

The unit sits between registers: its ``x`` and ``w`` come from a shift register loaded through
one pin, and its count is captured in a register that shifts out through another pin. The
design thus fits the UP5K's few pins, every path of the unit runs register to register, and no
logic can be optimized away. Fmax is nextpnr's figure for the one clock, read from its
``--report`` JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..cores.xnor_dot import XnorDot
from ..tools.fabrics import ICE40
from ..tools.files import write_atomic
from ..tools.toolchain import find_tool
from .xnor_popcount import (ConstantXnorPopcount, PipelinedXnorPopcount, constant_weights,
                            latency, xnor_unit)

__all__ = ["TimingError", "TimingHarness", "ice40_fmax", "add_fmax", "timed_units"]

_UNITS = (XnorDot, PipelinedXnorPopcount, ConstantXnorPopcount)


class TimingError(RuntimeError):
    """Yosys or nextpnr failed; the message holds the end of the log."""


class TimingHarness(wiring.Component):
    """Registered inputs and outputs around an XNOR-popcount unit, with two data pins.

    Parameters
    ----------
    unit : XnorDot, PipelinedXnorPopcount or ConstantXnorPopcount
        The unit under test (see :func:`~qnnforge.hw.explore.xnor_popcount.xnor_unit`).

    Attributes
    ----------
    din : In(1)
        Serial input of the operand shift register.
    dout : Out(1)
        Serial output of the count register.

    Raises
    ------
    TypeError
        If ``unit`` is not an XNOR-popcount unit.
    """

    def __init__(self, unit: wiring.Component):
        if not isinstance(unit, _UNITS):
            raise TypeError(f"unit must be an XNOR-popcount unit, not {unit!r}")
        self._unit = unit
        super().__init__({"din": In(1), "dout": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = unit = self._unit
        operands = [unit.x] + ([unit.w] if hasattr(unit, "w") else [])
        shift = Signal(sum(len(o) for o in operands))
        m.d.sync += shift.eq(Cat(self.din, shift[:-1]))
        offset = 0
        for operand in operands:
            m.d.comb += operand.eq(shift[offset:offset + len(operand)])
            offset += len(operand)
        captured = Signal(len(unit.count))
        m.d.sync += captured.eq(Cat(captured[1:], 0))
        load = Signal()
        m.d.sync += load.eq(self.din)  # an input pin decides when to load, so nothing is constant
        with m.If(load):
            m.d.sync += captured.eq(unit.count)
        m.d.comb += self.dout.eq(captured[0])
        return m


def ice40_fmax(unit: wiring.Component, *, workdir: str | os.PathLike | None = None,
               seed: int = 1, timeout: float = 1800) -> dict:
    """Place and route ``unit`` (in :class:`TimingHarness`) on a UP5K; return its figures.

    Returns
    -------
    dict
        ``fmax_mhz`` (nextpnr's achieved frequency), ``logic_cells`` (placed logic cells of the
        whole harness) and ``latency``.

    Raises
    ------
    ToolMissingError
        If Yosys or nextpnr-ice40 is missing.
    TimingError
        If either fails.
    """
    from amaranth.back import verilog

    program, *device = ICE40.nextpnr
    yosys, nextpnr = find_tool("yosys"), find_tool(program)
    with tempfile.TemporaryDirectory(prefix="qnnforge-timing-") as scratch:
        work = Path(workdir) if workdir is not None else Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        source = work / "timing.v"
        write_atomic(source, verilog.convert(TimingHarness(unit), name="timing_top",
                                             emit_src=False))
        netlist, report = work / "timing.json", work / "report.json"
        _run([yosys, "-q", "-l", str(work / "yosys.log"), "-p",
              f"read_verilog -sv {source}; {ICE40.synth.format(top='timing_top')} "
              f"-json {netlist}"],
             work / "yosys.log", timeout)
        _run([nextpnr, *device, "--json", str(netlist), "--report",
              str(report), "--freq", "12", "--seed", str(seed), "--timing-allow-fail",
              "--log", str(work / "nextpnr.log"), "--quiet"], work / "nextpnr.log", timeout)
        data = json.loads(report.read_text())
    fmax = min(entry["achieved"] for entry in data["fmax"].values())
    cells = data.get("utilization", {})
    used = {name: cells.get(name, {}).get("used", 0) for name in ("ICESTORM_LC",)}
    return {"fmax_mhz": round(fmax, 2), "logic_cells": used["ICESTORM_LC"],
            "latency": latency(unit)}


def _run(command: list[str], log: Path, timeout: float) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                            check=False)
    if result.returncode != 0:
        text = log.read_text(errors="replace") if log.exists() else result.stderr
        tail = "\n".join(text.splitlines()[-20:])
        raise TimingError(f"{Path(command[0]).name} failed (exit {result.returncode}):\n{tail}")


def add_fmax(records: list[dict], progress: Callable[[], None] | None = None) -> None:
    """Add ``fmax_mhz`` to the iCE40 1-bit dot-product records of a sweep, in place.

    Each lane count and architecture is placed and routed once (:func:`ice40_fmax`);
    ``progress()`` is called after each.
    """
    done: dict[tuple, float] = {}
    for key in timed_units(records):
        lanes, architecture = key
        unit = xnor_unit(lanes, architecture, lut_inputs=ICE40.lut_inputs,
                         weights=(constant_weights(lanes) if architecture == "constant"
                                  else None))
        done[key] = ice40_fmax(unit)["fmax_mhz"]
        if progress is not None:
            progress()
    for record in records:
        key = (record["lanes"], record["architecture"])
        if _timed(record) and key in done:
            record["fmax_mhz"] = done[key]


def _timed(record: dict) -> bool:
    return ((record["fabric"], record["precision"], record["kind"]) == (ICE40.name, "1", "dot")
            and "error" not in record)


def timed_units(records: list[dict]) -> list[tuple[int, str]]:
    """Return the ``(lanes, architecture)`` pairs :func:`add_fmax` places and routes."""
    return sorted({(r["lanes"], r["architecture"]) for r in records if _timed(r)})
