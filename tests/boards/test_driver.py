"""Host driver against a simulated board: over a pseudo-terminal, and through fake ports."""

import os
import threading

import numpy as np
import pytest

from qnnforge.boards.driver import (BoardDriver, BoardError, BoardRejected, BoardTimeout,
                                    PortError)
from qnnforge.boards.protocol import (REQUEST, RESPONSE, SYNC, Status, checksum,
                                      request_length, score_bytes)
from qnnforge.sw import reference
from qnnforge.sw.data import load_digits_split


class BoardModel:
    """The board's protocol in Python: requests in, responses out (reference model inside)."""

    def __init__(self, artifact, reject: Status | None = None, corrupt: bool = False):
        self.artifact = artifact
        self.reject = reject
        self.corrupt = corrupt
        self.width = score_bytes(artifact.score_bits)
        self.buffer = bytearray()

    def feed(self, data: bytes) -> bytes:
        self.buffer += data
        n = self.artifact.in_features
        length = request_length(n)
        out = b""
        while len(self.buffer) >= length:
            frame, self.buffer = bytes(self.buffer[:length]), self.buffer[length:]
            assert frame[:2] == bytes([SYNC, REQUEST])
            assert int.from_bytes(frame[2:4], "little") == n
            assert checksum(frame[2:-1]) == frame[-1]
            if self.reject is not None:
                body = bytes([self.reject.value])
            else:
                trace = reference.run(self.artifact, np.frombuffer(frame[4:-1], np.uint8)
                                      .astype(np.int64).reshape(1, -1))
                body = bytes([0, int(trace.classes[0])]) + b"".join(
                    int(s).to_bytes(self.width, "little", signed=True) for s in trace.scores[0])
            tail = checksum(body) ^ (0xFF if self.corrupt else 0)
            out += bytes([SYNC, RESPONSE]) + body + bytes([tail])
        return out


class FakeSerial:
    """A pyserial-like port wired to a :class:`BoardModel` (or to nothing: a silent board)."""

    def __init__(self, board: BoardModel | None, truncate: int | None = None):
        self.board = board
        self.truncate = truncate
        self.pending = b""
        self.closed = False

    def reset_input_buffer(self):
        self.pending = b""

    def write(self, data):
        if self.board is not None:
            self.pending += self.board.feed(data)[:self.truncate]
        return len(data)

    def flush(self):
        pass

    def read(self, count):
        data, self.pending = self.pending[:count], self.pending[count:]
        return data

    def close(self):
        self.closed = True


@pytest.fixture(scope="module")
def images():
    return load_digits_split().x_test[:12]


def _driver(artifact, port: FakeSerial, timeout: float = 0.05) -> BoardDriver:
    return BoardDriver("/dev/fake0", artifact, timeout=timeout,
                       open_serial=lambda name, baud, timeout: port)


def test_classify_matches_the_reference(artifact, images):
    port = FakeSerial(BoardModel(artifact))
    with _driver(artifact, port) as driver:
        results = driver.classify(images)
    trace = reference.run(artifact, artifact.input.quantize(images))
    assert [r.cls for r in results] == trace.classes.tolist()
    assert [list(r.scores) for r in results] == trace.scores.tolist()
    assert port.closed


def test_silent_board_times_out_with_a_clear_message(artifact, images):
    driver = _driver(artifact, FakeSerial(None))
    with pytest.raises(BoardTimeout, match=r"^no response from the board on /dev/fake0 within "
                                           r"0\.05 s: is it powered, programmed with a bitstream "
                                           r"of this model, and running at 115200 baud\?$"):
        driver.classify(images[:1])


def test_board_that_stops_mid_response(artifact, images):
    driver = _driver(artifact, FakeSerial(BoardModel(artifact), truncate=6))
    with pytest.raises(BoardTimeout, match=r"^the board on /dev/fake0 sent only 6 bytes of a "
                                           r"response, then went silent$"):
        driver.classify(images[:1])


def test_garbled_and_rejected_responses(artifact, images):
    driver = _driver(artifact, FakeSerial(BoardModel(artifact, corrupt=True)))
    with pytest.raises(BoardError, match=r"^garbled response from the board on /dev/fake0 "
                                         r"\(response checksum is 0x[0-9a-f]{2}, expected "
                                         r"0x[0-9a-f]{2}\): does it run a bitstream built from "
                                         r"this artifact\?$"):
        driver.classify(images[:1])
    driver = _driver(artifact, FakeSerial(BoardModel(artifact, reject=Status.BAD_CHECKSUM)))
    with pytest.raises(BoardRejected, match=r"^the board on /dev/fake0 rejected image 0: "
                                            r"BAD_CHECKSUM$"):
        driver.classify(images[:1])


def test_missing_port_names_the_port(artifact):
    with pytest.raises(PortError, match=r"^cannot open serial port /dev/qnnforge-no-such-port: "
                                        r".*No such file or directory"):
        BoardDriver("/dev/qnnforge-no-such-port", artifact)


def test_real_pyserial_over_a_pseudo_terminal(artifact, images):
    controller, device = os.openpty()
    board = BoardModel(artifact)
    stop = threading.Event()

    def serve():
        os.set_blocking(controller, False)
        while not stop.is_set():
            try:
                data = os.read(controller, 4096)
            except BlockingIOError:
                stop.wait(0.001)
                continue
            answer = board.feed(data)
            if answer:
                os.write(controller, answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        import tty
        tty.setraw(device)
        with BoardDriver(os.ttyname(device), artifact, timeout=2.0) as driver:
            results = driver.classify(images[:5])
    finally:
        stop.set()
        thread.join()
        os.close(controller)
        os.close(device)
    expected = reference.run(artifact, artifact.input.quantize(images[:5])).classes
    assert [r.cls for r in results] == expected.tolist()
