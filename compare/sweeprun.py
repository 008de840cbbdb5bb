"""One run of a sweep, inside a worker process (joblib's loky worker, a Dask worker, or
the sweep's own process with `--jobs 1`).

`run_one` is the whole task: pin the threads, take the run folder's lock, make the
folder, call `compare.runner.execute` (the same entry point `mnist-compare run` uses,
so the folder has the same files), render its report (with the renderer the CLI
passes), and return a small record. A
run that diverges or raises is a record with its error, never an exception: the
sweep goes on. Only an interruption (Ctrl-C, SIGTERM) propagates. A full disk (or a
folder made read-only) is a record with `write_failure`: the sweep stops there.
"""

from __future__ import annotations

import multiprocessing
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from compare.runguard import RunLocked, holds_only_config, locked, run_status, stamped
from compare.sweepconfig import RunTask
from compare.threads import pin_threads
from compare.writeerrors import is_write_failure

WORKER_THREADS = 1  # BLAS and TensorFlow threads per worker (docs/sweep.md, "Threads")
_between_runs_ignores_ctrl_c = False  # set in the sweep's own worker processes


def ignore_ctrl_c_between_runs() -> None:
    """Start-up of a sweep's worker process (joblib's loky `initializer`): Ctrl-C reaches
    every process of the terminal's group, and a worker between two runs would die in
    joblib's own code and print its traceback. Between runs a worker ignores SIGINT (the
    sweep's process handles it and stops the workers); `run_one` takes it again, so a
    run in flight is marked interrupted."""
    global _between_runs_ignores_ctrl_c
    _between_runs_ignores_ctrl_c = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def _ctrl_c_interrupts_the_run() -> Iterator[None]:
    if not _between_runs_ignores_ctrl_c:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_one(
    task: RunTask, runs_dir: str, render: Callable[[Path], None] | None = None
) -> dict[str, Any]:
    """Run `task` into runs_dir/<task.folder>, then call `render(folder)` on a complete run
    (the CLI passes its report renderer: compare's core never imports `reports`); returns
    {folder, status, error, seconds, threads_pinned}."""
    with _ctrl_c_interrupts_the_run():
        return _run_one(task, runs_dir, render)


def _run_one(task: RunTask, runs_dir: str, render: Callable[[Path], None] | None) -> dict:
    started = time.perf_counter()
    record: dict[str, Any] = {"folder": task.folder, "status": "failed", "error": ""}
    # TensorFlow here only if a Keras model trains in this process: one model alone, or a
    # daemonic process (a Dask worker) that cannot start the run's model workers
    # (compare/runner.py); otherwise each model's worker pins itself.
    in_process = len(task.config.models) == 1 or multiprocessing.current_process().daemon
    needs_tensorflow = in_process and any(name != "scratch" for name in task.config.models)
    threads = pin_threads(WORKER_THREADS, tensorflow=needs_tensorflow)
    pinned = threads["tf_intra_op"] == threads["tf_inter_op"] == WORKER_THREADS
    out = Path(runs_dir) / task.folder
    try:
        with locked(out):
            try:
                record.update(_run_locked(task, out, render))
            except OSError as error:
                if not is_write_failure(error):
                    raise
                record.update(_stopped_by_the_disk(out, error))
    except RunLocked:
        record["error"] = f"{out} is being written by another process"
    except Exception as error:  # noqa: BLE001 - any failure is this run's, not the sweep's
        record["error"] = f"{type(error).__name__}: {error}".splitlines()[0][:500]
    record["seconds"] = time.perf_counter() - started
    record["threads_pinned"] = pinned
    return record


def _run_locked(task: RunTask, out: Path, render: Callable[[Path], None] | None) -> dict:
    from compare.runfolder import prepare_out_dir
    from compare.runner import execute
    from compare.training import Diverged

    status = run_status(out) if out.exists() else None
    if status == "complete":
        if trained_as(out, task):
            return {"status": "complete", "skipped": True}
        out.rename(stamped(out, "other-config"))  # e.g. other --models: kept, re-run
    elif out.is_dir() and holds_only_config(out):  # stopped before it measured anything
        shutil.rmtree(out)
    elif out.exists():  # an earlier attempt that failed or was stopped: kept, not deleted
        out.rename(stamped(out, status or "unfinished"))
    out.mkdir()  # a full disk here is an OSError (prepare_out_dir words it for `run`)
    prepare_out_dir(out, overwrite=False)
    invocation = f"mnist-compare sweep (cell {task.cell}, seed {task.seed})"
    try:
        summary = execute(task.config, out, invocation=invocation, quiet=True)
    except Diverged as error:
        return {"status": "diverged", "error": str(error)}
    if summary["status"] == "complete" and render is not None:
        render(out)
    return {"status": summary["status"]}


def _stopped_by_the_disk(out: Path, error: OSError) -> dict[str, Any]:
    """A full disk (or a folder made read-only) stopped this run: it is settled as `run`
    settles it (`run_write_error`: the partial files removed, or a completed seed kept),
    and `write_failure` (errno, the system's words) tells the sweep to stop."""
    from compare.writeerrors import run_write_error

    failure = [error.errno, error.strerror or str(error)]
    status = run_status(out) or "unfinished"
    if status == "complete":  # its results are all written: nothing to settle
        return {"status": "complete", "write_failure": failure}
    settled = run_write_error(out, False, error, status)
    return {"error": str(settled), "write_failure": failure}


def trained_as(folder: Path, task: RunTask) -> bool:
    """Whether the run in `folder` was trained with `task`'s config (its config.toml): a
    sweep resumed with other --models or --data-dir must not reuse its old runs. The
    configs are compared resolved, so a key an older version did not write (its default
    then) does not make a run look different."""
    import tomllib

    from compare.runconfig import resolve
    from scratch.config import ConfigError

    try:
        kept = resolve(tomllib.loads((folder / "config.toml").read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ConfigError):
        return False
    return kept == task.config
