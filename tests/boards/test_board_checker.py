"""Canaries of the board testbench's checker (qnnforge.boards.board_tb): wrong answers fail.

The Verilator run (tests/boards/test_board_sim.py) only shows that a correct board passes; these
feed the checker and the response reader deliberately wrong responses, byte by byte as the UART
sink would have decoded them, and assert that each is reported.
"""

import re
from types import SimpleNamespace

import pytest

from qnnforge.boards.board_tb import ResponseReader, _check
from qnnforge.boards.protocol import RESPONSE, SYNC, Response, Status, checksum

CLASSES, SCORE_BITS = 3, 8


def _frame(status: Status, cls: int | None = None, scores=()) -> bytes:
    """Encode a response by hand from the protocol's documented layout (not its encoder)."""
    body = bytes([status.value])
    if status is Status.OK:
        body += bytes([cls]) + bytes(score & 0xFF for score in scores)
    return bytes([SYNC, RESPONSE]) + body + bytes([checksum(body)])


def _sink(data: bytes, framing_errors: int = 0):
    return SimpleNamespace(data=bytearray(data), framing_errors=framing_errors)


EXPECTED = [(Status.OK, 2, [1, -2, 7]), (Status.BAD_CHECKSUM, None, None),
            (Status.OK, 0, [5, 4, -1])]


def _responses(data: bytes) -> list:
    reader = ResponseReader(_sink(data), CLASSES, SCORE_BITS)
    responses = []
    while (response := reader.take()) is not None:
        responses.append(response)
    return responses


GOOD = (_frame(Status.OK, 2, [1, -2, 7]) + _frame(Status.BAD_CHECKSUM)
        + _frame(Status.OK, 0, [5, 4, -1]))


def test_reader_decodes_hand_made_frames():
    assert _responses(GOOD) == [Response(Status.OK, 2, (1, -2, 7)), Response(Status.BAD_CHECKSUM),
                                Response(Status.OK, 0, (5, 4, -1))]
    assert _check(EXPECTED, _responses(GOOD), _sink(GOOD)) == []


@pytest.mark.parametrize("data, message", [
    (_frame(Status.OK, 1, [1, -2, 7]) + GOOD[8:],
     r"^request 0: expected OK class 2 scores \[1, -2, 7\], got OK class 1 scores \[1, -2, 7\]$"),
    (_frame(Status.OK, 2, [1, -2, 6]) + GOOD[8:],
     r"^request 0: expected OK class 2 scores \[1, -2, 7\], got OK class 2 scores \[1, -2, 6\]$"),
    (GOOD[:8] + _frame(Status.TIMEOUT) + GOOD[12:],
     r"^request 1: expected BAD_CHECKSUM class None scores None, got TIMEOUT class None "
     r"scores None$"),
    (GOOD[:12], r"^only 2 of 3 responses arrived \(the design hung or dropped a request\)$"),
    (GOOD + _frame(Status.BAD_HEADER), r"^1 responses more than requests$"),
])
def test_canary_checker_reports_each_wrong_board(data, message):
    errors = _check(EXPECTED, _responses(data), _sink(data))
    assert len(errors) == 1
    assert re.match(message, errors[0]), errors


def test_canary_checker_reports_bytes_without_stop_bit():
    errors = _check(EXPECTED, _responses(GOOD), _sink(GOOD, framing_errors=2))
    assert errors == ["2 bytes from the board had no stop bit"]


def test_canary_checker_stops_at_the_first_wrong_response():
    data = _frame(Status.OK, 1, [1, -2, 7]) + GOOD[8:12] + _frame(Status.OK, 1, [5, 4, -1])
    errors = _check(EXPECTED, _responses(data), _sink(data))
    assert len(errors) == 1 and errors[0].startswith("request 0: ")
