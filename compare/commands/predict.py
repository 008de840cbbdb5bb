"""`mnist-compare predict`: not built yet."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of `mnist-compare predict`."""


def run(args: argparse.Namespace) -> int:
    from compare.cli import CliError

    raise CliError("'predict' is not implemented yet", exit_code=1)
