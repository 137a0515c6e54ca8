"""``make bench-sfc``: FINN's SFC at four foldings, LUT against throughput, into
``bench/results/sfc.json`` and ``sfc.png``.

SFC is the small fully connected network of FINN's BNN-PYNQ examples, 784-256-256-256-10 with
binary weights and activations and a binary (``uint1``) input: 334,336 MACs per image. The
artifact has seeded random weights and thresholds calibrated on random images
(:func:`cnv.binary_dense_layers`, shared with FINN's CNV bench); each folding is generated with
``qnnforge generate``'s default folding for its cycle target and the compressor popcount sized
for LUT6, then synthesized with Yosys ``synth_xilinx`` (xc7) per distinct module
(:func:`~qnnforge.hw.tools.modules.synthesize_distinct`: identical dot units and thresholds
mapped once). Where asked, the design is verified bit-exactly in Verilator on random images.

The designs have runtime-writable weights (``HardwareOptions.writable_weights``: a weight
stream into every weight memory, as FINN's ``runtime_writeable_weights``), which on xc7 puts a
shallow weight memory into LUT RAM at half the LUTs of the ROM Yosys builds for constant
weights; the same folding with constant weights is synthesized too, in the same run, and kept
beside each point.

Each point: ``cycles_per_image`` (the design's interval), ``lut``, ``ff``, ``bram``,
``lut_per_mac_cycle`` (LUT per MAC/cycle: ``lut * cycles / MACs``), ``generate_s``,
``synth_s``, ``synth_status`` (``ok``, or ``timeout``/``failed`` with no counts),
``constant_weights`` (``lut``, ``lut_per_mac_cycle``, ``synth_s``, ``synth_status`` of the
constant-weight design) and ``verilator_mismatches`` where a Verilator run was done. FINN's SFC-max point (16.2 cycles per
image, 91,131 LUT) is drawn beside ours.

Run: ``python bench/sfc.py [--cycles 1024 256 ...] [--verify 1024 ...] [--synth-timeout S]``;
the points of foldings a run does not measure are kept from the output file, so foldings can be
measured one run at a time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from cnv import binary_dense_layers
from qnnforge.hw.compiler.generate import generate
from qnnforge.hw.compiler.options import HardwareOptions
from qnnforge.hw.tools.fabrics import get_fabric
from qnnforge.hw.tools.files import save_figure_atomic, write_atomic
from qnnforge.hw.tools.modules import synthesize_distinct
from qnnforge.hw.tools.synth import SynthesisError
from qnnforge.hw.tools.toolchain import tool_version
from qnnforge.sw.artifact import Artifact, InputQuantizer
from qnnforge.sw.encoding import uint

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BUILD = ROOT / "build" / "sfc"

WIDTHS = (784, 256, 256, 256, 10)
MACS_PER_IMAGE = sum(a * b for a, b in zip(WIDTHS[:-1], WIDTHS[1:]))
FOLDINGS = (1024, 256, 64, 16)
"""Cycles per image aimed for; 16 is FINN SFC-max's throughput."""
FINN_SFC_MAX = {"cycles_per_image": 16.2, "lut": 91131,
                "source": "FINN SFC-max (Umuroglu et al., FINN, FPGA 2017), as issue 14 quotes it"}
FABRIC = "xc7"
CALIBRATION_IMAGES = 64
POINT_KEYS = ("cycles_per_image", "lut", "lut_logic", "lut_memory", "ff", "bram",
              "lut_per_mac_cycle", "generate_s", "synth_s", "synth_status")


