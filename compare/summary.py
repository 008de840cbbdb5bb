"""summary.json: the run's headline numbers, assembled from what the runner measured.

The fields follow docs/architecture.md ("The run folder"); everything here is plain
JSON (no NaN). Added beyond the contract: `invocation` (the flags as typed), `steps`,
`memory` (baseline and peak RSS with a note on what they mean), `data.mean`/`data.std`
(the preprocessing constants `predict` needs) and the data split details.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from compare import metrics, runfolder
from compare.data import Splits
from compare.environment import environment, peak_rss_mb
from compare.runconfig import RunConfig
from compare.training import Track, TrainingResult

FORMAT_VERSION = 1
MEMORY_NOTE = (
    "peak_memory_mb is the peak resident set size (ru_maxrss) of the whole run process, "
    "read at the end of the run: both models, the data and TensorFlow share one process, "
    "so it is the same upper bound for each model, not its own footprint"
)


@dataclass
class Evaluation:
    """One model's results on the test set."""

    loss: float
    accuracy: float
    predict_seconds: float
    pred: np.ndarray  # (n_test,) int64
    confidence: np.ndarray  # (n_test,) max output activation


def _model_summary(track: Track, outcome: Evaluation, n_train: int) -> dict[str, Any]:
    seconds = [r.seconds for r in track.epochs]
    samples = n_train * len(seconds)
    return {
        "test_accuracy": outcome.accuracy,
        "test_loss": outcome.loss,
        "train_seconds": track.train_seconds,
        "seconds_per_epoch": seconds,
        "samples_per_second": samples / sum(seconds) if sum(seconds) > 0 else 0.0,
        "predict_seconds": outcome.predict_seconds,
        "peak_memory_mb": peak_rss_mb(),
        "epochs_completed": len(track.epochs),
    }


def build_summary(
    base: dict[str, Any], status: str, tracks: dict[str, Track], result: TrainingResult,
    outcomes: dict[str, Evaluation], per_seed: list[dict[str, Any]],
) -> dict[str, Any]:  # fmt: skip
    config: RunConfig = base["config"]
    splits: Splits = base["splits"]
    summary = header(base, status)
    n_train = len(splits.y_train)
    summary["models"] = {n: _model_summary(t, outcomes[n], n_train) for n, t in tracks.items()}
    summary["steps"] = result.steps
    summary["memory"] = {"baseline_mb": base["baseline_mb"], "peak_mb": peak_rss_mb()}
    summary["memory"]["note"] = MEMORY_NOTE
    if len(outcomes) == 2:
        agreement = metrics.agreement(
            splits.y_test, outcomes["scratch"].pred, outcomes["keras"].pred
        )
        summary["agreement"] = agreement.to_dict()
    if config.lockstep:
        at_epoch_end = _epoch_end_diffs(result)
        summary["lockstep"] = {
            "max_abs_weight_diff": [a for a, _ in at_epoch_end],
            "max_rel_weight_diff": [r for _, r in at_epoch_end],
        }
    if config.seeds > 1 and per_seed:  # completed seeds only
        summary["multi_seed"] = _multi_seed(base["out"], per_seed)
        summary["multi_seed"]["seeds_requested"] = config.seed_list
    return summary


def _epoch_end_diffs(result: TrainingResult) -> list[tuple[float, float]]:
    """The last lockstep record of each completed epoch (the epoch-end checkpoint)."""
    last: dict[int, tuple[float, float]] = {}
    for _step, epoch, max_abs, max_rel in result.lockstep:
        last[epoch] = (max_abs, max_rel)
    return [last[e] for e in sorted(last) if e <= result.epochs_completed]


def _multi_seed(out: Path, per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    rows = [
        (run["seed"], name, o.accuracy, o.loss, run["tracks"][name].train_seconds)
        for run in per_seed
        for name, o in run["outcomes"].items()
    ]
    runfolder.write_seeds(out, rows)
    names = list(per_seed[0]["outcomes"])
    per_model = {
        name: {
            "test_accuracy": metrics.mean_std([r[2] for r in rows if r[1] == name]),
            "train_seconds": metrics.mean_std([r[4] for r in rows if r[1] == name]),
        }
        for name in names
    }
    multi: dict[str, Any] = {"seeds": [run["seed"] for run in per_seed], "per_model": per_model}
    if len(names) == 2:
        scratch = [r[2] for r in rows if r[1] == "scratch"]
        keras = [r[2] for r in rows if r[1] == "keras"]
        multi["paired"] = metrics.paired_comparison(scratch, keras)
    return multi


def header(base: dict[str, Any], status: str) -> dict[str, Any]:
    """The fields every summary.json has, whatever the status."""
    config: RunConfig = base["config"]
    splits: Splits = base["splits"]
    return {
        "format_version": FORMAT_VERSION,
        "status": status,
        "command": repeat_command(base["out"]),
        "invocation": base["invocation"],
        "started_at": base["started"],
        "finished_at": now(),
        "config": config.to_dict(),
        "environment": {
            **environment(include_tensorflow="keras" in config.models),
            "blas_threads_limit": config.blas_threads or None,
            "blas_threads_applied": bool(base.get("blas_threads_set")),
        },
        "data": {
            "source": str(splits.source),
            "verified": splits.verified,
            "splits": splits.sizes(),
            "standardized": splits.standardized,
            "mean": splits.mean,
            "std": splits.std,
            "preprocessing": "x = (pixel / 255 - mean) / std, flattened to 784 values",
            "split_seed": config.seed,
            "val_size": config.data.val_size,
            "limit_train": config.data.limit_train,
            "dtype": config.model.dtype,
        },
    }


def records(tracks: dict[str, Track]) -> list[Any]:
    return [record for track in tracks.values() for record in track.epochs]


def repeat_command(out: Path) -> str:
    config = out / "config.toml"
    return shlex.join(["mnist-compare", "run", "--config", str(config), "--out", f"{out}-repeat"])


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
