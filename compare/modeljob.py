"""One model's part of a run, in whichever process it runs: build, train, evaluate, save.

`train_models(specs, splits, job, link)` is the same code in the main process (a model
training alone) and in a worker process (`compare.workers`); `link` is how it talks to
the coordinator: the lockstep start weights, the checkpoints, the stop request and the
live progress. A worker process's whole life, around it, is
`compare.workerprocess.worker_main`. `InProcess` runs a model alone in the run process.

A worker measures its own training time (only `train_step`, as `compare.training`
does), its prediction time and its own peak resident memory; the time it spends at
lockstep checkpoints (sending weights, waiting for the other models) is kept apart
in `Track.sync_seconds`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from compare import runfolder
from compare.augment import NO_DISTORTIONS, Distortions
from compare.data import Splits
from compare.environment import peak_rss_mb, tf_versions
from compare.models import Model, ModelFactory, resolve_factory, spec
from compare.progress import Progress
from compare.summary import Evaluation
from compare.training import Track, TrainingResult, WeightDiff, train
from scratch.config import ModelConfig


@dataclass(frozen=True)
class WorkerSpec:
    """How to build one model: picklable, so it crosses to a spawned process.

    `factory` is the registry's ("module:Class" or a module-level callable) or the one
    `execute(factories=...)` gave."""

    name: str
    config: ModelConfig
    factory: ModelFactory | str
    files: tuple[str, str]  # the saved model and its NumPy weights: the registry's names
    threads: int  # BLAS and TensorFlow intra-/inter-op threads of the worker (0: defaults)

    @classmethod
    def of(
        cls, name: str, config: ModelConfig, factory: ModelFactory | None, threads: int
    ) -> WorkerSpec:
        """The registered model `name` (a spawned worker does not see `register` calls made
        in the coordinator, so everything it needs travels in the spec)."""
        model = spec(name)
        files = (model.file_name, model.weights_file_name)
        return cls(name, config, factory or model.factory, files, threads)

    def build(self, seed: int) -> Model:
        factory = resolve_factory(self.factory) if isinstance(self.factory, str) else self.factory
        return factory(self.config, seed=seed)


@dataclass(frozen=True)
class Job:
    """One seed's training for one model."""

    seed: int
    epochs: int
    batch_size: int
    lockstep: bool
    first: bool  # the model whose initial weights every other one starts from
    save_to: Path | None  # the run folder to save the model in (the first seed only)
    title: str = ""  # before "epoch 1/10" on the bars: "seed 3 " with several seeds
    distortions: Distortions = NO_DISTORTIONS  # of the training images (compare.augment)


@dataclass
class ModelReport:
    """What a model's job sends back: its track (records, timings, memory; no model)."""

    track: Track
    status: str  # "complete" | "interrupted"
    steps: int
    evaluation: Evaluation
    versions: dict[str, str | None]  # tensorflow/keras when this process loaded them


class Link(Protocol):
    """The coordinator, as a model's job sees it."""

    def start_weights(self, weights: list[np.ndarray], first: bool) -> list[np.ndarray]: ...

    def checkpoint(self, step: int, epoch: int, weights: list[np.ndarray]) -> bool: ...

    def stopped(self) -> bool: ...

    def progress(self, tracks: dict[str, Track]) -> Any: ...  # a `Progress` look-alike


def evaluate_on_test(model: Model, splits: Splits) -> Evaluation:
    start = time.perf_counter()
    proba = np.asarray(model.predict_proba(splits.x_test))  # (n_test, 10)
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(splits.x_test, splits.y_test)
    return Evaluation(
        float(loss),
        float(accuracy),
        seconds,
        proba.argmax(axis=1).astype(np.int64),
        proba.max(axis=1),
    )


def save_model(out: Path, files: tuple[str, str], model: Model) -> None:
    """The model's own file, and the NumPy copy of its weights when that file is not .npz."""
    file_name, weights_file_name = files
    model.save(out / file_name)  # every model saves atomically
    if weights_file_name != file_name:  # e.g. keras_weights.npz beside keras.keras
        weights = {f"w{i}": w for i, w in enumerate(model.get_weights())}
        runfolder.write_npz(out / weights_file_name, weights)


