"""The live display of `mnist-compare sweep`: runs done, running and failed, time left.

A rich progress bar over the runs; `quiet` prints nothing. Time left is the wall time
per finished run so far times the runs left (runs skipped by --resume do not count).
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

FAILED = ("failed", "diverged")


class SweepProgress:
    def __init__(self, total: int, workers: int, quiet: bool = False) -> None:
        self.quiet, self.total, self.workers = quiet, total, workers
        self.console = Console(stderr=True)
        self.done = self.failed = self.finished = 0
        self.started = time.perf_counter()
        self._bar: RichProgress | None = None
        self._task: Any = None
        self._warned = False

    def message(self, text: str) -> None:
        if not self.quiet:
            self.console.print(text, highlight=False, soft_wrap=True)

    def start(self) -> None:
        if self.quiet or not self.total:
            return
        self._bar = RichProgress(
            TextColumn("runs"), BarColumn(), MofNCompleteColumn(),
            TextColumn("done {task.fields[done]}  running {task.fields[running]}  "
                       "failed {task.fields[failed]}  left {task.fields[left]}"),
            TimeElapsedColumn(), console=self.console,
        )  # fmt: skip
        self._task = self._bar.add_task("runs", total=self.total, **self._fields())
        self._bar.start()

    def finished_run(self, record: dict[str, Any]) -> None:
        self.finished += 1
        if record["status"] in FAILED:
            self.failed += 1
            self.message(f"run {record['folder']} {record['status']}: {record.get('error', '')}")
        else:
            self.done += 1
        if record.get("threads_pinned") is False and not self._warned:
            self._warned = True
            self.message(
                "note: TensorFlow's thread pools were started before the sweep pinned them "
                "(one thread); results may differ from a fresh process's"
            )
        if self._bar is not None:
            self._bar.update(self._task, advance=1, **self._fields())

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def _fields(self) -> dict[str, Any]:
        remaining = self.total - self.finished
        return {
            "done": self.done, "failed": self.failed,
            "running": min(self.workers, remaining), "left": self.time_left(remaining),
        }  # fmt: skip

    def time_left(self, remaining: int) -> str:
        if not self.finished:
            return "?"
        seconds = (time.perf_counter() - self.started) / self.finished * remaining
        return format_seconds(seconds)


def format_seconds(seconds: float) -> str:
    """90 -> '1 min 30 s', 4000 -> '1 h 07 min'."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
