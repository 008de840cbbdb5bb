"""The models behind the page: each run's models loaded once and cached, and the answer
to one drawing or upload, computed by `predict`'s own code (`compare.predict`).

Loading goes through `compare.predict.load_run`, so TensorFlow is imported only when a
run with a Keras model is loaded. The first layer's weights come from the report's own
reader (`reports.loader`) and are drawn with the report's colour map and bound
(`reports.figures_digits.unit_weight_image`); a CNN's feature maps are computed by the
report's own conv forward (`reports.figures_cnn.conv_forward`, scratch's Conv2D). A
model's forward pass keeps buffers in its layers, so each run's models answer one
request at a time (a lock per run); the decoding and preprocessing before it run in
parallel.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass, field

import cv2
import numpy as np
from matplotlib import colormaps

from compare.predict import Prediction, RunError, RunModels, load_run, predict_upload
from compare.serve.runs import RunInfo

TOP_UNITS = 6  # hidden units shown in "what the first layer sees"
INPUT_SCALE = 5  # the 28x28 network input is sent as a 140x140 PNG (nearest neighbour)
UNIT_SCALE = 3  # a unit's weight image: 84x84


def png_data_url(image: np.ndarray) -> str:
    """A uint8 gray (h, w) or RGB (h, w, 3) image as a PNG data: URL."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", image)
    if not ok:  # pragma: no cover - encoding a uint8 array does not fail
        raise RuntimeError("PNG encoding failed")
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def _enlarge(image: np.ndarray, scale: int) -> np.ndarray:
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


@dataclass
class FirstLayer:
    """An MLP's first Dense layer (784 -> units), read from the run folder's weights."""

    model: str
    label: str
    W: np.ndarray  # (784, units)
    b: np.ndarray  # (units,)
    images: dict[int, str] = field(default_factory=dict)  # unit -> weight image PNG URL
    measure = "x·W+b"
    note = (
        "The hidden units your drawing excites most (largest x·W+b), each with its incoming "
        "weights: red pixels excite the unit, blue ones inhibit it."
    )

    def top_units(self, x: np.ndarray) -> list[dict[str, object]]:
        """The TOP_UNITS units the model input `x` (1, 784) excites most: largest x W + b
        first."""
        Z = (x.astype(np.float64) @ self.W + self.b)[0]  # (units,)
        order = np.argsort(-Z, kind="stable")[:TOP_UNITS]
        return [
            {"unit": int(u), "activation": round(float(Z[u]), 4), "image": self.image(int(u))}
            for u in order
        ]

    def image(self, unit: int) -> str:
        """The unit's weights drawn as the report draws them (red +, blue -), cached."""
        if unit not in self.images:
            from reports.figures_digits import WEIGHT_CMAP, unit_weight_image

            weights, bound = unit_weight_image(self.W, unit)
            rgba = colormaps[WEIGHT_CMAP]((weights + bound) / (2 * bound), bytes=True)
            self.images[unit] = png_data_url(_enlarge(rgba[:, :, :3], UNIT_SCALE))
        return self.images[unit]


@dataclass
class FirstConv:
    """A CNN's first Conv2D layer, read from the run folder's weights: the feature maps
    a drawing makes, computed by the report's own code (scratch's Conv2D)."""

    model: str
    label: str
    spec: str  # the layer's spec, e.g. "conv32x3" (its stride and padding)
    W: np.ndarray  # (k, k, 1, filters)
    b: np.ndarray  # (filters,)
    measure = "max Z"
    note = (
        "The filters of the first Conv2D layer your drawing excites most (largest value of "
        "Z = conv(x) + b), each with the feature map Z it makes of your drawing: red where "
        "the filter responds, blue where it is inhibited."
    )

    def top_units(self, x: np.ndarray) -> list[dict[str, object]]:
        """The TOP_UNITS filters whose feature map of `x` (1, 784) peaks highest, highest
        first."""
        from reports.figures_cnn import conv_forward

        image = x.astype(np.float64).reshape(1, 28, 28, 1)
        Z = conv_forward(self.spec, self.W, self.b, image)[0]  # (Ho, Wo, filters)
        peaks = Z.max(axis=(0, 1))  # (filters,)
        order = np.argsort(-peaks, kind="stable")[:TOP_UNITS]
        return [
            {"unit": int(f), "activation": round(float(peaks[f]), 4),
             "image": _map_image(Z[:, :, f])}
            for f in order
        ]  # fmt: skip


