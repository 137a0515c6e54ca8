"""The resource breakdown: per layer and per part, summing to the hierarchical synthesis."""

import numpy as np
import pytest

from qnnforge.hw.compiler.generate import generate
from qnnforge.hw.tools.breakdown import resource_breakdown
from qnnforge.hw.tools.synth import synthesize

from .layers import random_cnn


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    artifact = random_cnn(np.random.default_rng(2), "binary", in_shape=(5, 5, 2),
                          channels=(4, 4))
    return artifact, generate(artifact, tmp_path_factory.mktemp("hw"), target_cycles=200)


@pytest.mark.parametrize("fabric", ["ice40", "xc7"])
def test_every_layer_is_a_unit_and_its_parts_sum_to_it(design, fabric):
    artifact, built = design
    breakdown = resource_breakdown(built.verilog, built.summary["top"], fabric)
    assert set(breakdown["units"]) == {layer.name for layer in artifact.layers} | {"argmax"}
    conv = breakdown["units"]["conv0"]
    assert {"window", "matrix", "matrix.dot"} <= set(conv["parts"])
    for unit in breakdown["units"].values():
        for kind in ("lut", "ff", "bram"):
            assert sum(part[kind] for part in unit["parts"].values()) == unit["total"][kind]
    for kind in ("lut", "ff"):
        units = sum(unit["total"][kind] for unit in breakdown["units"].values())
        assert units + breakdown["top_logic"][kind] == breakdown["total"][kind]


def test_hierarchical_total_is_close_to_the_flat_synthesis(design):
    _, built = design
    flat = synthesize(built.verilog, built.summary["top"], "ice40")
    kept = resource_breakdown(built.verilog, built.summary["top"], "ice40")["total"]
    assert abs(kept["lut"] - flat.lut) <= 0.25 * flat.lut
    assert abs(kept["ff"] - flat.ff) <= 0.1 * flat.ff
