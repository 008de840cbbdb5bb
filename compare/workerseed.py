"""The coordinator's side of one seed of a run in worker processes (`compare.workers`).

`WorkerSeed(pool, job).run()` sends each worker its job, then serves the messages
until every model has reported back: the first model's start weights go on to the
others; at each lockstep checkpoint the workers' weights are held until all have
arrived, then every pair's difference is recorded and the workers go on; the bars are
drawn from the workers' shared step counters; Ctrl-C, SIGTERM, an interrupted or a
diverged model stops them all. In turn (the default schedule) the models train one
after another, in parallel all at once.
"""

from __future__ import annotations

import dataclasses
from multiprocessing.connection import wait
from typing import TYPE_CHECKING

from compare.metrics import model_pairs, weight_difference
from compare.modeljob import Job, ModelReport
from compare.summary import Evaluation
from compare.training import Diverged, StopFlag, Track, TrainingResult, WeightDiff

if TYPE_CHECKING:
    from compare.workers import Worker, Workers

POLL_SECONDS = 0.1  # how often the bars are redrawn and the stop flag looked at


class WorkerSeed:
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
            raise self.pool.died(worker) from None
        if worker.spec.name not in self.reports and not worker.process.is_alive():
            raise self.pool.died(worker)

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
            raise self.pool.failed(worker, message[1])

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
