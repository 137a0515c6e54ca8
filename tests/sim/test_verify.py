"""verify_network reads the design interface and refuses one it cannot trust, before simulating."""

import dataclasses

import numpy as np
import pytest

from qnnforge.hw.compiler.generate import generate
from qnnforge.hw.compiler.interface import InterfaceError
from qnnforge.sim.runner import SimulationFailed
from qnnforge.sim.verify import reference_vectors, verify_network
from qnnforge.sw import reference
from qnnforge.sw.errors import VerificationError

from ..hw.layers import random_inputs, random_network


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    artifact = random_network(np.random.default_rng(2), [8, 6, 4])
    design = generate(artifact, tmp_path_factory.mktemp("hw"))
    codes = artifact.input.encoding.to_code(random_inputs(artifact.input.encoding,
                                                          np.random.default_rng(0), 5, 8))
    return artifact, design, codes


def test_design_without_interface_is_refused(network, tmp_path):
    artifact, design, codes = network
    summary = {key: value for key, value in design.summary.items() if key != "interface"}
    old = dataclasses.replace(design, summary=summary)
    with pytest.raises(InterfaceError, match=r"^interface: must be an object, not None"):
        verify_network(artifact, old, codes, tmp_path)


def test_design_of_another_artifact_is_refused(network, tmp_path):
    artifact, design, codes = network
    other = random_network(np.random.default_rng(2), [8, 6, 5])
    with pytest.raises(InterfaceError, match=r"^interface: does not describe a design of "
                                             r"artifact 'random' \(was it generated from "
                                             r"another artifact\?\)$"):
        verify_network(other, design, codes, tmp_path)


def test_reference_vectors_hold_values_of_every_layer(network):
    artifact, _, codes = network
    vectors = reference_vectors(artifact, codes)
    trace = reference.run(artifact, codes)
    assert set(vectors) == {"input_codes", "fc0_values", "fc1_values", "scores", "classes"}
    assert set(np.unique(vectors["fc0_values"])) <= {-1, 1}  # bipolar values, not codes
    np.testing.assert_array_equal(vectors["fc1_values"], trace.scores)


def test_simulation_failures_are_verification_errors():
    assert issubclass(SimulationFailed, VerificationError)
    assert not issubclass(SimulationFailed, AssertionError)


# --- Canaries of the network testbench's checker (sim/network_tb.first_mismatch) ---------------

def test_checker_accepts_equal_outputs_and_extra_rows():
    from qnnforge.sim.network_tb import first_mismatch
    expected = np.array([[1, -1, 1], [-1, -1, 1]])
    assert first_mismatch("fc0", expected, expected.copy()) is None
    assert first_mismatch("fc0", expected, np.vstack([expected, [[0, 0, 0]]])) is None


@pytest.mark.parametrize("actual, message", [
    ([[1, -1, 1], [-1, 1, 1], [5, 5, 5]],
     "sample 1, layer fc0, element 1: expected -1, got 1 (2 samples differ)"),
    ([[0, -1, 1], [-1, -1, 0], [0, 0, 0]],
     "sample 0, layer fc0, element 0: expected 1, got 0 (2 samples differ)"),
    ([[1, -1, 1], [-1, -1, 1], [0, 0, 1]],
     "sample 2, layer fc0, element 2: expected 0, got 1 (1 samples differ)"),
    ([[1, -1, 1]], "fc0: only 1 of 3 outputs arrived"),
])
def test_canary_checker_names_the_first_wrong_sample(actual, message):
    from qnnforge.sim.network_tb import first_mismatch
    expected = np.array([[1, -1, 1], [-1, -1, 1], [0, 0, 0]])
    assert first_mismatch("fc0", expected, np.array(actual)) == message
