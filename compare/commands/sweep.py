"""`mnist-compare sweep SWEEP.toml`: a grid of run settings x seeds, in parallel on this
machine (joblib, loky) or on a Dask cluster (`--scheduler`), into one sweep folder with
sweep.csv, cells.csv and a sweep report. The file is validated whole before anything
runs; bad input is one line and exit code 2. See docs/sweep.md.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from compare.cli import add_data_dir, positive_int


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of `mnist-compare sweep`."""
    parser.add_argument("sweep_file", metavar="SWEEP.toml", help="the sweep (docs/sweep.md)")
    parser.add_argument(
        "--jobs", type=positive_int, metavar="N",
        help="runs at a time on this machine (default: the number of cores)",
    )  # fmt: skip
    parser.add_argument(
        "--scheduler", metavar="tcp://HOST:8786",
        help="run on this Dask cluster instead (needs the `sweep` extra)",
    )  # fmt: skip
    parser.add_argument("--out", metavar="DIR", help="sweep folder (default sweeps/<time>)")
    parser.add_argument("--resume", action="store_true", help="skip complete runs, run the rest")
    add_data_dir(parser, "; the same for every run")
    parser.add_argument("--models", metavar="scratch,keras", help="overrides the file's models")
    parser.add_argument("--no-report", action="store_true", help="render no reports")
    parser.add_argument("--quiet", action="store_true", help="no progress display")


def run(args: argparse.Namespace) -> int:
    from compare.cli import CliError
    from compare.runguard import RunLocked, interrupt_on_sigterm, locked
    from compare.sweepconfig import load_sweep

    if args.jobs is not None and args.scheduler:
        raise CliError("--jobs and --scheduler exclude each other: the cluster's workers decide")
    overrides: dict = {}
    if args.data_dir:
        overrides["data"] = {"data_dir": str(Path(args.data_dir).expanduser().resolve())}
    if args.models:
        overrides["models"] = args.models
    sweep = load_sweep(args.sweep_file, overrides)
    out = _out_folder(args)
    _check_folder(out, sweep.text, resume=args.resume)
    _check_writable(out)
    if not args.scheduler:  # on a cluster the data is the workers' (docs/sweep.md)
        _check_data(sweep)
    try:
        with locked(out), interrupt_on_sigterm():
            return _run_locked(args, sweep, out)
    except RunLocked:
        raise CliError(f"sweep folder {out} is being written by another mnist-compare sweep; "
                       "wait for it or choose another --out") from None  # fmt: skip


def _run_locked(args: argparse.Namespace, sweep, out: Path) -> int:
    from compare.sweep import default_jobs, execute_sweep

    jobs = args.jobs or default_jobs()
    render = None if args.no_report else render_run_report
    result = execute_sweep(sweep, out, jobs=jobs, scheduler=args.scheduler,
                           resume=args.resume, render=render, quiet=args.quiet)  # fmt: skip
    if not args.no_report:
        _render(out, args.quiet)
    failed = [r for r in result["runs"] if r["status"] != "complete"]
    return 1 if failed else 0


def render_run_report(out: Path) -> None:
    """A run's own report, as `mnist-compare run` renders it (called in the worker)."""
    from compare.commands.run import render_report
    from compare.progress import Progress

    render_report(out, Progress(quiet=True))


def _render(out: Path, quiet: bool) -> None:
    """The sweep report; a full disk or a read-only folder is one line, exit code 1 (the
    sweep's results are written: `report` renders it later)."""
    from compare.writeerrors import one_line_write_errors
    from reports import render_report

    later = f"render it with: mnist-compare report {out}"
    with one_line_write_errors(
        f"the sweep report into {out} (the sweep's results are saved)",
        read_only_remedy=f"make it writable and {later}",
        retry=later,
    ):
        written = render_report(out)
    if not quiet:
        print(f"sweep report: {written['html']}")


def _out_folder(args: argparse.Namespace) -> Path:
    from compare.runguard import out_folder

    default = Path("sweeps") / f"{datetime.now():%Y%m%d-%H%M%S}-{Path(args.sweep_file).stem}"
    return out_folder(args.out, default, "sweep folder", "sweeps/first")


def _check_data(sweep) -> None:
    """The MNIST folder of every run, found (or downloaded) once here: a missing folder is
    one line now, not the same failure in every run."""
    from compare.data import locate_mnist

    for data_dir in dict.fromkeys(task.config.data.data_dir for task in sweep.runs):
        locate_mnist(data_dir)  # DataError: one line, exit 2 (DownloadError: 1)


def _check_writable(out: Path) -> None:
    """A sweep folder (or its runs/) that cannot be written is one line, exit code 2, before
    any work (a new folder's parent: `runguard.locked`)."""
    from compare.writeerrors import check_writable

    for folder in (out, out / "runs"):
        if folder.is_dir():
            check_writable(folder, f"the sweep folder {out}",
                           read_only_remedy="make it writable or choose another --out")  # fmt: skip


def _check_folder(out: Path, text: str, *, resume: bool) -> None:
    """A new sweep needs a new or empty folder; --resume needs the same SWEEP.toml."""
    from compare.cli import CliError

    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out} exists and is a file; choose a folder path")
    if not out.is_dir() or not any(out.iterdir()):
        return
    kept = out / "sweep.toml"
    if not resume:
        raise CliError(f"sweep folder {out} already exists; pass --resume to finish it, "
                       "or choose another --out")  # fmt: skip
    if not kept.is_file():
        raise CliError(f"--resume: {out} is not a sweep folder (no sweep.toml)")
    if kept.read_text(encoding="utf-8") != text:
        raise CliError(f"--resume: {out} holds a different sweep; resume it with "
                       f"mnist-compare sweep {kept} --out {out} --resume")  # fmt: skip
