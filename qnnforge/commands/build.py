"""``qnnforge build``: the board design for an artifact; a bitstream where the tools run here."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..console import console, key_value_table, step
from ..errors import UsageError, usage_errors
from ..options import (PIPELINE_HELP, WRITABLE_WEIGHTS_HELP, fold_overrides,
                       non_negative_integer, positive_integer, positive_number)


def register(subparsers) -> None:
    from ..boards.platforms import BOARDS
    from ..boards.top import DEFAULT_BAUD
    from ..hw.cores.xnor_dot import POPCOUNTS

    parser = subparsers.add_parser(
        "build", help="build the UART board design: a bitstream (iCEBreaker, ULX3S), or files "
                      "and script",
        description="Place the accelerator for ARTIFACT behind a UART on an FPGA board. For "
                    "icebreaker (Yosys, nextpnr-ice40, icepack) and ulx3s-85f (Yosys, "
                    "nextpnr-ecp5, ecppack), run the flow to a bitstream and report utilization "
                    "and Fmax; for arty-a7-35 write Verilog, the pin constraints and the Vivado "
                    "build script, and estimate resources with Yosys. Writes OUT/report.json.")
    parser.add_argument("artifact", type=Path, help="model artifact directory")
    parser.add_argument("--board", required=True, choices=sorted(BOARDS), help="target board")
    parser.add_argument("--out", type=Path, default=None,
                        help="output directory (default: build/BOARD)")
    parser.add_argument("--clock-mhz", type=positive_number, default=None,
                        help="clock to run at, made by a PLL (default: the board's: 50.25 MHz on "
                             "icebreaker for an MLP, else the board oscillator)")
    parser.add_argument("--baud", type=positive_integer, default=DEFAULT_BAUD,
                        help="UART baud rate (default: %(default)s)")
    parser.add_argument("--no-run", action="store_true",
                        help="only write the files; run no place and route")
    parser.add_argument("--no-estimate", action="store_true",
                        help="skip the Yosys resource estimate for boards built elsewhere")
    parser.add_argument("--seed", type=int, default=1, help="nextpnr placer seed")
    parser.add_argument("--simulate", type=int, default=0, metavar="N",
                        help="then simulate the whole board design (UART in and out) in "
                             "Verilator on the first N held-out digits and record the result "
                             "in report.json (fails on any disagreement with the reference)")
    group = parser.add_argument_group("folding")
    group.add_argument("--target-cycles", type=positive_integer, default=None,
                       help="cycles per inference the folding aims for (default: the board's; "
                            "for icebreaker 128 for an MLP and 8192 for a CNN so the design "
                            "fits the UP5K, elsewhere 128 and 1024)")
    group.add_argument("--fold", action="append", default=[], metavar="LAYER:PExSIMD",
                       help="set one layer's folding, e.g. --fold 1:8x16 (repeatable)")
    group = parser.add_argument_group("hardware (the LUT size is the board's)")
    group.add_argument("--no-dsp", dest="dsp", action="store_false",
                       help="build fixed-point multipliers from LUTs instead of DSP blocks")
    group.add_argument("--popcount", choices=tuple(POPCOUNTS), default="adder_tree",
                       help="popcount of XNOR layers, a binary first layer too (default: "
                            "%(default)s)")
    group.add_argument("--pipeline", type=non_negative_integer, default=None, metavar="LEVELS",
                       help=PIPELINE_HELP + " (default: the board fabric's, 1 on iCE40, 4 on "
                                            "ECP5)")
    group.add_argument("--block-rom-words", type=positive_integer, default=None,
                       metavar="WORDS",
                       help="ask for block RAM for every weight memory of at least WORDS words "
                            "(default: the board fabric's, 128 on Xilinx 7-series, otherwise "
                            "left to synthesis)")
    group.add_argument("--writable-weights", action="store_true",
                       help=WRITABLE_WEIGHTS_HELP)
    parser.set_defaults(func=run)


def check_simulate(images: int) -> None:
    """Raise :class:`UsageError` unless ``images`` is 0 (no simulation) or a number of held-out
    digits there are."""
    from ..sw.data import load_digits_split

    held_out = len(load_digits_split().x_test)
    if not 0 <= images <= held_out:
        raise UsageError(f"simulate must lie in 1..{held_out}, not {images}")


def simulate_board(artifact, report: dict, images: int, work_dir: Path, options) -> dict:
    """Simulate the board design just built on the first ``images`` held-out digits
    (checked by :func:`check_simulate`).

    Raises
    ------
    SimulationFailed
        If a response differs from the reference (the run stops with that message).
    """
    from ..boards.verify import verify_board
    from ..hw.compiler.folding import Folding
    from ..sw import reference
    from ..sw.data import load_digits_split
    from .verify import held_out_codes

    split = load_digits_split()
    folding = Folding.from_json(report["folding"])
    codes = held_out_codes(artifact, split.x_test[:images])
    with step(f"board simulation of {images} held-out digits"):
        result = verify_board(artifact, folding, codes, work_dir, options=options)
    expected = reference.run(artifact, codes).classes
    return {"images": result.requests, "agree": int(np.sum(result.classes == expected)),
            "accuracy": float(np.mean(result.classes == split.y_test[:images])),
            "malformed_requests_answered": len(result.malformed_statuses) // 2}


def run(args: argparse.Namespace) -> int:
    from ..boards.build import (BITSTREAM_FLOWS, CELL_NAMES, FLOW_TOOLS, NEXTPNR_CELLS,
                                BoardBuildError, board_clock, build_board)
    from ..boards.platforms import get_board
    from ..hw.compiler.options import HardwareOptions
    from ..sw.artifact import load_artifact
    from ..sw.files import output_lock

    board = get_board(args.board)
    overrides = fold_overrides(args.fold)
    check_simulate(args.simulate)
    clock_hz = None if args.clock_mhz is None else args.clock_mhz * 1e6
    with usage_errors():  # a clock no PLL makes, a baud rate the clock cannot
        board_clock(board, clock_hz, args.baud)
    options = HardwareOptions.for_fabric(board.fabric, dsp=args.dsp, popcount=args.popcount,
                                         pipeline=args.pipeline,
                                         block_rom_words=args.block_rom_words,
                                         writable_weights=args.writable_weights)
    out = args.out or Path("build") / board.name
    with output_lock(out):
        artifact = load_artifact(args.artifact)
        runs_here = board.flow in BITSTREAM_FLOWS and not args.no_run
        what = " + ".join(FLOW_TOOLS[board.flow]) if runs_here else "Verilog, constraints, script"
        try:
            with step(f"{board.name}: {what}"):
                result = build_board(
                    artifact, board, out, target_cycles=args.target_cycles,
                    overrides=overrides,
                    clock_hz=clock_hz,
                    baud=args.baud, run=not args.no_run, estimate=not args.no_estimate,
                    seed=args.seed, options=options)
        except BoardBuildError as error:
            print(f"qnnforge: error: {error}", file=sys.stderr)
            return 1
        report = result.report
        if args.simulate:
            from ..hw.tools.files import write_atomic
            from ..hw.tools.toolchain import run_environment

            report["board_simulation"] = simulate_board(artifact, report, args.simulate,
                                                        out / "board-sim", options)
            report["environment"] = run_environment(
                args.seed, [*report["environment"]["tools"], "verilator"])
            write_atomic(out / "report.json", json.dumps(report, indent=2) + "\n")
    rows = [("device", f"{report['device']} ({report['package']})"),
            ("clock", f"{report['clock_mhz']} MHz"),
            ("cycles/inference", report["cycles_per_inference"]),
            ("inferences/s (accelerator)",
             f"{report['inferences_per_second']['accelerator']:,.0f}"),
            (f"inferences/s (UART {report['baud']} baud)",
             f"{report['inferences_per_second']['uart']:,.1f}")]
    if "fmax_mhz" in report:
        rows[2:2] = [("Fmax", f"{report['fmax_mhz']} MHz (clock {report['clock_mhz']} MHz)"),
                     *((CELL_NAMES[key], f"{report[key]} / {report[f'{key}_total']}")
                       for key in NEXTPNR_CELLS[board.fabric])]
    elif "yosys_estimate" in report:
        estimate = report["yosys_estimate"]
        rows.append(("Yosys estimate", f"{estimate['lut']} LUT, {estimate['ff']} FF, "
                                       f"{estimate['bram']} BRAM, {estimate['dsp']} DSP"))
    if "board_simulation" in report:
        simulation = report["board_simulation"]
        rows.append(("board simulation (UART, Verilator)",
                     f"{simulation['agree']} / {simulation['images']} held-out digits agree "
                     f"with the reference"))
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
