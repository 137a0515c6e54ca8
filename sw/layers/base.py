"""The protocol every layer kind follows on the software side."""

from __future__ import annotations

from typing import ClassVar, Protocol

import numpy as np

from ..encoding import Encoding
from ..outputs import OutputRule

__all__ = ["Layer"]


class Layer(Protocol):
    """What the artifact, the reference and the hardware generator ask of any layer kind.

    A layer kind is a frozen dataclass in its own module of :mod:`qnnforge.sw.layers`,
    registered in :data:`~qnnforge.sw.layers.LAYER_KINDS` under its manifest ``op``; its
    hardware side is registered under the same ``op`` in :mod:`qnnforge.hw.compiler.layers`.

    Attributes
    ----------
    op : str
        The manifest's ``layers[i].op``.
    name : str
        Unique layer name, used for array keys and in every error message.
    input_encoding : Encoding
        Encoding of the layer's input elements.
    output : OutputRule or None
        What the layer does with its accumulators; None for a layer that accumulates nothing
        (a pool passes input values through).
    """

    op: ClassVar[str]
    name: str
    input_encoding: Encoding
    output: OutputRule | None

    @property
    def in_shape(self) -> tuple[int, ...]:
        """Shape of one input: ``(features,)``, or ``(height, width, channels)`` for an image.

        A layer with a one-dimensional input reads any previous output of that size, flattened
        (channels-last order); an image input must match the previous output's shape exactly.
        """

    @property
    def out_shape(self) -> tuple[int, ...]:
        """Shape of one output, like :attr:`in_shape`."""

    @property
    def in_features(self) -> int:
        """Input elements per inference."""

    @property
    def out_features(self) -> int:
        """Output elements per inference."""

    @property
    def output_encoding(self) -> Encoding | None:
        """Encoding of the outputs, or None for class scores."""

    @property
    def macs(self) -> int:
        """Multiply-accumulates per inference (0 for a layer that multiplies nothing)."""

    @property
    def accumulator_bound(self) -> int | None:
        """Worst-case ``|accumulator|`` over all legal inputs and weights (None: no
        accumulator)."""

    def validate(self, path: str) -> None:
        """Raise :class:`~qnnforge.sw.manifest.ArtifactError` naming the field of a bad value."""

    def to_manifest(self) -> tuple[dict, dict[str, np.ndarray]]:
        """Return the manifest entry and the arrays of this layer."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Return the integer reference outputs for a batch of inputs."""
