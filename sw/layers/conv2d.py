"""The 2-D convolution layer kind: dataclass, manifest codec, validation, reference.

A convolution is a dense layer applied to every window of its input image (channels-last, see
:mod:`.geometry`): window ``(oy, ox)`` covers padded-image pixels ``(oy * stride_h + ky,
ox * stride_w + kx)``, flattened channel fastest, then kernel column, then kernel row
(:func:`~qnnforge.sw.reference.windows`); the weights ``(out_channels, kernel_h, kernel_w,
in_channels)`` flatten in the same order, so they are the rows of the matrix-vector unit's
matrix. Padding inserts ``pad_value``, a legal value of the input encoding (a bipolar input has no
zero: it pads with -1 or +1). The output rule applies per output channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import reference
from ..encoding import Encoding
from ..manifest import fail, join, read_array, read_encoding, read_field
from ..outputs import OutputRule, output_rule_from_manifest
from .dense import (accumulator_bound, check_weight_version, check_weights,
                    weight_and_output_arrays)
from .geometry import check_ints, output_shape, read_ints

__all__ = ["Conv2dLayer"]


@dataclass(frozen=True)
class Conv2dLayer:
    """A 2-D convolution: integer dot products over every window, then an output rule.

    Parameters
    ----------
    name : str
        Unique layer name, used for the array keys and in every error message.
    input_encoding, weight_encoding : Encoding
        Encodings of the layer input and of its weights.
    in_shape : (int, int, int)
        Input image ``(height, width, in_channels)``, channels-last.
    weights : numpy.ndarray
        Integer weights of shape ``(out_channels, kernel_h, kernel_w, in_channels)``.
    stride : (int, int)
        Vertical and horizontal step between windows.
    padding : (int, int, int, int)
        Rows or columns of ``pad_value`` added at the top, left, bottom and right.
    pad_value : int
        The value padding inserts; a legal value of ``input_encoding``.
    output : OutputRule
        What the layer does with its accumulators, per output channel (not class scores).
    """

    op: ClassVar[str] = "conv2d"

    name: str
    input_encoding: Encoding
    weight_encoding: Encoding
    in_shape: tuple[int, int, int]
    weights: np.ndarray
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]
    pad_value: int
    output: OutputRule

    @property
    def in_channels(self) -> int:
        return int(self.weights.shape[3])

    @property
    def out_channels(self) -> int:
        return int(self.weights.shape[0])

    @property
    def kernel(self) -> tuple[int, int]:
        return int(self.weights.shape[1]), int(self.weights.shape[2])

    @property
    def fan_in(self) -> int:
        """Elements of one window: ``kernel_h * kernel_w * in_channels``."""
        return int(np.prod(self.weights.shape[1:]))

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """Output image ``(out_height, out_width, out_channels)``."""
        return output_shape(self.in_shape, self.kernel, self.stride, self.padding,
                            self.out_channels, self.name)

    @property
    def in_features(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def out_features(self) -> int:
        return int(np.prod(self.out_shape))

    @property
    def output_encoding(self) -> Encoding | None:
        return self.output.encoding

    @property
    def macs(self) -> int:
        """Multiply-accumulates per inference: every weight once per output pixel."""
        return self.out_shape[0] * self.out_shape[1] * self.fan_in * self.out_channels

    @property
    def accumulator_bound(self) -> int:
        """Worst-case ``|acc|`` of one window (the pad value is a legal input)."""
        return accumulator_bound(self.fan_in, self.input_encoding, self.weight_encoding)

    def validate(self, path: str) -> None:
        """Raise :class:`~qnnforge.sw.manifest.ArtifactError` if a field is illegal."""
        check_ints(self.in_shape, 3, 1, join(path, "in_shape"))
        check_ints(self.stride, 2, 1, join(path, "stride"))
        check_ints(self.padding, 4, 0, join(path, "padding"))
        if self.weights.ndim != 4 or self.weights.shape[3] != self.in_shape[2]:
            raise fail(join(path, "weights"), f"must have shape (out_channels, kernel_h, "
                                              f"kernel_w, {self.in_shape[2]}), not "
                                              f"{self.weights.shape}")
        output_shape(self.in_shape, self.kernel, self.stride, self.padding, self.out_channels,
                     path)
        if (not isinstance(self.pad_value, (int, np.integer)) or isinstance(self.pad_value, bool)
                or not self.input_encoding.contains(np.array([self.pad_value]))):
            raise fail(join(path, "pad_value"), f"must be a legal {self.input_encoding} value, "
                                                f"not {self.pad_value!r}")
        check_weights(self.weights, self.weight_encoding, path)
        if self.output.final:
            raise fail(join(path, "output.kind"), "must be an activation (a convolution does "
                                                  "not produce class scores)")
        self.output.validate(self.accumulator_bound, join(path, "output"))

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Return the outputs for a batch ``x`` of flat images, shape (n, in_features)."""
        images = np.asarray(x, dtype=np.int64).reshape(-1, *self.in_shape)
        acc = reference.conv2d(images, self.weights, self.stride, self.padding, self.pad_value)
        return self.output.apply(acc).reshape(len(images), -1)

    def to_manifest(self) -> tuple[dict, dict[str, np.ndarray]]:
        """Return the manifest entry and the arrays (weights and output constants)."""
        output, arrays = weight_and_output_arrays(self.name, self.weights, self.weight_encoding,
                                                  self.output)
        entry = {
            "name": self.name, "op": self.op,
            "in_shape": list(self.in_shape), "out_channels": self.out_channels,
            "kernel": list(self.kernel), "stride": list(self.stride),
            "padding": list(self.padding), "pad_value": int(self.pad_value),
            "input_encoding": self.input_encoding.to_json(),
            "weight_encoding": self.weight_encoding.to_json(),
            "weights": f"{self.name}.weights",
            "accumulator_bound": self.accumulator_bound,
            "output": output,
        }
        return entry, arrays

    @classmethod
    def from_manifest(cls, entry: dict, arrays: dict, path: str, version: int) -> Conv2dLayer:
        """Return the layer stored at ``entry`` (manifest path ``path``).

        Raises
        ------
        ArtifactError
            If a field is missing or malformed, or the schema version predates convolutions.
        """
        if version < 3:
            raise fail(join(path, "op"), f"schema version {version} has no 'conv2d' layers "
                                         f"(they need version 3)")
        name = read_field(entry, "name", path, str)
        in_shape = read_ints(entry, "in_shape", path, 3, 1)
        out_channels = read_field(entry, "out_channels", path, int)
        if out_channels < 1:
            raise fail(join(path, "out_channels"), f"must be a positive integer, not "
                                                   f"{out_channels}")
        kernel = read_ints(entry, "kernel", path, 2, 1)
        weights = read_array(arrays, entry, "weights", path,
                             (out_channels, kernel[0], kernel[1], in_shape[2]))
        output = output_rule_from_manifest(read_field(entry, "output", path, dict), arrays,
                                           join(path, "output"), out_channels, version)
        weight_encoding = read_encoding(entry, "weight_encoding", path)
        check_weight_version(weight_encoding, version, path)
        return cls(name=name, input_encoding=read_encoding(entry, "input_encoding", path),
                   weight_encoding=weight_encoding,
                   in_shape=in_shape, weights=weights,
                   stride=read_ints(entry, "stride", path, 2, 1),
                   padding=read_ints(entry, "padding", path, 4, 0),
                   pad_value=read_field(entry, "pad_value", path, int), output=output)
