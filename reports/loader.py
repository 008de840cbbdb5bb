"""Read a run folder (docs/architecture.md, "The run folder") into one `RunData`.

Only `summary.json` is required, and it is checked field by field by the schema
`predict` shares (`compare.summaryfile`, no TensorFlow). Every other file is optional,
because a run may have been interrupted, trained one model only, or not used lockstep
or seeds.
A missing optional file simply leaves its field `None` and its report section out.
Nothing here imports TensorFlow: a model whose own file is not .npz (Keras) has its
weights in `<model>_weights.npz`. Models, their order, labels and colours come from
summary.json (`models.<name>.label`, `.color`, `.file`); folders written before those
keys existed get the built-in defaults below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from compare.summaryfile import SummaryError, load_summary

# Defaults for run folders whose summary.json does not name labels and colours.
DEFAULT_LABELS = {"scratch": "Scratch (NumPy)", "keras": "Keras"}
DEFAULT_COLORS = {"scratch": "#1f77b4", "keras": "#d62728"}
DEFAULT_FILES = {"scratch": "scratch.npz", "keras": "keras.keras"}
# metrics.csv's columns, as `compare.runfolder.METRICS_HEADER` writes them.
METRICS_COLUMNS = (
    "model", "epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds",
    "samples_per_second",
)  # fmt: skip
SPARE_COLORS = ("#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


class ReportError(Exception):
    """The run folder cannot be rendered; the message is one line that says what to do."""

    exit_code = 2


@dataclass
class RunData:
    """Everything a report shows, read from the files of one run folder."""

    run_dir: Path
    summary: dict[str, Any]
    models: list[str]  # trained models, in the run's order (summary.json "models")
    metrics: pd.DataFrame | None = None
    confusion: dict[str, np.ndarray] = field(default_factory=dict)  # model -> (10, 10)
    per_class: pd.DataFrame | None = None
    predictions: pd.DataFrame | None = None
    examples: dict[int, np.ndarray] = field(default_factory=dict)  # test index -> (28, 28)
    lockstep: pd.DataFrame | None = None
    seeds: pd.DataFrame | None = None
    first_layer: dict[str, np.ndarray] = field(default_factory=dict)  # model -> (784, units)
    weights: dict[str, list[np.ndarray]] = field(default_factory=dict)  # model -> w0, w1, ...
    unreadable: dict[str, str] = field(default_factory=dict)  # damaged file -> why

    @property
    def problems(self) -> list[str]:
        """One line per optional file that exists but could not be read."""
        return [f"{name}: {why}" for name, why in self.unreadable.items()]

    @property
    def compares(self) -> bool:
        """True when at least two models were trained, so there is something to compare."""
        return len(self.models) >= 2

    @property
    def labels(self) -> dict[str, str]:
        """Model name -> label for people ("Scratch (NumPy)"); the name if none is known."""
        return {m: str(self.model_summary(m).get("label") or DEFAULT_LABELS.get(m, m))
                for m in self.models}  # fmt: skip

    @property
    def colors(self) -> dict[str, str]:
        """Model name -> colour for figures, from summary.json or the defaults."""
        spare = iter(SPARE_COLORS * (1 + len(self.models)))
        return {m: str(self.model_summary(m).get("color") or DEFAULT_COLORS.get(m) or next(spare))
                for m in self.models}  # fmt: skip

    def weights_file(self, model: str) -> str:
        """The .npz file holding the model's weights: its own file if that is .npz
        (`scratch.npz`), else `<model>_weights.npz` (`keras_weights.npz`)."""
        file_name = str(self.model_summary(model).get("file") or DEFAULT_FILES.get(model, ""))
        return file_name if file_name.endswith(".npz") else f"{model}_weights.npz"

    def model_summary(self, model: str) -> dict[str, Any]:
        return self.summary.get("models", {}).get(model, {}) or {}


def load_run(run_dir: str | Path) -> RunData:
    """Read `run_dir`; raise `ReportError` if it is not a readable run folder."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise ReportError(f"run folder {run_dir} does not exist; pass the --out folder of a run")
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir} is not a folder; pass the --out folder of a run")
    summary = _read_summary(run_dir)
    run = RunData(run_dir=run_dir, summary=summary, models=_trained_models(summary))
    _read_optional(run)
    return run


