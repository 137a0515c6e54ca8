"""``make bench``: Brevitas models through ``qnnforge import``, into ``bench/results/qonnx.json``.

For each model: export it with ``brevitas.export.export_qonnx``, import it (timed), compare the
artifact's integer reference with QONNX's own executor (``execute_onnx``) on every input, class
and every quantized activation (the 360 held-out digits for the digits models, 1,000 random
inputs for FINN's BNN-PYNQ models; a disagreement counts as explained when the executor's value
sits within one float32 ulp of a threshold), generate the accelerator (timed, default folding)
and run it in Verilator against the reference (the digits models on every held-out digit, the
BNN-PYNQ models on a few random inputs: their Verilator builds take minutes).

Models: the Brevitas binary, ternary and 4-bit MLPs and the binary CNN with max-pool of the
tests (trained for seconds on the digits), and FINN's TFC, SFC and CNV at W1A1 with random
weights and batch-norm statistics (``brevitas_examples.bnn_pynq.models``).

Run: ``python bench/qonnx.py [--models NAME ...] [--samples N]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# this script's own directory comes first on the path, where its name would hide the qonnx
# package: replace it by the repository root (for the tests' Brevitas clients)
sys.path[:] = [str(ROOT)] + [entry for entry in sys.path
                             if Path(entry or ".").resolve() != ROOT / "bench"]

from qnnforge.hw.compiler.generate import generate  # noqa: E402
from qnnforge.hw.tools.files import write_atomic  # noqa: E402
from qnnforge.sim.runner import SimulationFailed  # noqa: E402
from qnnforge.sim.verify import verify_network  # noqa: E402
from qnnforge.sw.data import load_digits_split  # noqa: E402
from qnnforge.sw.qonnx.importer import import_qonnx  # noqa: E402
from tests.sw.qonnx.clients import (agreement, bnn_pynq, cnn, export, mlp,  # noqa: E402
                                    train)

RESULTS = ROOT / "bench" / "results"
BUILD = ROOT / "build" / "qonnx"
RANDOM_INPUTS = 1000

MODELS = {
    # name: (build the torch model, ONNX input shape, digits inputs?)
    "mlp-binary": (lambda split: _trained(mlp("binary", 0), split, 3, 0), (1, 64), True),
    "mlp-ternary": (lambda split: _trained(mlp("ternary", 1), split, 3, 1), (1, 64), True),
    "mlp-int4": (lambda split: _trained(mlp("int4", 2), split, 3, 2), (1, 64), True),
    "cnn-binary": (lambda split: _trained(cnn(5), split, 8, 5), (1, 1, 8, 8), True),
    "tfc-w1a1": (lambda split: bnn_pynq("tfc_1w1a", 0), (1, 1, 28, 28), False),
    "sfc-w1a1": (lambda split: bnn_pynq("sfc_1w1a", 0), (1, 1, 28, 28), False),
    "cnv-w1a1": (lambda split: bnn_pynq("cnv_1w1a", 0), (1, 3, 32, 32), False),
}


def _trained(model, split, epochs: int, seed: int):
    train(model, split, epochs=epochs, seed=seed)
    return model


def _precision(artifact) -> str:
    """Return the weight and activation encodings, e.g. ``W bipolar / A bipolar``."""
    weights = sorted({str(layer.weight_encoding) for layer in artifact.layers
                      if hasattr(layer, "weight_encoding")})
    activations = sorted({str(layer.output.encoding) for layer in artifact.layers
                          if layer.output is not None and layer.output.encoding is not None})
    return (f"input {artifact.input.encoding}, weights {'/'.join(weights)}, "
            f"activations {'/'.join(activations)}")


def measure(name: str, split, samples: int) -> dict:
    build, shape, digits = MODELS[name]
    out = BUILD / name
    out.mkdir(parents=True, exist_ok=True)
    path = export(build(split), shape, out / f"{name}.onnx")
    start = time.monotonic()
    artifact = import_qonnx(path)
    import_s = time.monotonic() - start
    if digits:
        x = split.x_test.reshape(-1, *shape[1:]).astype(np.float32)
    else:
        x = np.random.default_rng(0).uniform(0, 1, size=(RANDOM_INPUTS, *shape[1:]))
        x = x.astype(np.float32)
    compared = agreement(path, artifact, x)
    agreed = compared.classes
    start = time.monotonic()
    design = generate(artifact, out / "hw")
    generate_s = time.monotonic() - start
    verified = x if digits else x[:samples]
    start = time.monotonic()
    try:
        result = verify_network(artifact, design, artifact.input.quantize(verified), out / "sim")
        mismatches = result.mismatches + result.stalled_mismatches
    except SimulationFailed as failure:
        mismatches, result = None, str(failure)[:2000]
    figures = {
        "layers": len(artifact.layers),
        "ops": [layer.op for layer in artifact.layers],
        "precision": _precision(artifact),
        "inputs": "360 held-out digits" if digits else f"{RANDOM_INPUTS} random inputs",
        "agreement": agreed, "compared": len(x), "differing": compared.differing,
        "unexplained": compared.unexplained,
        "verilator_samples": len(verified), "mismatches": mismatches,
        "import_s": round(import_s, 2), "generate_s": round(generate_s, 2),
        "verilator_s": round(time.monotonic() - start, 1),
        "cycles_per_inference": design.summary["cycles_per_inference"],
    }
    if mismatches is None:
        figures["failure"] = result
    print(f"{name}: {figures['layers']} layers, agreement {agreed}/{len(x)}, "
          f"mismatches {mismatches}, import {import_s:.2f} s, generate {generate_s:.1f} s",
          flush=True)
    return figures


def run(models: list[str], samples: int = 3, output: Path = RESULTS / "qonnx.json") -> dict:
    split = load_digits_split()
    results = json.loads(output.read_text()) if output.exists() else {}
    models_figures = results.get("models", {})
    for name in models:  # written after each model: the large ones take many minutes
        models_figures[name] = measure(name, split, samples)
        results = {"models": {name: models_figures[name] for name in MODELS
                              if name in models_figures},
                   "tools": {"python": platform.python_version(),
                             "brevitas": version("brevitas"), "qonnx": version("qonnx"),
                             "onnxruntime": version("onnxruntime"), "torch": version("torch"),
                             "verilator": version("verilator")}}
        write_atomic(output, json.dumps(results, indent=2) + "\n")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS),
                        help="models to measure (default: all)")
    parser.add_argument("--samples", type=int, default=3,
                        help="random inputs run in Verilator for the BNN-PYNQ models")
    parser.add_argument("--output", type=Path, default=RESULTS / "qonnx.json",
                        help="results file, updated model by model (default: %(default)s)")
    args = parser.parse_args(argv)
    run(args.models, args.samples, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
