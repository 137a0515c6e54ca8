"""Training hyper-parameters are validated with messages that say what is allowed."""

import pytest

from qnnforge.sw.config import TrainConfig


@pytest.mark.parametrize("kwargs, message", [
    ({"seed": -1}, r"^seed must be a non-negative integer, not -1$"),
    ({"epochs": 0}, r"^epochs must be a positive integer, not 0$"),
    ({"batch_size": True}, r"^batch_size must be a positive integer, not True$"),
    ({"hidden": ()}, r"^hidden must be a non-empty tuple of positive integers, not \(\)$"),
])
def test_train_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_seed_zero_is_allowed():
    assert TrainConfig(seed=0).seed == 0
