"""Recognise a person's own digit images with the models of a finished run.

`load_run` reads the saved model of every model the run trained (`scratch.npz`,
`keras.keras`, ...: each loaded by its registered loader, `compare.models`) plus
the run's input standardization from `summary.json`; `predict_images` preprocesses each image
once (`compare.digits.preprocess_digit`) and feeds the same 784 values to every
model, so any disagreement is the models', not the pipeline's. Failures are
kept per image (`Prediction.error`) so one bad file never hides the others.
`to_json` and `format_text` give each outcome as JSON or text; the figures are
`compare.predictfigure`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from compare import models as model_registry
from compare.digits import DigitError, decode_image, preprocess_digit, read_image
from compare.models import Model
from compare.summaryfile import SummaryError, load_summary
from scratch.config import ConfigError
from scratch.errors import first_sentences
from scratch.serialization import ModelFileError


class RunError(Exception):
    """A missing or unusable run folder; one line that says what to do."""


@dataclass
class RunModels:
    """The trained models of one run and how their inputs were scaled."""

    run_dir: Path
    models: dict[str, Model]  # model name -> the loaded model, in the run's order
    dtype: str = "float32"
    standardized: bool = False
    mean: float = 0.0
    std: float = 1.0

    def model_input(self, pixels: np.ndarray) -> np.ndarray:
        """(784,) in [0, 1] -> (1, 784) as the run's training data: dtype, then standardized."""
        x = pixels.reshape(1, -1).astype(self.dtype)  # (1, 784)
        if self.standardized:
            x = (x - np.asarray(self.mean, self.dtype)) / np.asarray(self.std, self.dtype)
        return x


@dataclass
class Prediction:
    """One image's outcome: its 28x28 input and each model's 10 probabilities, or an error."""

    image: str
    original: np.ndarray | None = None  # the decoded file, for figures
    scale: int = 1  # `original` was decoded at 1/scale of the file's size (a big image)
    pixels: np.ndarray | None = None  # (784,) in [0, 1], what the networks saw
    probabilities: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (10,)
    error: str | None = None

    def digit(self, name: str) -> int:
        return int(np.argmax(self.probabilities[name]))

    def top3(self, name: str) -> list[tuple[int, float]]:
        """The three most probable digits, most probable first."""
        p = self.probabilities[name]
        order = np.argsort(-p, kind="stable")[:3]
        return [(int(d), float(p[d])) for d in order]

    @property
    def agree(self) -> bool | None:
        """Whether all models predict the same digit; None with a single model."""
        if len(self.probabilities) < 2:
            return None
        return len({self.digit(name) for name in self.probabilities}) == 1


def _read_summary(run_dir: Path) -> dict[str, Any]:
    """summary.json, checked by the schema `report` uses too (compare.summaryfile)."""
    if not (run_dir / "summary.json").is_file():
        raise RunError(
            f"{run_dir} has no summary.json: give the folder written by 'mnist-compare run --out'"
        )
    try:
        return load_summary(run_dir)
    except SummaryError as error:
        raise RunError(f"{error}; re-run 'mnist-compare run' to rewrite it") from None


def _input_scaling(summary: dict[str, Any]) -> tuple[str, bool, float, float]:
    """(dtype, standardized, mean, std) of the run's training inputs (already checked)."""
    data = summary["data"]
    dtype = summary["config"].get("model", {}).get("dtype", "float32")
    if not data.get("standardized", False):
        return dtype, False, 0.0, 1.0
    return dtype, True, float(data["mean"]), float(data["std"])


def _run_model_files(summary: dict[str, Any], path: Path) -> dict[str, str]:
    """Model name -> its file in the run folder, for every model the run trained (an old
    summary without `config.models` trained scratch and Keras)."""
    trained = summary["config"].get("models") or list(model_registry.DEFAULT_MODELS)
    recorded = summary.get("models", {})
    files = {}
    for name in trained:
        try:
            model_spec = model_registry.spec(str(name))
        except ConfigError as error:
            raise RunError(f"{path}: {error}; register it before loading this run") from None
        file_name = (recorded.get(name) or {}).get("file") or model_spec.file_name
        files[model_spec.name] = str(file_name)
    return files


def _load_failure(error: Exception, path: Path) -> str:
    """Why a model file did not load, without its path (the message names it once) and
    without a library's own remedy (the caller gives the one that fits the CLI)."""
    text = str(error).removeprefix(f"{path}: ").removeprefix("cannot load the Keras model: ")
    if isinstance(error, ModelFileError) and "; " in text:
        text = text.rpartition("; ")[0]  # "...; re-save it with Network.save"
    return first_sentences(text) or type(error).__name__


