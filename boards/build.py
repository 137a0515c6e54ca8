"""Board builds: bitstreams for the iCEBreaker and the ULX3S, Verilog, constraints and scripts.

``build_board`` places :class:`~.top.UartAccelerator` on the board's amaranth-boards platform
and writes the platform's build plan into the output directory: the design (RTLIL and Verilog),
the pin constraints (PCF, LPF or XDC) and ``build_<name>.sh`` for the board's usual flow.

* ``icestorm`` (iCEBreaker): the script runs here (Yosys, nextpnr-ice40, icepack).
* ``trellis`` (ULX3S): the script runs here (Yosys, nextpnr-ecp5, ecppack; the last two are
  the YoWASP wheel's WebAssembly builds where no native ones are installed, see
  :func:`~qnnforge.hw.tools.toolchain.find_tool`).
* ``vivado`` (Arty A7): the script needs Vivado, which is never run here.

Where the script runs, the report takes the fabric's cells (logic, block RAMs, DSPs) and the Fmax
nextpnr achieved from nextpnr's JSON report (:func:`parse_nextpnr_report`, one parser for both
fabrics); the build fails if the design does not fit or Fmax is below the clock. The script
itself reads the tools from ``$YOSYS``, ``$NEXTPNR_ECP5``... and defaults to the native names,
so it runs unchanged where the native tools are installed.

For boards whose flow cannot run here, Yosys still synthesizes the Verilog for the board's fabric
(unless ``estimate=False``), so the report holds resource counts of the board core (everything
but the I/O buffers and clocking) before place and route.

The accelerator is built with the :class:`~qnnforge.hw.compiler.options.HardwareOptions` of the
board's fabric (its LUT size sizes the compressor popcount) unless the caller passes others.
Beside the report, ``design.json`` holds the accelerator's summary as ``qnnforge generate`` writes
it: cycle model, options and the design interface (:mod:`qnnforge.hw.compiler.interface`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import verilog

from ..hw.compiler.folding import Folding, LayerFolding
from ..hw.compiler.generate import design_summary
from ..hw.compiler.options import HardwareOptions
from ..hw.compiler.plan import default_folding
from ..hw.tools.files import write_atomic
from ..hw.tools.synth import SynthesisError, synthesize
from ..hw.tools.toolchain import find_tool, run_environment
from ..sw.artifact import Artifact
from ..sw.errors import QnnforgeError
from .clocking import PLL_SOLVERS, Pll
from .platforms import Board
from .protocol import Status, request_length, response_length
from .top import DEFAULT_BAUD, BoardTop, UartAccelerator
from .uart import baud_divisor

__all__ = ["BITSTREAM_FLOWS", "BoardBuildError", "BoardBuild", "CELL_NAMES", "FLOW_TOOLS",
           "NEXTPNR_CELLS", "build_board", "fit_overflow", "parse_nextpnr_report"]

FLOW_TOOLS = {"icestorm": ("yosys", "nextpnr-ice40", "icepack"),
              "trellis": ("yosys", "nextpnr-ecp5", "ecppack"),
              "vivado": ("vivado",)}
"""Tools each flow's build script runs."""

_PACKERS = ("icepack", "ecppack")
"""Bitstream packers of :data:`FLOW_TOOLS`: they print no version, so a report names none."""

BITSTREAM_FLOWS = {"icestorm": ("asc", "bin"), "trellis": ("config", "bit")}
"""Flows whose script runs here -> extensions of nextpnr's placed design and of the bitstream."""

NEXTPNR_CELLS = {
    "ice40": {"lc": "ICESTORM_LC", "bram": "ICESTORM_RAM", "dsp": "ICESTORM_DSP"},
    "ecp5": {"lut": "TRELLIS_COMB", "ff": "TRELLIS_FF", "bram": "DP16KD", "dsp": "MULT18X18D"},
}
"""Fabric -> report key -> the nextpnr cell type it counts; the first is the fabric's logic.

An ECP5 ``TRELLIS_COMB`` is one LUT4 (with its carry), so ``lut_total`` is the 83,640 LUT4s of
the LFE5U-85F; ``ff`` counts ``TRELLIS_FF``.
"""

CELL_NAMES = {"lc": "logic cells", "lut": "LUT4s", "ff": "flip-flops", "bram": "block RAMs",
              "dsp": "DSPs"}
