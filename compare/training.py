"""The training loop: every model, the same batches, timed separately.

Per epoch, for each index array of `BatchSchedule(n_train, batch_size, seed).epoch(e)`,
every model gets `x_train[idx], y_train[idx]` in one `train_step`. With `distortions` the
images are first moved, turned and scaled at random (`compare.augment`), once, and every
model gets the same distorted array. Only the `train_step` call is inside the timer
(`time.perf_counter`), so a model's seconds are its own optimizer steps and nothing else.

Training loss and accuracy of an epoch are defined as Keras's `History` defines them,
identically for every model: the loss is the sample-weighted mean of the batch losses
returned by `train_step` (computed in the forward pass *before* each update); the
accuracy is the share of training images in the epoch that the model predicted
correctly *just before* its update: `last_batch_correct`, counted by `train_step`
from its own forward pass, as Keras's `fit` counts it (no second prediction).

Ctrl-C (SIGINT) or SIGTERM sets a flag that is checked after each step, so the run stops
between steps with every model consistent; a `KeyboardInterrupt` raised inside a
step (a second Ctrl-C, say) also stops the run. Either way the result is marked
interrupted and everything measured so far is kept.

In lockstep mode the weight difference of every pair of models is recorded at
steps 1, 10, 100, ... and at each epoch end. A model training alone in its own worker
process (`compare.workers`) passes `checkpoint` instead: called at those same points
(before the epoch's record), it hands the weights to the coordinator and returns False
to stop the run there; `stopped` is polled after every step as the Ctrl-C flag is.
A NaN or infinite loss raises `Diverged`, this module's own exception; the CLI maps
it to exit code 1.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from compare.augment import NO_DISTORTIONS, Distortions
from compare.batches import BatchSchedule
from compare.data import Splits
from compare.metrics import model_pairs, weight_difference
from compare.models import Model
from compare.progress import Progress
from scratch.training import DivergenceError


class Diverged(Exception):
    """A model's loss became NaN or infinite; the run stops and is not saved as good.
    The message is one line naming the model, epoch, batch and step."""

    def __init__(self, message: str, epoch: int, step: int, model: str) -> None:
        super().__init__(message)
        self.epoch, self.step, self.model = epoch, step, model


class WeightDiff(NamedTuple):
    """One row of lockstep.csv: how far two models' weights are apart after `step`."""

    step: int
    epoch: int
    model_a: str
    model_b: str
    max_abs: float
    max_rel: float


@dataclass
class EpochRecord:
    """One row of metrics.csv."""

    model: str
    epoch: int  # 1-based
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    seconds: float  # this model's train_step time in the epoch
    samples_per_second: float


@dataclass
class Track:
    """One model being trained, with its timings and running epoch statistics."""

    name: str
    model: Model | None  # None in the coordinator: the model lives in its worker process
    train_seconds: float = 0.0
    epochs: list[EpochRecord] = field(default_factory=list)
    sync_seconds: float = 0.0  # waiting at lockstep checkpoints and sending weights (untimed)
    peak_memory_mb: float | None = None  # the worker process's own peak RSS
    idle_memory_mb: float | None = None  # the same process before it built the model
    _loss_sum: float = 0.0
    _correct: int = 0
    _seen: int = 0
    _epoch_seconds: float = 0.0

    def reset_epoch(self) -> None:
        self._loss_sum, self._correct, self._seen, self._epoch_seconds = 0.0, 0, 0, 0.0

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One timed train_step; returns the batch loss. The training accuracy comes from
        that step's own forward pass (`last_batch_correct`), not from a second one."""
        start = time.perf_counter()
        loss = float(self.model.train_step(x, y))
        elapsed = time.perf_counter() - start
        self._epoch_seconds += elapsed
        self.train_seconds += elapsed
        self._loss_sum += loss * len(y)
        self._correct += self.model.last_batch_correct
        self._seen += len(y)
        return loss

    @property
    def running(self) -> tuple[float, float]:
        """(mean loss, accuracy) of the epoch so far."""
        seen = max(self._seen, 1)
        return self._loss_sum / seen, self._correct / seen

    def end_epoch(self, epoch: int, splits: Splits) -> EpochRecord:
        val_loss = val_accuracy = None
        if len(splits.y_val):
            val_loss, val_accuracy = (
                float(v) for v in self.model.evaluate(splits.x_val, splits.y_val)
            )
        loss, accuracy = self.running
        seconds = self._epoch_seconds
        record = EpochRecord(
            self.name, epoch, loss, accuracy, val_loss, val_accuracy, seconds,
            self._seen / seconds if seconds > 0 else 0.0,
        )  # fmt: skip
        self.epochs.append(record)
        return record


