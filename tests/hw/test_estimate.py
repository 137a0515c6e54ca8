"""The resource estimator: the quantities it reads off the generated units, the model's
arithmetic under known coefficients, the fit recovering known coefficients, its errors, and its
measured error on the demos (bench/results/estimate.json)."""

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from qnnforge.hw.compiler.folding import Folding, FoldingError, LayerFolding
from qnnforge.hw.compiler.options import HardwareOptions
from qnnforge.hw.explore.dot_costs import PerLane
from qnnforge.hw.explore.estimate import (Calibration, CalibrationError, FabricModel, LayerCost,
                                          MemoryBlock, estimate_layers, estimate_resources,
                                          fit_fabric, layer_costs, load_calibration)
from qnnforge.hw.tools.fabrics import get_fabric

from ..sw.test_artifact_v3 import image_artifact

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"
FOLDING = Folding(layers=(LayerFolding(2, 3), LayerFolding(2, 1), LayerFolding(1, 4)),
                  input_lanes=1)


def test_bram_blocks_take_the_best_shape():
    ice40 = get_fabric("ice40")
    assert ice40.bram_blocks(256, 128) == 16     # 16 wide x 256 deep, side by side
    assert ice40.bram_blocks(151, 128) == 10
    assert ice40.bram_blocks(2, 4096) == 2       # 2 wide x 2048 deep, stacked
    assert get_fabric("xc7").bram_blocks(36, 512) == 1


def test_layer_costs_read_the_units():
    conv, pool, dense = layer_costs(image_artifact(), FOLDING)
    assert (conv.op, conv.dot, conv.lanes, conv.input_bits, conv.weight_bits) == (
        "conv2d", "binary_weight", 6, 4, 1)
    # |acc| <= 9 * 1 * 15 = 135: 9-bit accumulators, one per PE
    assert conv.accumulator_bits == 2 * 9
    # SIMD 3 divides the 9-element windows and PE 2 the channels: no padding in the weights
    assert conv.memory_bits("weights") == 2 * 3 * 3 * 1
    assert conv.constant_bits % 2 == 0 and conv.constant_bits > 0
    assert [m.role for m in conv.memories].count("buffer") >= 1    # the line buffer
    assert (pool.dot, pool.lanes, pool.memory_bits("weights")) == (None, 0, 0)
    assert pool.memory_bits("buffer") > 0
    assert (dense.dot, dense.lanes, dense.memory_bits("weights")) == ("xnor", 4, 16)


@settings(max_examples=15, deadline=None)
@given(conv_pe=st.sampled_from([1, 2]), conv_simd=st.integers(1, 9),
       dense_simd=st.integers(1, 8), dense_pe=st.sampled_from([1, 2]))
