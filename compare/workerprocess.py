"""A worker process's side of `compare.workers`: its whole life is `worker_main`.

The coordinator writes the run's splits once as .npy files (`share_splits`); the
worker maps them read-only (`open_splits`), says it is ready, then trains one job per
seed with `compare.modeljob.train_models` until told to exit. It talks to the
coordinator through `PipeLink` (the lockstep start weights and checkpoints over the
pipe, a shared stop flag) and `WorkerProgress` (step counters in shared memory, each
finished epoch's record over the pipe). Ctrl-C is the coordinator's to handle.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np

from compare.data import Splits
from compare.environment import peak_rss_mb
from compare.modeljob import WorkerSpec, train_models
from compare.threads import pin_threads
from compare.training import Diverged, Track


def share_splits(splits: Splits, folder: Path) -> dict[str, Any]:
    """Write `splits`' arrays as .npy files in `folder`; what `open_splits` needs."""
    arrays, fields = {}, {}
    for field in dataclasses.fields(splits):
        value = getattr(splits, field.name)
        if isinstance(value, np.ndarray):
            arrays[field.name] = str(folder / f"{field.name}.npy")
            np.save(arrays[field.name], value)
        else:
            fields[field.name] = value
    return {"arrays": arrays, "fields": fields}


def open_splits(shared: dict[str, Any]) -> Splits:
    """The coordinator's `Splits`, its arrays memory-mapped read-only from .npy files."""
    arrays = {key: np.load(path, mmap_mode="r") for key, path in shared["arrays"].items()}
    return Splits(**arrays, **shared["fields"])


class PipeLink:
    """`Link` over a pipe to the coordinator, a shared stop flag and shared counters."""

    def __init__(self, conn: Any, stop: Any, counters: Any, parent: int) -> None:
        self.conn, self.stop, self.counters, self.parent = conn, stop, counters, parent

    def start_weights(self, weights: list[np.ndarray], first: bool) -> list[np.ndarray]:
        if first:
            self.conn.send(("start", weights))
            return weights
        return self.conn.recv()[1]  # ("start", weights)

    def checkpoint(self, step: int, epoch: int, weights: list[np.ndarray]) -> bool:
        self.conn.send(("checkpoint", step, epoch, weights))
        return self.conn.recv()[0] == "go"

    def stopped(self) -> bool:
        """The coordinator asked to stop, or it is gone (then nobody waits for us)."""
        return bool(self.stop.value) or os.getppid() != self.parent

    def progress(self, tracks: dict[str, Track]) -> WorkerProgress:
        (track,) = tracks.values()  # a worker trains one model
        return WorkerProgress(self, track)


class WorkerProgress:
    """What `train` calls on its progress: counters the coordinator reads to draw the
    bars (no message per step), and each finished epoch's record sent at its end."""

    def __init__(self, link: PipeLink, track: Track) -> None:
        self.link, self.track = link, track

    def advance(self, name: str, loss: float, accuracy: float) -> None:
        counters = self.link.counters
        counters[0], counters[1], counters[2] = counters[0] + 1, loss, accuracy

    def end_epoch(self, validation: dict[str, tuple[float, float]]) -> None:
        record = self.track.epochs[-1]
        self.link.conn.send(("epoch", record, self.track.train_seconds))

    def start_epoch(self, *args: Any) -> None: ...

    def stop(self) -> None: ...

    def message(self, text: str) -> None: ...


def worker_main(worker: WorkerSpec, shared: dict[str, Any], conn: Any, stop: Any,
                counters: Any, parent: int) -> None:  # fmt: skip
    """A worker process: Ctrl-C is the coordinator's to handle (it sets `stop`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _serve(worker, shared, conn, PipeLink(conn, stop, counters, parent))
    except (EOFError, BrokenPipeError, ConnectionResetError):
        return  # the coordinator is gone: nobody is left to report to


def _serve(worker: WorkerSpec, shared: dict[str, Any], conn: Any, link: PipeLink) -> None:
    pin_threads(worker.threads)
    splits = open_splits(shared)
    conn.send(("ready", peak_rss_mb()))
    while (message := conn.recv())[0] == "job":
        try:
            (report,), _ = train_models([worker], splits, message[1], link)
            conn.send(("done", report))
        except Diverged as error:
            conn.send(("diverged", str(error), error.epoch, error.step, error.model))
        except Exception as error:  # noqa: BLE001 - the coordinator names it in one line
            conn.send(("error", f"{type(error).__name__}: {error}".splitlines()[0]))
            return
