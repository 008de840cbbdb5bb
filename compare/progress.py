"""Terminal output of `mnist-compare run`: live per-epoch bars and a final table.

`Progress(quiet=True)` prints nothing at all; every method is then a no-op, so the
runner calls them unconditionally.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.table import Table

# What the lockstep line's figure means, in a few words (docs/run.md, "Modes and seeds").
LOCKSTEP_WHY = (
    "same start, same batches: only rounding differs, ~1e-15 in float64, growing in float32"
)


class Progress:
    """One bar per model per epoch, showing the running training loss and accuracy."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.console = Console(stderr=True)
        self._bars: RichProgress | None = None
        self._tasks: dict[str, Any] = {}
        self._epoch = ""  # the epoch's title ("epoch 3/10"), for its validation line

    def message(self, text: str) -> None:
        if not self.quiet:
            self.console.print(text, highlight=False, soft_wrap=True)

    def start_epoch(self, title: str, models: tuple[str, ...], steps: int) -> None:
        if self.quiet:
            return
        self._epoch = title
        self._bars = RichProgress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}  acc {task.fields[acc]:.4f}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self._tasks = {
            name: self._bars.add_task(f"{title} {name}", total=steps, loss=0.0, acc=0.0)
            for name in models
        }
        self._bars.start()

    def advance(self, name: str, loss: float, accuracy: float) -> None:
        if self._bars is not None:
            self._bars.update(self._tasks[name], advance=1, loss=loss, acc=accuracy)

    def show(self, name: str, completed: int, loss: float, accuracy: float) -> None:
        """Set a bar to `completed` steps (a model training in a worker process)."""
        if self._bars is not None:
            self._bars.update(self._tasks[name], completed=completed, loss=loss, acc=accuracy)

    def end_epoch(self, validation: dict[str, tuple[float, float]]) -> None:
        """Stop the bars and print each model's validation loss and accuracy, after the
        epoch's title: "epoch 3/10 validation: scratch loss 0.0981 acc 0.9712   keras ..."."""
        if self._bars is None:
            return
        self._bars.stop()
        self._bars = None
        parts = [
            f"{name} loss {loss:.4f} acc {acc:.4f}" for name, (loss, acc) in validation.items()
        ]
        if parts:
            self.message(f"{self._epoch} validation: " + "   ".join(parts))

    def stop(self) -> None:
        """Stop any live display (on an error or an interruption)."""
        if self._bars is not None:
            self._bars.stop()
            self._bars = None

    def final_table(self, summary: dict[str, Any]) -> None:
        """Test accuracy, loss and timings per model, then each pair's agreement figures."""
        if self.quiet:
            return
        table = Table(title=f"mnist-compare run: {summary['status']}")
        for column in ("model", "test acc", "test loss", "train s", "samples/s", "predict s"):
            table.add_column(column, justify="right" if column != "model" else "left")
        for name, result in summary["models"].items():
            table.add_row(
                name,
                f"{result['test_accuracy']:.4f}",
                f"{result['test_loss']:.4f}",
                f"{result['train_seconds']:.1f}",
                f"{result['samples_per_second']:.0f}",
                f"{result['predict_seconds']:.2f}",
            )
        self.console.print(table)
        pairs = summary.get("pairs") or []
        for pair in pairs:
            a, b = pair["models"]
            which = f"{a} vs {b}: " if len(pairs) > 1 else ""
            self.message(
                f"{which}agreement {pair['prediction_agreement']:.4f}  "
                f"only {a} right {pair['only_a_correct']}  "
                f"only {b} right {pair['only_b_correct']}  "
                f"McNemar p {pair['mcnemar_p_value']:.3g}"
            )
        multi = summary.get("multi_seed")
        if multi:
            for name, stats in multi["per_model"].items():
                accuracy = stats["test_accuracy"]
                self.message(
                    f"{name} over seeds {multi['seeds']}: test acc "
                    f"{accuracy['mean']:.4f} +- {accuracy['std']:.4f}"
                )
            for paired in multi.get("pairs") or []:
                a, b = paired["models"]
                t, p_value = paired["t_statistic"], paired.get("p_value")
                self.message(
                    f"paired {a} - {b}: mean {paired['mean_difference']:+.4f} "
                    f"(std {paired['std_difference']:.4f}, t {'n/a' if t is None else f'{t:.2f}'}, "
                    f"p {'n/a' if p_value is None else f'{p_value:.3g}'}, "
                    f"{a} better {paired['a_better']}, {b} better "
                    f"{paired['b_better']}, ties {paired['ties']})"
                )
        for pair in pairs:
            if pair.get("max_abs_weight_diff"):
                a, b = pair["models"]
                self.message(
                    f"lockstep: {a} and {b} weights differ by at most "
                    f"{pair['max_abs_weight_diff'][-1]:.3g} at the end (max |dW|; {LOCKSTEP_WHY})"
                )
