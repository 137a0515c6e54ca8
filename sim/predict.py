"""Predict the classes of a user's batch of inputs: read and check the ``.npy``, run the reference
or the generated design in Verilator, write the classes.

The batch is what the model takes: for an artifact trained by qnnforge the raw features
``(n, in_features)`` in the input rule's domain (the digits' pixels 0..16; an image flat and
channels-last), for an input rule that declares its own ``raw_shape`` (a float rule of an
imported model) ``(n, *raw_shape)``. The artifact's input rule (``artifact.input.quantize``)
turns it into the network's input codes.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np

from ..sw import reference
from ..sw.artifact import Artifact
from ..sw.errors import QnnforgeError, VerificationError
from ..sw.files import write_output_file

__all__ = ["InputFileError", "raw_shape", "load_inputs", "reference_classes",
           "hardware_classes", "save_classes"]


class InputFileError(QnnforgeError, ValueError):
    """The inputs file is missing, not a ``.npy`` array, or not what the model takes."""


def raw_shape(artifact: Artifact) -> tuple[int, ...]:
    """Return the shape of one raw input: the rule's ``raw_shape`` where it has one, else
    ``(in_features,)``."""
    shape = getattr(artifact.input, "raw_shape", None)
    return (artifact.in_features,) if shape is None else tuple(shape)


def load_inputs(artifact: Artifact, path: str | os.PathLike) -> np.ndarray:
    """Return the network's input codes ``(n, in_features)`` for the batch in ``path``.

    Raises
    ------
    InputFileError
        If ``path`` is missing or not a regular file, not a ``.npy`` file, holds objects, has
        no rows or the wrong shape, or values the input rule refuses; the message names the
        file.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if not path.is_file():
        raise InputFileError(f"{path}: not a regular file")
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(f)
        except (ValueError, EOFError, OSError):
            raise InputFileError(f"{path}: not a .npy file") from None
    if dtype.hasobject:
        raise InputFileError(f"{path}: holds Python objects (dtype {dtype}), not numbers")
    expected = raw_shape(artifact)
    if len(shape) != 1 + len(expected) or tuple(shape[1:]) != expected:
        wanted = ", ".join(["n", *map(str, expected)])
        raise InputFileError(f"{path}: inputs must have shape ({wanted}), not {tuple(shape)}")
    if shape[0] == 0:
        raise InputFileError(f"{path}: holds no inputs")
    try:
        raw = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError, zipfile.BadZipFile) as error:
        raise InputFileError(f"{path}: not a .npy file ({error})") from None
    try:
        return artifact.input.quantize(raw)
    except (TypeError, ValueError) as error:
        raise InputFileError(f"{path}: {error}") from None


def reference_classes(artifact: Artifact, codes: np.ndarray) -> np.ndarray:
    """Return the integer reference's class of each row of input codes."""
    return reference.run(artifact, codes).classes


def hardware_classes(artifact: Artifact, design, codes: np.ndarray,
                     work_dir: str | os.PathLike) -> np.ndarray:
    """Return the classes the generated ``design`` computes in Verilator for input ``codes``.

    Every layer's outputs are compared with the reference (:func:`~.verify.verify_network`, at
    full rate and with random stalls and backpressure).

    Raises
    ------
    VerificationError
        If any layer output, score or class differs from the reference.
    """
    from .verify import verify_network

    result = verify_network(artifact, design, codes, work_dir)
    expected = reference_classes(artifact, codes)
    if result.mismatches or result.stalled_mismatches or not np.array_equal(result.classes,
                                                                            expected):
        raise VerificationError(
            f"the hardware's classes differ from the reference's on "
            f"{int(np.sum(result.classes != expected))} of {len(codes)} inputs "
            f"({result.mismatches} mismatches at full rate, {result.stalled_mismatches} with "
            f"stalls)")
    return result.classes


def save_classes(path: str | os.PathLike, classes: np.ndarray) -> Path:
    """Write ``classes`` as an int64 ``.npy`` to ``path`` atomically; return the path.

    Raises
    ------
    InputFileError
        If ``path`` is a directory or cannot be written (an existing file is left as it was).
    """
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(classes, dtype=np.int64), allow_pickle=False)
    return write_output_file(path, buffer.getvalue(), InputFileError)
