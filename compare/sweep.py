"""`mnist-compare sweep`: every cell x seed of a SWEEP.toml, in parallel, into one folder.

The sweep folder holds `sweep.toml` (the file as given), `runs/<cell>_seed-<s>/` (each an
ordinary run folder, written by `compare.sweeprun.run_one` through the runner's
`execute`), and the result files of `compare.sweepresults`. Runs are executed through
joblib: its loky backend on this machine (`jobs` worker processes), or its Dask backend
on a `dask.distributed` cluster (`scheduler`). While the sweep works it holds the lock
of its folder (`compare.runguard.locked`), so two sweeps cannot write the same one.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from compare import runfolder
from compare.runguard import run_status
from compare.summary import now
from compare.sweepconfig import RunTask, Sweep
from compare.sweepprogress import SweepProgress, format_seconds
from compare.sweepresults import run_states, write_all
from compare.sweeprun import trained_as
from compare.writeerrors import is_write_failure, sweep_write_error

# Rough training speed of the 784-128-10 MLP on this 2-core machine, busy (docs/run.md),
# in samples per second per model, and the fixed cost of one run (start, data, test).
SAMPLES_PER_SECOND = {"scratch": 70_000.0, "keras": 20_000.0}
MLP_PARAMETERS = 101_770
MNIST_TRAIN_IMAGES = 60_000
RUN_OVERHEAD_SECONDS = {"scratch": 4.0, "keras": 10.0}
CONNECT_SECONDS = 10  # to reach the Dask scheduler


def estimate_seconds(sweep: Sweep, tasks: list[RunTask], workers: int) -> float:
    """A rough wall-time estimate: training samples / speed, scaled by parameter count."""
    from compare.configcheck import parameter_count

    total = 0.0
    for task in tasks:
        config = task.config
        n_train = config.data.limit_train or MNIST_TRAIN_IMAGES - config.data.val_size
        scale = max(1.0, parameter_count(config.model) / MLP_PARAMETERS)
        for model in config.models:
            speed = SAMPLES_PER_SECOND.get(model, SAMPLES_PER_SECOND["keras"]) / scale
            overhead = RUN_OVERHEAD_SECONDS.get(model, RUN_OVERHEAD_SECONDS["keras"])
            total += overhead + n_train * config.epochs / speed
    return total / max(1, min(workers, len(tasks)))


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def execute_sweep(
    sweep: Sweep, out: Path, *, jobs: int, scheduler: str | None = None,
    resume: bool = False, render: Callable[[Path], None] | None = None, quiet: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Run what is not complete yet; write sweep.json, sweep.csv and cells.csv (also when
    interrupted: KeyboardInterrupt is raised again after they are written). A full disk
    or a read-only folder, in a run or in these files, stops the sweep: one line, exit
    code 1 (`sweep_write_error`); complete runs stay, and `--resume` goes on."""
    workers = jobs if scheduler is None else _cluster_threads(scheduler)  # before any write
    workers = min(workers, len(sweep.runs))
    runs_dir = out / "runs"
    done = {
        t.folder
        for t in sweep.runs
        if resume
        and run_status(runs_dir / t.folder) == "complete"
        and trained_as(runs_dir / t.folder, t)
    }
    tasks = [t for t in sweep.runs if t.folder not in done]
    before = {t.folder: _identity(runs_dir / t.folder) for t in tasks}  # earlier attempts
    info = {"status": "running", "started_at": now(), "jobs": jobs, "scheduler": scheduler}
    progress = SweepProgress(len(tasks), workers, quiet)
    estimate = format_seconds(estimate_seconds(sweep, tasks, workers))
    progress.message(
        f"sweep: {len(sweep.cells)} cells x {len(sweep.seeds)} seeds = {len(sweep.runs)} runs"
        f"{f', {len(done)} complete already' if done else ''}; {len(tasks)} to run on "
        f"{workers} worker(s){f' at {scheduler}' if scheduler else ''}; rough estimate "
        f"{estimate}; writing {out}"
    )
    errors: dict[str, str] = {}
    failure: OSError | None = None  # a full disk or a read-only folder: the sweep stops
    finished: list[dict[str, Any]] | None = None  # the runs' states once all have ended
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
        runfolder.write_text(out / "sweep.toml", sweep.text)
        write_all(sweep, out, run_states(sweep, runs_dir, errors), info)
        progress.start()
        for record in _records(tasks, runs_dir, jobs, scheduler, render):
            if record["status"] == "failed":
                errors[record["folder"]] = record["error"]
            if record.get("write_failure"):
                raise OSError(*record["write_failure"])
            progress.finished_run(record)
            if record["status"] == "interrupted":
                raise KeyboardInterrupt
        # "complete" only when every run is: a sweep whose runs failed is "incomplete".
        finished = run_states(sweep, runs_dir, errors)
        all_complete = all(state["status"] == "complete" for state in finished)
        info["status"] = "complete" if all_complete else "incomplete"
    except KeyboardInterrupt:
        info["status"] = "interrupted"
        raise
    except Exception as error:  # a worker process died (killed, out of memory), a lost cluster
        info["status"] = "stopped"
        info["error"] = f"{type(error).__name__}: {error}".splitlines()[0][:500]
        failure = error if is_write_failure(error) else None
        if failure is None:
            raise _stopped(info["error"]) from None
    finally:
        progress.stop()
        info["finished_at"] = now()
        if failure is not None:
            _discard_stopped_runs(runs_dir, before)
        states = finished if finished is not None else run_states(sweep, runs_dir, errors)
        failure = _write_results(sweep, out, states, info) or failure
        if failure is not None:  # one line, instead of any other outcome
            complete = sum(state["status"] == "complete" for state in states)
            raise sweep_write_error(out, failure, complete) from None
        _say_outcome(progress, states, info["status"], out)
    return {"status": info["status"], "runs": states}


