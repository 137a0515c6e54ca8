"""The whole board design (UART in, accelerator, UART out) in cocotb + Verilator."""

import numpy as np
import pytest

from qnnforge.boards.protocol import Status
from qnnforge.hw.compiler.options import HardwareOptions
from qnnforge.boards.verify import verify_board
from qnnforge.sw import reference
from qnnforge.sw.data import load_digits_split

HELD_OUT = 50


@pytest.mark.parametrize("options", [HardwareOptions(), HardwareOptions.for_fabric("ice40")],
                         ids=["plain", "ice40-pipelined"])
def test_board_answers_held_out_images_like_the_reference(artifact, folding, options, tmp_path):
    codes = artifact.input.quantize(load_digits_split().x_test[:HELD_OUT])
    result = verify_board(artifact, folding, codes, tmp_path, options=options)
    # the testbench already compared scores; check the classes it reports independently
    assert result.requests == HELD_OUT
    np.testing.assert_array_equal(result.classes, reference.run(artifact, codes).classes)
    # each malformed request got its own error, and the good request after it its result
    expected = []
    for case in result.malformed_cases:
        expected += [{"bad second header byte": Status.BAD_HEADER,
                      "stray bytes before a header": Status.BAD_HEADER,
                      "length one short": Status.BAD_LENGTH,
                      "length one long": Status.BAD_LENGTH,
                      "wrong checksum": Status.BAD_CHECKSUM,
                      "cut short": Status.TIMEOUT,
                      "code out of range": Status.BAD_VALUE}[case].name, "OK"]
    assert list(result.malformed_statuses) == expected
    assert len(result.malformed_cases) == 7


def test_board_verification_rejects_codes_of_the_wrong_size(artifact, folding, tmp_path):
    with pytest.raises(ValueError, match=r"^codes must have shape \(n, 64\) with n >= 1, "
                                         r"not \(3, 63\)$"):
        verify_board(artifact, folding, np.zeros((3, 63), dtype=np.int64), tmp_path)


def test_board_answers_held_out_images_with_a_cnn(tmp_path):
    """A convolutional network behind the same UART protocol: the image is one request."""
    from qnnforge.boards.protocol import request_length
    from qnnforge.boards.verify import SIM_DIVISOR
    from qnnforge.hw.compiler.plan import cycle_model, default_folding
    from qnnforge.sw.artifact import Artifact, InputQuantizer, MaxPool2dLayer
    from qnnforge.sw.encoding import BIPOLAR, uint

    from ..hw.layers import mixed_layer, random_conv

    rng = np.random.default_rng(4)
    conv = random_conv(rng, "conv0", (8, 8, 1), 8, uint(4), BIPOLAR, "threshold", BIPOLAR,
                       pad_value=0)
    pool = MaxPool2dLayer("pool0", BIPOLAR, conv.out_shape, (2, 2), (2, 2))
    dense = mixed_layer(rng, pool.out_features, 10, BIPOLAR, BIPOLAR, "scores", name="fc0")
    quantizer = InputQuantizer(encoding=uint(4), raw_min=0, raw_max=16, multiplier=15, shift=4)
    artifact = Artifact("small-cnn", quantizer, (conv, pool, dense))
    codes = artifact.input.quantize(load_digits_split().x_test[:HELD_OUT])
    # folded slower than a request takes on the simulated UART: the line is slowed to match
    folding = default_folding(artifact.layers, 8192)
    assert cycle_model(artifact.layers, folding).interval > 10 * SIM_DIVISOR * request_length(64)
    result = verify_board(artifact, folding, codes, tmp_path)
    assert result.requests == HELD_OUT
    np.testing.assert_array_equal(result.classes, reference.run(artifact, codes).classes)
