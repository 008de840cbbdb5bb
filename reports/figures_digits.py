"""Pictures of digits: where the models disagree, their most confident mistakes,
and what their first layers learned (weights drawn as 28x28 images).

Images come from examples.npz (every test image a model got wrong or on which the
models disagree); labels, predictions and confidences from predictions.csv.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure as MplFigure

from reports.document import Figure
from reports.figures import png_bytes
from reports.loader import RunData

COLUMNS = 8
DISAGREEMENTS_SHOWN = 24  # the disagreements figure: the models' surest disagreements
MISTAKES_SHOWN = 16  # each model's most confident mistakes
UNITS_SHOWN = 10  # first-layer weights: hidden units 0..9
WEIGHT_CMAP = "RdBu_r"  # first-layer weights: red positive, blue negative


def unit_weight_image(W: np.ndarray, unit: int) -> tuple[np.ndarray, float]:
    """Hidden unit `unit`'s incoming weights as a 28x28 image, and the symmetric colour
    bound (its largest |weight|) that centres zero on the colour map's white."""
    image = W[:, unit].reshape(28, 28)  # W: (784, units)
    return image, float(np.abs(image).max()) or 1.0


def short_names(models: list[str]) -> dict[str, str]:
    """What a cell calls each model: its initial (S, K) when the initials differ, else its name."""
    initials = [m[0].upper() for m in models]
    unique = len(set(initials)) == len(initials)
    return {m: (i if unique else m) for m, i in zip(models, initials, strict=True)}


def _key(run: RunData, models: list[str]) -> str:
    """'S = Scratch (NumPy), K = Keras': the legend of the cells' model names."""
    short = short_names(models)
    return ", ".join(f"{short[m]} = {run.labels.get(m, m)}" for m in models)


def _cell_text(row: pd.Series, models: list[str]) -> str:
    parts = [f"#{int(row['index'])}: true {int(row['label'])}"]
    for model, short in short_names(models).items():
        parts.append(f"{short}: {int(row[f'{model}_pred'])} ({row[f'{model}_confidence']:.2f})")
    return "\n".join(parts)


def _grid(run: RunData, rows: pd.DataFrame, title: str, models: list[str]) -> MplFigure | None:
    rows = rows[rows["index"].isin(run.examples)]
    if rows.empty:
        return None
    n_rows = -(-len(rows) // COLUMNS)
    fig = MplFigure(figsize=(1.45 * COLUMNS, 1.85 * n_rows + 0.5))
    axes = np.atleast_1d(fig.subplots(n_rows, COLUMNS)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, (_, row) in zip(axes, rows.iterrows(), strict=False):
        ax.imshow(run.examples[int(row["index"])], cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(_cell_text(row, models), fontsize=7.5)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def disagreements(run: RunData) -> Figure | None:
    """Test digits on which the models do not all predict the same label."""
    frame = run.predictions
    models = run.models
    if not run.compares or frame is None or any(f"{m}_pred" not in frame for m in models):
        return None
    predicted = frame[[f"{m}_pred" for m in models]]
    differ = frame[predicted.nunique(axis=1) > 1].copy()
    total = len(differ)
    differ["certainty"] = differ[[f"{m}_confidence" for m in models]].min(axis=1)
    differ = differ.sort_values("certainty", ascending=False).head(DISAGREEMENTS_SHOWN)
    title = f"Test digits where the models disagree ({len(differ)} of {total} shown)"
    fig = _grid(run, differ, title, models)
    if fig is None:
        return None
    every = "both were" if len(models) == 2 else "all were"
    caption = (
        f"The models disagree on {total} test images; shown: the {len(differ)} where {every} "
        f"most sure of their (different) answers. Each cell: true label, then each model's "
        f"prediction with its confidence (top softmax output); {_key(run, models)}."
    )
    return Figure("disagreements", caption, png_bytes(fig))


def confident_mistakes(run: RunData, model: str) -> Figure | None:
    """The wrong predictions `model` was most confident about."""
    frame = run.predictions
    if frame is None or f"{model}_pred" not in frame:
        return None
    wrong = frame[frame[f"{model}_pred"] != frame["label"]]
    wrong = wrong.sort_values(f"{model}_confidence", ascending=False).head(MISTAKES_SHOWN)
    models = [m for m in run.models if f"{m}_pred" in frame]
    fig = _grid(run, wrong, f"{run.labels[model]}: most confident mistakes", models)
    if fig is None:
        return None
    caption = (
        f"{run.labels[model]}'s most confident wrong answers on the test set, with every "
        f"model's prediction and confidence ({_key(run, models)})."
    )
    return Figure(f"mistakes_{model}", caption, png_bytes(fig))


def first_layer_weights(run: RunData) -> Figure | None:
    """The incoming weights of the first UNITS_SHOWN hidden units, as 28x28 images."""
    models = [m for m in run.models if m in run.first_layer]
    if not models:
        return None
    shown = min(UNITS_SHOWN, *(run.first_layer[m].shape[1] for m in models))
    fig = MplFigure(figsize=(1.3 * shown, 1.5 * len(models) + 0.4))
    axes = np.array(fig.subplots(len(models), shown)).reshape(len(models), shown)
    for r, model in enumerate(models):
        W = run.first_layer[model]  # (784, units)
        for u in range(shown):
            image, bound = unit_weight_image(W, u)
            ax = axes[r, u]
            ax.imshow(image, cmap=WEIGHT_CMAP, vmin=-bound, vmax=bound)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"unit {u}", fontsize=8)
        axes[r, 0].set_ylabel(model, fontsize=9)
    fig.suptitle("first-layer weights (red positive, blue negative)", fontsize=10)
    caption = (
        f"Incoming weights of hidden units 0-{shown - 1} of each model, one 28x28 image per "
        "unit: the pixel pattern that excites (red) or inhibits (blue) the unit."
    )
    return Figure("first_layer_weights", caption, png_bytes(fig))
