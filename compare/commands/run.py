"""`mnist-compare run`: train the registered models (default: the scratch network and
its Keras twin) side by side, then render the run folder's report.

Settings come from four layers, later ones winning: built-in defaults < `--preset`
< `--config FILE.toml` < flags (`compare.runflags`). Everything is validated, and the
output folder checked, before any data is loaded or any model trained; bad input is
one line on stderr and exit code 2. A diverged run (`compare.training.Diverged`) is one
line and exit code 1. This command layer is where compare meets `reports`: compare's
core never imports it. See docs/run.md.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from compare.cli import add_data_dir
from compare.data import DEFAULT_VAL_SIZE
from compare.presets import PRESETS
from compare.runconfig import DEFAULT_LEARNING_RATE, MODES, SCHEDULES, RunConfig
from compare.runflags import resolve_args
from scratch.config import ACTIVATIONS, DTYPES, INITIALIZERS, LOSSES, OPTIMIZERS

if TYPE_CHECKING:
    from compare.progress import Progress


def _choices(values: tuple[str, ...]) -> str:
    return "{" + ",".join(values) + "}"


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of `mnist-compare run` (all default to None: 'not given on the command line')."""
    lr_defaults = ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LEARNING_RATE.items())
    parser.epilog = (
        f"Presets: {', '.join(PRESETS)}. Precedence: defaults < --preset < --config < flags. "
        "Defaults: 784-128-10 relu, sgd, lr 0.1, batch 32, 10 epochs, float32, lockstep, "
        f"both models, seed 0, {DEFAULT_VAL_SIZE} validation images."
    )
    model = parser.add_argument_group("model")
    model.add_argument("--hidden", metavar="N,N,...", help="hidden layer sizes (default 128)")
    model.add_argument(
        "--layers",
        metavar="SPEC,...",
        help="the layer stack instead of --hidden/--activation, e.g. dense256,relu,dense10 or "
        "conv32x3,relu,pool2,conv64x3,relu,pool2,flatten,dense10. Layers: denseN; relu, "
        "sigmoid, tanh; convFxK[sS][same] (F filters, KxK kernel, stride S, 'same' padding); "
        "poolP[sS] (PxP max pooling, stride S, default P); flatten; dropoutR (rate R, with "
        "--mode independent). The last is dense10; the "
        "loss adds softmax or sigmoid",
    )
    model.add_argument("--activation", metavar=_choices(ACTIVATIONS), help="hidden activation")
    model.add_argument("--loss", metavar=_choices(LOSSES), help="crossentropy (softmax) or mse")
    model.add_argument("--init", metavar=_choices(INITIALIZERS), help="weight initializer")
    model.add_argument("--optimizer", metavar=_choices(OPTIMIZERS), help="default sgd")
    model.add_argument(
        "--lr", type=float, help=f"learning rate; when no preset/config sets it: {lr_defaults}"
    )
    model.add_argument(
        "--lr-decay",
        type=float,
        metavar="D",
        help="learning rate at step t is lr / (1 + D * t), as Keras's InverseTimeDecay "
        "(default 0: constant)",
    )
    model.add_argument("--momentum", type=float, help="momentum/nesterov only (default 0.9)")
    model.add_argument("--l2", type=float, help="L2 penalty l2*sum(W**2) on kernels (default 0)")
    model.add_argument("--dtype", metavar=_choices(DTYPES), help="default float32")
    training = parser.add_argument_group("training")
    training.add_argument("--batch-size", type=int, help="default 32")
    training.add_argument("--epochs", type=int, help="default 10")
    training.add_argument(
        "--seed", type=int, help="initial weights, batch order, split (default 0)"
    )
    training.add_argument("--seeds", type=int, metavar="N", help="repeat for N consecutive seeds")
    training.add_argument(
        "--models", metavar="scratch,keras", help="registered models to train (default both)"
    )
    training.add_argument(
        "--mode", metavar=_choices(MODES), help="lockstep: all start from the first one's weights"
    )
    training.add_argument(
        "--blas-threads",
        type=int,
        metavar="N",
        help="threads for each model: OpenBLAS for the scratch network, TensorFlow's intra- "
        "and inter-op pools for Keras (default 1: a second thread made both slower here; "
        "0: the libraries' own defaults)",
    )
    training.add_argument(
        "--schedule",
        metavar=_choices(SCHEDULES),
        help="with two or more models, each in its own process: in-turn (default) trains "
        "them one after another, each with the machine to itself; parallel trains them at "
        "once, meeting at the lockstep checkpoints (docs/run.md)",
    )
    training.add_argument(
        "--force", action="store_true", help="train even above the memory estimate's limit"
    )
    training.add_argument("--preset", metavar=_choices(tuple(PRESETS)), help="a named setting")
    training.add_argument(
        "--config", metavar="FILE.toml", help="a run config (e.g. RUN/config.toml)"
    )
    data = parser.add_argument_group("data")
    add_data_dir(data)
    data.add_argument(
        "--val-size", type=int, metavar="N", help=f"validation images (default {DEFAULT_VAL_SIZE})"
    )
    data.add_argument(
        "--limit-train",
        type=int,
        metavar="N",
        help="train on the first N of the shuffled training split",
    )
    data.add_argument("--standardize", action="store_true", default=None, help="(x-mean)/std")
    each = "at random, the same for every model (default 0: none)"
    for flag, metavar, what in (
        ("--shift", "PIXELS", "move each training image up to PIXELS (0-14) in each direction"),
        ("--rotate", "DEGREES", "turn each training image up to DEGREES (0-180) either way"),
        ("--zoom", "FRACTION", "scale each training image by 1-FRACTION to 1+FRACTION (0-0.5)"),
    ):
        data.add_argument(flag, type=float, metavar=metavar, help=f"{what}, {each}")
    data.add_argument("--no-verify", action="store_true", help="accept any IDX dataset")
    output = parser.add_argument_group("output")
    output.add_argument("--out", metavar="DIR", help="run folder (default runs/<time>-<tag>)")
    output.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    output.add_argument("--quiet", action="store_true", help="no progress bars or table")
    output.add_argument("--no-report", action="store_true", help="do not render the report")


