"""Without the `keras` extra: a command that needs the Keras twin is one line, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from compare import cli

ROOT = Path(__file__).resolve().parents[1]


class _NeedsTensorFlow:
    @staticmethod
    def run(args) -> int:
        raise ModuleNotFoundError("No module named 'tensorflow'", name="tensorflow")


class _BrokenOtherwise:
    @staticmethod
    def run(args) -> int:
        raise ModuleNotFoundError("No module named 'nonexistent'", name="nonexistent")


def test_missing_tensorflow_is_one_line_exit_2(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_command_module", lambda name: _NeedsTensorFlow)
    monkeypatch.setattr(cli, "build_parser", lambda only=None: cli.OneLineParser(prog="x"))
    monkeypatch.setattr(cli.OneLineParser, "parse_known_args", _parsed)
    assert cli.main(["check"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert 'pip install -e ".[keras]"' in err


def test_another_missing_module_is_not_hidden(monkeypatch):
    monkeypatch.setattr(cli, "_command_module", lambda name: _BrokenOtherwise)
    monkeypatch.setattr(cli, "build_parser", lambda only=None: cli.OneLineParser(prog="x"))
    monkeypatch.setattr(cli.OneLineParser, "parse_known_args", _parsed)
    with pytest.raises(ModuleNotFoundError):
        cli.main(["check"])


def _parsed(self, argv):
    import argparse

    return argparse.Namespace(command=argv[0], subcommand_parsers={}), []


@pytest.mark.mnist
def test_run_of_the_keras_twin_without_tensorflow_names_the_extra(tmp_path, mnist_dir):
    """A real `run --models keras` in a process where tensorflow and keras cannot import."""
    code = (
        "import sys\n"
        "sys.modules['tensorflow'] = None\n"
        "sys.modules['keras'] = None\n"
        "from compare.cli import main\n"
        f"sys.exit(main(['run', '--models', 'keras', '--epochs', '1', '--limit-train', '64',"
        f" '--quiet', '--no-report', '--data-dir', {str(mnist_dir)!r},"
        f" '--out', {str(tmp_path / 'run')!r}]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "TensorFlow is not installed" in result.stderr
