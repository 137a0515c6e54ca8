"""``qnnforge run``: classify images on a board over its serial port."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ..console import console, key_value_table
from ..errors import UsageError
from ..options import positive_integer, positive_number


def register(subparsers) -> None:
    from ..boards.top import DEFAULT_BAUD

    parser = subparsers.add_parser(
        "run", help="classify images on a board over its serial port",
        description="Send raw images to a board running a bitstream built from ARTIFACT "
                    "('qnnforge build'), print each class, and compare with the integer "
                    "reference model. IMAGES are .npy files or text files of integers, one "
                    "image per row; --digits sends held-out digits instead.")
    parser.add_argument("artifact", type=Path, help="model artifact directory")
    parser.add_argument("images", type=Path, nargs="*", help="image files (.npy, .txt, .csv)")
    parser.add_argument("--port", required=True,
                        help="serial port of the board, e.g. /dev/ttyUSB1 for the iCEBreaker")
    parser.add_argument("--digits", type=int, default=None, metavar="N",
                        help="send the first N held-out digits and report the accuracy")
    parser.add_argument("--baud", type=positive_integer, default=DEFAULT_BAUD,
                        help="UART baud rate of the bitstream (default: %(default)s)")
    parser.add_argument("--timeout", type=positive_number, default=2.0,
                        help="seconds to wait for each answer (default: %(default)s)")
    parser.set_defaults(func=run)


def load_images(paths: list[Path], in_features: int) -> np.ndarray:
    """Return the raw images in ``paths`` as an ``(n, in_features)`` integer array.

    Raises
    ------
    UsageError
        If a file is missing, holds something other than numbers or does not hold whole images
        of ``in_features`` integers.
    """
    images = []
    for path in paths:
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
        if path.suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        else:
            text = path.read_text().replace(",", " ")
            try:
                array = np.array([[float(v) for v in line.split()]
                                  for line in text.splitlines() if line.strip()])
            except ValueError:
                raise UsageError(f"{path}: must hold numbers separated by spaces or commas, "
                                 f"one image per row") from None
        if array.size % in_features or array.size == 0:
            raise UsageError(f"{path}: must hold whole images of {in_features} values, "
                             f"not {array.size} values")
        array = array.reshape(-1, in_features)
        if array.dtype.kind == "f":
            if not np.all(array == np.round(array)):
                raise UsageError(f"{path}: values must be integers")
            array = array.astype(np.int64)
        images.append(array)
    return np.concatenate(images)


def run(args: argparse.Namespace) -> int:
    from ..boards.driver import BoardDriver, BoardError
    from ..sw import reference
    from ..sw.artifact import load_artifact

    artifact = load_artifact(args.artifact)
    if not args.images and args.digits is None:
        raise UsageError("give image files or --digits N")
    labels = None
    if args.images:
        raw = load_images(args.images, artifact.in_features)
    else:
        from ..sw.data import load_digits_split

        split = load_digits_split()
        if not 1 <= args.digits <= len(split.x_test):
            raise UsageError(f"digits must lie in 1..{len(split.x_test)}, not {args.digits}")
        raw, labels = split.x_test[:args.digits], split.y_test[:args.digits]
    expected = reference.run(artifact, artifact.input.quantize(raw)).classes
    try:
        with BoardDriver(args.port, artifact, baud=args.baud, timeout=args.timeout) as board:
            start = time.perf_counter()
            results = board.classify(raw)
            elapsed = time.perf_counter() - start
    except BoardError as error:
        print(f"qnnforge: error: {error}", file=sys.stderr)
        return 2
    classes = np.array([result.cls for result in results])
    for index, result in enumerate(results):
        console.print(f"image {index}: class {result.cls}"
                      + ("" if labels is None else f" (label {labels[index]})"))
    rows = [("images", len(results)), ("agree with the reference", int(np.sum(
        classes == expected))), ("images/s (host round trips)", f"{len(results) / elapsed:,.1f}")]
    if labels is not None:
        rows.append(("accuracy", f"{np.mean(classes == labels):.4f}"))
    console.print(key_value_table(f"qnnforge run on {args.port}", rows))
    return 0 if np.array_equal(classes, expected) else 1