def invocation(args: argparse.Namespace) -> str:
    """The command line as typed (`mnist-compare` and its arguments), ready to run again."""
    return shlex.join(["mnist-compare", *getattr(args, "argv", ["run"])])


def default_out(config: RunConfig) -> Path:
    return Path("runs") / f"{datetime.now():%Y%m%d-%H%M%S}-{config.tag()}"


def out_folder(args: argparse.Namespace, config: RunConfig) -> Path:
    """The run folder as an absolute path, checked for a usable name before anything is
    written (`compare.runguard.out_folder`)."""
    from compare.runguard import out_folder as checked

    return checked(args.out, default_out(config), "run folder", "runs/first")


def run(args: argparse.Namespace) -> int:
    from compare.cli import CliError
    from compare.configcheck import settle_resources
    from compare.runguard import RunLocked, interrupt_on_sigterm, locked

    config = settle_resources(
        resolve_args(args), force=args.force, mode_given=args.mode is not None
    )
    out = out_folder(args, config)
    try:
        with locked(out), interrupt_on_sigterm():
            return _run_locked(args, config, out)
    except RunLocked:
        raise CliError(
            f"run folder {out} is being written by another mnist-compare run (it holds "
            f"{out.parent / ('.' + out.name + '.lock')}); wait for it or choose another --out"
        ) from None


def _run_locked(args: argparse.Namespace, config: RunConfig, out: Path) -> int:
    from compare.cli import CliError
    from compare.progress import Progress
    from compare.runfolder import prepare_out_dir
    from compare.runguard import recover_locked, run_status, settle_previous
    from compare.writeerrors import is_write_failure, run_write_error

    note = recover_locked(out)
    if note:
        print(f"mnist-compare: {note}", file=sys.stderr)
    existed = out.is_dir()
    prepare_out_dir(out, overwrite=args.overwrite)
    from compare.runner import execute
    from compare.training import Diverged
    from compare.workers import WorkerFailed

    try:
        summary = execute(config, out, invocation=invocation(args), quiet=args.quiet)
    except BaseException as error:
        # The old run (if any) comes back unless the new one completed; what the new run
        # recorded (diverged, interrupted) is kept beside it under a name the message gives.
        status = run_status(out) or "unfinished"
        if is_write_failure(error):
            raise run_write_error(out, existed, error, status) from None
        if status == "complete" and isinstance(error, KeyboardInterrupt):
            settle_previous(out, keep_new=True)
            raise _complete_but_interrupted(out) from None
        kept = settle_previous(out, keep_new=False, what=status)
        if not existed and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # we made it and nothing was written: no litter
        note = "" if kept is None else f"; {_kept_note(out, status, kept)}"
        if isinstance(error, (Diverged, WorkerFailed)):
            raise CliError(f"{error}{note}", exit_code=1) from None
        if isinstance(error, KeyboardInterrupt) and note:
            raise CliError(f"interrupted{note}", exit_code=130) from None
        raise
    if summary["status"] != "complete":
        kept = settle_previous(out, keep_new=False, what=summary["status"])
        if kept is not None:
            print(f"mnist-compare: {_kept_note(out, summary['status'], kept)}", file=sys.stderr)
            return 130
    try:  # the run is complete from here on: Ctrl-C only stops the report
        settle_previous(out, keep_new=True)
        if not args.no_report:
            render_report(out, Progress(args.quiet))
    except KeyboardInterrupt:
        raise _complete_but_interrupted(out) from None
    if not args.quiet:
        print(f"run folder: {out}")
    return 130 if summary["status"] == "interrupted" else 0


def _kept_note(out: Path, status: str, kept: Path) -> str:
    return f"{out} holds the previous run again; this {status} run is kept in {kept}"


def _complete_but_interrupted(out: Path) -> Exception:
    from compare.cli import CliError

    return CliError(
        f"interrupted before the report was written; the run in {out} is complete: "
        f"render its report with mnist-compare report {out}",
        exit_code=130,
    )


def render_report(out: Path, progress: Progress) -> None:
    """Call `reports.render_report(out)` if available; a failure is a warning, not a crash
    (the run's results are already saved)."""
    from compare.writeerrors import is_write_failure, reason

    try:
        from reports import render_report as render
    except ImportError as error:
        progress.console.print(f"warning: no report written (reports unavailable: {error})")
        return
    try:
        render(out)
    except KeyboardInterrupt:
        raise _complete_but_interrupted(out) from None
    except Exception as error:  # noqa: BLE001 - the run's results are already saved
        why = f"{type(error).__name__}: {error}"
        if is_write_failure(error):  # a full disk: the system's words and what to do
            why = f"cannot write it: {reason(error)}"
        progress.console.print(f"warning: report failed ({why}); "
                               f"retry with: mnist-compare report {out}")  # fmt: skip
        return
    progress.message(f"report: {out / 'report.html'}")