"""Report key -> what it counts, in words."""


class BoardBuildError(QnnforgeError, RuntimeError):
    """Place and route failed, the design did not fit, or it missed its clock."""


@dataclass(frozen=True)
class BoardBuild:
    """What a board build wrote: the output directory, its main files and the report."""

    out_dir: Path
    name: str
    report: dict

    @property
    def bitstream(self) -> Path | None:
        path = self.report.get("bitstream")
        return None if path is None else Path(path)


def parse_nextpnr_report(report: dict, clock_mhz: float, fabric: str) -> dict:
    """Return the utilization and Fmax in a nextpnr ``--report`` JSON for ``fabric``.

    The keys are those of ``NEXTPNR_CELLS[fabric]`` (each with its ``_total``), ``fmax_mhz``,
    ``clock_mhz`` and ``timing_met``. Fmax is the lowest over the design's clocks (there is
    one: ``sync``).

    Raises
    ------
    BoardBuildError
        If the report has no utilization or no clock.
    """
    cells = NEXTPNR_CELLS[fabric]
    utilization = report.get("utilization", {})
    fmax = report.get("fmax", {})
    if next(iter(cells.values())) not in utilization or not fmax:
        raise BoardBuildError("nextpnr's report has no logic-cell utilization or no clock")
    result = {}
    for key, cell in cells.items():
        entry = utilization.get(cell, {"used": 0, "available": 0})
        result[key], result[f"{key}_total"] = entry["used"], entry["available"]
    result["fmax_mhz"] = round(min(entry["achieved"] for entry in fmax.values()), 2)
    result["clock_mhz"] = round(clock_mhz, 3)
    result["timing_met"] = result["fmax_mhz"] >= clock_mhz
    return result


def fit_overflow(log: str, fabric: str) -> tuple[str, int, int] | None:
    """Return (report key, used, available) of the first of ``fabric``'s cells that a nextpnr
    log shows more of used than exist, or None."""
    for key, cell in NEXTPNR_CELLS[fabric].items():
        match = re.search(rf"{cell}:\s*(\d+)/\s*(\d+)", log)
        if match is not None and int(match[1]) > int(match[2]):
            return key, int(match[1]), int(match[2])
    return None


def _tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _run_flow(out_dir: Path, name: str, board: Board, timeout: float) -> dict:
    """Run the board's build script with the tools :func:`find_tool` finds; return nextpnr's
    report."""
    tools = FLOW_TOOLS[board.flow]
    # the script runs "$NEXTPNR_ECP5" etc., defaulting to the native names
    env = {**os.environ, **{tool.upper().replace("-", "_"): find_tool(tool) for tool in tools}}
    script = out_dir / f"build_{name}.sh"
    placed, bitstream = (out_dir / f"{name}.{ext}" for ext in BITSTREAM_FLOWS[board.flow])
    # an earlier build's outputs would tell the wrong stage apart on failure
    for stale in (out_dir / f"{name}.tim", out_dir / f"{name}.report.json", placed, bitstream):
        stale.unlink(missing_ok=True)
    try:
        result = subprocess.run(["sh", script.name], cwd=out_dir, capture_output=True,
                                text=True, timeout=timeout, check=False, env=env)
    except subprocess.TimeoutExpired:
        raise BoardBuildError(f"{script} ran longer than {timeout:g} s") from None
    if result.returncode != 0 and placed.exists():
        raise BoardBuildError(f"{tools[2]} (bitstream) failed for {name} (exit "
                              f"{result.returncode}):\n{result.stderr.strip()[-2000:]}")
    if result.returncode != 0:
        for log, stage in ((out_dir / f"{name}.tim", f"{tools[1]} (place and route)"),
                           (out_dir / f"{name}.rpt", "yosys (synthesis)")):
            if log.exists():
                break
        overflow = (fit_overflow(log.read_text(errors="replace"), board.fabric)
                    if log.exists() else None)
        if overflow is not None:
            key, used, available = overflow
            reason = (f"the design needs {used} of the device's {available} {CELL_NAMES[key]}; "
                      f"raise --target-cycles")
        elif log.suffix == ".tim":
            reason = "the design may not fit the device"
        else:
            reason = "synthesis failed"
        raise BoardBuildError(f"{stage} failed for {name} (exit {result.returncode}): {reason}. "
                              f"End of {log.name}:\n{_tail(log)}\n"
                              f"{result.stderr.strip()[-2000:]}")
    return json.loads((out_dir / f"{name}.report.json").read_text())