def test_costs_follow_any_folding(conv_pe, conv_simd, dense_pe, dense_simd):
    folding = Folding((LayerFolding(conv_pe, conv_simd), LayerFolding(conv_pe, 1),
                       LayerFolding(dense_pe, dense_simd)), 1)
    conv, pool, dense = layer_costs(image_artifact(), folding)
    assert (conv.lanes, dense.lanes, pool.lanes) == (conv_pe * conv_simd,
                                                     dense_pe * dense_simd, 0)
    # a weight word per (fold, step): PE x SIMD codes, the last step's padding lanes included
    steps = -(-9 // conv_simd) * (2 // conv_pe)
    assert conv.memory_bits("weights") == conv_pe * conv_simd * max(2, steps)
    assert dense.memory_bits("weights") >= 2 * 8
    estimate = estimate_layers((conv, pool, dense), _model())
    assert estimate["lut"] == sum(entry["lut"] for entry in estimate["layers"].values()) + 10
    assert estimate["lut"] == 5 * conv.lanes + 2 * dense.lanes + 4 * 10


def test_layer_costs_reject_a_folding_that_does_not_fit():
    bad = Folding(layers=(LayerFolding(3, 3), LayerFolding(3, 1), LayerFolding(1, 4)),
                  input_lanes=1)
    with pytest.raises(FoldingError, match=r"^layer 0: PE must divide the fan-out 2, not 3$"):
        layer_costs(image_artifact(), bad)


def _model(ram_depth=None, rom_depth=None, **lut) -> FabricModel:
    lanes = (PerLane("binary_weight", "uint4", 4, 1, lut=5.0, lut_fixed=0.0, ff=1.0,
                     ff_fixed=0.0, dsp=0.0),
             PerLane("xnor", "bipolar", 1, 1, lut=2.0, lut_fixed=0.0, ff=0.0, ff_fixed=0.0,
                     dsp=0.0))
    coefficients = {"dot": 1.0, "dsp_dot": 0.0, "constant_bits": 0.0, "accumulator_bits": 0.0,
                    "rom_logic_bits": 0.0, "ram_logic_bits": 0.0, "units": 10.0, **lut}
    return FabricModel("ice40", lanes, coefficients,
                       {"accumulator_bits": 1.0, "ram_logic_bits": 0.0, "read_bits": 0.0,
                        "units": 3.0},
                       {"output_multipliers": 2.0}, ram_depth, rom_depth)


def test_estimate_adds_the_terms():
    costs = layer_costs(image_artifact(), FOLDING)
    estimate = estimate_layers(costs, _model())
    # dot: 6 lanes x 5 + 4 lanes x 2; control: 10 per unit, the argmax one more
    assert estimate["layers"]["conv0"]["lut"] == 6 * 5 + 10
    assert estimate["layers"]["pool0"]["lut"] == 10
    assert estimate["layers"]["fc0"]["lut"] == 4 * 2 + 10
    assert estimate["lut"] == 30 + 8 + 4 * 10
    # FFs: the lanes' own (1 per binary-weight lane), accumulators, 3 per unit
    assert estimate["ff"] == 6 + (18 + 0 + 4) + 4 * 3
    assert (estimate["bram"], estimate["dsp"]) == (0, 0)
    rom = sum(m.bits for layer in costs for m in layer.memories if not m.writable)
    ram = sum(m.bits for layer in costs for m in layer.memories if m.writable)
    assert rom and ram
    with_memory = estimate_layers(costs, _model(rom_logic_bits=0.5, ram_logic_bits=0.25))
    assert with_memory["lut"] == estimate["lut"] + round(0.5 * rom + 0.25 * ram)


def test_deep_memories_go_to_block_ram():
    costs = layer_costs(image_artifact(), FOLDING)
    memories = [m for layer in costs for m in layer.memories]
    deep_ram = [m for m in memories if m.writable and m.depth >= 16]
    deep_rom = [m for m in memories if not m.writable and m.depth >= 4]
    assert deep_ram and deep_rom
    # each fits one block
    assert estimate_layers(costs, _model(ram_depth=16))["bram"] == len(deep_ram)
    assert estimate_layers(costs, _model(rom_depth=4))["bram"] == len(deep_rom)
    assert estimate_layers(costs, _model(16, 4))["bram"] == len(deep_ram) + len(deep_rom)
    in_logic = sum(m.bits for m in memories if m.writable and m.depth < 16)
    assert estimate_layers(costs, _model(16, ram_logic_bits=1.0))["lut"] == (
        estimate_layers(costs, _model(16))["lut"] + in_logic)


def test_requantizer_multipliers_are_counted():
    from qnnforge.sw.artifact import Artifact, DenseLayer, InputQuantizer, RequantizeOutput
    from qnnforge.sw.artifact import ScoreOutput
    from qnnforge.sw.encoding import sint, uint
    import numpy as np

    rng = np.random.default_rng(0)
    ones = np.ones(4, dtype=np.int64)
    hidden = DenseLayer("fc0", uint(4), sint(8), rng.integers(-128, 128, size=(4, 6)),
                        RequantizeOutput(ones * 3, ones * 5, ones * 8, ones * 0, uint(8)))
    last = DenseLayer("fc1", uint(8), sint(8), rng.integers(-128, 128, size=(2, 4)),
                      ScoreOutput(np.zeros(2, dtype=np.int64)))
    artifact = Artifact("requantized", InputQuantizer(uint(4), 0, 15, 1, 0), (hidden, last))
    folding = Folding((LayerFolding(2, 3), LayerFolding(1, 4)), 1)
    first, second = layer_costs(artifact, folding)
    assert (first.output_multipliers, second.output_multipliers) == (2, 0)   # one per PE
    lane = PerLane("fixed", "uint4", 4, 8, 30.0, -20.0, 0.0, 0.0, 1.0)
    model = FabricModel("ice40", (lane,), _model(dsp_dot=0.5).lut, _model().ff,
                        {"output_multipliers": 2.0}, None, None)
    estimate = estimate_layers((first, second), model)
    assert estimate["dsp"] == 6 + 4 + 2 * 2
    # lanes with DSPs: their own coefficient, on the unit's line 30 * lanes - 20
    assert estimate["layers"]["fc0"]["lut"] == 0.5 * (30 * 6 - 20) + 10
    assert estimate["layers"]["fc1"]["lut"] == 0.5 * (30 * 4 - 20) + 10


def test_fit_recovers_known_coefficients():
    lanes = _model().lanes
    truth = FabricModel("ice40", lanes, {"dot": 1.5, "dsp_dot": 0.0, "constant_bits": 2.0,
                                         "accumulator_bits": 0.0, "rom_logic_bits": 0.25,
                                         "ram_logic_bits": 0.5, "units": 40.0},
                        {"accumulator_bits": 2.0, "ram_logic_bits": 1.0, "read_bits": 0.0,
                         "units": 8.0},
                        {"output_multipliers": 0.0}, None, None)
    designs = []
    for index, folding in enumerate((FOLDING, Folding((LayerFolding(1, 1), LayerFolding(1, 1),
                                                       LayerFolding(2, 8)), 1),
                                     Folding((LayerFolding(2, 9), LayerFolding(2, 1),
                                              LayerFolding(1, 2)), 1),
                                     Folding((LayerFolding(1, 9), LayerFolding(1, 1),
                                              LayerFolding(2, 2)), 1),
                                     Folding((LayerFolding(2, 1), LayerFolding(2, 1),
                                              LayerFolding(1, 8)), 1))):
        costs = layer_costs(image_artifact(), folding)
        measured = estimate_layers(costs, truth)
        designs.append((f"design{index}", costs, {**measured, "bram": 0}))
    fitted = fit_fabric("ice40", lanes, designs)
    for name, _, measured in designs:
        estimate = estimate_layers(next(c for n, c, _ in designs if n == name), fitted)
        assert abs(estimate["lut"] - measured["lut"]) <= 1
    assert fitted.demos == tuple(f"design{i}" for i in range(5))


def test_errors_name_the_problem(tmp_path):
    artifact = image_artifact()
    calibration = Calibration({"ice40": _model()})
    with pytest.raises(CalibrationError, match=r"^fabric 'ecp5' has no calibration \(calibrated: "
                                               r"ice40\); run bench/calibrate\.py on demo "
                                               r"reports synthesized for it$"):
        estimate_resources(artifact, FOLDING, "ecp5", calibration=calibration)
    with pytest.raises(CalibrationError, match=r"^the ice40 estimate is calibrated for designs "
                                               r"with DSP inference on, the adder_tree popcount "
                                               r"and pipeline 0, not off, adder_tree and 0$"):
        estimate_resources(artifact, FOLDING, "ice40", HardwareOptions(dsp=False),
                           calibration=calibration)
    with pytest.raises(CalibrationError, match=r"^the ice40 estimate is calibrated for designs "
                                               r"with DSP inference on, the adder_tree popcount "
                                               r"and pipeline 0, not on, adder_tree and 1$"):
        estimate_resources(artifact, FOLDING, "ice40", HardwareOptions(pipeline=1),
                           calibration=calibration)
    with pytest.raises(CalibrationError, match=r"^the xc7 estimate is calibrated for designs "
                                               r"whose memories synthesis places, not with "
                                               r"weight memories asked for block RAM from 128 "
                                               r"words and whole-word input-buffer writes$"):
        estimate_resources(artifact, FOLDING, "xc7", HardwareOptions.for_fabric("xc7"),
                           calibration=Calibration({"xc7": dataclasses.replace(_model(), fabric="xc7")}))
    with pytest.raises(ValueError, match=r"^fabric must be one of"):
        estimate_resources(artifact, FOLDING, "stratix", calibration=calibration)
    (tmp_path / "c.json").write_text(json.dumps({"schema": "other"}))
    with pytest.raises(CalibrationError, match=r"^calibration schema must be "
                                               r"'qnnforge-estimate-calibration/1', not 'other'$"):
        load_calibration(tmp_path / "c.json")
    with pytest.raises(CalibrationError, match=r"^cannot read the calibration "):
        load_calibration(tmp_path / "missing.json")


def test_estimate_resources_shape():
    estimate = estimate_resources(image_artifact(), FOLDING, "ice40",
                                  calibration=Calibration({"ice40": _model()}))
    assert set(estimate) == {"lut", "ff", "bram", "dsp", "layers"}
    assert set(estimate["layers"]) == {"conv0", "pool0", "fc0"}
    assert all(set(entry) == {"lut", "ff", "bram", "dsp"} for entry in estimate["layers"].values())
    assert all(isinstance(estimate[key], int) for key in ("lut", "ff", "bram", "dsp"))


def test_calibration_round_trips():
    calibration = load_calibration()
    assert Calibration.from_json(json.loads(json.dumps(calibration.to_json()))) == calibration
    assert {"ice40", "xc7"} <= set(calibration.fabrics)


def test_demos_stay_within_the_measured_error():
    """Re-estimate every demo's stored layer costs with the committed calibration: the figures
    bench/estimate.py measured, and within the 15 % the report claims where it claims it."""
    report = json.loads((RESULTS / "estimate.json").read_text())
    calibration = load_calibration()
    costs = {name: [LayerCost(**{**layer, "memories": tuple(MemoryBlock(**m)
                                                            for m in layer["memories"])})
                    for layer in layers] for name, layers in report["costs"].items()}
    assert {row["demo"] for row in report["rows"]} == set(costs)
    for row in report["rows"]:
        estimate = estimate_layers(costs[row["demo"]], calibration.model(row["fabric"]))
        assert {key: estimate[key] for key in ("lut", "ff", "bram", "dsp")} == row["in_sample"]
        error = abs(estimate["lut"] - row["measured"]["lut"]) / row["measured"]["lut"]
        assert error == pytest.approx(abs(row["in_sample_error"]["lut"]), abs=1e-4)
        assert error <= report["summary"][row["fabric"]]["in_sample_error"]["max_abs_lut"] + 1e-4