def _read_summary(run_dir: Path) -> dict[str, Any]:
    """summary.json, checked by the schema `predict` uses too (compare.summaryfile)."""
    if not (run_dir / "summary.json").is_file():
        raise ReportError(
            f"{run_dir} is not a run folder (no summary.json); "
            "make one with `mnist-compare run --out DIR`"
        )
    try:
        return load_summary(run_dir)
    except SummaryError as error:
        raise ReportError(f"{error}; re-run `mnist-compare run` to rewrite it") from None


def _trained_models(summary: dict[str, Any]) -> list[str]:
    present = summary.get("models") or {}
    return [str(name) for name, result in present.items() if isinstance(result, dict)]


def _read_optional(run: RunData) -> None:
    """Fill every optional field whose file exists; note unreadable files in `unreadable`."""
    readers = {
        "metrics.csv": _metrics,
        "per_class.csv": lambda r, p: setattr(r, "per_class", pd.read_csv(p)),
        "predictions.csv": lambda r, p: setattr(r, "predictions", pd.read_csv(p)),
        "lockstep.csv": _lockstep,
        "seeds.csv": lambda r, p: setattr(r, "seeds", pd.read_csv(p)),
        "examples.npz": _examples,
    }
    for model in run.models:
        readers[f"confusion_{model}.csv"] = lambda r, p, m=model: _confusion(r, p, m)
        readers[run.weights_file(model)] = lambda r, p, m=model: _first_layer(r, p, m)
    for name, reader in readers.items():
        path = run.run_dir / name
        if not path.is_file():
            continue
        try:
            reader(run, path)
        except Exception as error:  # a damaged optional file must not stop the report
            run.unreadable[name] = f"{type(error).__name__}: {error}"


def _metrics(run: RunData, path: Path) -> None:
    """metrics.csv; a file cut short (inside its header, say) lacks columns: unreadable."""
    frame = pd.read_csv(path)
    missing = [column for column in METRICS_COLUMNS if column not in frame]
    if missing:
        raise ValueError(f"no column {', '.join(missing)} (cut short or edited?)")
    order = {name: k for k, name in enumerate(run.models)}
    frame["_order"] = frame["model"].map(order).fillna(len(order))
    frame = frame.sort_values(["_order", "epoch"], kind="stable").drop(columns="_order")
    run.metrics = frame.reset_index(drop=True)


def _lockstep(run: RunData, path: Path) -> None:
    """lockstep.csv; a file from before the `model_a`/`model_b` columns holds the first
    two models' pair."""
    frame = pd.read_csv(path)
    if "model_a" not in frame and len(run.models) >= 2:
        frame["model_a"], frame["model_b"] = run.models[0], run.models[1]
    run.lockstep = frame


def _confusion(run: RunData, path: Path, model: str) -> None:
    frame = pd.read_csv(path, index_col="true")
    matrix = frame.to_numpy(dtype=np.int64)
    if matrix.shape != (10, 10):
        raise ValueError(f"expected a 10x10 matrix, got {matrix.shape}")
    run.confusion[model] = matrix


def _examples(run: RunData, path: Path) -> None:
    with np.load(path, allow_pickle=False) as archive:
        index, image = archive["index"], archive["image"]
    run.examples = {int(i): img for i, img in zip(index, image, strict=True)}


def _first_layer(run: RunData, path: Path, model: str) -> None:
    """Every weight array in order (`weights`), and for a multilayer perceptron the first
    kernel (784, units), the first 2-D array of the archive (`first_layer`)."""
    with np.load(path, allow_pickle=False) as archive:
        keys = sorted((k for k in archive.files if k.startswith("w")), key=_weight_order)
        run.weights[model] = [np.asarray(archive[key]) for key in keys]
        kernels = [
            key for key in archive.files if archive[key].ndim == 2 and archive[key].shape[0] == 784
        ]
        if kernels and run.weights[model][0].ndim == 2:
            run.first_layer[model] = np.asarray(archive[sorted(kernels, key=_weight_order)[0]])
        elif run.weights[model][0].ndim != 4:
            raise ValueError("no (784, units) first-layer kernel found")


def _weight_order(key: str) -> tuple[int, str]:
    """`w0` < `w1` < ... < `w10`; other names after, alphabetically."""
    digits = "".join(ch for ch in key if ch.isdigit())
    return (int(digits) if digits else 10**6, key)
