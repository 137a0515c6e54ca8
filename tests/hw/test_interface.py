"""The design interface: computed from the artifact, equal to the real ports, validated on load."""

import copy
import json

import numpy as np
import pytest
from amaranth.hdl import signed
from amaranth.sim import Simulator

from qnnforge.hw.compiler.folding import LayerFolding
from qnnforge.hw.compiler.plan import default_folding
from qnnforge.hw.compiler.generate import generate
from qnnforge.hw.compiler.interface import (DesignInterface, InterfaceError, ResultLayout,
                                            StreamFormat, design_interface)
from qnnforge.hw.compiler.network import Network
from qnnforge.hw.cores.argmax import Argmax
from qnnforge.sw.artifact import Artifact, InputQuantizer
from qnnforge.sw.encoding import BIPOLAR, TERNARY, sint, uint

from .layers import mixed_layer, random_network


def _mixed(rng) -> Artifact:
    layers = (
        mixed_layer(rng, 12, 8, uint(4), sint(8), "requantize", sint(6), "fc0"),
        mixed_layer(rng, 8, 6, sint(6), TERNARY, "multithreshold", uint(2), "fc1"),
        mixed_layer(rng, 6, 6, uint(2), BIPOLAR, "threshold", BIPOLAR, "fc2"),
        mixed_layer(rng, 6, 4, BIPOLAR, BIPOLAR, "scores", None, "fc3"),
    )
    return Artifact("mixed", InputQuantizer(uint(4), 0, 15, 1, 0), layers)


@pytest.fixture(scope="module")
def mixed():
    artifact = _mixed(np.random.default_rng(3))
    folding = default_folding(artifact.layers, target_cycles=8)
    return artifact, folding


def test_interface_describes_every_stream_from_the_artifact(mixed):
    artifact, folding = mixed
    interface = design_interface(artifact, folding)
    assert interface.input == StreamFormat("input", folding.input_lanes, 12,
                                           uint(4))
    assert [(layer.name, layer.lanes, layer.elements) for layer in interface.layers] == [
        (layer.name, fold.pe, layer.out_features)
        for layer, fold in zip(artifact.layers, folding.layers)]
    assert [layer.element for layer in interface.layers] == [
        sint(6), uint(2), BIPOLAR, sint(artifact.score_bits)]
    assert [entry["element"] for entry in interface.to_json()["layers"]] == [
        {"kind": "int", "bits": 6, "signed": True}, {"kind": "uint", "bits": 2, "signed": False},
        {"kind": "bipolar", "bits": 1, "signed": False},
        {"kind": "int", "bits": artifact.score_bits, "signed": True}]
    assert interface.score_bits == artifact.score_bits and interface.classes == 4


def test_interface_matches_the_ports_of_the_real_network(mixed):
    artifact, folding = mixed
    interface = design_interface(artifact, folding)
    network = Network(artifact, folding)
    layout = network.o_stream.payload.shape()
    result = interface.result
    assert result.width == layout.size
    assert (result.cls_offset, result.cls_bits) == (layout["cls"].offset,
                                                    layout["cls"].shape.width)
    scores = layout["scores"]
    assert result.score_offsets == tuple(scores.offset + scores.shape[index].offset
                                         for index in range(interface.classes))
    assert scores.shape.elem_shape.width == result.score_bits
    assert network.i_stream.payload.shape().size == interface.input.beat_bits


def test_result_decode_reads_the_word_the_argmax_drives():
    scores = [-9, 5, 5, -1, 7, -8]  # class 4 wins; negative scores test the sign extension
    layout = ResultLayout.for_scores(len(scores), 5)
    dut = Argmax(signed(5), len(scores), 2)
    words = []

    async def bench(ctx):
        ctx.set(dut.o_stream.ready, 1)
        for index in range(0, len(scores), 2):
            ctx.set(dut.i_stream.payload, scores[index:index + 2])
            ctx.set(dut.i_stream.valid, 1)
            await ctx.tick().until(dut.i_stream.ready)
        ctx.set(dut.i_stream.valid, 0)
        _, _, word = await ctx.tick().sample(dut.o_stream.payload.as_value())
        words.append(word)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert layout.decode(words[0]) == (4, tuple(scores))


