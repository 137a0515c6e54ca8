"""Only a user's errors become one line; a bug keeps its traceback."""

import pytest

from qnnforge.cli import main
from qnnforge.errors import UsageError, report_errors, usage_errors
from qnnforge.sw.artifact import ArtifactError
from qnnforge.sw.errors import QnnforgeError, VerificationError


def test_a_users_error_is_one_line_and_status_2(capsys):
    with report_errors() as outcome:
        raise ArtifactError("model: not an artifact directory")
    assert outcome.status == 2
    assert capsys.readouterr().err == "qnnforge: error: model: not an artifact directory\n"


def test_a_verification_failure_is_one_line_and_status_1(capsys):
    with report_errors() as outcome:
        raise VerificationError("fc1: 3 of 40 outputs differ")
    assert outcome.status == 1
    assert capsys.readouterr().err == "qnnforge: verification failed: fc1: 3 of 40 outputs differ\n"


@pytest.mark.parametrize("error", [ValueError("bug"), TypeError("bug"), AssertionError("bug"),
                                   FileNotFoundError("bug")])
def test_anything_else_keeps_its_traceback(error, capsys):
    with pytest.raises(type(error), match=r"^bug$"):
        with report_errors():
            raise error
    assert capsys.readouterr().err == ""


def test_usage_errors_turns_only_value_errors_into_usage_errors():
    with pytest.raises(UsageError, match=r"^PE must be a positive integer, not 0$") as info:
        with usage_errors():
            raise ValueError("PE must be a positive integer, not 0")
    assert isinstance(info.value.__cause__, ValueError)
    assert issubclass(UsageError, QnnforgeError)
    with pytest.raises(ArtifactError):  # already the user's: kept as it is
        with usage_errors():
            raise ArtifactError("x: y")
    with pytest.raises(TypeError):
        with usage_errors():
            raise TypeError("a bug")


def test_a_bug_in_a_library_function_shows_its_traceback(tmp_path, monkeypatch, capsys):
    import numpy as np

    import qnnforge.hw.compiler.generate as generate_module
    from tests.hw.layers import random_network

    random_network(np.random.default_rng(0), [16, 8, 4]).save(tmp_path / "model")

    def broken(*args, **kwargs):
        raise ValueError("an internal width went negative")

    monkeypatch.setattr(generate_module, "generate", broken)
    with pytest.raises(ValueError, match=r"^an internal width went negative$"):
        main(["generate", str(tmp_path / "model"), "--out", str(tmp_path / "hw")])
    assert "qnnforge: error" not in capsys.readouterr().err


def test_a_type_error_in_the_pipeline_shows_its_traceback(tmp_path, monkeypatch):
    import qnnforge.sw.pipeline as pipeline

    def broken(*args, **kwargs):
        raise TypeError("unsupported operand type(s)")

    monkeypatch.setattr(pipeline, "train_and_export", broken)
    with pytest.raises(TypeError, match=r"^unsupported operand type\(s\)$"):
        main(["train", "--out", str(tmp_path / "model")])