def _estimate(core: UartAccelerator, board: Board, out_dir: Path, top: str) -> dict:
    """Synthesize the board core with Yosys for ``board``'s fabric; return its cell counts.

    The core leaves out the platform's I/O buffers and clocking, whose vendor primitives older
    Yosys releases do not model; they take a handful of cells.
    """
    path = out_dir / f"{top}.v"
    write_atomic(path, verilog.convert(core, name=top, emit_src=False))
    try:
        resources = synthesize(path, top, board.fabric, log=out_dir / f"{top}.yosys.log")
    except SynthesisError as error:
        raise BoardBuildError(str(error)) from None
    return {"top": top, **{key: value for key, value in resources.to_json().items()
                           if key != "cells"}}


def board_clock(board: Board, clock_hz: float | None,
                baud: int) -> tuple[float, Pll | None, int]:
    """Return ``(clock_hz, pll, divisor)``: the clock ``board`` runs at when ``clock_hz`` is
    asked for (its oscillator where None or within 1 Hz of it), the PLL that makes it (None for
    the oscillator) and the UART divisor of ``baud`` at that clock.

    Raises
    ------
    ValueError
        If the PLL cannot make the clock or the baud rate cannot be made from it.
    """
    oscillator = board.platform().default_clk_frequency
    pll = None
    if clock_hz is not None and abs(clock_hz - oscillator) > 1:
        pll = PLL_SOLVERS[board.fabric](oscillator, clock_hz)
    clock = oscillator if pll is None else pll.output_hz
    return clock, pll, baud_divisor(clock, baud)


