"""`mnist-compare predict --show`: one figure per predicted image.

`save_figure` draws the original image, the 28x28 network input and each model's
probabilities for one `compare.predict.Prediction` (matplotlib, Agg backend: no
display needed) and writes it atomically, marked with `FIGURE_MARK` so that
`is_our_figure` can tell a figure of ours (safe to replace) from any other file.
`figure_paths` names the figures of several images without collisions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from scratch.serialization import atomic_path

if TYPE_CHECKING:
    from compare.predict import Prediction


def figure_paths(out: str | Path, images: list[str]) -> list[Path]:
    """One figure per image: OUT itself for one image, OUT-<stem>.png for several.

    Names never collide: two images with the same stem (a/7.png, b/7.png) get
    OUT-7.png and OUT-7-2.png, and a further number is added while a name is taken.
    """
    out = Path(out)
    if len(images) == 1:
        return [out]
    paths: list[Path] = []
    taken: set[str] = set()
    for image in images:
        stem = Path(image).stem or "image"
        name, number = f"{out.stem}-{stem}{out.suffix}", 1
        while name in taken:
            number += 1
            name = f"{out.stem}-{stem}-{number}{out.suffix}"
        taken.add(name)
        paths.append(out.with_name(name))
    return paths


FIGURE_MARK = "mnist-compare predict figure"


def is_our_figure(path: Path) -> bool:
    """True when `path` is a figure `save_figure` wrote (it carries FIGURE_MARK)."""
    try:
        with path.open("rb") as handle:
            return FIGURE_MARK.encode() in handle.read(16 * 2**20)
    except OSError:
        return False


def _original_for_display(original: np.ndarray) -> tuple[np.ndarray, str | None]:
    """RGB(A) for colour images, gray otherwise, scaled to [0, 1] for imshow."""
    scale = float(np.iinfo(original.dtype).max) if original.dtype.kind in "ui" else 1.0
    shown = original.astype(np.float32) / scale
    if shown.ndim == 3 and shown.shape[2] in (3, 4):
        order = [2, 1, 0, 3][: shown.shape[2]]  # OpenCV's BGR(A) -> RGB(A)
        return np.clip(shown[:, :, order], 0, 1), None
    return np.clip(shown.reshape(shown.shape[:2]), 0, 1), "gray"


def save_figure(result: Prediction, out: Path) -> None:
    """Original | 28x28 network input | one probability bar chart per model; atomic write."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result.probabilities)
    fig, axes = plt.subplots(1, 2 + len(names), figsize=(3.2 * (2 + len(names)), 3.2))
    shown, cmap = _original_for_display(result.original)
    axes[0].imshow(shown, cmap=cmap, vmin=0, vmax=1)
    size = f"{result.original.shape[1]}x{result.original.shape[0]}"
    reduced = f", decoded at 1/{result.scale}" if result.scale > 1 else ""
    axes[0].set_title(f"original {size}{reduced}")
    axes[1].imshow(result.pixels.reshape(28, 28), cmap="gray", vmin=0, vmax=1)
    axes[1].set_title("network input 28x28")
    for axis in axes[:2]:
        axis.set_xticks([])
        axis.set_yticks([])
    for axis, name in zip(axes[2:], names, strict=True):
        p = result.probabilities[name]
        colors = ["tab:orange" if d == result.digit(name) else "tab:blue" for d in range(10)]
        axis.bar(range(10), p, color=colors)
        axis.set_xticks(range(10))
        axis.set_ylim(0, 1)
        axis.set_xlabel("digit")
        axis.set_ylabel("probability")
        axis.set_title(f"{name}: {result.digit(name)} ({p.max():.1%})")
    fig.suptitle(Path(result.image).name)
    fig.tight_layout()
    _save_atomically(fig, out)
    plt.close(fig)


def _save_atomically(fig: Any, out: Path) -> None:
    """Write to a temp file in the same folder, then rename: never a half-written figure."""
    if out.suffix.lower() in (".jpg", ".jpeg"):  # matplotlib has no JPEG metadata
        marks: dict[str, Any] = {"pil_kwargs": {"comment": FIGURE_MARK}}
    else:
        key = "Software" if out.suffix.lower() == ".png" else "Creator"
        marks = {"metadata": {key: FIGURE_MARK}}
    with atomic_path(out, suffix=out.suffix) as temp:  # savefig picks the format by suffix
        fig.savefig(temp, dpi=100, **marks)