def _map_image(Z: np.ndarray) -> str:
    """A feature map (Ho, Wo) drawn as the report draws it (red +, blue -), about 84 px."""
    from reports.figures_digits import WEIGHT_CMAP

    bound = float(np.abs(Z).max()) or 1.0
    rgba = colormaps[WEIGHT_CMAP]((Z + bound) / (2 * bound), bytes=True)
    return png_data_url(_enlarge(rgba[:, :, :3], max(1, 84 // Z.shape[0])))


def read_first_layer(info: RunInfo) -> FirstLayer | FirstConv | None:
    """The first trained model's first layer: its Dense layer for an MLP, its Conv2D
    layer for a CNN taking one-channel images; None otherwise."""
    from reports.figures_cnn import first_conv, first_spec
    from reports.loader import load_run as read_run_folder

    data = read_run_folder(info.path)
    for model, (W, b) in first_conv(data).items():
        label = data.labels.get(model, model)
        return FirstConv(model, label, first_spec(data), W.astype(np.float64), b.astype(np.float64))
    for model in data.models:
        W = data.first_layer.get(model)
        if W is None:
            continue
        weights = data.weights.get(model, [])
        b = weights[1] if len(weights) > 1 and weights[1].shape == (W.shape[1],) else None
        bias = np.zeros(W.shape[1]) if b is None else b.astype(np.float64)
        return FirstLayer(model, data.labels.get(model, model), W.astype(np.float64), bias)
    return None


@dataclass
class LoadedRun:
    """One run's models, its first layer, and the lock its models answer under."""

    info: RunInfo
    models: RunModels
    first_layer: FirstLayer | FirstConv | None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def describe(self) -> dict[str, object]:
        return {
            "run": self.info.name,
            "models": [self._model(name) for name in self.models.models],
            "first_layer": self.first_layer.label if self.first_layer else None,
        }

    def _model(self, name: str) -> dict[str, str]:
        result = self.info.models.get(name, {})
        return {"name": name, "label": str(result.get("label") or name),
                "color": str(result.get("color") or "#555555")}  # fmt: skip

    def answer(self, data: bytes, name: str) -> dict[str, object]:
        """Both networks' answers to one image file's bytes, or {"error": ...}."""
        with self.lock:
            result = predict_upload(self.models, data, name)
        if result.error is not None:
            return {"error": result.error}
        return self._as_json(result)

    def _as_json(self, result: Prediction) -> dict[str, object]:
        pixels = np.round(result.pixels.reshape(28, 28) * 255).astype(np.uint8)
        answers = [
            {**self._model(name), "digit": result.digit(name),
             "probabilities": [round(float(p), 5) for p in result.probabilities[name]]}
            for name in result.probabilities
        ]  # fmt: skip
        first = None
        if self.first_layer is not None:
            x = self.models.model_input(result.pixels)  # (1, 784), as the network saw it
            units = self.first_layer.top_units(x)
            first = {
                "model": self.first_layer.label,
                "units": units,
                "measure": self.first_layer.measure,
                "note": self.first_layer.note,
            }
        return {
            "run": self.info.name,
            "answers": answers,
            "agree": result.agree,
            "input": png_data_url(_enlarge(pixels, INPUT_SCALE)),
            "first_layer": first,
        }


class Engine:
    """Loads each run once (on first use) and keeps it."""

    def __init__(self) -> None:
        self._runs: dict[str, LoadedRun] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def loaded(self, info: RunInfo) -> LoadedRun:
        """The run's models, loading them the first time (one loader per run at once);
        `RunError` when the folder's models cannot be loaded."""
        with self._guard:
            lock = self._locks.setdefault(info.name, threading.Lock())
        with lock:
            cached = self._runs.get(info.name)
            if cached is None or cached.info.finished_at != info.finished_at:  # re-made
                models = load_run(info.path)
                for model in models.models.values():  # the first call traces (Keras): now
                    model.predict_proba(models.model_input(np.zeros(784, np.float32)))
                cached = LoadedRun(info, models, _first_layer_or_none(info))
                self._runs[info.name] = cached
            return cached


def _first_layer_or_none(info: RunInfo) -> FirstLayer | FirstConv | None:
    """A damaged weights file hides the first-layer panel, never the answers."""
    try:
        return read_first_layer(info)
    except Exception:  # noqa: BLE001 - an optional panel
        return None


__all__ = ["Engine", "LoadedRun", "RunError"]