def build_board(artifact: Artifact, board: Board, out_dir: str | os.PathLike, *,
                folding: Folding | None = None, target_cycles: int | None = None,
                overrides: dict[int, LayerFolding] | None = None,
                clock_hz: float | None = None, baud: int = DEFAULT_BAUD, run: bool = True,
                estimate: bool = True, seed: int = 1, timeout: float = 1800,
                options: HardwareOptions | None = None) -> BoardBuild:
    """Build ``artifact``'s board design for ``board`` into ``out_dir``.

    Writes ``report.json`` (board, clock, throughput, resources, options) and ``design.json``
    (the accelerator's summary with its interface).

    Parameters
    ----------
    folding : Folding, optional
        Exact folding; by default one from ``target_cycles`` (the board's default if None)
        and the per-layer ``overrides``.
    options : HardwareOptions, optional
        DSP use, popcount architecture and LUT size; by default
        ``HardwareOptions.for_fabric(board.fabric)``.
    clock_hz : float, optional
        Clock to run the design at; a PLL makes it when it differs from the oscillator. By
        default the board's for the network (:meth:`~.platforms.Board.clock_for`).
    baud : int
        UART rate.
    run : bool
        Run the build script of the iCEBreaker and ULX3S to a bitstream (and Vivado's where it
        is installed).
    estimate : bool
        Synthesize with Yosys for resource counts when the script does not run.

    Raises
    ------
    ValueError
        If the folding does not fit, the PLL cannot make the clock, or the baud rate cannot be
        made from it.
    ToolMissingError
        If a tool of the iCEBreaker or ULX3S flow (or Yosys, for an estimate) is missing.
    BoardBuildError
        If place and route fails (the design does not fit) or Fmax is below the clock; the
        report is written first.
    """
    out_dir = Path(out_dir)
    if options is None:
        options = HardwareOptions.for_fabric(board.fabric)
    elif not isinstance(options, HardwareOptions):
        raise TypeError(f"options must be a HardwareOptions, not {options!r}")
    if folding is None:
        target = target_cycles or board.target_for(artifact.layers)
        folding = default_folding(artifact.layers, target, overrides)
    platform = board.platform()
    oscillator = platform.default_clk_frequency
    if clock_hz is None:
        clock_hz = board.clock_for(artifact.layers)
    clock, pll, divisor = board_clock(board, clock_hz, baud)
    core = UartAccelerator(artifact, folding, divisor, options=options,
                           led_cycles=int(clock // 10))
    top = BoardTop(core, board.activity_led, board.fault_led, pll)
    name = f"qnnforge_{board.name.replace('-', '_')}"
    flow_options = {}
    nextpnr_opts = f"--report {name}.report.json --timing-allow-fail --seed {seed}"
    if board.flow == "icestorm":
        # Per-bit write enables of register files would each take a control set of their own
        # and overflow the PLBs; below 8 users an enable is folded into the LUT instead.
        flow_options["synth_opts"] = "-dffe_min_ce_use 8"
        flow_options["nextpnr_opts"] = nextpnr_opts
    elif board.flow == "trellis":
        # --freq: the target of a clock neither the LPF nor a PLL's derived constraint covers
        flow_options["nextpnr_opts"] = f"{nextpnr_opts} --freq {clock / 1e6:g}"
    plan = platform.build(top, name=name, build_dir=str(out_dir), do_build=False,
                          debug_verilog=True, **flow_options)
    plan.extract(out_dir)
    verilog_path = out_dir / f"{name}.v"
    if not verilog_path.exists():  # the open flows read RTLIL; keep plain Verilog beside it
        shutil.copyfile(out_dir / f"{name}.debug.v", verilog_path)

    summary = design_summary(core.network, name)
    summary.update(options.to_json())
    summary["interface"] = core.interface.to_json()
    write_atomic(out_dir / "design.json", json.dumps(summary, indent=2) + "\n")
    response_bytes = response_length(Status.OK, core.interface.classes, core.interface.score_bits)
    report = {
        "board": board.name, "device": platform.device, "package": platform.package,
        "flow": board.flow, "clock_mhz": round(clock / 1e6, 3),
        "oscillator_mhz": oscillator / 1e6,
        "pll": None if pll is None else {"family": pll.family, **pll.params},
        "baud": baud, "uart_divisor": core.divisor,
        "folding": folding.to_json(), "cycles_per_inference": summary["cycles_per_inference"],
        "latency_cycles": summary["latency_cycles"],
        "inferences_per_second": {
            "accelerator": round(clock / summary["cycles_per_inference"], 1),
            # the request is the longer of the two frames; 10 bits a byte
            "uart": round(baud / (10 * max(request_length(artifact.in_features),
                                           response_bytes)), 1)},
        "options": options.to_json(),
        "files": {"verilog": str(verilog_path), "design": str(out_dir / "design.json"),
                  "constraints": str(out_dir / f"{name}.{board.constraints}"),
                  "script": str(out_dir / f"build_{name}.sh")},
        "capacity": board.capacity,
    }
    tools = FLOW_TOOLS[board.flow]
    runs_here = run and board.flow in BITSTREAM_FLOWS
    if runs_here:
        nextpnr = _run_flow(out_dir, name, board, timeout)
        report.update(parse_nextpnr_report(nextpnr, clock / 1e6, board.fabric))
        report["bitstream"] = str(out_dir / f"{name}.{BITSTREAM_FLOWS[board.flow][1]}")
        report["place_and_route"] = "ran"
    elif run and all(shutil.which(tool) for tool in tools):
        subprocess.run(["sh", f"build_{name}.sh"], cwd=out_dir, check=True, timeout=timeout)
        report["place_and_route"] = "ran"
    else:
        missing = [tool for tool in tools if not shutil.which(tool)]
        report["place_and_route"] = (f"not run here: {', '.join(missing)} not installed"
                                     if run else "not run (disabled)")
        if estimate:
            report["yosys_estimate"] = _estimate(core, board, out_dir, f"{name}_core")
    used = [tool for tool in tools if tool not in _PACKERS] if runs_here else []
    report["environment"] = run_environment(
        seed, used + (["yosys"] if "yosys_estimate" in report else []))
    write_atomic(out_dir / "report.json", json.dumps(report, indent=2) + "\n")
    if runs_here and not report["timing_met"]:
        raise BoardBuildError(f"timing not met on {board.name}: Fmax {report['fmax_mhz']} MHz "
                              f"is below the {report['clock_mhz']} MHz clock (report: "
                              f"{out_dir / 'report.json'}); lower --clock-mhz or raise "
                              f"--target-cycles")
    return BoardBuild(out_dir, name, report)
