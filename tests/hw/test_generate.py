"""Verilog generation and the design summary's cycle model."""

import json

import numpy as np
import pytest

from qnnforge.hw.compiler.folding import LayerFolding
from qnnforge.hw.compiler.generate import generate
from qnnforge.hw.compiler.options import HardwareOptions

from .layers import random_network


@pytest.fixture(scope="module")
def artifact():
    return random_network(np.random.default_rng(1), [16, 8, 4])


def test_generate_writes_verilog_and_summary(artifact, tmp_path):
    design = generate(artifact, tmp_path, overrides={0: LayerFolding(2, 4)}, top="net")
    text = design.verilog.read_text()
    assert text.count("module net(") == 1 and "i_stream__payload" in text
    summary = json.loads(design.summary_path.read_text())
    assert summary == design.summary
    first, second = summary["layers"]
    # expectations worked out by hand, not from the summary's own fields: 16 inputs of one
    # 4-bit lane a beat; fc0 16 -> 8 at PE 2, SIMD 4: 16/4 = 4 synapse folds x 8/2 = 4 neuron
    # folds = 16 cycles; fc1 8 -> 4 at the default PE 1, SIMD 1 (fc0 is not the bottleneck to
    # match): 8 x 4 = 32 cycles
    assert summary["input"]["beats_per_inference"] == 16
    assert (first["pe"], first["simd"], first["cycles_per_vector"]) == (2, 4, 16)
    assert (first["synapse_folds"], first["neuron_folds"]) == (4, 4)
    assert (second["pe"], second["simd"], second["cycles_per_vector"]) == (1, 1, 32)
    assert (second["synapse_folds"], second["neuron_folds"]) == (8, 4)
    # the slowest stage sets the interval; the latency is the input, then each layer's whole
    # vector plus its two pipeline registers (issue, output): 16 + (16 + 2) + (32 + 2)
    assert summary["cycles_per_inference"] == 32
    assert summary["latency_cycles"] == 68
    assert second["accumulator_bits"] == 4  # popcount of 8 lanes


def test_generate_is_deterministic(artifact, tmp_path):
    first = generate(artifact, tmp_path / "a").verilog.read_text()
    assert generate(artifact, tmp_path / "b").verilog.read_text() == first


def test_generate_rejects_bad_top(artifact, tmp_path):
    with pytest.raises(ValueError, match=r"^top must be a Verilog identifier, not '1net'$"):
        generate(artifact, tmp_path, top="1net")
    assert not list(tmp_path.iterdir())


def test_generate_records_the_popcount(artifact, tmp_path):
    default = generate(artifact, tmp_path / "a").summary
    assert default["popcount"] == {"architecture": "adder_tree", "lut_inputs": 6}
    options = HardwareOptions(popcount="compressor", lut_inputs=4)
    design = generate(artifact, tmp_path / "b", options=options)
    assert design.summary["popcount"] == {"architecture": "compressor", "lut_inputs": 4}
    assert design.verilog.read_text() != (tmp_path / "a" / "qnnforge_top.v").read_text()


@pytest.mark.parametrize("kwargs, message", [
    ({"popcount": "wallace"}, r"^popcount must be one of adder_tree, compressor, not 'wallace'$"),
    ({"popcount": "compressor", "lut_inputs": 2},
     r"^lut_inputs must be an integer of at least 3, not 2$"),
    ({"pipeline": -1}, r"^pipeline must be a non-negative integer, not -1$"),
    ({"pipeline": True}, r"^pipeline must be a non-negative integer, not True$"),
    ({"block_rom_words": 0}, r"^block_rom_words must be None or a positive integer, not 0$"),
    ({"block_rom_words": 64.0},
     r"^block_rom_words must be None or a positive integer, not 64\.0$"),
])
def test_generate_rejects_bad_popcount(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HardwareOptions(**kwargs)


def test_deep_weight_memories_are_asked_for_block_ram(tmp_path):
    # one 8 x 16 layer at PE = SIMD = 1: a 128-word weight memory; the second layer's is 16
    artifact = random_network(np.random.default_rng(3), [16, 8, 2])
    folding = {0: LayerFolding(pe=1, simd=1), 1: LayerFolding(pe=1, simd=1)}
    options = HardwareOptions.for_fabric("xc7")
    assert options.block_rom_words == 128
    design = generate(artifact, tmp_path / "xc7", options=options, overrides=folding)
    verilog = design.verilog.read_text()
    assert verilog.count('rom_style = "block"') == 1
    assert design.summary["memories"] == {"block_rom_words": 128, "whole_word_writes": True,
                                          "writable_weights": False}
    ice40 = generate(artifact, tmp_path / "ice40", options=HardwareOptions.for_fabric("ice40"),
                     overrides=folding)
    assert "rom_style" not in ice40.verilog.read_text()  # left to synthesis
