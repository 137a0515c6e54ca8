"""The serial protocol between a host and a board: request and response frames.

One definition serves the hardware (:mod:`.framing`), the host driver (:mod:`.driver`) and the
board testbench, so the three cannot drift apart.

Request (host to board), one image::

    0xA5 'I' | length (u16, little endian) | payload (length bytes) | checksum

Each payload byte is one quantized input code (element 0 first); ``length`` must equal the
network's input size and every code must fit the input width. ``checksum`` is the sum, modulo
256, of the two length bytes and the payload bytes.

Response (board to host), one per request, in request order::

    0xA5 'R' | status | cls | scores (classes x score_bytes, little endian) | checksum   (OK)
    0xA5 'R' | status | checksum                                                  (an error)

``checksum`` is the sum, modulo 256, of every byte after the two header bytes. Scores are two's
complement, sign-extended to ``score_bytes`` whole bytes.

After rejecting a request the board ignores the line until it has been quiet for its timeout,
then waits for a new header; a request cut short is rejected with :attr:`Status.TIMEOUT` once the
line has been quiet that long. Stray bytes before a header count as a rejected request
(:attr:`Status.BAD_HEADER`), so every request the host sends is answered exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.lib import enum

__all__ = ["SYNC", "REQUEST", "RESPONSE", "Status", "ProtocolError", "Response",
           "checksum", "score_bytes", "request_length", "encode_request", "response_length",
           "decode_response"]

SYNC = 0xA5
"""First byte of every frame; larger than any 4-bit code, so payloads rarely imitate it."""
REQUEST = ord("I")
"""Second byte of a request."""
RESPONSE = ord("R")
"""Second byte of a response."""


class Status(enum.Enum, shape=8):
    """Outcome of one request, sent as the third byte of its response."""

    OK = 0
    BAD_HEADER = 1
    """The byte after ``0xA5`` was not ``'I'``, or stray bytes arrived before a header."""
    BAD_LENGTH = 2
    """The length field differs from the network's input size."""
    BAD_VALUE = 3
    """A payload byte does not fit the input code width."""
    BAD_CHECKSUM = 4
    TIMEOUT = 5
    """The line went quiet in the middle of a request."""
    BUSY = 6
    """Both image buffers were still waiting for the accelerator."""
    LINE_ERROR = 7
    """The UART saw a missing stop bit (noise, a break, or the wrong baud rate)."""


class ProtocolError(ValueError):
    """A response from the board is malformed."""


@dataclass(frozen=True)
class Response:
    """One decoded response: its status and, for :attr:`Status.OK`, the class and scores."""

    status: Status
    cls: int | None = None
    scores: tuple[int, ...] | None = None


def checksum(data: bytes) -> int:
    """Return the sum of ``data`` modulo 256."""
    return sum(data) & 0xFF


def score_bytes(score_bits: int) -> int:
    """Return the whole bytes that carry one ``score_bits``-bit score."""
    return -(-score_bits // 8)


def request_length(in_features: int) -> int:
    """Return the length in bytes of a request carrying one image of ``in_features`` codes."""
    return 5 + in_features


def encode_request(codes, input_bits: int) -> bytes:
    """Return the request frame carrying one image of quantized input ``codes``.

    Raises
    ------
    ValueError
        If ``codes`` is not one-dimensional, is empty or longer than 65535, or holds a value
        outside ``0 .. 2**input_bits - 1``.
    """
    codes = np.asarray(codes)
    if codes.ndim != 1 or not 1 <= codes.size <= 0xFFFF:
        raise ValueError(f"an image must be a vector of 1..65535 codes, not shape {codes.shape}")
    if not 1 <= input_bits <= 8:
        raise ValueError(f"input codes must be 1..8 bits wide to travel as bytes, "
                         f"not {input_bits}")
    if codes.dtype.kind not in "iu" or codes.min() < 0 or codes.max() >= 1 << input_bits:
        raise ValueError(f"codes must be integers in 0..{(1 << input_bits) - 1}")
    body = codes.size.to_bytes(2, "little") + bytes(int(code) for code in codes)
    return bytes([SYNC, REQUEST]) + body + bytes([checksum(body)])


def response_length(status: Status, classes: int, score_bits: int) -> int:
    """Return the length in bytes of a response with ``status``."""
    if status == Status.OK:
        return 5 + classes * score_bytes(score_bits)
    return 4


def decode_response(frame: bytes, classes: int, score_bits: int) -> Response:
    """Decode one complete response frame.

    Raises
    ------
    ProtocolError
        If the header, status, length or checksum is wrong.
    """
    if len(frame) < 4 or frame[0] != SYNC or frame[1] != RESPONSE:
        raise ProtocolError(f"response must start with a5 52, not {frame[:2].hex(' ')}")
    try:
        status = Status(frame[2])
    except ValueError:
        raise ProtocolError(f"response status {frame[2]} is unknown") from None
    expected = response_length(status, classes, score_bits)
    if len(frame) != expected:
        raise ProtocolError(f"{status.name} response must be {expected} bytes, not {len(frame)}")
    if checksum(frame[2:-1]) != frame[-1]:
        raise ProtocolError(f"response checksum is {frame[-1]:#04x}, expected "
                            f"{checksum(frame[2:-1]):#04x}")
    if status != Status.OK:
        return Response(status)
    width = score_bytes(score_bits)
    scores = tuple(int.from_bytes(frame[4 + width * index:4 + width * (index + 1)], "little",
                                  signed=True) for index in range(classes))
    return Response(status, cls=frame[3], scores=scores)
