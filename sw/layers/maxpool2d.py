"""The 2-D max-pool layer kind: dataclass, manifest codec, validation, reference.

Each output pixel is the per-channel maximum of a ``kernel_h x kernel_w`` window of the input
image (channels-last, no padding), windows ``stride`` apart. The maximum is over values, which is
the order of the codes: for bipolar codes it is the OR. The layer passes its input encoding
through and has no weights and no output rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import reference
from ..encoding import Encoding
from ..manifest import fail, join, read_encoding, read_field
from .geometry import check_ints, output_shape, read_ints

__all__ = ["MaxPool2dLayer"]


@dataclass(frozen=True)
class MaxPool2dLayer:
    """Per-channel maximum over windows of a channels-last image.

    Parameters
    ----------
    name : str
        Unique layer name, used in every error message.
    input_encoding : Encoding
        Encoding of the input elements, and of the outputs.
    in_shape : (int, int, int)
        Input image ``(height, width, channels)``.
    kernel, stride : (int, int)
        Window height and width; vertical and horizontal step.
    """

    op: ClassVar[str] = "maxpool2d"
    output: ClassVar[None] = None
    """A pool has no output rule: its outputs are input values."""

    name: str
    input_encoding: Encoding
    in_shape: tuple[int, int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]

    @property
    def channels(self) -> int:
        return self.in_shape[2]

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return output_shape(self.in_shape, self.kernel, self.stride, (0, 0, 0, 0),
                            self.channels, self.name)

    @property
    def in_features(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def out_features(self) -> int:
        return int(np.prod(self.out_shape))

    @property
    def output_encoding(self) -> Encoding:
        return self.input_encoding

    @property
    def macs(self) -> int:
        """A pool compares; it multiplies nothing."""
        return 0

    @property
    def accumulator_bound(self) -> None:
        """A pool accumulates nothing."""
        return None

    def validate(self, path: str) -> None:
        """Raise :class:`~qnnforge.sw.manifest.ArtifactError` if a field is illegal."""
        check_ints(self.in_shape, 3, 1, join(path, "in_shape"))
        check_ints(self.kernel, 2, 1, join(path, "kernel"))
        check_ints(self.stride, 2, 1, join(path, "stride"))
        output_shape(self.in_shape, self.kernel, self.stride, (0, 0, 0, 0), self.channels, path)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Return the outputs for a batch ``x`` of flat images, shape (n, in_features)."""
        images = np.asarray(x, dtype=np.int64).reshape(-1, *self.in_shape)
        return reference.maxpool2d(images, self.kernel, self.stride).reshape(len(images), -1)

    def to_manifest(self) -> tuple[dict, dict[str, np.ndarray]]:
        """Return the manifest entry (a pool has no arrays)."""
        return {"name": self.name, "op": self.op, "in_shape": list(self.in_shape),
                "kernel": list(self.kernel), "stride": list(self.stride),
                "input_encoding": self.input_encoding.to_json()}, {}

    @classmethod
    def from_manifest(cls, entry: dict, arrays: dict, path: str,
                      version: int) -> MaxPool2dLayer:
        """Return the layer stored at ``entry`` (manifest path ``path``).

        Raises
        ------
        ArtifactError
            If a field is missing or malformed, or the schema version predates pooling.
        """
        if version < 3:
            raise fail(join(path, "op"), f"schema version {version} has no 'maxpool2d' layers "
                                         f"(they need version 3)")
        return cls(name=read_field(entry, "name", path, str),
                   input_encoding=read_encoding(entry, "input_encoding", path),
                   in_shape=read_ints(entry, "in_shape", path, 3, 1),
                   kernel=read_ints(entry, "kernel", path, 2, 1),
                   stride=read_ints(entry, "stride", path, 2, 1))
