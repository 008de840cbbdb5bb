"""Charts of a sweep, from its cells.csv: test accuracy against each swept key (mean and
95% confidence band over the seeds, per model), and the speed ratio of each cell."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure as MplFigure

from reports.document import Figure
from reports.figures import png_bytes

COLORS = {"scratch": "#1f77b4", "keras": "#d62728"}
OTHER_COLORS = ("#2ca02c", "#9467bd", "#8c564b", "#e377c2")
LINE_STYLES = ("-", "--", ":", "-.")


def _color(model: str, models: list[str]) -> str:
    return COLORS.get(model, OTHER_COLORS[models.index(model) % len(OTHER_COLORS)])


def _x_positions(values: pd.Series) -> tuple[list, list[str], bool]:
    """Sorted distinct values of one key: numbers on a log axis when all are positive
    numbers spanning 10x or more, else categories."""
    distinct = list(dict.fromkeys(values.tolist()))
    numeric = pd.to_numeric(pd.Series(distinct), errors="coerce")
    if numeric.notna().all() and len(distinct) > 1:
        order = sorted(range(len(distinct)), key=lambda i: numeric[i])
        log = bool((numeric > 0).all() and numeric.max() / numeric.min() >= 10)
        return [float(numeric[i]) for i in order], [str(distinct[i]) for i in order], log
    return list(range(len(distinct))), [str(v) for v in distinct], False


def accuracy_by_key(models: pd.DataFrame, key: str, keys: list[str]) -> Figure:
    """One line per model and setting of the other keys; the band is the 95% interval."""
    fig = MplFigure(figsize=(7.5, 4.2))
    ax = fig.subplots()
    names = list(dict.fromkeys(models["model"]))
    xs, labels, log = _x_positions(models[key].astype(str))
    where = dict(zip(labels, xs, strict=True))
    others = [k for k in keys if k != key]
    groups = models.groupby(others, sort=False) if others else [((), models)]
    for number, (setting, rows) in enumerate(groups):
        setting = setting if isinstance(setting, tuple) else (setting,)
        suffix = ", ".join(f"{k.split('.')[-1]} {v}" for k, v in zip(others, setting, strict=True))
        for model in names:
            part = rows[rows["model"] == model].copy()
            part["x"] = part[key].astype(str).map(where)
            part = part.sort_values("x")
            color, style = _color(model, names), LINE_STYLES[number % len(LINE_STYLES)]
            label = f"{model}{f' ({suffix})' if suffix else ''}"
            # Earlier models: hollow, larger markers, visible under an identical later line.
            rank = len(names) - 1 - names.index(model)
            hollow = {"markersize": 6 + 4 * rank, "markerfacecolor": "none"} if rank else {}
            ax.plot(part["x"], part["accuracy_mean"] * 100, style, marker="o", color=color,
                    label=label, **hollow)  # fmt: skip
            band = part.dropna(subset=["accuracy_ci_low", "accuracy_ci_high"])
            ax.fill_between(band["x"], band["accuracy_ci_low"] * 100,
                            band["accuracy_ci_high"] * 100, color=color, alpha=0.15)  # fmt: skip
    if log:
        ax.set_xscale("log")
    ax.set_xticks(xs, labels)
    ax.set_xlabel(key)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"test accuracy against {key} (mean over seeds, 95% band)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    name = "accuracy_by_" + key.replace(".", "_")
    caption = (
        f"Test accuracy against `{key}`: mean over the seeds, shaded 95% t interval; one "
        "line per model and setting of the other swept keys."
    )
    return Figure(name, caption, png_bytes(fig))


def speed_ratio(pairs: pd.DataFrame) -> Figure | None:
    """The median per-seed speed ratio (samples per second, a / b) of each cell."""
    pairs = pairs.dropna(subset=["speed_ratio_median"])
    if pairs.empty:
        return None
    fig = MplFigure(figsize=(7.5, 0.5 + 0.35 * len(pairs)))
    ax = fig.subplots()
    labels = [f"{row.cell} ({row.model})" for row in pairs.itertuples()]
    ax.barh(range(len(pairs)), pairs["speed_ratio_median"], color="#1f77b4")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(pairs)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("training speed ratio a / b (samples per second, median over seeds)")
    ax.grid(alpha=0.3, axis="x")
    caption = (
        "Training speed ratio of each cell: the first model's samples per second over the "
        "second's, median over the seeds (above 1: the first is faster). Wall time: it "
        "depends on the machine and on what else ran."
    )
    return Figure("speed_ratio", caption, png_bytes(fig))
