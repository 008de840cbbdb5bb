"""`mnist-compare bench`: not built yet."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of `mnist-compare bench`."""


def run(args: argparse.Namespace) -> int:
    from compare.cli import CliError

    raise CliError("'bench' is not implemented yet", exit_code=1)
