"""Reproducible runs: the same configuration and seed on one machine give the same bytes."""

import pytest

from qnnforge.sw.config import TrainConfig
from qnnforge.sw.pipeline import train_and_export


@pytest.mark.parametrize("config", [TrainConfig(epochs=2),
                                    TrainConfig(arch="cnn", channels=(4, 4), epochs=1,
                                                precision="mixed")],
                         ids=["mlp", "cnn"])
def test_same_seed_gives_a_byte_identical_artifact(config, tmp_path):
    first = train_and_export(config).artifact.save(tmp_path / "a")
    second = train_and_export(config).artifact.save(tmp_path / "b")
    for name in ("manifest.json", "arrays.npz"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_another_seed_gives_another_artifact(tmp_path):
    first = train_and_export(TrainConfig(epochs=2)).artifact.save(tmp_path / "a")
    second = train_and_export(TrainConfig(epochs=2, seed=1)).artifact.save(tmp_path / "b")
    assert (first / "arrays.npz").read_bytes() != (second / "arrays.npz").read_bytes()