def _write_results(
    sweep: Sweep, out: Path, states: list[dict[str, Any]], info: dict[str, Any]
) -> OSError | None:
    """`write_all`; a full disk or a read-only folder is returned, not raised (each file is
    written atomically: the one that failed keeps its previous content)."""
    try:
        write_all(sweep, out, states, info)
    except OSError as error:
        if not is_write_failure(error):
            raise
        return error
    return None


def _identity(folder: Path) -> int | None:
    try:
        return folder.stat().st_ino
    except OSError:
        return None


def _discard_stopped_runs(runs_dir: Path, before: dict[str, int | None]) -> None:
    """After a full disk stopped the sweep: each run it had started that was stopped with
    it before any result (a folder without summary.json, made by this sweep: not one of an
    earlier attempt) is removed, as `run` removes its partial run (it holds the space);
    a run still being written elsewhere (a Dask worker) is left to finish."""
    from compare.cli import CliError
    from compare.runguard import RunLocked, locked
    from compare.writeerrors import discard_partial_run

    for name, identity in before.items():
        folder = runs_dir / name
        if _identity(folder) in (None, identity) or (folder / "summary.json").exists():
            continue
        with contextlib.suppress(RunLocked, CliError, OSError), locked(folder):
            discard_partial_run(folder, existed=False)


def _records(
    tasks: list[RunTask],
    runs_dir: Path,
    jobs: int,
    scheduler: str | None,
    render: Callable[[Path], None] | None,
) -> Iterator[dict[str, Any]]:
    """Each task's record as it finishes (any order)."""
    from joblib import Parallel, delayed, parallel_config

    from compare.sweeprun import ignore_ctrl_c_between_runs, run_one

    calls = [delayed(run_one)(task, str(runs_dir), render) for task in tasks]
    if not calls:
        return
    # Ctrl-C cancels the queued runs on purpose: the summary line says so, not a warning
    warnings.filterwarnings("ignore", ".*tasks which were still being processed", UserWarning)
    if scheduler is None:
        workers = min(jobs, len(calls))  # never start more processes than runs
        with parallel_config(backend="loky", initializer=ignore_ctrl_c_between_runs):
            yield from Parallel(n_jobs=workers, return_as="generator_unordered")(calls)
        return
    from dask.distributed import Client

    with Client(scheduler, timeout="10s"), parallel_config(backend="dask"):
        yield from Parallel(n_jobs=-1, return_as="generator_unordered")(calls)


def _stopped(error: str) -> Exception:
    from compare.cli import CliError

    return CliError(f"the sweep stopped: {error}; the complete runs are kept: run it again "
                    "with --resume to go on", exit_code=1)  # fmt: skip


def _cluster_threads(scheduler: str) -> int:
    """The worker threads of the Dask cluster at `scheduler` (a one-line error if none)."""
    from compare.cli import CliError

    try:
        from dask.distributed import Client
    except ImportError:
        raise CliError(
            'a Dask cluster needs the `sweep` extra: pip install -e ".[sweep]"'
        ) from None
    try:
        threads = _with_deadline(lambda: _count_threads(Client, scheduler), CONNECT_SECONDS)
    except (OSError, TimeoutError) as error:
        raise CliError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
    except Exception as error:  # noqa: BLE001 - a bad address, or something else answering
        first = f"{type(error).__name__}: {error}".splitlines()[0][:200]
        raise CliError(f"--scheduler {scheduler} is not a Dask scheduler's address "
                       f"(tcp://HOST:8786): {first}") from None  # fmt: skip
    if not threads:
        raise CliError(f"the Dask cluster at {scheduler} has no workers; start some: "
                       f"dask worker {scheduler}")  # fmt: skip
    return threads


def _count_threads(client_class: Any, scheduler: str) -> int:
    with client_class(scheduler, timeout=f"{CONNECT_SECONDS}s") as client:
        return sum(client.nthreads().values())


def _with_deadline(call: Callable[[], int], seconds: float) -> int:
    """call() in a daemon thread; TimeoutError after `seconds` (a server that accepts the
    connection but never answers, e.g. a web server, keeps Dask's handshake waiting)."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, name="dask-probe", daemon=True)
    thread.start()
    thread.join(seconds + 5)
    if thread.is_alive():
        raise TimeoutError(f"no answer from a Dask scheduler within {seconds + 5:.0f} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _say_outcome(progress: SweepProgress, states: list[dict], status: str, out: Path) -> None:
    counts: dict[str, int] = {}
    for state in states:
        counts[state["status"]] = counts.get(state["status"], 0) + 1
    text = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    progress.message(f"sweep {status}: {text}; results in {out / 'sweep.csv'}")
    # A diverged run diverges again (a run is deterministic): --resume helps only runs
    # that were stopped, failed or never started.
    if any(state["status"] not in ("complete", "diverged") for state in states):
        progress.message(f"continue it with: mnist-compare sweep {out / 'sweep.toml'} "
                         f"--out {out} --resume")  # fmt: skip
