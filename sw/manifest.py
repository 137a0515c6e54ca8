"""Reading manifest fields: every failure is an :class:`ArtifactError` naming the field.

The codecs of the input rule, the layer kinds and the output rules all read their part of
``manifest.json`` through these helpers, so every message has one form:
``layers[1].output.thresholds: array 'fc1.thresholds' must have shape (2, 3), not (2, 2)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .encoding import TABLE_KINDS, Encoding
from .errors import QnnforgeError

__all__ = ["MANIFEST", "ARRAYS", "ArtifactError", "fail", "read_field", "read_encoding",
           "read_array", "check_range", "join"]

MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"


class ArtifactError(QnnforgeError, ValueError):
    """An artifact is malformed; the message names the field at fault."""


def fail(path: str, message: str) -> ArtifactError:
    """Return the error for field ``path``: ``"<path>: <message>"``."""
    return ArtifactError(f"{path}: {message}")


def join(path: str, key: str) -> str:
    """Return the path of member ``key`` of the object at ``path`` (the root is ``""``)."""
    return f"{path}.{key}" if path else key


def read_field(mapping: Any, key: str, path: str, kind: type | tuple[type, ...]) -> Any:
    """Return ``mapping[key]``, checked to be of ``kind`` (``int`` excludes ``bool``).

    Raises
    ------
    ArtifactError
        If ``mapping`` is not an object, the field is missing or of another type.
    """
    if not isinstance(mapping, dict):
        raise fail(path or MANIFEST, f"must be an object, not {type(mapping).__name__}")
    name = join(path, key)
    if key not in mapping:
        raise fail(name, "missing field")
    value = mapping[key]
    if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
        raise fail(name, f"must be an integer, not {value!r}")
    if not isinstance(value, kind):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        raise fail(name, f"must be of type {'/'.join(k.__name__ for k in kinds)}, "
                         f"not {type(value).__name__}")
    return value


def read_encoding(mapping: dict, key: str, path: str) -> Encoding:
    """Return the :class:`Encoding` stored as ``{"kind": ..., "bits": ...}`` at ``key``; a
    ``ttq`` or ``codebook`` encoding also holds ``"values"``, a list of integers."""
    entry = read_field(mapping, key, path, dict)
    name = join(path, key)
    kind = read_field(entry, "kind", name, str)
    bits = read_field(entry, "bits", name, int)
    values: tuple[int, ...] = ()
    if kind in TABLE_KINDS:
        listed = read_field(entry, "values", name, list)
        for index, value in enumerate(listed):
            if not isinstance(value, int) or isinstance(value, bool):
                raise fail(f"{name}.values[{index}]", f"must be an integer, not {value!r}")
        values = tuple(listed)
    elif "values" in entry:
        raise fail(f"{name}.values", f"an encoding of kind {kind!r} has no values")
    try:
        return Encoding(kind, bits, values)
    except ArtifactError:
        raise
    except (TypeError, ValueError) as error:
        raise fail(name, str(error)) from None


def read_array(arrays: dict, mapping: dict, key: str, path: str,
                shape: tuple[int, ...]) -> np.ndarray:
    """Return the integer array named by ``mapping[key]``, checked to have ``shape``, as int64.

    Raises
    ------
    ArtifactError
        If the name is missing, the array is absent, not integer, of another shape or holds
        unsigned values beyond int64.
    """
    name = read_field(mapping, key, path, str)
    where = join(path, key)
    if name not in arrays:
        raise fail(where, f"array {name!r} is missing from {ARRAYS}")
    array = arrays[name]
    if array.dtype.kind not in "iu":
        raise fail(where, f"array {name!r} must hold integers, not {array.dtype}")
    if array.shape != shape:
        raise fail(where, f"array {name!r} must have shape {shape}, not {array.shape}")
    if array.dtype.kind == "u" and array.size and array.max() > np.iinfo(np.int64).max:
        raise fail(where, f"array {name!r} holds values beyond the int64 range")
    return array.astype(np.int64)


def check_range(values: np.ndarray, low: int, high: int, path: str, what: str = "") -> None:
    """Raise :class:`ArtifactError` unless every value lies in ``low .. high``.

    Compares both ends directly (never through ``abs``, which wraps at int64's minimum).
    """
    values = np.asarray(values)
    if values.size and (np.any(values < low) or np.any(values > high)):
        raise fail(path, f"values must lie in {low}..{high}{what}")
