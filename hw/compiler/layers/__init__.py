"""Layer kinds, hardware side: one module per kind, registered here by the manifest's ``op``.

Adding a kind is its software module (:mod:`qnnforge.sw.layers`), a module here implementing
:class:`~.base.LayerHardware` with its entry in :data:`HARDWARE_KINDS`, and its core in
:mod:`qnnforge.hw.cores`. The network, the folding and the design summary only ask the kind.
"""

from __future__ import annotations

from ....sw.layers import Layer
from .base import LayerHardware
from .conv2d import Conv2dHardware, LoweredConv2d
from .dense import DenseHardware, LoweredDense
from .maxpool2d import LoweredMaxPool2d, MaxPool2dHardware

__all__ = ["LayerHardware", "DenseHardware", "LoweredDense", "Conv2dHardware", "LoweredConv2d",
           "MaxPool2dHardware", "LoweredMaxPool2d", "HARDWARE_KINDS", "hardware_for",
           "lower_layer"]

HARDWARE_KINDS: dict[str, LayerHardware] = {
    kind.op: kind for kind in (DenseHardware(), Conv2dHardware(), MaxPool2dHardware())}
"""The hardware of every layer kind, by its manifest ``op``."""


def hardware_for(layer: Layer) -> LayerHardware:
    """Return the hardware kind of ``layer``."""
    return HARDWARE_KINDS[layer.op]


def lower_layer(layer: Layer):
    """Return the hardware form of ``layer`` (its kind's :meth:`~.base.LayerHardware.lower`)."""
    return hardware_for(layer).lower(layer)
