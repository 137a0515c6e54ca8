"""Layer kinds, software side: one module per kind, registered here by the manifest's ``op``.

Adding a kind is a new module here (dataclass, manifest codec, validation, integer reference;
see :class:`~.base.Layer`), its entry in :data:`LAYER_KINDS`, and its hardware module in
:mod:`qnnforge.hw.compiler.layers`.
"""

from __future__ import annotations

from ..manifest import fail, read_field
from .base import Layer
from .conv2d import Conv2dLayer
from .dense import DenseLayer
from .maxpool2d import MaxPool2dLayer

__all__ = ["Layer", "DenseLayer", "Conv2dLayer", "MaxPool2dLayer", "LAYER_KINDS",
           "layer_from_manifest"]

LAYER_KINDS: dict[str, type] = {kind.op: kind
                                for kind in (DenseLayer, Conv2dLayer, MaxPool2dLayer)}
"""Every layer kind, by its manifest ``op``."""


def layer_from_manifest(entry: dict, arrays: dict, path: str, version: int) -> Layer:
    """Return the layer stored at ``entry`` (manifest path ``path``), of whichever kind.

    Raises
    ------
    ArtifactError
        If ``op`` names no layer kind or a field of the layer is malformed.
    """
    op = read_field(entry, "op", path, str)
    if op not in LAYER_KINDS:
        names = [repr(name) for name in LAYER_KINDS]
        expected = names[0] if len(names) == 1 else f"one of {', '.join(names)}"
        raise fail(f"{path}.op", f"must be {expected}, not {op!r}")
    return LAYER_KINDS[op].from_manifest(entry, arrays, path, version)
