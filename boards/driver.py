"""Host driver: send images to a board over a serial port and read back classes and scores.

The board must run a bitstream built from the same artifact (``qnnforge build``): the driver
quantizes raw images with the artifact's input rule, frames each as a request
(:mod:`.protocol`), and decodes the response. Every failure a user can meet ends in one
:class:`BoardError` that names the port: a port that cannot be opened, a board that stays silent
(no bitstream, wrong baud rate, wrong cable), a garbled answer, or a rejected request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from ..sw.artifact import Artifact
from ..sw.errors import QnnforgeError
from .protocol import (ProtocolError, Response, Status, decode_response, encode_request,
                       response_length)
from .top import DEFAULT_BAUD, QUIET_BYTES

__all__ = ["BoardError", "PortError", "BoardTimeout", "BoardRejected", "BoardDriver",
           "Classification"]


class BoardError(QnnforgeError, RuntimeError):
    """Talking to the board failed; the message names the port and what to check."""


class PortError(BoardError):
    """The serial port cannot be opened."""


class BoardTimeout(BoardError):
    """The board did not answer in time."""


class BoardRejected(BoardError):
    """The board answered a request with an error status."""


@dataclass(frozen=True)
class Classification:
    """The board's answer for one image."""

    cls: int
    scores: tuple[int, ...]


def _open_serial(port: str, baud: int, timeout: float):
    import serial

    try:
        return serial.Serial(port, baud, timeout=timeout, write_timeout=timeout)
    except (serial.SerialException, OSError) as error:
        raise PortError(f"cannot open serial port {port}: {error}") from None


class BoardDriver:
    """A connection to a board running ``artifact``'s bitstream.

    Parameters
    ----------
    port : str
        Serial device (``/dev/ttyUSB1`` for the iCEBreaker's second FTDI channel).
    artifact : Artifact
        The network the bitstream was built from.
    baud : int
        UART rate of the bitstream.
    timeout : float
        Seconds to wait for each response.
    open_serial : callable, optional
        ``open_serial(port, baud, timeout)`` returning a pyserial-like object (tests pass a
        simulated board).

    Raises
    ------
    PortError
        If the port cannot be opened.
    ValueError
        If ``timeout`` is not positive.
    """

    def __init__(self, port: str, artifact: Artifact, *, baud: int = DEFAULT_BAUD,
                 timeout: float = 2.0, open_serial: Callable | None = None):
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        self._port_name = port
        self._artifact = artifact
        self._baud = baud
        self._timeout = timeout
        # the width the board's accelerator gives each score: pure arithmetic on the artifact
        self._score_bits = artifact.score_bits
        self._serial = (open_serial or _open_serial)(port, baud, timeout)

    def close(self) -> None:
        self._serial.close()

    def __enter__(self) -> BoardDriver:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read(self, count: int, data: bytes = b"") -> bytes:
        """Return ``data`` extended to ``count`` bytes from the port."""
        deadline = time.monotonic() + self._timeout
        while len(data) < count and time.monotonic() < deadline:
            data += self._serial.read(count - len(data))
        if len(data) < count:
            if not data:
                raise BoardTimeout(
                    f"no response from the board on {self._port_name} within "
                    f"{self._timeout:g} s: is it powered, programmed with a bitstream of this "
                    f"model, and running at {self._baud} baud?")
            raise BoardTimeout(f"the board on {self._port_name} sent only {len(data)} bytes of a "
                               f"response, then went silent")
        return data

    def request(self, codes: np.ndarray) -> Response:
        """Send one image of quantized ``codes``; return the board's decoded response.

        Raises
        ------
        BoardTimeout
            If the response does not arrive within the timeout.
        BoardError
            If the response is malformed (the board runs another model, or the line is noisy).
        """
        classes = self._artifact.num_classes
        self._serial.reset_input_buffer()
        self._serial.write(encode_request(codes, self._artifact.input.encoding.bits))
        self._serial.flush()
        head = self._read(3)
        try:
            length = response_length(Status(head[2]), classes, self._score_bits)
        except ValueError:
            length = 4  # let the decoder name the unknown status
        frame = self._read(length, head)
        try:
            return decode_response(frame, classes, self._score_bits)
        except ProtocolError as error:
            raise BoardError(f"garbled response from the board on {self._port_name} ({error}): "
                             f"does it run a bitstream built from this artifact?") from None

    def classify(self, raw_images: Iterable[np.ndarray]) -> list[Classification]:
        """Quantize and classify raw images one after another.

        A request refused as busy is sent again; any other refusal raises.

        Raises
        ------
        BoardRejected
            If the board rejects an image.
        BoardTimeout, BoardError
            As :meth:`request`.
        """
        results = []
        quiet_s = 2 * QUIET_BYTES * 10 / self._baud
        for index, raw in enumerate(raw_images):
            codes = self._artifact.input.quantize(np.asarray(raw).reshape(-1))
            for _ in range(3):
                response = self.request(codes)
                if response.status != Status.BUSY:
                    break
                time.sleep(quiet_s)
            if response.status != Status.OK:
                time.sleep(quiet_s)  # the board drains a rejected request until the line is quiet
                raise BoardRejected(f"the board on {self._port_name} rejected image {index}: "
                                    f"{response.status.name}")
            results.append(Classification(response.cls, response.scores))
        return results