def test_wide_scores_read_as_twos_complement():
    layout = ResultLayout.for_scores(2, 63)
    low, high = -(1 << 62), (1 << 62) - 1
    word = ((low & ((1 << 63) - 1)) << layout.score_offsets[0]) | (
        high << layout.score_offsets[1]) | (1 << layout.cls_offset)
    assert layout.decode(word) == (1, (low, high))


def test_generate_writes_the_interface(tmp_path):
    artifact = random_network(np.random.default_rng(1), [16, 8, 4])
    design = generate(artifact, tmp_path, overrides={0: LayerFolding(2, 4)})
    saved = json.loads(design.summary_path.read_text())["interface"]
    interface = DesignInterface.from_json(saved)
    assert interface == design_interface(artifact, default_folding(
        artifact.layers, overrides={0: LayerFolding(2, 4)}))
    assert saved["version"] == 1 and saved["layers"][0]["lanes"] == 2
    assert interface.to_json() == saved


def _corrupt(data: dict, path: tuple, value) -> dict:
    data = copy.deepcopy(data)
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


_DELETE = object()


@pytest.mark.parametrize("path, value, message", [
    (("version",), 2, r"^interface\.version: must be 1, not 2$"),
    (("input",), _DELETE, r"^interface\.input: is missing$"),
    (("input",), [], r"^interface\.input: must be an object, not \[\]$"),
    (("input", "lanes"), 3, r"^interface\.input\.lanes: must divide elements \(16\), not 3$"),
    (("input", "beats"), 5, r"^interface\.input\.beats: must be 16, not 5$"),
    (("input", "element", "kind"), "float",
     r"^interface\.input\.element\.kind: Encoding kind must be one of bipolar, ternary, "
     r"uint, int, ttq, codebook, not 'float'$"),
    (("layers", 0, "element", "signed"), True,
     r"^interface\.layers\[0\]\.element\.signed: must be False, not True$"),
    (("layers", 0, "element", "bits"), 2,
     r"^interface\.layers\[0\]\.element\.bits: Encoding 'bipolar' needs bits in 1\.\.1, "
     r"not 2$"),
    (("layers", 1), "fc1", r"^interface\.layers\[1\]: must be an object, not 'fc1'$"),
    (("layers", 1, "name"), "fc0", r"^interface\.layers\[1\]\.name: must be unique, not 'fc0'$"),
    (("layers", 0, "lanes"), True, r"^interface\.layers\[0\]\.lanes: must be an integer, "
                                   r"not True$"),
    (("result", "score_bits"), 1, r"^interface\.result\.score_bits: must be an integer in "
                                  r"2\.\.63, not 1$"),
    (("result", "cls_bits"), 1, r"^interface\.result\.cls_bits: must be an integer in 2\.\.63 "
                                r"for 4 classes, not 1$"),
    (("result", "score_offsets", 0), 1,  # inside the class index at bits 0..1
     r"^interface\.result\.score_offsets\[0\]: must be an integer offset not overlapping "
     r"another field \(from bit 2\), not 1$"),
    (("result", "width"), 1, r"^interface\.result\.width: must be \d+, not 1$"),
])
def test_from_json_names_the_bad_field(path, value, message):
    artifact = random_network(np.random.default_rng(1), [16, 8, 4])
    folding = default_folding(artifact.layers, overrides={0: LayerFolding(2, 4)})
    data = design_interface(artifact, folding).to_json()
    with pytest.raises(InterfaceError, match=message):
        DesignInterface.from_json(_corrupt(data, path, value))


def test_from_json_rejects_a_summary_without_interface():
    with pytest.raises(InterfaceError, match=r"^interface: must be an object, not None \(was "
                                             r"the design generated by an older qnnforge\?\)$"):
        DesignInterface.from_json(None)


def test_last_layer_must_carry_the_result_scores(mixed):
    artifact, folding = mixed
    interface = design_interface(artifact, folding)
    wrong = StreamFormat("fc3", 1, 4, sint(artifact.score_bits + 1))
    with pytest.raises(InterfaceError, match=rf"^layers\[3\]: must carry the 4 "
                                             rf"int{artifact.score_bits} scores of the result, "
                                             rf"not 4 int{artifact.score_bits + 1} elements$"):
        DesignInterface(interface.input, interface.layers[:3] + (wrong,), interface.result)


def test_folding_of_another_network_is_rejected(mixed):
    artifact, folding = mixed
    with pytest.raises(ValueError, match=r"^folding has 4 layers, the artifact 2$"):
        design_interface(random_network(np.random.default_rng(0), [8, 4, 2]), folding)
