"""summary.json: the run's headline numbers, assembled from what the runner measured.

The fields follow docs/architecture.md ("The run folder"); everything here is plain
JSON (no NaN). Added beyond the contract: `invocation` (the flags as typed), `steps`,
`memory` (baseline and peak RSS with a note on what they mean), `data.mean`/`data.std`
(the preprocessing constants `predict` needs) and the data split details.

Pairwise results: `pairs` holds one entry per pair of models (agreement, McNemar,
lockstep weight differences). The older top-level keys stay for the first pair
(`agreement.only_<a>_correct`, `lockstep.max_abs_weight_diff`, `multi_seed.paired`),
so a scratch+Keras run reads as it always did.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from compare import metrics, runfolder
from compare.data import Splits
from compare.environment import environment, peak_rss_mb
from compare.models import spec
from compare.runconfig import RunConfig
from compare.training import Track, TrainingResult

FORMAT_VERSION = 1
MEMORY_NOTE = (
    "each model's peak_memory_mb is the peak resident set size (VmHWM on Linux, else "
    "ru_maxrss) of the process it "
    "trained in, read after its training, evaluation and saving: its own worker process when "
    "several models train (one per model), this run process when one model trains alone. "
    "idle_memory_mb is that process before it built its model (a started worker with the "
    "data mapped; the run process after loading the data). The data pages a worker read "
    "count in its RSS, though the workers share them (a read-only memory map). baseline_mb "
    "and peak_mb here are the run process's own"
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
        "peak_memory_mb": track.peak_memory_mb if track.peak_memory_mb else peak_rss_mb(),
        "idle_memory_mb": track.idle_memory_mb,
        "sync_seconds": track.sync_seconds,
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
    summary["models"] = {
        name: {**_model_summary(track, outcomes[name], n_train), **spec(name).describe()}
        for name, track in tracks.items()
    }
    summary["steps"] = result.steps
    summary["memory"] = {"baseline_mb": base["baseline_mb"], "peak_mb": peak_rss_mb()}
    summary["memory"]["note"] = MEMORY_NOTE
    agreements = metrics.pairwise_agreement(
        splits.y_test, {name: outcome.pred for name, outcome in outcomes.items()}
    )
    pairs = [agreement.to_dict() for agreement in agreements]
    if agreements:
        summary["agreement"] = agreements[0].named_dict()  # the first pair, named keys
    if config.lockstep and pairs:  # (in turn, a run interrupted early may have one model)
        for pair in pairs:
            at_epoch_end = _epoch_end_diffs(result, *pair["models"])
            pair["max_abs_weight_diff"] = [a for a, _ in at_epoch_end]
            pair["max_rel_weight_diff"] = [r for _, r in at_epoch_end]
        summary["lockstep"] = {key: pairs[0][key] for key in LOCKSTEP_KEYS}  # the first pair
    if pairs:
        summary["pairs"] = pairs
    if config.seeds > 1 and per_seed:  # completed seeds only
        summary["multi_seed"] = _multi_seed(base["out"], per_seed)
        summary["multi_seed"]["seeds_requested"] = config.seed_list
    return summary


LOCKSTEP_KEYS = ("max_abs_weight_diff", "max_rel_weight_diff")


def _epoch_end_diffs(result: TrainingResult, a: str, b: str) -> list[tuple[float, float]]:
    """The last lockstep record of models a and b in each completed epoch (its end)."""
    last: dict[int, tuple[float, float]] = {}
    for diff in result.lockstep:
        if (diff.model_a, diff.model_b) == (a, b):
            last[diff.epoch] = (diff.max_abs, diff.max_rel)
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
    accuracy = {name: [r[2] for r in rows if r[1] == name] for name in names}
    pairs = []
    for a, b in metrics.model_pairs(names):
        paired = metrics.paired_comparison(accuracy[a], accuracy[b])
        pairs.append({"models": [a, b], **paired})
    if pairs:  # the first pair under its old key, with named counts (scratch_better, ...)
        first = {k: v for k, v in pairs[0].items() if k not in ("models", "a_better", "b_better")}
        a, b = pairs[0]["models"]
        multi["paired"] = {**first, f"{a}_better": pairs[0]["a_better"],
                           f"{b}_better": pairs[0]["b_better"]}  # fmt: skip
        multi["pairs"] = pairs
    return multi


def header(base: dict[str, Any], status: str) -> dict[str, Any]:
    """The fields every summary.json has, whatever the status."""
    config: RunConfig = base["config"]
    splits: Splits = base["splits"]
    # TensorFlow's version when a model loaded it (in its worker; never imported for this)
    env = environment(include_tensorflow="tensorflow" in sys.modules)
    env.update(base.get("framework_versions") or {})
    return {
        "format_version": FORMAT_VERSION,
        "status": status,
        "command": repeat_command(base["out"]),
        "invocation": base["invocation"],
        "started_at": base["started"],
        "finished_at": now(),
        "config": config.to_dict(),
        "environment": {
            **env,
            "blas_threads_limit": config.blas_threads or None,
            "blas_threads_applied": bool(base.get("blas_threads_set")),
            "processes": base.get("processes"),
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