def train_models(
    workers: list[WorkerSpec], splits: Splits, job: Job, link: Link
) -> tuple[list[ModelReport], list[WeightDiff]]:
    """Build, (lockstep: start from the first model's weights), train, evaluate, save.

    A worker process trains one model and meets the others at `link.checkpoint`. Several
    models train here together only where no worker can be started (`InProcess`); then
    `train` records their lockstep differences itself, as it always has."""
    tracks = {worker.name: Track(worker.name, worker.build(job.seed)) for worker in workers}
    models = [track.model for track in tracks.values()]
    start = time.perf_counter()
    if job.lockstep:
        weights = link.start_weights(models[0].get_weights(), job.first)
        for model in models:
            model.set_weights(weights)
    first = next(iter(tracks.values()))
    first.sync_seconds = time.perf_counter() - start

    def checkpoint(step: int, epoch: int) -> bool:  # a worker's one model
        begin = time.perf_counter()
        go = link.checkpoint(step, epoch, models[0].get_weights())
        first.sync_seconds += time.perf_counter() - begin
        return go

    alone = len(tracks) == 1
    result: TrainingResult = train(
        tracks, splits, epochs=job.epochs, batch_size=job.batch_size, seed=job.seed,
        distortions=job.distortions,
        lockstep=job.lockstep and not alone, progress=link.progress(tracks), title=job.title,
        checkpoint=checkpoint if job.lockstep and alone else None, stopped=link.stopped,
    )  # fmt: skip
    return [_finish(w, tracks[w.name], splits, job, result) for w in workers], result.lockstep


def _finish(
    worker: WorkerSpec, track: Track, splits: Splits, job: Job, result: TrainingResult
) -> ModelReport:
    """Evaluate and save a trained model; its report, without the model."""
    evaluation = evaluate_on_test(track.model, splits)
    if job.save_to is not None:
        save_model(job.save_to, worker.files, track.model)
    track.peak_memory_mb = peak_rss_mb()
    versions = {}
    if "tensorflow" in sys.modules:  # never imported just to ask its version
        versions = dict(zip(("tensorflow", "keras"), tf_versions(), strict=True))
    track = dataclasses.replace(track, model=None)
    return ModelReport(track, result.status, result.steps, evaluation, versions)


# --- a model alone, in this process ----------------------------------------------


class InProcess:
    """The models trained in this process by the same `train_models` a worker runs: a
    model alone (a worker would add only its start-up time), or every model when this
    process is daemonic (a process pool's or a Dask worker, which cannot start
    processes of its own)."""

    def __init__(
        self, specs: list[WorkerSpec], splits: Splits, progress: Progress, idle_mb: float,
        threads: contextlib.AbstractContextManager,
    ) -> None:  # fmt: skip
        self.specs, self.splits, self.link = specs, splits, _LocalLink(progress)
        self.idle_mb, self.threads = idle_mb, threads
        self.tracks: dict[str, Track] = {}
        self.versions: dict[str, str | None] = {}
        self.start_seconds = 0.0

    def __enter__(self) -> InProcess:
        self.threads.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.threads.__exit__(*exc)

    def run_seed(self, job: Job) -> tuple[TrainingResult, dict[str, Evaluation]]:
        try:
            reports, diffs = train_models(self.specs, self.splits, job, self.link)
        finally:
            self.tracks = self.link.tracks
        self.tracks = {
            r.track.name: dataclasses.replace(r.track, idle_memory_mb=self.idle_mb) for r in reports
        }
        for report in reports:
            self.versions.update(report.versions)
        result = TrainingResult(self.tracks, diffs, reports[0].status, reports[0].steps)
        return result, {report.track.name: report.evaluation for report in reports}


class _LocalLink:
    """`Link` for models in this process: nobody else to wait for or to stop them."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self.tracks: dict[str, Track] = {}

    def start_weights(self, weights: list[np.ndarray], first: bool) -> list[np.ndarray]:
        return weights

    def checkpoint(self, step: int, epoch: int, weights: list[np.ndarray]) -> bool:
        return True

    def stopped(self) -> bool:
        return False

    def progress(self, tracks: dict[str, Track]) -> Progress:
        self.tracks = tracks
        return self._progress
