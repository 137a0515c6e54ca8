"""``qnnforge build``: the board design for an artifact; a bitstream where the tools run here."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..console import console, key_value_table, step
from ..options import fold_overrides


def register(subparsers) -> None:
    from ..boards.platforms import BOARDS
    from ..boards.top import DEFAULT_BAUD
    from ..hw.cores.xnor_dot import POPCOUNTS

    parser = subparsers.add_parser(
        "build", help="build the UART board design: iCEBreaker bitstream, or files and script",
        description="Place the accelerator for ARTIFACT behind a UART on an FPGA board. For "
                    "icebreaker, run Yosys, nextpnr-ice40 and icepack to a bitstream and report "
                    "utilization and Fmax; for the other boards write Verilog, the pin "
                    "constraints and the board's build script, and estimate resources with "
                    "Yosys. Writes OUT/report.json.")
    parser.add_argument("artifact", type=Path, help="model artifact directory")
    parser.add_argument("--board", required=True, choices=sorted(BOARDS), help="target board")
    parser.add_argument("--out", type=Path, default=None,
                        help="output directory (default: build/BOARD)")
    parser.add_argument("--clock-mhz", type=float, default=None,
                        help="clock to run at, made by a PLL (default: the board oscillator)")
    parser.add_argument("--baud", type=int, default=DEFAULT_BAUD,
                        help="UART baud rate (default: %(default)s)")
    parser.add_argument("--no-run", action="store_true",
                        help="only write the files; run no place and route")
    parser.add_argument("--no-estimate", action="store_true",
                        help="skip the Yosys resource estimate for boards built elsewhere")
    parser.add_argument("--seed", type=int, default=1, help="nextpnr placer seed")
    group = parser.add_argument_group("folding")
    group.add_argument("--target-cycles", type=int, default=None,
                       help="cycles per inference the folding aims for (default: the board's, "
                            "512 for icebreaker so the design fits the UP5K, 128 elsewhere)")
    group.add_argument("--fold", action="append", default=[], metavar="LAYER:PExSIMD",
                       help="set one layer's folding, e.g. --fold 1:8x16 (repeatable)")
    group = parser.add_argument_group("hardware (the LUT size is the board's)")
    group.add_argument("--no-dsp", dest="dsp", action="store_false",
                       help="build fixed-point multipliers from LUTs instead of DSP blocks")
    group.add_argument("--popcount", choices=tuple(POPCOUNTS), default="adder_tree",
                       help="popcount of XNOR layers (default: %(default)s)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..boards.build import BoardBuildError, build_board
    from ..boards.platforms import get_board
    from ..hw.compiler.options import HardwareOptions
    from ..sw.artifact import load_artifact

    board = get_board(args.board)
    overrides = fold_overrides(args.fold)
    options = HardwareOptions.for_fabric(board.fabric, dsp=args.dsp, popcount=args.popcount)
    artifact = load_artifact(args.artifact)
    out = args.out or Path("build") / board.name
    runs_here = board.flow == "icestorm" and not args.no_run
    what = "yosys + nextpnr-ice40 + icepack" if runs_here else "Verilog, constraints, script"
    try:
        with step(f"{board.name}: {what}"):
            result = build_board(
                artifact, board, out, target_cycles=args.target_cycles,
                overrides=overrides,
                clock_hz=None if args.clock_mhz is None else args.clock_mhz * 1e6,
                baud=args.baud, run=not args.no_run, estimate=not args.no_estimate,
                seed=args.seed, options=options)
    except BoardBuildError as error:
        print(f"qnnforge: error: {error}", file=sys.stderr)
        return 1
    report = result.report
    rows = [("device", f"{report['device']} ({report['package']})"),
            ("clock", f"{report['clock_mhz']} MHz"),
            ("cycles/inference", report["cycles_per_inference"]),
            ("inferences/s (accelerator)",
             f"{report['inferences_per_second']['accelerator']:,.0f}"),
            (f"inferences/s (UART {report['baud']} baud)",
             f"{report['inferences_per_second']['uart']:,.1f}")]
    if "fmax_mhz" in report:
        rows[2:2] = [("Fmax", f"{report['fmax_mhz']} MHz (clock {report['clock_mhz']} MHz)"),
                     ("logic cells", f"{report['lc']} / {report['lc_total']}"),
                     ("block RAMs", f"{report['bram']} / {report['bram_total']}"),
                     ("DSPs", f"{report['dsp']} / {report['dsp_total']}")]
    elif "yosys_estimate" in report:
        estimate = report["yosys_estimate"]
        rows.append(("Yosys estimate", f"{estimate['lut']} LUT, {estimate['ff']} FF, "
                                       f"{estimate['bram']} BRAM, {estimate['dsp']} DSP"))
    if "place_and_route" in report:
        rows.append(("place and route", report["place_and_route"]))
    console.print(key_value_table(f"qnnforge build --board {board.name}", rows))
    for label, path in (("bitstream", report.get("bitstream")),
                        ("constraints", report["files"]["constraints"]),
                        ("build script", report["files"]["script"]),
                        ("report", str(out / "report.json"))):
        if path is not None:
            console.print(f"{label}: {path}")
    return 0
