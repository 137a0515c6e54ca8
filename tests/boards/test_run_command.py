"""``qnnforge run``: image files, and clear errors for a missing port or no images."""

import numpy as np
import pytest

from qnnforge.cli import main
from qnnforge.commands.run import load_images


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory, artifact):
    return artifact.save(tmp_path_factory.mktemp("model") / "small")


def test_missing_port_is_one_error_line_naming_it(artifact_dir, capsys):
    status = main(["run", "--port", "/dev/qnnforge-no-such-port", str(artifact_dir),
                   "--digits", "2"])
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("qnnforge: error: cannot open serial port /dev/qnnforge-no-such-port: ")
    assert "\n" not in err


def test_run_needs_images(artifact_dir, capsys):
    assert main(["run", "--port", "/dev/null", str(artifact_dir)]) == 2
    assert capsys.readouterr().err == "qnnforge: error: give image files or --digits N\n"


def test_load_images_from_npy_and_text(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 17, size=(3, 64))
    np.save(tmp_path / "a.npy", images[:2])
    (tmp_path / "b.txt").write_text(", ".join(str(v) for v in images[2]) + "\n")
    loaded = load_images([tmp_path / "a.npy", tmp_path / "b.txt"], 64)
    np.testing.assert_array_equal(loaded, images)
    (tmp_path / "c.txt").write_text("1 2 3\n")
    with pytest.raises(ValueError, match=r"^.*c\.txt: must hold whole images of 64 values, "
                                         r"not 3 values$"):
        load_images([tmp_path / "c.txt"], 64)
    (tmp_path / "d.txt").write_text(" ".join(["0.5"] * 64))
    with pytest.raises(ValueError, match=r"^.*d\.txt: values must be integers$"):
        load_images([tmp_path / "d.txt"], 64)
