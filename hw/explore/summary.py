"""The model summary: the artifact's counts, the hardware's memories and cycles, and the
estimated resources per fabric, per layer and in total (``qnnforge summary``).

The counts come from :func:`qnnforge.sw.summary.model_counts`, the memories from the units the
generator builds (:func:`~.estimate.layer_costs`), the cycles from the cycle model
(:func:`~..compiler.plan.cycle_model`, the layer kinds' own formulas) and the resources from the
calibrated cost model (:mod:`.estimate`). Where a synthesis of the same design was measured (a
demo's ``report.json``, its ``resources``), :func:`compare` puts the estimate's error
beside it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...sw.artifact import Artifact
from ...sw.summary import model_counts
from ..compiler.folding import Folding
from ..compiler.layers import hardware_for
from ..compiler.options import HardwareOptions
from ..compiler.plan import cycle_model, stream_lanes
from .estimate import Calibration, estimate_layers, layer_costs, load_calibration

__all__ = ["MEMORY_ROLES", "RESOURCES", "model_summary", "compare"]

MEMORY_ROLES = ("weights", "constants", "buffer")
"""Memories by role: weight words, output constants, input and line buffers."""
RESOURCES = ("lut", "ff", "bram", "dsp")


def model_summary(artifact: Artifact, folding: Folding, fabrics: Sequence[str],
                  options: HardwareOptions | None = None,
                  calibration: Calibration | None = None) -> dict:
    """Return the summary of ``artifact`` folded by ``folding``, estimated on ``fabrics``.

    Returns
    -------
    dict
        ``folding``, ``options``, ``fabrics``; ``layers``: per layer the counts of
        :func:`~qnnforge.sw.summary.layer_counts` plus ``pe``, ``simd``, ``cycles``,
        ``latency_cycles``, ``memory_bits`` (per role and ``total``) and ``estimated``
        (fabric -> ``lut``, ``ff``, ``bram``, ``dsp``); ``totals``: the summed counts and
        memories, ``cycles_per_inference``, ``bottleneck``, ``latency_cycles``,
        ``latency_exact`` and ``estimated`` (fabric -> resources, the argmax and control
        included).

    Raises
    ------
    CalibrationError
        If a fabric has no calibration, or one for other DSP or popcount options.
    FoldingError
        If the folding does not fit the artifact.
    """
    options = options or HardwareOptions()
    calibration = calibration or load_calibration()
    models = {fabric: calibration.model(fabric) for fabric in fabrics}
    for model in models.values():
        model.check_options(options)
    counts = model_counts(artifact)
    costs = layer_costs(artifact, folding, options)
    timing = cycle_model(artifact.layers, folding, options)
    lanes = stream_lanes(artifact.layers, folding)
    estimates = {fabric: estimate_layers(costs, model) for fabric, model in models.items()}
    layers = []
    for entry, cost, layer, fold, width, cycles in zip(counts["layers"], costs, artifact.layers,
                                                       folding.layers, lanes,
                                                       timing.layer_cycles):
        memory = {role: cost.memory_bits(role) for role in MEMORY_ROLES}
        layers.append({
            **entry, "pe": fold.pe, "simd": fold.simd, "cycles": cycles,
            "latency_cycles": hardware_for(layer).latency(layer, fold, width, options),
            "memory_bits": {**memory, "total": sum(memory.values())},
            "estimated": {fabric: estimate["layers"][layer.name]
                          for fabric, estimate in estimates.items()},
        })
    memory = {role: sum(layer["memory_bits"][role] for layer in layers)
              for role in (*MEMORY_ROLES, "total")}
    totals = {**counts["totals"], "memory_bits": memory,
              "cycles_per_inference": timing.interval, "bottleneck": timing.bottleneck,
              "latency_cycles": timing.latency, "latency_exact": timing.latency_exact,
              "estimated": {fabric: {key: estimate[key] for key in RESOURCES}
                            for fabric, estimate in estimates.items()}}
    return {"folding": folding.to_json(), "options": options.to_json(),
            "fabrics": list(fabrics), "layers": layers, "totals": totals}


def compare(summary: dict, report: dict) -> dict:
    """Return, per fabric both have, the measured resources of ``report`` (a demo's
    ``report.json``: ``resources``) and the estimate's relative error on each:
    ``{fabric: {"measured": {...}, "error": {resource: (estimate - measured) / measured}}}``
    (an error is None where the measured figure is 0)."""
    found = {}
    for fabric, estimate in summary["totals"]["estimated"].items():
        measured = report.get("resources", {}).get(fabric)
        if measured is None:
            continue
        found[fabric] = {
            "measured": {key: measured[key] for key in RESOURCES},
            "error": {key: (estimate[key] - measured[key]) / measured[key] if measured[key]
                      else None for key in RESOURCES}}
    return found
