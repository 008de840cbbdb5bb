"""The README's predict example runs as written: its image ships with the repository."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from compare.cli import main
from compare.digits import preprocess_digit

REPO = Path(__file__).resolve().parent.parent


def readme_predict_command() -> list[str]:
    """The README's `$ mnist-compare predict ...` line, as arguments after the program."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(r"^\$ mnist-compare (predict .+)$", readme, flags=re.MULTILINE)
    assert found, "README.md shows no `$ mnist-compare predict ...` example"
    return shlex.split(found.group(1))


def test_the_readme_predict_image_is_in_the_repository():
    image = REPO / readme_predict_command()[1]
    assert image.is_file(), f"{image} (README's predict example) is not in the repository"
    assert image.stat().st_size < 20_000  # an example image, not a dataset


@pytest.mark.mnist
def test_the_example_image_is_a_real_mnist_test_digit(mnist):
    """docs/images/seven.png is MNIST test image 0 (a 7) as a photo: enlarged, dark on
    light paper, off-centre, blurred; predict's preprocessing gives that digit back."""
    image = REPO / readme_predict_command()[1]
    frame = preprocess_digit(image)  # (784,) in [0, 1]
    original = mnist.test_images[0].reshape(-1) / 255.0
    assert int(mnist.test_labels[0]) == 7
    assert np.corrcoef(frame, original)[0, 1] > 0.8


@pytest.mark.mnist
@pytest.mark.slow
@pytest.mark.keras
def test_the_readme_predict_example_runs_as_written(quick_run, tmp_path, capsys, monkeypatch):
    argv = readme_predict_command()
    argv[argv.index("--run") + 1] = str(quick_run)  # runs/<run>: the reader's own run
    monkeypatch.chdir(REPO)
    figure = tmp_path / "seven-fig.png"
    argv[argv.index("--show") + 1] = str(figure)  # not into the repository
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  scratch: 7 ", out, flags=re.MULTILINE), out
    assert re.search(r"^  keras:   7 ", out, flags=re.MULTILINE), out
    assert figure.is_file()
