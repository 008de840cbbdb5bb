"""`mnist-compare check`: prove the scratch network equals Keras (gradients, lockstep training).

With `--model FILE.py:CLASS` it checks the learner's own network instead (compare/usercli.py,
compare/usercheck.py); that runs their file. Exit code 0 only if every row passes; 1 if any
fails; 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from compare.cli import add_data_dir, non_negative_int, positive_int
from scratch.config import DTYPES, OPTIMIZERS, ConfigError


def _names(kind: str, choices: tuple[str, ...]):
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(part.strip() for part in text.split(",") if part.strip())
        bad = [name for name in names if name not in choices]
        if not names or bad:
            raise argparse.ArgumentTypeError(
                f"unknown {kind} {', '.join(bad) or repr(text)}; choose from {','.join(choices)}"
            )
        return names

    return parse


def _sizes(text: str) -> tuple[int, ...]:
    """--hidden as an argparse type: the run's one parser of hidden sizes."""
    from compare.runconfig import parse_hidden

    try:
        return tuple(parse_hidden(text))
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("--hidden ")) from None


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of `mnist-compare check`."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short version for CI: 200 steps on 6,400 images, 4 gradient cases",
    )
    add_data_dir(parser)
    parser.add_argument(
        "--steps",
        type=positive_int,
        help="lockstep steps (default: one full epoch; 200 with --quick)",
    )
    parser.add_argument("--batch-size", type=positive_int, help="mini-batch size (default 32)")
    parser.add_argument(
        "--optimizers",
        type=_names("optimizer", OPTIMIZERS),
        default=OPTIMIZERS,
        help=f"comma-separated (default {','.join(OPTIMIZERS)})",
    )
    parser.add_argument(
        "--dtypes",
        type=_names("dtype", DTYPES),
        default=("float64", "float32"),
        help="comma-separated (default float64,float32)",
    )
    parser.add_argument(
        "--hidden",
        type=_sizes,
        metavar="N,N,...",
        help="hidden layer sizes, e.g. 128 or 256,128 (default 128); with --model, the "
        "sizes [784, *hidden, 10] given to a constructor that takes one argument",
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        help="seed of the initial weights and batches (default 0)",
    )
    parser.add_argument("--no-gradients", action="store_true", help="skip the gradient rows")
    parser.add_argument(
        "--no-cnn",
        action="store_true",
        help="skip the CNN rows (Conv2D, MaxPooling2D, Flatten gradients; a small CNN in "
        "lockstep for 500 steps, or --steps)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE as JSON")
    from compare import usercli

    usercli.configure(parser)


def run(args: argparse.Namespace) -> int:
    from compare.runguard import interrupt_on_sigterm

    with interrupt_on_sigterm():  # SIGTERM stops a check as Ctrl-C does
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from compare.cli import CliError

    if args.json and not Path(args.json).expanduser().resolve().parent.is_dir():
        raise CliError(f"--json {args.json}: the folder does not exist; create it first")
    if args.json:
        from compare.writeerrors import check_writable

        check_writable(Path(args.json).expanduser().resolve().parent, f"--json {args.json}")
    from compare.configcheck import check_seeds

    check_seeds(args.seed or 0, 1)
    from compare import usercli

    if args.model:
        return usercli.run(args)
    usercli.reject_model_flags(args)
    from compare.check import CheckOptions, format_result, run_check, write_json

    options = CheckOptions(
        data_dir=args.data_dir,
        steps=args.steps,
        batch_size=args.batch_size or 32,
        optimizers=args.optimizers,
        dtypes=args.dtypes,
        hidden=args.hidden or (128,),
        quick=args.quick,
        seed=args.seed or 0,
        gradients=not args.no_gradients,
        cnn=not args.no_cnn,
        command=" ".join(["mnist-compare", *sys.argv[1:]])
        if _from_console()
        else "mnist-compare check",
    )
    _quiet_tensorflow()
    print(
        "mnist-compare check: running (TensorFlow start-up takes a few seconds) ...",
        file=sys.stderr,
    )
    result = run_check(options, on_row=_progress)
    print(file=sys.stderr)
    print(format_result(result))
    if args.json:
        path = write_json(result, Path(args.json).expanduser())
        print(f"figures written to {path}")
    return 0 if result.passed else 1


def _from_console() -> bool:
    """True when argv is this command's (not a test calling `main([...])`)."""
    return len(sys.argv) > 1 and sys.argv[1] == "check"


def _progress(row: dict) -> None:
    mark = "." if row["passed"] else "F"
    print(mark, end="", file=sys.stderr, flush=True)


def _quiet_tensorflow() -> None:
    """One KerasTwin per row means one trace per twin; TF's retracing warning is noise here."""
    from keras_baseline.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