@dataclass
class TrainingResult:
    tracks: dict[str, Track]
    lockstep: list[WeightDiff]  # every pair at each checkpoint (lockstep mode)
    status: str  # "complete" | "interrupted"
    steps: int  # optimizer steps taken (by the first model)

    @property
    def epochs_completed(self) -> int:
        return min(len(track.epochs) for track in self.tracks.values())


class StopFlag:
    """Set by SIGINT or SIGTERM; a second one raises KeyboardInterrupt as usual."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.set = False

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopFlag]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {number: signal.getsignal(number) for number in self.SIGNALS}

        def handler(signum: int, frame: Any) -> None:
            self.set = True
            for number in self.SIGNALS:
                signal.signal(number, signal.default_int_handler)

        for number in self.SIGNALS:
            signal.signal(number, handler)
        try:
            yield self
        finally:
            for number, old in previous.items():
                signal.signal(number, old)


def is_checkpoint(step: int) -> bool:
    """Steps 1, 10, 100, 1000, ... (where lockstep weight differences are recorded)."""
    return step >= 1 and 10 ** round(math.log10(step)) == step


def train(
    tracks: dict[str, Track],
    splits: Splits,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    lockstep: bool,
    progress: Progress,
    distortions: Distortions = NO_DISTORTIONS,
    title: str = "",
    checkpoint: Callable[[int, int], bool] | None = None,
    stopped: Callable[[], bool] = lambda: False,
) -> TrainingResult:
    """Train every model for `epochs` on identical batches; see the module docstring."""
    schedule = BatchSchedule(len(splits.y_train), batch_size, seed)
    background = splits.background  # a blank pixel, for what distortions bring in
    diffs: list[WeightDiff] = []
    result = TrainingResult(tracks, diffs, "complete", 0)
    names = tuple(tracks)
    # NaN/inf losses are caught explicitly below; NumPy's overflow warnings add nothing.
    with StopFlag().installed() as stop, np.errstate(over="ignore", invalid="ignore"):
        try:
            for epoch in range(1, epochs + 1):
                progress.start_epoch(
                    f"{title}epoch {epoch}/{epochs}", names, schedule.steps_per_epoch
                )
                for track in tracks.values():
                    track.reset_epoch()
                for batch, idx in enumerate(schedule.epoch(epoch - 1), start=1):
                    x, y = splits.x_train[idx], splits.y_train[idx]
                    x = distortions.batch(x, seed, epoch - 1, batch - 1, background)
                    result.steps += 1
                    for track in tracks.values():
                        _guarded_step(track, x, y, (epoch, batch, result.steps))
                        progress.advance(track.name, *track.running)
                    if lockstep and is_checkpoint(result.steps):
                        diffs += _weight_diffs(tracks, result.steps, epoch)
                    if checkpoint and is_checkpoint(result.steps):
                        _sync(checkpoint, result.steps, epoch)
                    if stop.set or stopped():
                        raise KeyboardInterrupt
                if checkpoint:
                    _sync(checkpoint, result.steps, epoch)
                records = {name: track.end_epoch(epoch, splits) for name, track in tracks.items()}
                if lockstep:
                    diffs += _weight_diffs(tracks, result.steps, epoch)
                progress.end_epoch(
                    {
                        n: (r.val_loss, r.val_accuracy)
                        for n, r in records.items()
                        if r.val_loss is not None
                    }
                )
                if (stop.set or stopped()) and epoch < epochs:  # while evaluating: no next epoch
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            result.status = "interrupted"
            progress.stop()
            progress.message(f"interrupted after {result.steps} steps; saving what was measured")
        except BaseException:
            progress.stop()
            raise
    return result


def _sync(checkpoint: Callable[[int, int], bool], step: int, epoch: int) -> None:
    if not checkpoint(step, epoch):
        raise KeyboardInterrupt  # another model stopped, or the run was interrupted


def _guarded_step(track: Track, x: np.ndarray, y: np.ndarray, where: tuple[int, int, int]) -> None:
    """One step; a NaN/inf loss or scratch's DivergenceError becomes `Diverged`."""
    try:
        loss = track.step(x, y)
    except DivergenceError as error:
        loss = float(getattr(error, "loss", math.nan))
    if not math.isfinite(loss):
        epoch, batch, step = where
        lr = track.model.config.learning_rate
        raise Diverged(
            f"{track.name} diverged at epoch {epoch}, batch {batch} (step {step}): loss {loss}; "
            f"lower --lr (it was {lr:g}); the run folder is marked diverged, no model saved",
            epoch, step, track.name,
        )  # fmt: skip


def _weight_diffs(tracks: dict[str, Track], step: int, epoch: int) -> list[WeightDiff]:
    """Max absolute and relative weight difference of every pair of models."""
    weights = {name: track.model.get_weights() for name, track in tracks.items()}
    return [
        WeightDiff(step, epoch, a, b, *weight_difference(weights[a], weights[b]))
        for a, b in model_pairs(list(tracks))
    ]
