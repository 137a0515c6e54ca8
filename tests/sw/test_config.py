"""Training hyper-parameters are validated with messages that say what is allowed."""

import pytest

from qnnforge.sw.config import ConfigError, TrainConfig
from qnnforge.sw.errors import QnnforgeError


@pytest.mark.parametrize("kwargs, message", [
    ({"seed": -1}, r"^seed must be a non-negative integer, not -1$"),
    ({"epochs": 0}, r"^epochs must be a positive integer, not 0$"),
    ({"batch_size": True}, r"^batch_size must be a positive integer, not True$"),
    ({"hidden": ()}, r"^hidden must be a non-empty tuple of positive integers, not \(\)$"),
    ({"input_bits": 9}, r"^input_bits must be at most 8, not 9$"),
    ({"precision": "int3"}, r"^precision must be one of binary, ternary, int2, int4, int8, "
                            r"ttq, codebook2, codebook3, codebook4, codebook5, mixed, not "
                            r"'int3'$"),
    ({"layer_precision": ((1, "int4"),)}, r"^layer 1: int4 weights need fixed-point inputs, "
                                          r"but layer 0 \(binary\) outputs bipolar "
                                          r"activations$"),
    ({"rounding": "up", "precision": "int4"},
     r"^rounding must be one of nearest, stochastic, not 'up'$"),
    ({"rounding": "stochastic"}, r"^rounding 'stochastic' needs a layer with fixed-point "
                                 r"weights or unsigned activations, but every layer is binary$"),
])
def test_train_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)
    with pytest.raises(ConfigError):
        TrainConfig(**kwargs)


def test_config_errors_are_the_users():
    assert issubclass(ConfigError, QnnforgeError) and issubclass(ConfigError, ValueError)


def test_seed_zero_is_allowed():
    assert TrainConfig(seed=0).seed == 0


def test_precision_summary_names_every_layer():
    config = TrainConfig(precision="mixed", hidden=(8, 8, 8), layer_precision=((1, "int4"),))
    assert config.precision_summary() == {"preset": "mixed",
                                          "layers": ["int8", "int4", "ternary", "int8"]}
    assert TrainConfig(input_bits=8).input_bits == 8
