"""Broken and hostile artifact files: one clear ArtifactError naming the file, never a crash,
a hang or a traceback from deep inside numpy or json."""

import json
import os
import re

import numpy as np
import pytest

from qnnforge.sw.artifact import MAX_NESTING, ArtifactError, load_artifact


def _manifest_is_a_directory(path):
    (path / "manifest.json").unlink()
    (path / "manifest.json").mkdir()


def _manifest_is_a_pipe(path):  # opening it for reading would block forever
    (path / "manifest.json").unlink()
    os.mkfifo(path / "manifest.json")


def _manifest_is_a_symlink_loop(path):
    (path / "manifest.json").unlink()
    os.symlink("manifest.json", path / "manifest.json")


def _manifest_is_not_utf8(path):
    (path / "manifest.json").write_bytes(b'{"name": "caf\xe9"}')


def _manifest_nests_too_deeply(path):
    (path / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)


def _metadata_nests_too_deeply(path):
    manifest = json.loads((path / "manifest.json").read_text())
    nested: list = []
    for _ in range(MAX_NESTING + 1):
        nested = [nested]
    manifest["metadata"] = {"deep": nested}
    (path / "manifest.json").write_text(json.dumps(manifest))


def _arrays_are_empty(path):
    (path / "arrays.npz").write_bytes(b"")


def _arrays_are_truncated(path):
    data = (path / "arrays.npz").read_bytes()
    (path / "arrays.npz").write_bytes(data[:len(data) // 2])


def _arrays_are_text(path):
    (path / "arrays.npz").write_text("fc0.weights = [[1, -1]]\n")


def _arrays_hold_objects(path):
    with np.load(path / "arrays.npz") as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays["fc0.weights"] = np.array([[1, "x"]], dtype=object)
    with open(path / "arrays.npz", "wb") as f:
        np.savez(f, **arrays)


def _arrays_are_a_directory(path):
    (path / "arrays.npz").unlink()
    (path / "arrays.npz").mkdir()


@pytest.mark.parametrize("break_files, message", [
    (_manifest_is_a_directory, r"^manifest\.json: must be a regular file$"),
    (_manifest_is_a_pipe, r"^manifest\.json: must be a regular file$"),
    (_manifest_is_a_symlink_loop,
     r"^manifest\.json: unreadable \(Too many levels of symbolic links\)$"),
    (_manifest_is_not_utf8, r"^manifest\.json: not UTF-8 text \(byte 0xe9 at offset 13\)$"),
    (_manifest_nests_too_deeply, rf"^manifest\.json: nested deeper than {MAX_NESTING} levels$"),
    (_metadata_nests_too_deeply,
     rf"^metadata\.deep{re.escape('[0]' * (MAX_NESTING - 2))}: nested deeper than "
     rf"{MAX_NESTING} levels$"),
    (_arrays_are_empty, r"^arrays\.npz: unreadable \(not an \.npz archive of \.npy arrays\)$"),
    (_arrays_are_truncated, r"^arrays\.npz: unreadable \(not an \.npz archive of \.npy arrays\)$"),
    (_arrays_are_text, r"^arrays\.npz: unreadable \(not an \.npz archive of \.npy arrays\)$"),
    (_arrays_hold_objects, r"^arrays\.npz: unreadable \(.*allow_pickle=False.*\)$"),
    (_arrays_are_a_directory, r"^arrays\.npz: must be a regular file$"),
])
def test_broken_files_raise_one_clear_error(saved, break_files, message):
    break_files(saved.path)
    with pytest.raises(ArtifactError, match=message):
        load_artifact(saved.path)
