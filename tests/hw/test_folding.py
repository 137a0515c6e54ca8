"""Default folding meets its target with the fewest lanes; user folding is validated."""

import pytest

from qnnforge.hw.compiler.folding import (LayerFolding, default_folding, layer_cycles,
                                 parse_folding)

DIGITS = [(64, 128), (128, 128), (128, 10)]


@pytest.mark.parametrize("target", [16, 64, 128, 256, 1024])
def test_default_folding_meets_target_with_fewest_lanes(target):
    folding = default_folding(DIGITS, target)
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
    folding = default_folding(DIGITS, 128, {1: LayerFolding(pe=8, simd=16)})
    assert folding.layers[1] == LayerFolding(pe=8, simd=16)


def test_layer_cycles_counts_partial_synapse_folds():
    assert layer_cycles(64, 128, 8, 8) == 128
    assert layer_cycles(10, 6, 3, 4) == 3 * 2


def test_parse_folding():
    assert parse_folding(["0:8x16", " 2:1x3 "]) == {0: LayerFolding(8, 16), 2: LayerFolding(1, 3)}


@pytest.mark.parametrize("specs, message", [
    (["0:8"], r"^folding must look like LAYER:PExSIMD \(e\.g\. 0:8x16\), not '0:8'$"),
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
        default_folding(DIGITS, 128, {0: override})


def test_default_folding_rejects_bad_target():
    with pytest.raises(ValueError, match=r"^target cycles must be a positive integer, not 0$"):
        default_folding(DIGITS, 0)
