"""TensorFlow's start-up lines stay off the terminal; a failing import still explains itself."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from keras_baseline.quiet import stderr_captured


def test_stderr_captured_hides_output_of_a_block_that_succeeds(capfd):
    with stderr_captured():
        os.write(2, b"start-up chatter\n")
    print("after", file=sys.stderr)
    err = capfd.readouterr().err
    assert "start-up chatter" not in err and "after" in err


def test_stderr_captured_replays_output_when_the_block_fails(capfd):
    with pytest.raises(ImportError), stderr_captured():
        os.write(2, b"libfoo.so: cannot open shared object file\n")
        raise ImportError("no foo")
    assert "libfoo.so: cannot open shared object file" in capfd.readouterr().err


def test_importing_the_twin_prints_nothing():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import keras_baseline, os; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert result.stderr == "" and result.stdout.strip() == "3"
