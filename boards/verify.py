"""Simulate the whole board design through its serial pins against the reference model.

:func:`verify_board` turns the :class:`~.top.UartAccelerator` for an artifact into Verilog,
builds it once with Verilator, and runs :mod:`qnnforge.boards.board_tb`: every image as a
request frame, then malformed requests each followed by a good one. The testbench learns the
score width of the responses from the design's interface.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from amaranth.back import verilog

from ..hw.compiler.folding import Folding
from ..hw.compiler.options import HardwareOptions
from ..hw.compiler.plan import cycle_model
from ..hw.tools.files import save_npz_atomic, write_atomic
from ..sim.runner import SimulationFailed, build_design
from ..sw import reference
from ..sw.artifact import Artifact
from .protocol import request_length
from .top import UartAccelerator, quiet_cycles

__all__ = ["BOARD_SIM_TOP", "SIM_DIVISOR", "BoardSimResult", "board_verilog", "verify_board"]

BOARD_SIM_TOP = "qnnforge_board"
SIM_DIVISOR = 4
"""Cycles per UART bit in simulation: the fastest the receiver allows, to keep runs short."""
SIM_QUIET_BYTES = 4


@dataclass(frozen=True)
class BoardSimResult:
    """What the board simulation saw."""

    requests: int
    classes: np.ndarray
    cycles: float
    malformed_cases: tuple[str, ...]
    malformed_statuses: tuple[str, ...]


def board_verilog(core: UartAccelerator, path: str | os.PathLike,
                  top: str = BOARD_SIM_TOP) -> Path:
    """Write the Verilog of ``core`` (ports ``clk``, ``rst``, ``rx``, ``tx``, LEDs) to ``path``."""
    path = Path(path)
    write_atomic(path, verilog.convert(core, name=top, emit_src=False))
    return path


def verify_board(artifact: Artifact, folding: Folding, codes: np.ndarray,
                 work_dir: str | os.PathLike, *, divisor: int | None = None,
                 options: HardwareOptions = HardwareOptions()) -> BoardSimResult:
    """Simulate the board design on quantized images ``codes``; compare with the reference.

    Parameters
    ----------
    divisor : int, optional
        Cycles per UART bit. By default the fastest line the accelerator keeps up with:
        :data:`SIM_DIVISOR`, or slower if a request would take fewer cycles on the wire than
        one inference (requests then queue up and get ``BUSY``, which a real board at 115200
        baud never sees: there a request takes some 70,000 cycles).
    options : HardwareOptions
        How the accelerator is built (pass a board's ``HardwareOptions.for_fabric`` to simulate
        exactly what its build places).

    Raises
    ------
    ValueError
        If ``codes`` does not hold at least one image of the artifact's input size.
    SimulationFailed
        If a response is missing, malformed or differs from the reference, or a malformed
        request is not answered with its error.
    """
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[0] < 1 or codes.shape[1] != artifact.in_features:
        raise ValueError(f"codes must have shape (n, {artifact.in_features}) with n >= 1, "
                         f"not {codes.shape}")
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    timing = cycle_model(artifact.layers, folding, options)
    if divisor is None:
        bits = 10 * request_length(artifact.in_features)
        divisor = max(SIM_DIVISOR, -(-timing.interval // bits) + 1)
    quiet = quiet_cycles(divisor, SIM_QUIET_BYTES)
    core = UartAccelerator(artifact, folding, divisor, options=options, quiet=quiet,
                           led_cycles=8)
    trace = reference.run(artifact, codes)
    vectors = work_dir / "board_vectors.npz"
    save_npz_atomic(vectors, input_codes=codes, classes=trace.classes, scores=trace.scores)
    results = {key: str(work_dir / f"board-{key}.json") for key in ("images", "malformed")}
    for path in results.values():
        Path(path).unlink(missing_ok=True)
    request_cycles = 10 * divisor * request_length(artifact.in_features)
    interface = core.interface
    config = {
        "vectors": str(vectors), "results": results, "divisor": divisor, "quiet": quiet,
        "classes": interface.classes, "input_bits": interface.input.element.bits,
        "score_bits": interface.score_bits,
        # after the last request: its response, plus slack for the pipeline
        "response_budget": 4 * request_cycles + 10_000 + timing.latency,
    }
    built = build_design(board_verilog(core, work_dir / f"{BOARD_SIM_TOP}.v"), BOARD_SIM_TOP)
    try:
        built.run("qnnforge.boards.board_tb", config, name="board")
    except SimulationFailed as failure:
        details = [error for path in results.values() if Path(path).exists()
                   for error in json.loads(Path(path).read_text())["errors"]]
        raise SimulationFailed("; ".join(details) or str(failure)) from None
    images = json.loads(Path(results["images"]).read_text())
    malformed = json.loads(Path(results["malformed"]).read_text())
    return BoardSimResult(requests=images["requests"],
                          classes=np.array(images["classes"], dtype=np.int64),
                          cycles=images["cycles"], malformed_cases=tuple(malformed["cases"]),
                          malformed_statuses=tuple(malformed["responses"]))
