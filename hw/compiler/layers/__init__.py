"""Layer kinds, hardware side: one module per kind, registered here by the manifest's ``op``.

Adding a kind is its software module (:mod:`qnnforge.sw.layers`), a module here implementing
:class:`~.base.LayerHardware` with its entry in :data:`HARDWARE_KINDS`, and its core in
:mod:`qnnforge.hw.cores`. The network, the folding and the design summary only ask the kind.
"""

from __future__ import annotations

from ....sw.layers import Layer
from .base import LayerHardware
from .dense import DenseHardware, LoweredDense

__all__ = ["LayerHardware", "DenseHardware", "LoweredDense", "HARDWARE_KINDS", "hardware_for",
           "lower_layer"]

HARDWARE_KINDS: dict[str, LayerHardware] = {kind.op: kind for kind in (DenseHardware(),)}
"""The hardware of every layer kind, by its manifest ``op``."""


def hardware_for(layer: Layer) -> LayerHardware:
    """Return the hardware kind of ``layer``."""
    return HARDWARE_KINDS[layer.op]


def lower_layer(layer: Layer):
    """Return the hardware form of ``layer`` (its kind's :meth:`~.base.LayerHardware.lower`)."""
    return hardware_for(layer).lower(layer)
