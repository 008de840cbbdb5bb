"""`mnist-compare run` end to end: data, models, training, evaluation, the run folder.

`execute(config, out, ...)` loads MNIST once, then for each seed builds the models
named in the config from the registry (`compare.models`; in lockstep mode every
model starts from the first model's initial weights), trains them on identical
batches (`compare.training`), evaluates them on the test set and writes the run
folder (docs/architecture.md). With several seeds the top-level files describe the
first seed in full; `seeds.csv` and `summary.json["multi_seed"]` hold every seed.
The data split always uses the base seed, so every seed trains and validates on
the same images.

The report is not rendered here: compare's core never imports `reports`; the CLI
(`compare/commands/run.py`) renders it after `execute` returns.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from compare import metrics, runfolder
from compare.data import MnistData, Splits, load_mnist, make_splits
from compare.environment import peak_rss_mb
from compare.models import Model, ModelFactory, spec
from compare.progress import Progress
from compare.runconfig import RunConfig, to_toml
from compare.summary import Evaluation, build_summary, header, now, records
from compare.threads import blas_threads
from compare.training import Diverged, Track, TrainingResult, train


def build_tracks(
    config: RunConfig, seed: int, factories: dict[str, ModelFactory] | None = None
) -> dict[str, Track]:
    """Each model seeded with `seed` (built by the registry unless `factories` names another
    factory); in lockstep every model is given the first model's initial weights."""
    factories = factories or {}
    tracks = {}
    for name in config.models:
        factory = factories.get(name)
        if factory is None:
            tracks[name] = Track(name, spec(name).build(config.model, seed))
        else:
            tracks[name] = Track(name, factory(config.model, seed=seed))
    if config.lockstep:
        first, *others = tracks.values()
        for track in others:
            track.model.set_weights(first.model.get_weights())
    return tracks


def evaluate_on_test(model: Model, splits: Splits) -> Evaluation:
    start = time.perf_counter()
    proba = np.asarray(model.predict_proba(splits.x_test))  # (n_test, 10)
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(splits.x_test, splits.y_test)
    return Evaluation(
        float(loss),
        float(accuracy),
        seconds,
        proba.argmax(axis=1).astype(np.int64),
        proba.max(axis=1),
    )


def execute(
    config: RunConfig,
    out: Path,
    *,
    invocation: str = "",
    quiet: bool = False,
    factories: dict[str, ModelFactory] | None = None,
) -> dict[str, Any]:
    """Run everything and write the run folder `out` (which must exist); returns the summary.

    `factories` replaces the registry's factory of the models it names (tests use it).
    Raises `compare.training.Diverged` after recording a diverged run."""
    progress = Progress(quiet)
    started = now()
    data = load_mnist(config.data.data_dir, verify=config.data.verify)
    splits = make_splits(
        data, val_size=config.data.val_size, seed=config.seed, dtype=config.model.dtype,
        standardize=config.data.standardize, limit_train=config.data.limit_train,
    )  # fmt: skip
    progress.message(f"data: {splits.sizes()} from {splits.source}; writing {out}")
    base = {"config": config, "out": out, "splits": splits, "started": started}
    base["invocation"], base["baseline_mb"] = invocation, peak_rss_mb()  # data, no models yet
    runfolder.write_text(out / "config.toml", to_toml(config, header=_toml_header(out)))
    per_seed: list[dict[str, Any]] = []
    with blas_threads(config.blas_threads) as base["blas_threads_set"]:
        status, first = _all_seeds(config, base, data, factories, progress, per_seed)
    summary = build_summary(base, status, *first, per_seed)
    runfolder.write_json(out / "summary.json", summary)
    progress.final_table(summary)
    if status == "interrupted":
        progress.console.print(f"interrupted: {out} holds what was measured (status interrupted)")
    return summary


