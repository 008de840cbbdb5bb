"""Each model of a run trains in a worker process of its own, in lockstep (docs/run.md).

`Workers(specs, splits, out, progress)` starts one spawned process per model (the
coordinator, this process, never imports TensorFlow). The verified, preprocessed
arrays reach the workers as read-only memory maps of .npy files written once into a
hidden temp folder of the run folder, deleted as soon as every worker has mapped them.
`run_seed` then sends each worker its job and serves it until all report back:

- **lockstep**: the first model's initial weights go to the others; at steps 1, 10,
  100, ... and at each epoch end every worker sends its weights and waits; when all
  have arrived the coordinator records every pair's difference and lets them go on.
  A worker waits only there, and that time is not training time (`sync_seconds`).
- **progress**: workers count steps in shared memory; the coordinator draws the bars.
- **stopping**: Ctrl-C or SIGTERM (to this process) sets a shared flag that every
  worker checks after each step, as `train` checks its own; a worker that is
  interrupted stops the others the same way, and each then evaluates and saves what it
  has, as an interrupted in-process run does. A worker whose model diverges ends the run
  (`Diverged`): the others are killed and nothing is saved as good.
- **failures**: a worker that dies (killed, out of memory, a crash in TensorFlow) or
  raises ends the run with `WorkerFailed`, one line naming the model; the others are
  killed, and the epochs recorded so far stay with the coordinator (`tracks`).

This module holds the pool (start, stop, a worker's death as one line); the seed
itself is served by `compare.workerseed.WorkerSeed`, and the worker's own side is
`compare.workerprocess`. `compare.modeljob.InProcess` runs one model the same way
(`train_models`) inside this process: with nothing to run beside, a worker would buy
nothing but its start-up time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from compare.data import Splits
from compare.modeljob import Job, WorkerSpec
from compare.progress import Progress
from compare.summary import Evaluation
from compare.training import Track, TrainingResult
from compare.workerprocess import share_splits, worker_main
from compare.workerseed import POLL_SECONDS, WorkerSeed

SPAWN = multiprocessing.get_context("spawn")


@contextlib.contextmanager
def _stdlib_start_method() -> Any:
    """A spawned child is told this process's default start method and sets it first
    thing; inside a joblib (loky) sweep worker that is "loky", which a fresh child does
    not know, so it would die before running anything. Name "spawn" while starting."""
    method = multiprocessing.get_start_method(allow_none=True)
    if method in (None, "fork", "spawn", "forkserver"):
        yield
        return
    multiprocessing.set_start_method("spawn", force=True)
    try:
        yield
    finally:
        multiprocessing.set_start_method(method, force=True)


class WorkerFailed(Exception):
    """A worker process died or raised; the message is one line naming the model."""

    def __init__(self, message: str, model: str) -> None:
        super().__init__(message)
        self.model = model


@dataclasses.dataclass
class Worker:
    spec: WorkerSpec
    process: Any
    conn: Any  # the coordinator's end of the pipe
    counters: Any  # shared doubles: steps taken, running loss, running accuracy
    idle_mb: float = 0.0  # the worker's peak RSS once started, with the data mapped


class Workers:
    """One worker process per model; `run_seed` trains them all on one seed."""

    def __init__(
        self, specs: list[WorkerSpec], splits: Splits, out: Path, progress: Progress,
        in_turn: bool = True,
    ) -> None:  # fmt: skip
        self.specs, self.splits, self.out, self.progress = specs, splits, out, progress
        self.in_turn = in_turn  # one model at a time, else all at once
        self.stop = SPAWN.RawValue("b", 0)
        self.workers: dict[str, Worker] = {}
        self.tracks: dict[str, Track] = {}  # this seed's records so far, as they arrive
        self.versions: dict[str, str | None] = {}
        self.start_seconds = 0.0  # writing the shared data, starting and readying the workers

    def __enter__(self) -> Workers:
        start = time.perf_counter()
        temp = Path(tempfile.mkdtemp(prefix=".shared-data-", dir=self.out))
        try:
            shared = share_splits(self.splits, temp)
            for spec in self.specs:
                self.workers[spec.name] = self._start(spec, shared)
            for worker in self.workers.values():
                worker.idle_mb = self._receive(worker)[1]  # ("ready", peak RSS)
        except BaseException:
            self._kill()
            raise
        finally:
            shutil.rmtree(temp, ignore_errors=True)  # mapped files live on until unmapped
        self.start_seconds = time.perf_counter() - start
        return self

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if kind is None:
            for worker in self.workers.values():
                with contextlib.suppress(OSError):  # a worker already gone is killed below
                    worker.conn.send(("exit",))
            for worker in self.workers.values():
                worker.process.join(timeout=10)
        self._kill()

    def _start(self, spec: WorkerSpec, shared: dict[str, Any]) -> Worker:
        conn, child = SPAWN.Pipe()
        counters = SPAWN.RawArray("d", 3)
        process = SPAWN.Process(
            target=worker_main, name=f"mnist-compare {spec.name}", daemon=True,
            args=(spec, shared, child, self.stop, counters, os.getpid()),
        )  # fmt: skip
        with _stdlib_start_method():
            process.start()
        child.close()
        return Worker(spec, process, conn, counters)

    def _kill(self) -> None:
        for worker in self.workers.values():
            if worker.process.is_alive():
                worker.process.kill()
            worker.process.join(timeout=10)

    def _receive(self, worker: Worker) -> tuple:
        """The worker's next message; WorkerFailed if it dies or fails first."""
        try:
            while not worker.conn.poll(POLL_SECONDS):
                if not worker.process.is_alive():
                    raise self.died(worker)
            message = worker.conn.recv()
        except (EOFError, OSError):
            raise self.died(worker) from None
        if message[0] == "error":
            raise self.failed(worker, message[1])
        return message

    def failed(self, worker: Worker, why: str) -> WorkerFailed:
        """A worker's one-line report of an exception it raised, naming its model."""
        return WorkerFailed(f"the {worker.spec.name} worker failed: {why}", worker.spec.name)

    def died(self, worker: Worker) -> WorkerFailed:
        """A worker that died (killed, out of memory, a crash), as one line."""
        worker.process.join(timeout=5)
        code = worker.process.exitcode
        how = (
            f"killed by {signal.Signals(-code).name}" if code and code < 0 else f"exit code {code}"
        )
        steps = int(worker.counters[0])
        return WorkerFailed(
            f"the {worker.spec.name} worker process died ({how}) after {steps} steps; "
            "the run stopped, the other workers too, and the run folder keeps what was "
            "measured so far (status failed)",
            worker.spec.name,
        )

    def run_seed(self, job: Job) -> tuple[TrainingResult, dict[str, Evaluation]]:
        """Train every model on `job` (its `first` is ignored); see the module docstring."""
        return WorkerSeed(self, job).run()