def load_run(run_dir: str | Path) -> RunModels:
    """The models and input scaling of a finished run folder; `RunError` if unusable."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunError(f"{run_dir} is a file, not a run folder; pass --run RUN_DIR from a run")
    if not run_dir.is_dir():
        raise RunError(f"run folder {run_dir} does not exist; pass --run RUN_DIR from a run")
    summary = _read_summary(run_dir)
    dtype, standardized, mean, std = _input_scaling(summary)
    models: dict[str, Model] = {}
    files = _run_model_files(summary, run_dir / "summary.json")
    for name, file_name in files.items():
        path = run_dir / file_name
        if not path.is_file():
            if summary.get("status") == "complete":
                raise RunError(
                    f"{path} is missing, though this run trained {name}; "
                    "restore it or re-run 'mnist-compare run'"
                )
            continue
        try:
            models[name] = model_registry.spec(name).load(path)
        except ImportError as error:
            raise RunError(
                f"cannot load {path}: {error}; reinstall mnist-compare (pip install -e .)"
            ) from None
        except Exception as error:  # noqa: BLE001 - any failure means a corrupt model file
            message = _load_failure(error, path)
            raise RunError(f"cannot load {path}: {message}; re-run 'mnist-compare run'") from None
    if not models:
        names = list(files.values())
        which = f"neither {names[0]} nor {names[1]}" if len(names) == 2 else f"none of {names}"
        raise RunError(
            f"{run_dir} holds {which}: give the folder of a finished 'mnist-compare run'"
        )
    return RunModels(run_dir, models, dtype, standardized, mean, std)


def _prepare(image: str | Path, data: bytes | None = None) -> Prediction:
    """Read (or, given `data`, decode the uploaded bytes of) and preprocess one image;
    a failure is kept as its one-line error."""
    result = Prediction(image=str(image))
    try:
        decoded = read_image(image) if data is None else decode_image(data, str(image))
        result.original, result.scale = decoded
        result.pixels = preprocess_digit(result.original)
    except DigitError as error:
        message, prefix = str(error), f"{image}: "
        result.error = message if message.startswith(prefix) else prefix + message
    return result


def predict_images(run: RunModels, images: list[str | Path]) -> list[Prediction]:
    """Preprocess each image once, then ask every model about all good images in one batch."""
    return _ask_models(run, [_prepare(image) for image in images])


def predict_upload(run: RunModels, data: bytes, name: str = "upload") -> Prediction:
    """`predict_images` for one image file's bytes (a drawing, an upload): the same
    decoding, pixel limit, preprocessing and models."""
    return _ask_models(run, [_prepare(name, data)])[0]


def _ask_models(run: RunModels, results: list[Prediction]) -> list[Prediction]:
    """Every model's probabilities for all good images, in one batch per model."""
    good = [result for result in results if result.error is None]
    if not good:
        return results
    x = np.concatenate([run.model_input(result.pixels) for result in good])  # (n, 784)
    for name, model in run.models.items():
        P = np.asarray(model.predict_proba(x), np.float64)  # (n, 10)
        for result, p in zip(good, P, strict=True):
            if np.isfinite(p).all():
                result.probabilities[name] = p  # (10,)
            else:  # never shown as "nan%": the saved weights hold NaN or inf
                result.error = (
                    f"{result.image}: {name} gives NaN or inf probabilities; its saved "
                    "weights are damaged: re-run 'mnist-compare run'"
                )
    return results


def to_json(result: Prediction) -> dict[str, Any]:
    """`{"image", <model>: {"digit", "top3"}, "agree"}` or `{"image", "error"}`."""
    if result.error is not None:
        return {"image": result.image, "error": result.error}
    entry: dict[str, Any] = {"image": result.image}
    for name in result.probabilities:
        top3 = [[digit, round(p, 6)] for digit, p in result.top3(name)]
        entry[name] = {"digit": result.digit(name), "top3": top3}
    entry["agree"] = result.agree
    return entry


def format_text(result: Prediction) -> str:
    """A few human-readable lines for one successfully predicted image."""
    lines = [result.image]
    width = max(len(name) for name in result.probabilities)
    for name in result.probabilities:
        top = "  ".join(f"{digit}: {p:6.1%}" for digit, p in result.top3(name))
        lines.append(f"  {name + ':':<{width + 1}} {result.digit(name)}   (top 3  {top})")
    if result.agree is not None:
        lines.append(f"  {'agree' if result.agree else 'DISAGREE'}")
    return "\n".join(lines)