def _all_seeds(
    config: RunConfig, base: dict[str, Any], data: MnistData,
    factories: dict[str, ModelFactory] | None, progress: Progress, per_seed: list[dict[str, Any]],
) -> tuple[str, tuple[dict[str, Track], TrainingResult, dict[str, Evaluation]]]:  # fmt: skip
    """Train and evaluate each seed in turn; write the first seed's files. Stops early
    when interrupted. Returns (status, the first seed's tracks, result, evaluations)."""
    out, splits = base["out"], base["splits"]
    status, first = "complete", ()
    for number, seed in enumerate(config.seed_list):
        title = f"seed {seed} " if config.seeds > 1 else ""
        tracks = build_tracks(config, seed, factories)
        try:
            result = train(
                tracks, splits, epochs=config.epochs, batch_size=config.batch_size, seed=seed,
                lockstep=config.lockstep, progress=progress, title=title,
            )  # fmt: skip
        except Diverged as error:
            if number == 0:
                _write_diverged(base, tracks, error)
            else:  # the earlier seeds' files are complete: keep them, say which seed failed
                _write_diverged_later_seed(base, first, per_seed, error, seed)
            raise
        outcomes = {name: evaluate_on_test(track.model, splits) for name, track in tracks.items()}
        if number == 0:
            first = (tracks, result, outcomes)
            _write_seed_files(out, data, splits, tracks, result, outcomes)
        if result.status == "interrupted":  # a half-trained seed stays out of the statistics
            status = "interrupted"
            break
        per_seed.append({"seed": seed, "tracks": tracks, "outcomes": outcomes})
    return status, first


def _write_seed_files(
    out: Path, data: MnistData, splits: Splits, tracks: dict[str, Track],
    result: TrainingResult, outcomes: dict[str, Evaluation],
) -> None:  # fmt: skip
    """Every per-run file of the first seed (all but summary.json and seeds.csv)."""
    runfolder.write_metrics(out, records(tracks))
    scores = {}
    for name, outcome in outcomes.items():
        confusion = metrics.confusion_matrix(splits.y_test, outcome.pred)
        runfolder.write_confusion(out, name, confusion)
        scores[name] = metrics.per_class(confusion)
    runfolder.write_per_class(out, scores)
    preds = {name: (o.pred, o.confidence) for name, o in outcomes.items()}
    runfolder.write_predictions(out, splits.y_test, preds)
    runfolder.write_examples(
        out, data.test_images, splits.y_test, {n: o.pred for n, o in outcomes.items()}
    )
    if result.lockstep:
        runfolder.write_lockstep(out, result.lockstep)
    for name, track in tracks.items():
        model_spec = spec(name)
        track.model.save(out / model_spec.file_name)  # every model saves atomically
        if model_spec.weights_file_name != model_spec.file_name:  # e.g. keras_weights.npz
            weights = track.model.get_weights()
            runfolder.write_npz(
                out / model_spec.weights_file_name, {f"w{i}": w for i, w in enumerate(weights)}
            )


def _write_diverged(base: dict[str, Any], tracks: dict[str, Track], error: Diverged) -> None:
    """Record the failure: config, the completed epochs' metrics, status "diverged"; no models."""
    out: Path = base["out"]
    runfolder.write_metrics(out, records(tracks))
    summary = header(base, "diverged")
    summary["error"] = str(error)
    summary["diverged"] = {"model": error.model, "epoch": error.epoch, "step": error.step}
    runfolder.write_json(out / "summary.json", summary)


def _write_diverged_later_seed(
    base: dict[str, Any], first: tuple, per_seed: list[dict[str, Any]], error: Diverged, seed: int
) -> None:
    """A seed after the first diverged: the folder keeps the first seed's files and
    models, and the statistics of the seeds that completed; status "diverged"."""
    summary = build_summary(base, "diverged", *first, per_seed)
    summary["error"] = f"seed {seed}: {error}"
    summary["diverged"] = {
        "model": error.model, "epoch": error.epoch, "step": error.step, "seed": seed,
    }  # fmt: skip
    runfolder.write_json(base["out"] / "summary.json", summary)


def _toml_header(out: Path) -> str:
    return (
        "mnist-compare run config, fully resolved.\n"
        f"Repeat this run: mnist-compare run --config {out / 'config.toml'} --out NEW_FOLDER"
    )
