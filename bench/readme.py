"""Write the README's figures from the report files the code wrote; never by hand.

The README holds sections between ``<!-- figures:NAME -->`` and ``<!-- /figures:NAME -->``;
each is rendered here from files in ``bench/results/``:

* ``demo``: ``demo-binary.json`` (the report.json of ``qnnforge demo``);
* ``precisions``: ``demo-<precision>.json`` for every precision preset that has one;
* ``cost`` and ``popcount``: ``cost.json`` (``make bench``);
* ``board``: ``board-icebreaker.json`` (the report.json of ``qnnforge build --board icebreaker``
  for the binary demo model);
* ``cnn``: ``demo-cnn-<precision>.json`` (``qnnforge demo --arch cnn``) beside the MLP's
  ``demo-<precision>.json``;
* ``board_cnn``: ``board-icebreaker-cnn.json``, the binary CNN's iCEBreaker build;
* ``cnv``: ``cnv.json`` (``bench/cnv.py``, FINN's CNV with FINN's folding);
* ``sfc``: ``sfc.json`` (``bench/sfc.py``, FINN's SFC at four foldings beside SFC-max);
* ``rounding``: ``rounding.json`` (``bench/rounding.py``: stochastic against nearest rounding in
  training, int2 and int4, three seeds);
* ``qonnx``: ``qonnx.json`` (``bench/qonnx.py``, Brevitas models through ``qnnforge import``);
* ``sensitivity``: ``sensitivity-mlp.json`` and ``sensitivity-cnn.json`` (``bench/sensitivity.py``:
  ``qnnforge sensitivity``, per layer and lower precision the accuracy drop and HAWQ's proxy);
* ``breakdown``: the ``breakdown`` of ``demo-binary.json`` and ``demo-cnn-binary.json`` (where
  the LUTs and flip-flops of the binary MLP and CNN go);
* ``search``: ``search-<fabric>-<budget>.json`` (the report.json of ``qnnforge search``), one row
  per budget: the design built against the best single-precision design within the same budget;
* ``estimate``: ``estimate.json`` (``bench/estimate.py``: the resource estimator's LUTs against
  every demo's Yosys run, in sample and leaving the demo out of the calibration).

``python bench/readme.py`` rewrites the sections; ``--check`` only says whether they are current
(exit 1 if not), which a test runs, so the README cannot drift from the committed reports.
``make figures`` runs the demos, copies their reports here and rewrites the README.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
PRECISIONS = ("binary", "ternary", "ttq", "int4", "codebook4", "int8", "mixed")
CNN_PRECISIONS = ("binary", "int4", "mixed")
COST_ROWS = (*((p, None, "1 (XNOR)" if p == "1" else p)
                for p in ("1", "ternary", "2", "4", "8", "16", "32")),
             *(row for bits in (2, 3, 4, 5) for row in (
                 (f"8xcb{bits}", "adder_tree", f"8 x codebook{bits}: lookup + multiply"),
                 (f"8xcb{bits}", "entry_sums", f"8 x codebook{bits}: sum per entry"),
                 (f"8x{bits}", None, f"8 x {bits}"))))
"""The cost table's rows: (precision, architecture or None for the cheapest, label). ``AxW`` rows
have 8-bit activations and ``W`` weights: a codebook's two architectures beside the fixed-point
weights of as many bits (``8`` is the codebook's values as weights)."""
COST_FABRICS = ("xc7", "ice40", "ecp5")
POPCOUNTS = (("adder_tree", "adder tree (`sum()` of XNOR bits)"),
             ("pipelined", "pipelined adder tree (every 2 levels)"),
             ("compressor", "compressor (LUT counters in carry chains)"),
             ("constant", "constant weights (baked into the logic)"))
_SECTION = re.compile(r"(<!-- figures:(\w+) -->\n)(.*?)(<!-- /figures:\2 -->)", re.S)


def _budget_order(path: Path) -> tuple[str, int]:
    """Order ``search-<fabric>-<budget>.json`` by fabric, then budget as a number."""
    fabric, budget = path.stem.split("-")[1:3]
    return fabric, int(budget)


def _load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def _resources(counts: dict) -> str:
    return f"{counts['lut']} / {counts['ff']} / {counts['bram']} / {counts['dsp']}"


def demo_section(report: dict) -> str:
    """Return the table of one binary ``qnnforge demo`` report."""
    folding = report["folding"]
    layers = ", ".join(f"{layer['pe']}x{layer['simd']}" for layer in folding["layers"])
    lanes = folding["input_lanes"]
    ice40, xc7 = report["resources"]["ice40"], report["resources"]["xc7"]
    rows = [
        ("held-out test samples", report["test_samples"]),
        ("float baseline accuracy (same widths, ReLU)", f"{report['float_accuracy']:.4f}"),
        ("quantized accuracy (PyTorch QAT model)", f"{report['quantized_accuracy']:.4f}"),
        ("integer reference accuracy (numpy)", f"{report['reference_accuracy']:.4f}"),
        ("hardware accuracy (Verilator)", f"{report['hw_accuracy']:.4f}"),
        ("samples verified / mismatches (full rate, then 30 % stalls + 30 % backpressure)",
         f"{report['samples_verified']} / {report['mismatches']}"),
        ("cycles per inference, measured (predicted)",
         f"{report['cycles_per_inference']:g} ({report['predicted_cycles_per_inference']})"),
        ("latency, measured (predicted)",
         f"{report['latency_cycles']} ({report['predicted_latency_cycles']}) cycles"),
        ("folding (PE x SIMD per layer)",
         f"{layers}, input {lanes} lane{'s' if lanes > 1 else ''}"),
        ("iCE40 (`synth_ice40`): LUT4 / FF / carry / BRAM / DSP",
         f"{ice40['lut']} / {ice40['ff']} / {ice40['carry']} / {ice40['bram']} / {ice40['dsp']}"),
        ("Xilinx 7 (`synth_xilinx`): LUT / FF / CARRY4 / BRAM / DSP",
         f"{xc7['lut']} / {xc7['ff']} / {xc7['carry']} / {xc7['bram']} / {xc7['dsp']}"),
        ("`qnnforge demo` wall time (train, generate, verify twice, synthesize twice)",
         f"{report['wall_seconds']:.0f} s"),
    ]
    table = ["| figure | value |", "|---|---|"] + [f"| {key} | {value} |" for key, value in rows]
    rate = 100e6 / report["cycles_per_inference"]
    return "\n".join(table) + (f"\n\nAt 100 MHz that is {rate:,.0f} inferences per second per "
                               f"accelerator.\n")


def precisions_section(reports: dict[str, dict]) -> str:
    """Return the table of the demo reports of each precision preset."""
    table = ["| precision | layers | float | quantized = reference = hardware | verified / "
             "mismatches | cycles (latency) | iCE40 LUT / FF / BRAM / DSP | "
             "xc7 LUT / FF / BRAM / DSP |", "|---|---|---|---|---|---|---|---|"]
    for name, report in reports.items():
        agree = report["quantized_accuracy"] == report["reference_accuracy"] == report[
            "hw_accuracy"]
        accuracy = f"{report['hw_accuracy']:.4f}" if agree else (
            f"{report['quantized_accuracy']:.4f} / {report['reference_accuracy']:.4f} / "
            f"{report['hw_accuracy']:.4f}")
        table.append(
            f"| {name} | {', '.join(report['precision']['layers'])} | "
            f"{report['float_accuracy']:.4f} | {accuracy} | "
            f"{report['samples_verified']} / {report['mismatches']} | "
            f"{report['cycles_per_inference']:g} ({report['latency_cycles']}) | "
            f"{_resources(report['resources']['ice40'])} | "
            f"{_resources(report['resources']['xc7'])} |")
    return "\n".join(table) + "\n"


def _best(records: list[dict], fabric: str, precision: str, lanes: int,
          architecture: str | None = None) -> dict | None:
    """Return the LUT-only dot-product record with the fewest LUTs (run-time weights)."""
    matches = [r for r in records
               if r["kind"] == "dot" and r["fabric"] == fabric and r["precision"] == precision
               and r["lanes"] == lanes and not r["dsp_inference"] and "lut" in r
               and r["architecture"] != "constant"
               and (architecture is None or r["architecture"] == architecture)]
    return min(matches, key=lambda r: r["lut"]) if matches else None


def cost_section(cost: dict, lanes: int = 256) -> str:
    """Return the LUTs per lane of ``lanes``-lane LUT-only dot products, per precision."""
    records = cost["records"]
    table = [f"| precision | {' | '.join(f'{f} LUT/lane' for f in COST_FABRICS)} | "
             f"xc7 vs 1-bit |", "|---|" + "---|" * (len(COST_FABRICS) + 1)]
    base = _best(records, "xc7", "1", lanes)
    for precision, architecture, name in COST_ROWS:
        cells = []
        for fabric in COST_FABRICS:
            record = _best(records, fabric, precision, lanes, architecture)
            cells.append("–" if record is None else f"{record['lut_per_lane']:.2f}")
        if all(cell == "–" for cell in cells) and architecture is not None:
            continue  # an architecture not measured at this precision
        xc7 = _best(records, "xc7", precision, lanes, architecture)
        ratio = "–" if xc7 is None or base is None else f"{xc7['lut'] / base['lut']:.0f}x"
        table.append(f"| {name} | {' | '.join(cells)} | {ratio} |")
    macs = {r["precision"]: r for r in records if r["kind"] == "mac" and r["fabric"] == "xc7"
            and not r["dsp_inference"] and "lut" in r}
    mac = ""
    if "1" in macs and "32" in macs:
        wide, narrow = macs["32"]["lut"], macs["1"]["lut"]
        mac = (f"\nA single LUT-only 32-bit MAC costs {wide} LUT6 against {narrow} for a 1-bit one "
               f"({wide / narrow:.0f}x).\n")
    return "\n".join(table) + "\n" + mac


def popcount_section(cost: dict, lanes: int = 256) -> str:
    """Return LUTs per lane and iCE40 Fmax of every popcount architecture."""
    records = cost["records"]
    table = [f"| architecture | {' | '.join(COST_FABRICS)} | latency | iCE40 UP5K Fmax |",
             "|---|" + "---|" * (len(COST_FABRICS) + 2)]
    for architecture, label in POPCOUNTS:
        cells, latency, fmax = [], "–", "–"
        for fabric in COST_FABRICS:
            matches = [r for r in records
                       if r["kind"] == "dot" and r["fabric"] == fabric and r["precision"] == "1"
                       and r["lanes"] == lanes and r["architecture"] == architecture
                       and "lut" in r]
            cells.append(f"{matches[0]['lut_per_lane']:.2f}" if matches else "–")
            if matches:
                latency = matches[0]["latency"]
                if fabric == "ice40" and matches[0].get("fmax_mhz") is not None:
                    fmax = f"{matches[0]['fmax_mhz']:.1f} MHz"
        table.append(f"| {label} | {' | '.join(cells)} | {latency} | {fmax} |")
    return "\n".join(table) + "\n"


def cnn_section(cnns: dict[str, dict], mlps: dict[str, dict]) -> str:
    """Return the CNN demo of each precision beside the MLP demo of the same precision."""
    table = ["| precision | network | float | quantized | hardware | verified / mismatches | "
             "cycles measured (predicted) | latency | iCE40 LUT / FF / BRAM / DSP | "
             "xc7 LUT / FF / BRAM / DSP |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, cnn in cnns.items():
        for arch, report in (("CNN", cnn), ("MLP", mlps.get(name))):
            if report is None:
                continue
            table.append(
                f"| {name} | {arch} | {report['float_accuracy']:.4f} | "
                f"{report['quantized_accuracy']:.4f} | {report['hw_accuracy']:.4f} | "
                f"{report['samples_verified']} / {report['mismatches']} | "
                f"{report['cycles_per_inference']:g} "
                f"({report['predicted_cycles_per_inference']}) | "
                f"{report['latency_cycles']} | "
                f"{_resources(report['resources']['ice40'])} | "
                f"{_resources(report['resources']['xc7'])} |")
    return "\n".join(table) + "\n"


def board_section(report: dict) -> str:
    """Return the iCEBreaker build's figures as a sentence (and its board simulation's)."""
    rate = report["inferences_per_second"]
    simulation = report.get("board_simulation")
    simulated = "" if simulation is None else (
        f" In simulation of the whole board design, {simulation['agree']} of "
        f"{simulation['images']} held-out digits sent over the UART get the reference's answer.")
    return (f"the {report.get('model', 'digits model')}, folded to "
            f"{report['cycles_per_inference']} cycles per inference "
            f"so that it fits, uses {report['lc']}/{report['lc_total']} logic cells, "
            f"{report['bram']}/{report['bram_total']} block RAMs and {report['dsp']} DSPs; Fmax "
            f"is {report['fmax_mhz']:.1f} MHz at a {report['clock_mhz']:g} MHz clock, so the "
            f"accelerator classifies {rate['accelerator']:,.0f} images/s and the UART at "
            f"{report['baud']} baud carries {rate['uart']:,.0f}/s.{simulated}\n")


def cnv_section(report: dict) -> str:
    """Return FINN's CNV side by side: cycles per layer against FINN's, then the totals."""
    table = ["| layer | PE | SIMD | window lanes (FINN SWU SIMD) | cycles | FINN cycles |",
             "|---|---|---|---|---|---|"]
    swu = iter(report["folding"]["finn_swu_simd"])
    for layer in report["layers"]:
        lanes = (f"{layer['window_lanes']} ({next(swu)})" if "window_lanes" in layer else "–")
        table.append(f"| {layer['name']} | {layer['pe']} | {layer['simd']} | {lanes} | "
                     f"{layer['cycles']} | {layer['finn_cycles']} |")
    synthesis = report["synthesis"]
    if synthesis["status"] == "ok":
        resources = (f"{report['lut']} / {report['ff']} / {report['bram']} / {report['dsp']} "
                     f"(Yosys `synth_xilinx`, {synthesis['seconds'] / 60:.0f} min)")
    else:
        resources = (f"none: Yosys `synth_xilinx` {synthesis['status']} after "
                     f"{synthesis['seconds'] / 60:.0f} min")
    verilator = report["verilator"]
    result = ("failed" if verilator["mismatches"] is None
              else f"{verilator['samples']} random images, {verilator['mismatches']} mismatches")
    rows = [
        ("cycles per inference, measured (predicted; FINN's slowest layer)",
         f"{verilator['cycles_per_inference']:g} ({report['cycles_per_inference']}; "
         f"{report['finn_max_cycles']})" if verilator["cycles_per_inference"] is not None
         else f"– ({report['cycles_per_inference']}; {report['finn_max_cycles']})"),
        ("xc7 LUT / FF / BRAM / DSP", resources),
        ("generation (artifact to Verilog)",
         f"{report['generate_s']:.0f} s, {report['peak_memory_mib']:.0f} MiB peak, "
         f"{report['verilog_bytes'] / 2**20:.1f} MiB of Verilog"),
        ("Verilator, bit-exact (full rate, then stalls and backpressure)",
         f"{result}; build {verilator['build_s'] / 60:.0f} min"),
    ]
    return ("\n".join(table) + "\n\n| figure | value |\n|---|---|\n"
            + "\n".join(f"| {key} | {value} |" for key, value in rows) + "\n")


def sfc_section(report: dict) -> str:
    """Return SFC's LUTs against cycles per image, beside FINN SFC-max's point."""
    table = ["| cycles/image | LUT (of them as memory) | FF | BRAM | LUT per (MAC/cycle) | "
             "constant weights: LUT (per MAC/cycle) | generate | synthesis | "
             "Verilator mismatches |", "|---|---|---|---|---|---|---|---|---|"]
    for entry in report["points"]:
        verilator = entry.get("verilator_mismatches")
        if entry["synth_status"] == "ok":
            counts = (f"{entry['lut']:,} ({entry['lut_memory']:,}) | {entry['ff']:,} | "
                      f"{entry['bram']} | {entry['lut_per_mac_cycle']:.2f}")
            synthesis = f"{entry['synth_s']:.0f} s"
        else:
            counts = "– | – | – | –"
            synthesis = f"{entry['synth_status']} after {entry['synth_s']:.0f} s"
        constant = entry.get("constant_weights") or {}
        fixed = ("–" if constant.get("lut") is None else
                 f"{constant['lut']:,} ({constant['lut_per_mac_cycle']:.2f})")
        table.append(f"| {entry['cycles_per_image']} | {counts} | {fixed} | "
                     f"{entry['generate_s']:.0f} s | {synthesis} | "
                     f"{'–' if verilator is None else verilator} |")
    finn = report["finn_sfc_max"]
    ratio = finn["lut"] * finn["cycles_per_image"] / report["macs_per_image"]
    table.append(f"| FINN SFC-max, {finn['cycles_per_image']} | {finn['lut']:,} | | | "
                 f"{ratio:.2f} | | | | |")
    return "\n".join(table) + "\n"


def rounding_section(report: dict) -> str:
    """Return the held-out accuracy of each training rounding rule: mean, spread and range."""
    table = ["| weights and activations | training rounding | held-out accuracy, mean ± std "
             "(min – max) | seeds | model = reference |", "|---|---|---|---|---|"]
    for row in report["summary"]:
        runs = [run for run in report["runs"] if run["precision"] == row["precision"]
                and run["rounding"] == row["rounding"]]
        exact = "yes" if all(run["exact"] for run in runs) else "**no**"
        table.append(f"| {row['precision']} | {row['rounding']} | {row['mean']:.4f} ± "
                     f"{row['std']:.4f} ({row['min']:.4f} – {row['max']:.4f}) | "
                     f"{row['seeds']} | {exact} |")
    means = {(row["precision"], row["rounding"]): row["mean"] for row in report["summary"]}
    differences = ", ".join(
        f"{precision} {means[precision, 'stochastic'] - means[precision, 'nearest']:+.4f}"
        for precision in dict.fromkeys(row["precision"] for row in report["summary"]))
    return ("\n".join(table) + f"\n\nMean accuracy, stochastic minus nearest: {differences}.\n")


def breakdown_section(reports: dict[str, dict]) -> str:
    """Return per network, layer and part the LUTs and flip-flops on iCE40 and xc7."""
    table = ["| network | unit | part | iCE40 LUT / FF | xc7 LUT / FF |", "|---|---|---|---|---|"]
    for network, report in reports.items():
        breakdown = report.get("breakdown")
        if breakdown is None:
            continue
        ice40, xc7 = breakdown["ice40"], breakdown["xc7"]
        for unit, entry in ice40["units"].items():
            for part, counts in entry["parts"].items():
                other = xc7["units"][unit]["parts"].get(part, {"lut": 0, "ff": 0})
                table.append(f"| {network} | {unit} | {part} | {counts['lut']} / {counts['ff']} | "
                             f"{other['lut']} / {other['ff']} |")
        table.append(f"| {network} | total | | {ice40['total']['lut']} / {ice40['total']['ff']} | "
                     f"{xc7['total']['lut']} / {xc7['total']['ff']} |")
    return "\n".join(table) + "\n"


def qonnx_section(report: dict) -> str:
    """Return the Brevitas models imported through QONNX: agreement with QONNX's executor,
    Verilator, import and generation times."""
    table = ["| model | layers | precision | agreement with QONNX's executor | Verilator "
             "mismatches | import | generate |", "|---|---|---|---|---|---|---|"]
    for name, model in report["models"].items():
        mismatches = ("failed" if model["mismatches"] is None
                      else f"{model['mismatches']} ({model['verilator_samples']} inputs)")
        table.append(f"| {name} | {model['layers']} ({', '.join(model['ops'])}) | "
                     f"{model['precision']} | {model['agreement']}/{model['compared']} "
                     f"({model['inputs']}) | {mismatches} | {model['import_s']:.2f} s | "
                     f"{model['generate_s']:.1f} s |")
    return "\n".join(table) + "\n"


def _design(layers: list[dict]) -> str:
    return ", ".join(f"{layer['precision']} {layer['pe']}x{layer['simd']}" for layer in layers)


def _budget(report: dict) -> str:
    """Return a search's budget, and its beam where it is not 1 (reports before ``--beam``
    existed searched with a beam of 1)."""
    cycles, beam = report["cycles_budget"], report["search"].get("beam", 1)
    return (f"{report['lut_budget']} LUT" + ("" if cycles is None else f", {cycles} cycles")
            + ("" if beam == 1 else f" (--beam {beam})"))


def search_section(reports: dict[str, dict]) -> str:
    """Return one row per search report: the design built and the best single precision, then
    per report how the design built and the most accurate mixed design compare with it."""
    table = ["| fabric, budget | design built: precision PExSIMD per layer | cycles | LUT "
             "estimated / synthesized | DSP | hardware accuracy (verified / mismatches) | "
             "best single precision | its LUT synthesized | its hardware accuracy | "
             "trainings | wall time |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for report in reports.values():
        fabric, single = report["fabric"], report["single_precision"]
        built, samples = single["built"], report["test_samples"]
        table.append(
            f"| {fabric}, {_budget(report)} | {_design(report['layers'])} | "
            f"{report['cycles_per_inference']:g} | {report['estimated']['lut']} / "
            f"{report['resources'][fabric]['lut']} | {report['resources'][fabric]['dsp']} | "
            f"{report['hw_accuracy']:.4f} ({report['samples_verified']} / "
            f"{report['mismatches']}) | {_design(single['layers'])} | {built['real_lut']} | "
            f"{built['hw_accuracy']:.4f} ({built['samples_verified']} / "
            f"{built['mismatches']}) | {report['search']['trainings']} | "
            f"{report['wall_seconds'] / 60:.0f} min |")
        kind = "mixed" if len({layer["precision"] for layer in report["layers"]}) > 1 else "single"
        note = (f"{_budget(report)}: the design built is {kind} precision, "
                f"{report['comparison']['difference_samples']:+d} held-out digits against the "
                f"best single precision{'' if built['fits'] else ' (over budget, synthesized)'}")
        mixed = [entry for entry in report["candidates"]
                 if entry["accuracy"] is not None and len(set(entry["layers"])) > 1]
        if mixed:
            best = max(mixed, key=lambda entry: entry["accuracy"]["reference"])
            digits = (best["accuracy"]["reference"] - single["accuracy"]["reference"]) * samples
            note += (f"; the most accurate mixed design trained ({', '.join(best['layers'])}) "
                     f"{round(digits):+d}")
        tried = len(report["attempts"])
        notes.append(f"{note}; {tried} design{'s' if tried > 1 else ''} built")
    return "\n".join(table) + "\n\n" + ". ".join(notes) + ".\n"


def estimate_section(report: dict) -> str:
    """Return the estimated LUTs of every demo beside its Yosys LUTs, in sample and left out."""
    table = ["| demo | precision per layer | fabric | Yosys LUT | estimate (error) | "
             "left out (error) |", "|---|---|---|---|---|---|"]
    for row in report["rows"]:
        network = "CNN" if row["arch"] == "cnn" else "MLP"
        table.append(f"| {network} {row['precision']} | {', '.join(row['layers'])} | "
                     f"{row['fabric']} | {row['measured']['lut']} | "
                     f"{row['in_sample']['lut']} ({100 * row['in_sample_error']['lut']:+.1f} %) | "
                     f"{row['leave_one_out']['lut']} "
                     f"({100 * row['leave_one_out_error']['lut']:+.1f} %) |")
    target = 100 * report["target_lut_error"]

    def errors(entry: dict, where: str) -> str:
        return (f"{100 * entry['max_abs_lut']:.1f} % {where} ({entry['within_target']}/"
                f"{entry['demos']} within {target:.0f} %)")

    lines = [f"{fabric}: largest error {errors(entry['in_sample_error'], 'in sample')}, "
             f"{errors(entry['leave_one_out_error'], 'left out')}"
             for fabric, entry in report["summary"].items()]
    return "\n".join(table) + "\n\n" + "; ".join(lines) + ".\n"


def sensitivity_section(reports: dict[str, dict]) -> str:
    """Return per network, layer and lower precision the accuracy drop after and before
    fine-tuning, and the proxy's rank correlations."""
    table = ["| network | layer | " + " | ".join(
        f"{p} drop after / before (pp)" for p in reports[next(iter(reports))]["precisions"])
        + " |", "|---|---|" + "---|" * len(reports[next(iter(reports))]["precisions"])]
    notes = []
    for arch, report in reports.items():
        cells = {(c["name"], c["precision"]): c for c in report["cells"]}
        for layer in report["layers"]:
            row = [(f"{cells[layer, p]['drop'] * 100:+.1f} / "
                    f"{cells[layer, p]['drop_before'] * 100:+.1f}")
                   if cells[layer, p]["feasible"] else "n/a" for p in report["precisions"]]
            table.append(f"| {arch.upper()} | {layer} | " + " | ".join(row) + " |")
        proxy = report["proxy"]
        rho = {key: "n/a" if proxy[key] is None else f"{proxy[key]:+.2f}"
               for key in ("spearman", "spearman_before", "spearman_loss",
                           "spearman_loss_before")}
        notes.append(
            f"{arch.upper()}: int8 baseline {report['baseline']['accuracy']:.4f}, reference "
            f"(fine-tuned unchanged) {report['reference']['accuracy']:.4f} over "
            f"{report['test_samples']} digits ({report['repeats']} fine-tuning seeds, "
            f"{report['epochs']} epochs); proxy vs accuracy drop, Spearman {rho['spearman']} "
            f"after and {rho['spearman_before']} before fine-tuning, vs held-out loss increase "
            f"{rho['spearman_loss']} after and {rho['spearman_loss_before']} before. One "
            f"worker took {report['seconds']['baseline_job']:.0f} s for the baseline, "
            f"{report['seconds']['finetune_job_mean']:.0f} s a fine-tuning run and "
            f"{report['seconds']['proxy_job']:.1f} s for the proxy.")
    return "\n".join(table) + "\n\n" + "\n\n".join(notes) + "\n"


def render_sections() -> dict[str, str]:
    """Return every figures section, rendered from the files in ``bench/results/``."""
    cost = _load("cost.json")
    reports = {name: _load(f"demo-{name}.json") for name in PRECISIONS
               if (RESULTS / f"demo-{name}.json").exists()}
    return {"demo": demo_section(reports["binary"]), "precisions": precisions_section(reports),
            "cost": cost_section(cost), "popcount": popcount_section(cost),
            "board": board_section(_load("board-icebreaker.json")),
            "cnn": cnn_section({name: _load(f"demo-cnn-{name}.json") for name in CNN_PRECISIONS
                                if (RESULTS / f"demo-cnn-{name}.json").exists()}, reports),
            "board_cnn": board_section(
                {**_load("board-icebreaker-cnn.json"), "model": "binary digits CNN"}),
            "cnv": cnv_section(_load("cnv.json")),
            "sfc": sfc_section(_load("sfc.json")),
            "rounding": rounding_section(_load("rounding.json")),
            "qonnx": qonnx_section(_load("qonnx.json")),
            "estimate": estimate_section(_load("estimate.json")),
            "sensitivity": sensitivity_section(
                {arch: _load(f"sensitivity-{arch}.json") for arch in ("mlp", "cnn")
                 if (RESULTS / f"sensitivity-{arch}.json").exists()}),
            "breakdown": breakdown_section({"binary MLP": reports["binary"],
                                            "binary CNN": _load("demo-cnn-binary.json")}),
            "search": search_section({path.stem: json.loads(path.read_text()) for path in sorted(
                RESULTS.glob("search-*.json"), key=_budget_order)})}


def render_readme(text: str, sections: dict[str, str]) -> str:
    """Return ``text`` with every figures section replaced by its rendering.

    Raises
    ------
    ValueError
        If the README lacks a section or names one this script does not render.
    """
    found = set()

    def replace(match: re.Match) -> str:
        name = match.group(2)
        if name not in sections:
            raise ValueError(f"README has a figures section {name!r} that nothing renders")
        found.add(name)
        return match.group(1) + sections[name] + match.group(4)

    text = _SECTION.sub(replace, text)
    missing = set(sections) - found
    if missing:
        raise ValueError(f"README lacks the figures sections {', '.join(sorted(missing))}")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if the README's figures differ from the reports")
    args = parser.parse_args(argv)
    current = README.read_text()
    rendered = render_readme(current, render_sections())
    if args.check:
        if rendered != current:
            print("README.md figures differ from bench/results; run python bench/readme.py",
                  file=sys.stderr)
            return 1
        return 0
    README.write_text(rendered)
    print("README.md figures rewritten from bench/results")
    return 0


if __name__ == "__main__":
    sys.exit(main())
