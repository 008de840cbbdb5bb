"""What a CNN's first layer learned: its filters, and the feature maps they make of one
test digit, for each model; and each model's parameter count.

The feature maps are computed here with scratch's own Conv2D (NumPy only, the same
code the scratch network trains with), from each model's saved first-layer weights.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure as MplFigure

from reports.document import Figure
from reports.figures import png_bytes
from reports.loader import RunData
from scratch.config import ConfigError
from scratch.conv import Conv2D
from scratch.layers import make_layer

MAX_FILTERS = 8


def first_conv(run: RunData) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """model -> (kernel (k, k, 1, F), bias (F,)) of each model whose first layer is a conv."""
    found = {}
    for model in run.models:
        weights = run.weights.get(model, [])
        if len(weights) >= 2 and weights[0].ndim == 4 and weights[0].shape[2] == 1:
            found[model] = (weights[0], weights[1])
    return found


def filters(run: RunData) -> Figure | None:
    """The first conv layer's filters, one k x k image each, a row per model."""
    kernels = first_conv(run)
    if not kernels:
        return None
    shown = min(MAX_FILTERS, *(W.shape[3] for W, _ in kernels.values()))
    fig = MplFigure(figsize=(1.2 * shown, 1.4 * len(kernels) + 0.4))
    axes = np.array(fig.subplots(len(kernels), shown)).reshape(len(kernels), shown)
    for row, (model, (W, _)) in enumerate(kernels.items()):
        for f in range(shown):
            image = W[:, :, 0, f]  # (k, k)
            bound = float(np.abs(image).max()) or 1.0
            _show(axes[row, f], image, bound, f"filter {f}" if row == 0 else None)
        axes[row, 0].set_ylabel(run.labels.get(model, model), fontsize=8)
    fig.suptitle("first conv layer's filters (red positive, blue negative)", fontsize=10)
    caption = (
        f"Filters 0-{shown - 1} of each model's first Conv2D layer, each a "
        f"{W.shape[0]}x{W.shape[1]} image of weights: the stroke pattern it responds to."
    )
    return Figure("first_layer_filters", caption, png_bytes(fig))


def feature_maps(run: RunData) -> Figure | None:
    """What each model's first conv layer makes of one test digit: Z = conv(x) + b for
    the first filters (before the activation), computed with scratch's Conv2D."""
    kernels = first_conv(run)
    if not kernels or not run.examples:
        return None
    data = run.summary.get("data") if isinstance(run.summary.get("data"), dict) else {}
    mean, std = (float(data.get(k) or d) for k, d in (("mean", 0.0), ("std", 1.0)))
    spec = first_spec(run)
    index, digit = next(iter(run.examples.items()))
    x = ((digit.astype(np.float64) / 255 - mean) / std)[np.newaxis, :, :, np.newaxis]
    shown = min(MAX_FILTERS, *(W.shape[3] for W, _ in kernels.values()))
    fig = MplFigure(figsize=(1.2 * (shown + 1), 1.4 * len(kernels) + 0.4))
    axes = np.array(fig.subplots(len(kernels), shown + 1)).reshape(len(kernels), shown + 1)
    for row, (model, (W, b)) in enumerate(kernels.items()):
        Z = conv_forward(spec, W, b, x)[0]  # (Ho, Wo, F)
        _show(axes[row, 0], digit, None, "input" if row == 0 else None, cmap="gray_r")
        for f in range(shown):
            _show(axes[row, f + 1], Z[:, :, f], None, f"map {f}" if row == 0 else None)
        axes[row, 0].set_ylabel(run.labels.get(model, model), fontsize=8)
    fig.suptitle(f"first conv layer's feature maps of test digit {index}", fontsize=10)
    caption = (
        f"Test digit {index} and the first {shown} feature maps of each model's first "
        "Conv2D layer (before its activation), computed from the saved weights."
    )
    return Figure("feature_maps", caption, png_bytes(fig))


def parameter_counts(run: RunData) -> dict[str, int]:
    """model -> number of trainable parameters, from its saved weights."""
    return {model: int(sum(w.size for w in weights)) for model, weights in run.weights.items()}


def first_spec(run: RunData) -> str:
    """The run's first layer spec (e.g. 'conv32x3'), '' when the config has none."""
    config = run.summary.get("config") if isinstance(run.summary.get("config"), dict) else {}
    model = config.get("model") if isinstance(config.get("model"), dict) else {}
    layers = model.get("layers") or []
    return str(layers[0]) if layers else ""


def conv_forward(spec: str, W: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Z = conv(x) + b with the run's first layer (its stride and padding, from `spec`),
    by scratch's Conv2D."""
    try:
        layer = make_layer(spec)
    except ConfigError:
        layer = None
    if not isinstance(layer, Conv2D) or layer.filters != W.shape[3]:
        layer = Conv2D(W.shape[3], W.shape[0])
    layer.build(x.shape[1:], np.dtype(np.float64), "glorot_uniform", np.random.default_rng(0))
    layer.W[...], layer.b[...] = W, b
    return layer.forward(x).copy()


def _show(ax, image: np.ndarray, bound: float | None, title: str | None, cmap: str = "RdBu_r"):
    bound = bound if bound is not None else float(np.abs(image).max()) or 1.0
    if cmap == "gray_r":
        ax.imshow(image, cmap=cmap)
    else:
        ax.imshow(image, cmap=cmap, vmin=-bound, vmax=bound)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)
