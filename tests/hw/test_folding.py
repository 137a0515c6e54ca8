"""Default folding meets its target with the fewest lanes; user folding is validated."""

import numpy as np
import pytest

from qnnforge.hw.compiler.folding import FoldingError, LayerFolding, layer_cycles, parse_folding
from qnnforge.hw.compiler.plan import check_folding, cycle_model, default_folding
from qnnforge.sw.encoding import BIPOLAR
from qnnforge.sw.errors import QnnforgeError
from qnnforge.sw.layers import DenseLayer
from qnnforge.sw.outputs import ScoreOutput, ThresholdActivation

DIGITS = [(64, 128), (128, 128), (128, 10)]


def _layers(shapes):
    """Dense layers of the given (fan_in, fan_out), as an artifact would hold them."""
    layers = []
    for index, (fan_in, fan_out) in enumerate(shapes):
        last = index == len(shapes) - 1
        output = (ScoreOutput(np.zeros(fan_out, np.int64)) if last else
                  ThresholdActivation(np.zeros(fan_out, np.int64), np.ones(fan_out, np.int64)))
        layers.append(DenseLayer(f"fc{index}", BIPOLAR, BIPOLAR,
                                 np.ones((fan_out, fan_in), np.int64), output))
    return layers


DIGITS_LAYERS = _layers(DIGITS)


@pytest.mark.parametrize("target", [16, 64, 128, 256, 1024])
def test_default_folding_meets_target_with_fewest_lanes(target):
    folding = default_folding(DIGITS_LAYERS, target)
    for (fan_in, fan_out), fold in zip(DIGITS, folding.layers):
        cycles = layer_cycles(fan_in, fan_out, fold.pe, fold.simd)
        assert cycles <= target
        cheaper = [(pe, simd) for pe in range(1, fan_out + 1) if fan_out % pe == 0
                   for simd in range(1, fan_in + 1)
                   if pe * simd < fold.pe * fold.simd
                   and layer_cycles(fan_in, fan_out, pe, simd) <= target]
        assert not cheaper
    assert DIGITS[0][0] // folding.input_lanes <= target


def test_default_folding_keeps_user_overrides():
    folding = default_folding(DIGITS_LAYERS, 128, {1: LayerFolding(pe=8, simd=16)})
    assert folding.layers[1] == LayerFolding(pe=8, simd=16)


def test_layer_cycles_counts_partial_synapse_folds():
    assert layer_cycles(64, 128, 8, 8) == 128
    assert layer_cycles(10, 6, 3, 4) == 3 * 2


def test_parse_folding():
    assert parse_folding(["0:8x16", " 2:1x3 ", "conv0:4x9"]) == {
        0: LayerFolding(8, 16), 2: LayerFolding(1, 3), "conv0": LayerFolding(4, 9)}


@pytest.mark.parametrize("specs, message", [
    (["0:8"], r"^folding must look like LAYER:PExSIMD \(e\.g\. 0:8x16 or conv0:4x9\), "
              r"not '0:8'$"),
    (["0x:8x1"], r"^folding must look like LAYER:PExSIMD \(e\.g\. 0:8x16 or conv0:4x9\), "
                 r"not '0x:8x1'$"),
    (["1:2x2", "1:4x4"], r"^folding for layer 1 is given twice$"),
    (["0:0x4"], r"^PE must be a positive integer, not 0$"),
])
def test_parse_folding_rejects_bad_specs(specs, message):
    with pytest.raises(ValueError, match=message):
        parse_folding(specs)


@pytest.mark.parametrize("override, message", [
    (LayerFolding(3, 4), r"^layer 0: PE must divide the fan-out 128, not 3$"),
    (LayerFolding(2, 65), r"^layer 0: SIMD must not exceed the fan-in 64, not 65$"),
])
def test_default_folding_rejects_overrides_that_do_not_fit(override, message):
    with pytest.raises(ValueError, match=message):
        default_folding(DIGITS_LAYERS, 128, {0: override})


def test_default_folding_takes_overrides_by_layer_name():
    names = [layer.name for layer in DIGITS_LAYERS]
    folding = default_folding(DIGITS_LAYERS, 128, {names[1]: LayerFolding(2, 8)})
    assert folding.layers[1] == LayerFolding(2, 8)


@pytest.mark.parametrize("overrides, message", [
    ({"conv9": LayerFolding(1, 1)}, r"^folding names layer 'conv9', but the network's layers "
                                    r"are fc0, fc1, fc2$"),
    ({7: LayerFolding(1, 1)}, r"^folding names layer 7, but the network has 3 layers \(0\.\.2\)$"),
    ({1: LayerFolding(1, 1), "fc1": LayerFolding(2, 2)},
     r"^folding for layer 1 \(fc1\) is given twice$"),
])
def test_default_folding_rejects_overrides_naming_no_layer_or_one_twice(overrides, message):
    with pytest.raises(ValueError, match=message):
        default_folding(DIGITS_LAYERS, 128, overrides)


def test_default_folding_rejects_bad_target():
    with pytest.raises(ValueError, match=r"^target cycles must be a positive integer, not 0$"):
        default_folding(DIGITS_LAYERS, 0)


def test_default_folding_rejects_overrides_of_missing_layers():
    with pytest.raises(FoldingError, match=r"^folding names layer 7, but the network has 3 "
                                           r"layers \(0\.\.2\)$"):
        default_folding(DIGITS_LAYERS, 128, {7: LayerFolding(1, 1)})
    assert issubclass(FoldingError, QnnforgeError) and issubclass(FoldingError, ValueError)


def test_check_folding_rejects_a_folding_of_another_network():
    folding = default_folding(DIGITS_LAYERS, 128)
    with pytest.raises(FoldingError, match=r"^folding has 3 layers, the artifact 2$"):
        check_folding(DIGITS_LAYERS[:2], folding)


def test_cycle_model_is_the_slowest_stage_and_the_sum_of_latencies():
    folding = default_folding(DIGITS_LAYERS, 128, {1: LayerFolding(pe=8, simd=16)})
    model = cycle_model(DIGITS_LAYERS, folding)
    cycles = [layer_cycles(k, n, f.pe, f.simd) for (k, n), f in zip(DIGITS, folding.layers)]
    assert model.layer_cycles == tuple(cycles)
    assert model.input_beats == 64 // folding.input_lanes
    assert model.interval == max(model.input_beats, *cycles)
    assert model.latency == model.input_beats + sum(c + 2 for c in cycles)
