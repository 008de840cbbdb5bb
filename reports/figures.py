"""Charts of a run: learning curves, confusion matrices (and each pair's difference),
per-class F1, timing, lockstep drift per pair and multi-seed spread. Model colours and
labels come from the run (`RunData.colors`, `RunData.labels`).

Figures are built with `matplotlib.figure.Figure` directly (no pyplot, so no GUI
backend and no global state) and returned as PNG bytes inside a `Figure` block.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.colors import Normalize, TwoSlopeNorm
from matplotlib.figure import Figure as MplFigure

from compare.metrics import model_pairs
from reports.document import Figure
from reports.loader import RunData

DPI = 110


def png_bytes(fig: MplFigure) -> bytes:
    """Render to PNG in memory (Agg canvas, no display needed)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    return buffer.getvalue()


def learning_curves(run: RunData) -> Figure | None:
    """Loss and accuracy per epoch, training (solid) and validation (dashed), every model."""
    if run.metrics is None or run.metrics.empty:
        return None
    fig = MplFigure(figsize=(10, 3.8))
    ax_loss, ax_acc = fig.subplots(1, 2)
    colors, groups = run.colors, list(run.metrics.groupby("model", sort=False))
    for k, (model, rows) in enumerate(groups):
        color = colors.get(str(model), "gray")
        # Hollow, larger markers for all but the last model stay visible when lockstep
        # curves coincide.
        hollow = {"markersize": 6 + 3 * (len(groups) - 1 - k), "markerfacecolor": "none"}
        style = hollow if k < len(groups) - 1 else {}
        for ax, key in ((ax_loss, "loss"), (ax_acc, "accuracy")):
            ax.plot(rows["epoch"], rows[f"train_{key}"], "-o", color=color,
                    label=f"{model} {key}", **style)  # fmt: skip
            ax.plot(rows["epoch"], rows[f"val_{key}"], "--s", color=color,
                    label=f"{model} val_{key}", **style)  # fmt: skip
    for ax, key in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.set_title(f"{key} (solid: training, dashed: validation)")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return Figure(
        "learning_curves", "Learning curves: loss and accuracy per epoch.", png_bytes(fig)
    )


def _matrix_panel(fig: MplFigure, ax, matrix: np.ndarray, title: str, cmap, norm) -> None:
    image = ax.imshow(matrix, cmap=cmap, norm=norm)
    threshold = (norm.vmin + norm.vmax) / 2 if norm.vmin is not None else 0
    for (i, j), value in np.ndenumerate(matrix):
        dark = value > threshold if cmap == "Blues" else abs(value) > 0.6 * norm.vmax
        ax.text(
            j,
            i,
            f"{value:d}",
            ha="center",
            va="center",
            fontsize=7.5,
            color="white" if dark else "black",
        )
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)


def confusion_matrices(run: RunData) -> Figure | None:
    """Each model's confusion matrix, side by side on one colour scale."""
    models = [m for m in run.models if m in run.confusion]
    if not models:
        return None
    fig = MplFigure(figsize=(5.6 * len(models), 4.8))
    axes = np.atleast_1d(fig.subplots(1, len(models), gridspec_kw={"wspace": 0.35}))
    vmax = max(int(run.confusion[m].max()) for m in models)
    for ax, model in zip(axes, models, strict=True):
        _matrix_panel(fig, ax, run.confusion[model], run.labels[model], "Blues", Normalize(0, vmax))
    caption = (
        "Confusion matrices on the test set: rows are the true digit, columns the predicted "
        "digit, cells count images; all models share one colour scale."
    )
    return Figure("confusion_matrices", caption, png_bytes(fig))


def confusion_difference(run: RunData) -> Figure | None:
    """For each pair of models, one confusion matrix minus the other: where errors differ."""
    pairs = model_pairs([m for m in run.models if m in run.confusion])
    if not pairs:
        return None
    diffs = [run.confusion[a] - run.confusion[b] for a, b in pairs]
    bound = max(1, *(int(np.abs(diff).max()) for diff in diffs))
    fig = MplFigure(figsize=(5.6 * len(pairs), 4.8))
    axes = np.atleast_1d(fig.subplots(1, len(pairs), gridspec_kw={"wspace": 0.35}))
    for ax, (a, b), diff in zip(axes, pairs, diffs, strict=True):
        norm = TwoSlopeNorm(0, -bound, bound)
        _matrix_panel(fig, ax, diff, f"{a} − {b} (counts)", "RdBu_r", norm)
    first, second = (run.labels[m] for m in pairs[0])
    each = "" if len(pairs) == 1 else " Each panel is one pair, the first model minus the second."
    caption = (
        f"Difference of the two confusion matrices ({first} minus {second}).{each} Red: the "
        "first model put more images in that cell; blue: the second did. Off the diagonal, red "
        "means more mistakes of the first; on the diagonal, red means more of its hits."
    )
    return Figure("confusion_difference", caption, png_bytes(fig))


