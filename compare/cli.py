"""`mnist-compare`: one command line, one subcommand per module.

Each subcommand lives in `compare/commands/<name>.py` and defines
`configure(parser)` (its arguments) and `run(args) -> int` (its exit code).
Modules are imported lazily, so `mnist-compare report` or `data` never pays for
importing TensorFlow.

Errors the user can fix (`CliError`, `ConfigError`, `DataError`, ...) are printed
as one line `mnist-compare: error: ...` with exit code 2 (bad input) or 1
(a failure while working); no traceback. So is a command that needs the Keras twin
in an install without TensorFlow (`pip install -e .` without the `keras` extra).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

# (name, one-line help). The order is the order shown in --help.
SUBCOMMANDS: tuple[tuple[str, str], ...] = (
    ("run", "train the scratch network and its Keras twin side by side; write a run folder"),
    ("sweep", "run a grid of settings x seeds in parallel (here or on Dask); sweep report"),
    ("check", "prove the scratch network equals Keras: gradients and lockstep training"),
    ("report", "render a run folder into report.md, report.html and PNG figures"),
    ("predict", "recognise your own handwritten digit images with both networks"),
    ("data", "locate or download MNIST, verify its digests, print a summary"),
    ("bench", "benchmark the scratch network against BLAS and Keras"),
    ("serve", "a local web page: draw a digit and watch both networks answer; browse runs"),
)


# The `keras` extra of pyproject.toml: what the Keras twin needs beyond the core install.
KERAS_PACKAGES = ("tensorflow", "keras")
MISSING_KERAS = (
    "this needs the Keras twin, and TensorFlow is not installed: "
    'pip install -e ".[keras]" (or run only the scratch network: --models scratch)'
)


class CliError(Exception):
    """A user error: printed as one line, exit code `exit_code`."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (not usage + error), exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        # "argument --lr: must be ..." (a type's range error) reads "--lr must be ...",
        # as the same error from a config file reads "learning_rate must be ...".
        flag, found, rule = message.removeprefix("argument ").partition(": must be ")
        if message.startswith("argument ") and found and " " not in flag:
            message = f"{flag.split('/')[-1]} must be {rule}"
        print(f"mnist-compare: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def _command_module(name: str):
    return importlib.import_module(f"compare.commands.{name}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser; with `only`, import just that subcommand's module."""
    parser = OneLineParser(
        prog="mnist-compare",
        description="A from-scratch NumPy network and its Keras twin, side by side on MNIST.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.set_defaults(subcommand_parsers={})
    for name, help_text in SUBCOMMANDS:
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        parser.get_default("subcommand_parsers")[name] = sub
        if only is None or only == name:
            _command_module(name).configure(sub)
    return parser


def int_at_least(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= `low`, else a one-line usage error."""

    def parse(text: str) -> int:
        from scratch.errors import must_be

        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{must_be('a whole number', low)}, got {value}")
        return value

    return parse


non_negative_int = int_at_least(0)  # seeds, thread counts
positive_int = int_at_least(1)  # steps, batch sizes

DATA_DIR_HELP = "folder with the four MNIST files (default: $MNIST_DATA_DIR, then the cache)"


def add_data_dir(parser: argparse.ArgumentParser | argparse._ArgumentGroup, more: str = "") -> None:
    """`--data-dir DIR`, the same metavar and words in every subcommand."""
    parser.add_argument("--data-dir", metavar="DIR", help=DATA_DIR_HELP + more)


def _user_error_types() -> tuple[type[BaseException], ...]:
    """CliError plus each package's user-error class (bad config, bad data, bad file)."""
    from compare.data import DataError
    from scratch.config import ConfigError
    from scratch.serialization import ModelFileError

    return (CliError, ConfigError, DataError, ModelFileError)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Only the chosen subcommand's module is imported (fast --help, no TF for `report`).
    chosen = next((a for a in argv if not a.startswith("-")), None)
    known = {name for name, _ in SUBCOMMANDS}
    parser = build_parser(only=chosen if chosen in known else None)
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # name the subcommand whose --help lists the valid options
        owner = args.subcommand_parsers.get(args.command, parser)
        owner.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help()
        return 2
    args.argv = argv  # the command line as typed, for the run folder's record
    try:
        return int(_command_module(args.command).run(args) or 0)
    except _user_error_types() as error:
        print(f"mnist-compare: error: {error}", file=sys.stderr)
        return getattr(error, "exit_code", 2)
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in KERAS_PACKAGES:
            raise
        print(f"mnist-compare: error: {MISSING_KERAS}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mnist-compare: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `mnist-compare data | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