def sfc_artifact(seed: int = 0) -> Artifact:
    """Return SFC with random binary weights, a ``uint1`` input and calibrated thresholds."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, size=(CALIBRATION_IMAGES, WIDTHS[0]), dtype=np.int64)
    layers = binary_dense_layers(rng, x, WIDTHS[1:], uint(1))
    return Artifact("sfc-w1a1-random", InputQuantizer(uint(1), 0, 1, 1, 0), tuple(layers),
                    metadata={"seed": seed})


def lut_per_mac_cycle(lut: int, cycles_per_image: float) -> float:
    """Return LUTs per MAC a cycle: ``lut / (MACS_PER_IMAGE / cycles_per_image)``."""
    return round(lut * cycles_per_image / MACS_PER_IMAGE, 2)


def point(cycles: int, generate_s: float, synth_s: float, resources: dict | None,
          status: str, mismatches: int | None = None, constant: dict | None = None) -> dict:
    """Return one point of ``sfc.json``; ``resources`` (``lut``, ``ff``, ``bram``, and
    ``lut_logic``/``lut_memory`` of which ``lut`` is the sum) is None when synthesis did not
    finish, ``mismatches`` None when Verilator was not run, and ``constant`` (from
    :func:`constant_point`) None when the constant-weight design was not measured."""
    entry = {"cycles_per_image": cycles,
             **{key: None if resources is None else resources[key]
                for key in ("lut", "lut_logic", "lut_memory", "ff", "bram")},
             "lut_per_mac_cycle": None if resources is None
             else lut_per_mac_cycle(resources["lut"], cycles),
             "generate_s": round(generate_s, 1), "synth_s": round(synth_s, 1),
             "synth_status": status}
    if constant is not None:
        entry["constant_weights"] = constant
    if mismatches is not None:
        entry["verilator_mismatches"] = mismatches
    return entry


def constant_point(cycles: int, synth_s: float, lut: int | None, status: str) -> dict:
    """Return a point's ``constant_weights`` entry: the same folding with the weights as ROMs
    (``lut`` None when its synthesis did not finish)."""
    return {"lut": lut,
            "lut_per_mac_cycle": None if lut is None else lut_per_mac_cycle(lut, cycles),
            "synth_s": round(synth_s, 1), "synth_status": status}


def report(points: list[dict]) -> dict:
    """Return the ``sfc.json`` document of ``points`` (slowest folding first)."""
    return {"macs_per_image": MACS_PER_IMAGE,
            "points": sorted(points, key=lambda entry: -entry["cycles_per_image"]),
            "finn_sfc_max": FINN_SFC_MAX,
            "synthesis": f"{tool_version('yosys')}: synth_xilinx -family xc7, each distinct "
                         f"module once (hw/tools/modules.py); lut counts LUTs as logic (carry "
                         f"cells' included) and as distributed RAM (lut_memory), as Vivado's "
                         f"Slice LUTs do",
            "hardware": "compressor popcount for LUT6, default folding per cycle target, "
                        "runtime-writable weights (constant_weights: the same with ROMs)"}


def kept_points(path: Path, cycles: list[int]) -> list[dict]:
    """Return the points of ``path`` (if it exists) at foldings other than ``cycles``."""
    if not path.exists():
        return []
    return [entry for entry in json.loads(path.read_text())["points"]
            if entry["cycles_per_image"] not in cycles]


def _verify(artifact: Artifact, design, samples: int, seed: int) -> int:
    """Return the mismatches of a Verilator run on ``samples`` random images (full rate, then
    stalls and backpressure); a failed run counts every sample."""
    from qnnforge.sim.runner import SimulationFailed
    from qnnforge.sim.verify import verify_network
    codes = np.random.default_rng(seed + 1).integers(0, 2, size=(samples, WIDTHS[0]))
    try:
        result = verify_network(artifact, design, codes, design.verilog.parent / "verify")
    except SimulationFailed as failure:
        print(f"sfc: {failure}", flush=True)
        return samples
    return result.mismatches + result.stalled_mismatches


def _generate(artifact: Artifact, cycles: int, writable: bool = True):
    """Return SFC's design folded for ``cycles`` per image, with writable or constant weights,
    and the seconds it took."""
    options = HardwareOptions.for_fabric(FABRIC, popcount="compressor",
                                         writable_weights=writable)
    start = time.monotonic()
    folder = BUILD / (f"c{cycles}" if writable else f"c{cycles}-constant")
    design = generate(artifact, folder, target_cycles=cycles, options=options)
    return design, time.monotonic() - start


def _synthesize(design, synth_timeout: float) -> tuple[dict | None, str, float]:
    """Synthesize ``design`` per distinct module; return its counts (None unless it finished),
    status and seconds."""
    start = time.monotonic()
    try:
        resources, merged = synthesize_distinct(design.verilog, design.top, FABRIC,
                                                timeout=synth_timeout)
    except (subprocess.TimeoutExpired, SynthesisError) as error:
        status = "timeout" if isinstance(error, subprocess.TimeoutExpired) else "failed"
        counts = None
    else:
        memory = get_fabric(FABRIC).memory_luts(resources.cells)
        status = "ok"
        counts = {**resources.to_json(), "lut": resources.lut + memory,
                  "lut_logic": resources.lut, "lut_memory": memory}
        print(f"sfc: {merged.distinct} of {merged.modules} modules distinct", flush=True)
    return counts, status, time.monotonic() - start


def measure(artifact: Artifact, cycles: int, synth_timeout: float) -> tuple[dict, object]:
    """Generate and synthesize SFC folded for ``cycles`` per image, with writable weights and
    with constant ones; return its point and the (writable) design."""
    design, generate_s = _generate(artifact, cycles)
    interval = design.summary["cycles_per_inference"]
    print(f"sfc {cycles}: generated in {generate_s:.0f} s, {interval} cycles/image", flush=True)
    counts, status, synth_s = _synthesize(design, synth_timeout)
    print(f"sfc {cycles}: synthesis {status} in {synth_s:.0f} s"
          + (f", {counts['lut']} LUT" if counts else ""), flush=True)
    constant_design, _ = _generate(artifact, cycles, writable=False)
    constant, constant_status, constant_s = _synthesize(constant_design, synth_timeout)
    print(f"sfc {cycles}: constant weights, synthesis {constant_status} in {constant_s:.0f} s"
          + (f", {constant['lut']} LUT" if constant else ""), flush=True)
    return point(interval, generate_s, synth_s, counts, status,
                 constant=constant_point(interval, constant_s,
                                         constant and constant["lut"], constant_status)), design


def write_plot(document: dict, path: Path) -> None:
    """Plot LUT against cycles per image (log-log), ours and FINN SFC-max's, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    done = [entry for entry in document["points"] if entry["lut"] is not None]
    figure, axes = pyplot.subplots(figsize=(7, 4.5), dpi=120)
    axes.plot([entry["cycles_per_image"] for entry in done], [entry["lut"] for entry in done],
              marker="o", label="qnnforge, writable weights (Yosys synth_xilinx, xc7)")
    fixed = [entry for entry in done if (entry.get("constant_weights") or {}).get("lut")]
    axes.plot([entry["cycles_per_image"] for entry in fixed],
              [entry["constant_weights"]["lut"] for entry in fixed], marker="s",
              linestyle="--", label="qnnforge, constant weights (ROMs)")
    finn = document["finn_sfc_max"]
    axes.plot([finn["cycles_per_image"]], [finn["lut"]], marker="*", markersize=12,
              linestyle="none", label="FINN SFC-max")
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xlabel("cycles per image")
    axes.set_ylabel("LUT")
    axes.set_title(f"SFC (784-256-256-256-10, binary): {document['macs_per_image']:,} MACs/image")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    save_figure_atomic(path, figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, nargs="+", default=list(FOLDINGS),
                        help="cycle targets to measure (default: %(default)s)")
    parser.add_argument("--verify", type=int, nargs="*", default=[1024, 256, 16],
                        help="cycle targets also verified in Verilator (default: %(default)s)")
    parser.add_argument("--synth-timeout", type=float, default=1800,
                        help="seconds Yosys may take per folding (default: %(default)s)")
    parser.add_argument("--samples", type=int, default=3, help="random images to verify")
    parser.add_argument("--verify-only", action="store_true",
                        help="regenerate and verify the --cycles points already in --output, "
                             "keeping their synthesis figures")
    parser.add_argument("--output", type=Path, default=RESULTS / "sfc.json")
    args = parser.parse_args(argv)
    artifact = sfc_artifact()
    points = kept_points(args.output, args.cycles)
    measured = []

    def save() -> None:  # after every step: a long run keeps what it has
        document = report(points + measured)
        write_atomic(args.output, json.dumps(document, indent=2) + "\n")
        write_plot(document, args.output.with_suffix(".png"))

    if args.verify_only:
        points = json.loads(args.output.read_text())["points"]
        for entry in points:
            if entry["cycles_per_image"] in args.cycles:
                design, _ = _generate(artifact, entry["cycles_per_image"])
                entry["verilator_mismatches"] = _verify(artifact, design, args.samples, 0)
                save()
        return 0 if all(entry.get("verilator_mismatches", 0) == 0 for entry in points) else 1
    for cycles in args.cycles:
        entry, design = measure(artifact, cycles, args.synth_timeout)
        measured.append(entry)
        save()
        if cycles in args.verify:
            entry["verilator_mismatches"] = _verify(artifact, design, args.samples, 0)
            save()
    return 0 if all(entry.get("verilator_mismatches", 0) == 0 for entry in measured) else 1


if __name__ == "__main__":
    sys.exit(main())
