"""Reading and checking the geometry fields of spatial layers (shapes, kernels, strides, pads).

Spatial layers (:mod:`.conv2d`, :mod:`.maxpool2d`) hold channels-last images: an image of shape
``(height, width, channels)`` is the flat vector whose element ``(y * width + x) * channels + c``
is pixel ``(y, x)``'s channel ``c``, which is also the order its elements stream in.
"""

from __future__ import annotations

from ..manifest import fail, join, read_field
from ..reference import output_size

__all__ = ["read_ints", "check_ints", "output_shape"]


def check_ints(values, count: int, minimum: int, path: str) -> tuple[int, ...]:
    """Return ``values`` as a tuple of ``count`` integers ``>= minimum``.

    Raises
    ------
    ArtifactError
        Naming ``path``, if ``values`` is not such a sequence.
    """
    if (not isinstance(values, (list, tuple)) or len(values) != count
            or any(not isinstance(v, int) or isinstance(v, bool) for v in values)):
        raise fail(path, f"must be a list of {count} integers, not {values!r}")
    if any(v < minimum for v in values):
        raise fail(path, f"values must be at least {minimum}, not {list(values)}")
    return tuple(values)


def read_ints(entry: dict, key: str, path: str, count: int, minimum: int) -> tuple[int, ...]:
    """Return field ``key`` of ``entry``: a list of ``count`` integers ``>= minimum``."""
    return check_ints(read_field(entry, key, path, list), count, minimum, join(path, key))


def output_shape(in_shape: tuple[int, int, int], kernel: tuple[int, int],
                 stride: tuple[int, int], padding: tuple[int, int, int, int],
                 channels: int, path: str) -> tuple[int, int, int]:
    """Return ``(out_height, out_width, channels)`` of windows over a padded image.

    Raises
    ------
    ArtifactError
        If the kernel is larger than the padded image (no window fits).
    """
    height, width = in_shape[0], in_shape[1]
    top, left, bottom, right = padding
    if kernel[0] > height + top + bottom or kernel[1] > width + left + right:
        raise fail(join(path, "kernel"), f"{list(kernel)} does not fit the padded image "
                                         f"{height + top + bottom}x{width + left + right}")
    return (output_size(height, kernel[0], stride[0], top, bottom),
            output_size(width, kernel[1], stride[1], left, right), channels)