def per_class_f1(run: RunData, reports: dict[str, pd.DataFrame]) -> Figure | None:
    """F1 score per digit, one bar per model."""
    if not reports:
        return None
    fig = MplFigure(figsize=(9, 3.6))
    ax = fig.subplots()
    digits = np.arange(10)
    width = 0.8 / len(reports)
    low = 1.0
    for k, (model, table) in enumerate(reports.items()):
        f1 = table.loc[[str(d) for d in digits], "f1-score"].to_numpy()
        low = min(low, float(f1.min()))
        ax.bar(
            digits + (k - (len(reports) - 1) / 2) * width,
            f1,
            width,
            color=run.colors[model],
            label=run.labels[model],
        )
    ax.set_ylim(max(0.0, low - 0.05), 1.0)
    ax.set_xticks(digits)
    ax.set_xlabel("digit")
    ax.set_ylabel("F1 score")
    ax.set_title("Per-class F1 on the test set (y axis zoomed)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return Figure("per_class_f1", "F1 score for each digit (higher is better).", png_bytes(fig))


def timing(run: RunData) -> Figure | None:
    """Seconds per epoch and training throughput (samples per second) per epoch."""
    if run.metrics is None or run.metrics.empty:
        return None
    fig = MplFigure(figsize=(10, 3.6))
    ax_sec, ax_sps = fig.subplots(1, 2)
    groups = list(run.metrics.groupby("model", sort=False))
    width = 0.8 / len(groups)
    for k, (model, rows) in enumerate(groups):
        offset = (k - (len(groups) - 1) / 2) * width
        color = run.colors.get(str(model), "gray")
        ax_sec.bar(rows["epoch"] + offset, rows["seconds"], width, color=color, label=str(model))
        ax_sps.plot(rows["epoch"], rows["samples_per_second"], "-o", color=color, label=str(model))
    ax_sec.set_title("training time per epoch")
    ax_sec.set_ylabel("seconds")
    ax_sps.set_title("training throughput")
    ax_sps.set_ylabel("samples per second")
    ax_sps.set_ylim(bottom=0)
    for ax in (ax_sec, ax_sps):
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    caption = "Timing: wall-clock seconds per epoch and training samples per second."
    return Figure("timing", caption, png_bytes(fig))


def lockstep_drift(run: RunData) -> Figure | None:
    """How far each pair of models' weights drift apart in lockstep (log scale)."""
    frame = run.lockstep
    if frame is None or frame.empty:
        return None
    fig = MplFigure(figsize=(7, 3.8))
    ax = fig.subplots()
    missing = {"step", "max_abs_weight_diff"} - set(frame.columns)
    if missing:  # a damaged lockstep.csv: the section turns this into a warning
        raise KeyError(f"lockstep.csv has no column {', '.join(sorted(missing))}")
    floor = np.finfo(np.float64).tiny  # log scale cannot show an exact zero
    groups = list(frame.groupby(["model_a", "model_b"], sort=False))
    spare = iter(["black", "tab:green", "tab:purple", "tab:orange", "tab:brown", "tab:pink"] * 9)
    for (a, b), rows in groups:
        color = next(spare)
        which = f"{a} vs {b}: " if len(groups) > 1 else ""
        for column, style in (("max_abs_weight_diff", "-o"), ("max_rel_weight_diff", "--s")):
            if column in rows:
                values = np.maximum(rows[column], floor)
                ax.plot(rows["step"], values, style, color=color, label=which + column)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("max weight difference")
    (a, b), _ = groups[0]
    names = f"{a} vs {b}" if len(groups) == 1 else "each pair of models:"
    ax.set_title(f"lockstep: {names} weights over training")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    caption = (
        "Largest absolute and relative difference between any weight of one model and the "
        "same weight of the other, for each pair; same initial weights and same batches "
        "(log scales)."
    )
    return Figure("lockstep_drift", caption, png_bytes(fig))


def seed_spread(run: RunData) -> Figure | None:
    """Test accuracy per seed for each model, with mean ± standard deviation."""
    frame = run.seeds
    if frame is None or frame.empty:
        return None
    fig = MplFigure(figsize=(7, 3.8))
    ax = fig.subplots()
    models = [m for m in run.models if m in set(frame["model"])]
    for k, model in enumerate(models):
        rows = frame[frame["model"] == model].sort_values("seed")
        acc = rows["test_accuracy"].to_numpy() * 100
        ax.scatter(np.full(len(acc), k), acc, color=run.colors[model], zorder=3)
        ax.errorbar(
            k + 0.18,
            acc.mean(),
            yerr=acc.std(ddof=1) if len(acc) > 1 else 0,
            fmt="D",
            color="black",
            capsize=6,
        )
    if len(models) >= 2:  # connect each seed's results across the models
        pivot = frame.pivot_table(index="seed", columns="model", values="test_accuracy")
        for _, seed_row in pivot.iterrows():
            accuracy = [seed_row[m] * 100 for m in models]
            ax.plot(range(len(models)), accuracy, color="gray", alpha=0.4)
    ax.set_xticks(range(len(models)), [run.labels[m] for m in models])
    ax.set_xlim(-0.5, len(models) - 0.5)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("accuracy per seed (dots), mean ± std (black)")
    ax.grid(axis="y", alpha=0.3)
    caption = "Multi-seed runs: test accuracy of every seed; grey lines pair the same seed."
    return Figure("seed_spread", caption, png_bytes(fig))
