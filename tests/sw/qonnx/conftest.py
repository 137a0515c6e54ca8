"""Session-wide Brevitas clients for the importer tests (built in :mod:`.clients`): trained and
exported once, shared by every test."""

from __future__ import annotations

from pathlib import Path

import pytest

from qnnforge.sw.data import load_digits_split

from .clients import bnn_pynq, cnn, export, mlp, train


@pytest.fixture(scope="session")
def digits():
    return load_digits_split()


@pytest.fixture(scope="session")
def brevitas_mlps(tmp_path_factory, digits) -> dict[str, Path]:
    """The three Brevitas MLPs, trained for a few epochs and exported (once per session)."""
    out = tmp_path_factory.mktemp("brevitas")
    paths = {}
    for seed, kind in enumerate(("binary", "ternary", "int4")):
        model = mlp(kind, seed)
        train(model, digits, epochs=3, seed=seed)
        paths[kind] = export(model, (1, 64), out / f"mlp_{kind}.onnx")
    return paths


@pytest.fixture(scope="session")
def brevitas_cnn(tmp_path_factory, digits) -> Path:
    """The binary CNN, trained for a few epochs and exported with NCHW input (1, 1, 8, 8)."""
    model = cnn(5)
    train(model, digits, epochs=8, seed=5)
    return export(model, (1, 1, 8, 8), tmp_path_factory.mktemp("brevitas") / "cnn.onnx")


@pytest.fixture(scope="session")
def tfc(tmp_path_factory) -> Path:
    """FINN's TFC W1A1 with random weights, exported with its MNIST input (1, 1, 28, 28)."""
    return export(bnn_pynq("tfc_1w1a", 0), (1, 1, 28, 28),
                  tmp_path_factory.mktemp("bnn") / "tfc_1w1a.onnx")
