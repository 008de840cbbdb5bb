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

`compare.modeljob.InProcess` runs one model the same way (`train_models`) inside this
process: with nothing to run beside, a worker would buy nothing but its start-up time.
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
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from compare.data import Splits
from compare.metrics import model_pairs, weight_difference
from compare.modeljob import Job, ModelReport, WorkerSpec, share_splits, worker_main
from compare.progress import Progress
from compare.summary import Evaluation
from compare.training import Diverged, StopFlag, Track, TrainingResult, WeightDiff

SPAWN = multiprocessing.get_context("spawn")
POLL_SECONDS = 0.1  # how often the bars are redrawn and the stop flag looked at


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
                    raise self._died(worker)
            message = worker.conn.recv()
        except (EOFError, OSError):
            raise self._died(worker) from None
        if message[0] == "error":
            raise WorkerFailed(
                f"the {worker.spec.name} worker failed: {message[1]}", worker.spec.name
            )
        return message

    def _died(self, worker: Worker) -> WorkerFailed:
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
        return _Seed(self, job).run()


class _Seed:
    """The coordinator's side of one seed: messages in, lockstep rows out."""

    def __init__(self, pool: Workers, job: Job) -> None:
        self.pool, self.job = pool, job
        self.names = list(pool.workers)
        self.active = self.names  # the models training now: all, or one at a time in turn
        self.diffs: list[WeightDiff] = []
        self.pending: dict[int, dict[str, tuple]] = {}  # checkpoint number -> name -> message
        self.seen = dict.fromkeys(self.names, 0)  # checkpoints each worker reached
        self.waiting: set[str] = set()  # workers waiting at a checkpoint for "go"
        self.start_weights: tuple | None = None  # the first model's ("start", weights)
        self.reports: dict[str, ModelReport] = {}
        self.stopping = False
        self.signalled = StopFlag()
        self.shown = 1  # the epoch the bars show
        self.steps_per_epoch = -(-len(pool.splits.y_train) // job.batch_size)
        pool.tracks = {n: Track(n, None, idle_memory_mb=w.idle_mb) for n, w in pool.workers.items()}

    def run(self) -> tuple[TrainingResult, dict[str, Evaluation]]:
        """In turn: each model alone, the next one only if nothing stopped the run."""
        self.pool.stop.value = 0
        groups = [[name] for name in self.names] if self.pool.in_turn else [self.names]
        try:
            with self.signalled.installed():
                for group in groups:
                    if self.stopping:
                        break  # interrupted: the models not yet trained stay out
                    self._train(group)
        finally:
            self.pool.progress.stop()
        return self._result()

    def _train(self, group: list[str]) -> None:
        self.active, self.shown = group, 1
        for name in group:
            worker = self.pool.workers[name]
            worker.counters[0] = 0
            first = name == self.names[0]
            worker.conn.send(("job", dataclasses.replace(self.job, first=first)))
            if self.job.lockstep and not first and self.start_weights is not None:
                worker.conn.send(self.start_weights)
        self._start_bars()
        while any(name not in self.reports for name in group):
            self._serve_ready()
            self._draw()

    def _serve_ready(self) -> None:
        busy = [self.pool.workers[n] for n in self.active if n not in self.reports]
        ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], POLL_SECONDS)
        if self.signalled.set:
            self._stop_all()
        for worker in busy:
            if worker.conn in ready or worker.process.sentinel in ready:
                self._drain(worker)

    def _drain(self, worker: Worker) -> None:
        """Handle every message the worker sent; a closed pipe means it died."""
        try:
            while worker.spec.name not in self.reports and worker.conn.poll():
                self._handle(worker, worker.conn.recv())
        except (EOFError, OSError):
            raise self.pool._died(worker) from None
        if worker.spec.name not in self.reports and not worker.process.is_alive():
            raise self.pool._died(worker)

    def _handle(self, worker: Worker, message: tuple) -> None:
        if self.signalled.set:  # Ctrl-C or SIGTERM: before anyone is let past a checkpoint
            self._stop_all()
        name, kind = worker.spec.name, message[0]
        if kind == "start":
            self.start_weights = message
            for other in self.active:
                if other != name:
                    self.pool.workers[other].conn.send(message)
        elif kind == "checkpoint":
            self._checkpoint(name, message)
        elif kind == "epoch":
            track = self.pool.tracks[name]
            track.epochs.append(message[1])
            track.train_seconds = message[2]
        elif kind == "done":
            self.reports[name] = message[1]
            if message[1].status == "interrupted":
                self._stop_all()
        elif kind == "diverged":
            self._stop_all()
            raise Diverged(message[1], message[2], message[3], message[4])
        elif kind == "error":
            raise WorkerFailed(f"the {name} worker failed: {message[1]}", name)

    def _checkpoint(self, name: str, message: tuple) -> None:
        """Keep the weights until every model has reached this checkpoint, then record
        each pair's difference. In parallel the workers wait here for each other; in
        turn the one training goes on at once (the others' weights are already kept)."""
        number = self.seen[name]
        self.seen[name] += 1
        arrived = self.pending.setdefault(number, {})
        arrived[name] = message
        self.waiting.add(name)
        if len(arrived) == len(self.names):
            _, step, epoch, _ = arrived[self.names[0]]
            weights = {n: arrived[n][3] for n in self.names}
            self.diffs += [
                WeightDiff(step, epoch, a, b, *weight_difference(weights[a], weights[b]))
                for a, b in model_pairs(self.names)
            ]
            del self.pending[number]
        if self.stopping or self.pool.in_turn or number not in self.pending:
            self._release("stop" if self.stopping else "go")

    def _release(self, reply: str) -> None:
        for name in self.waiting:
            self.pool.workers[name].conn.send((reply,))
        self.waiting.clear()

    def _stop_all(self) -> None:
        """Every worker stops after its current step; those waiting at a checkpoint now."""
        if not self.stopping:
            self.stopping = True
            self.pool.stop.value = 1
            self._release("stop")

    def _start_bars(self) -> None:
        title = f"{self.job.title}epoch {self.shown}/{self.job.epochs}"
        self.pool.progress.start_epoch(title, tuple(self.active), self.steps_per_epoch)

    def _draw(self) -> None:
        """The bars from the shared counters; an epoch's validation line once all finished it."""
        progress, tracks = self.pool.progress, self.pool.tracks
        if all(len(tracks[n].epochs) >= self.shown for n in self.active):
            records = {n: tracks[n].epochs[self.shown - 1] for n in self.active}
            progress.end_epoch({n: (r.val_loss, r.val_accuracy) for n, r in records.items()
                                if r.val_loss is not None})  # fmt: skip
            self.shown += 1
            if self.shown <= self.job.epochs and not self.stopping:
                self._start_bars()
        for name in self.active:
            steps, loss, accuracy = self.pool.workers[name].counters[:]
            done = min(max(int(steps) - (self.shown - 1) * self.steps_per_epoch, 0),
                       self.steps_per_epoch)  # fmt: skip
            progress.show(name, done, loss, accuracy)

    def _result(self) -> tuple[TrainingResult, dict[str, Evaluation]]:
        names = [n for n in self.names if n in self.reports]  # in turn, interrupted: fewer
        tracks = {}
        for name in names:
            report = self.reports[name]
            idle_mb = self.pool.workers[name].idle_mb
            tracks[name] = dataclasses.replace(report.track, idle_memory_mb=idle_mb)
            self.pool.versions.update(report.versions)
        self.pool.tracks = tracks
        interrupted = self.stopping or any(r.status == "interrupted" for r in self.reports.values())
        steps = self.reports[names[0]].steps
        status = "interrupted" if interrupted else "complete"
        result = TrainingResult(tracks, self.diffs, status, steps)
        return result, {name: self.reports[name].evaluation for name in names}
