"""`mnist-compare run` end to end: data, models, training, evaluation, the run folder.

`execute(config, out, ...)` loads MNIST once, then for each seed trains the models
named in the config, each in a worker process of its own (`compare.workers`; a model
alone trains in this process), built from the registry (`compare.models`; in lockstep
mode every model starts from the first model's initial weights), on identical batches
(`compare.training`); each is evaluated on the test set and saved where it trained,
and this process writes the rest of the run folder (docs/architecture.md). With
several seeds the top-level files describe the first seed in full; `seeds.csv` and
`summary.json["multi_seed"]` hold every seed. The data split always uses the base
seed, so every seed trains and validates on the same images.

The report is not rendered here: compare's core never imports `reports`; the CLI
(`compare/commands/run.py`) renders it after `execute` returns.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
from pathlib import Path
from typing import Any

from compare import metrics, runfolder
from compare.data import MnistData, Splits, load_mnist, make_splits
from compare.environment import peak_rss_mb
from compare.modeljob import InProcess, Job, WorkerSpec, evaluate_on_test
from compare.models import ModelFactory
from compare.progress import Progress
from compare.runconfig import RunConfig, to_toml
from compare.summary import Evaluation, build_summary, header, now, records
from compare.threads import blas_threads, tf_threads
from compare.training import Diverged, Track, TrainingResult
from compare.workers import WorkerFailed, Workers

__all__ = ["evaluate_on_test", "execute"]


def execute(
    config: RunConfig,
    out: Path,
    *,
    invocation: str = "",
    quiet: bool = False,
    factories: dict[str, ModelFactory] | None = None,
) -> dict[str, Any]:
    """Run everything and write the run folder `out` (which must exist); returns the summary.

    `factories` replaces the registry's factory of the models it names (tests use it; in
    a worker process it must be importable by name: a module-level class or function).
    Raises `compare.training.Diverged` after recording a diverged run, and
    `compare.workers.WorkerFailed` after recording a run whose worker died or failed."""
    progress = Progress(quiet)
    started = now()
    data = load_mnist(config.data.data_dir, verify=config.data.verify)
    splits = make_splits(
        data, val_size=config.data.val_size, seed=config.seed, dtype=config.model.dtype,
        standardize=config.data.standardize, limit_train=config.data.limit_train,
    )  # fmt: skip
    moves = config.data.distortions.describe()
    progress.message(f"data: {splits.sentence()}{'; ' if moves else ''}{moves}; writing {out}")
    base = {"config": config, "out": out, "splits": splits, "started": started}
    base["invocation"], base["baseline_mb"] = invocation, peak_rss_mb()  # data, no models yet
    runfolder.write_text(out / "config.toml", to_toml(config, header=_toml_header(out)))
    per_seed: list[dict[str, Any]] = []
    trainer = _trainer(config, splits, out, factories, progress, base)
    try:
        with blas_threads(config.blas_threads) as base["blas_threads_set"], trainer:
            status, first = _all_seeds(config, base, data, trainer, per_seed)
    except Exception as error:  # a crash after some results (a later seed, a full disk)
        _write_crash(base, per_seed, error)
        raise
    summary = build_summary(base, status, *first, per_seed)
    runfolder.write_json(out / "summary.json", summary)
    progress.final_table(summary)
    if status == "interrupted":
        progress.console.print(f"interrupted: {out} holds what was measured (status interrupted)")
    return summary


def _trainer(
    config: RunConfig, splits: Splits, out: Path, factories: dict[str, ModelFactory] | None,
    progress: Progress, base: dict[str, Any],
) -> Workers | InProcess:  # fmt: skip
    """One worker process per model; a model alone trains in this process (a worker
    would add its start-up time and change nothing else: there is no other model), and
    so does every model where no process can be started."""
    factories = factories or {}
    specs = [
        WorkerSpec.of(name, config.model, factories.get(name), config.blas_threads)
        for name in config.models
    ]
    threads = config.blas_threads or None
    # a daemonic process (a pool's, a Dask worker) cannot start processes: all in this one
    workers = len(specs) > 1 and not multiprocessing.current_process().daemon
    intra = inter = threads
    if not workers and "tensorflow" in sys.modules:  # its pools run already: what they have
        intra, inter = _tf_pools()
    base["processes"] = {
        "worker_per_model": workers,
        "schedule": config.schedule if workers else None,
        "blas_threads": threads, "tf_intra_op_threads": intra, "tf_inter_op_threads": inter,
    }  # fmt: skip
    if workers:
        return Workers(specs, splits, out, progress, in_turn=config.schedule == "in-turn")
    return InProcess(specs, splits, progress, base["baseline_mb"], tf_threads(threads))


def _tf_pools() -> tuple[int | None, int | None]:
    """TensorFlow's intra- and inter-op thread counts in this process (None: its default)."""
    import tensorflow as tf

    threading = tf.config.threading
    intra = threading.get_intra_op_parallelism_threads()
    inter = threading.get_inter_op_parallelism_threads()
    return intra or None, inter or None


def _all_seeds(
    config: RunConfig, base: dict[str, Any], data: MnistData, trainer: Workers | InProcess,
    per_seed: list[dict[str, Any]],
) -> tuple[str, tuple[dict[str, Track], TrainingResult, dict[str, Evaluation]]]:  # fmt: skip
    """Train and evaluate each seed in turn; write the first seed's files, and after
    every completed seed summary.json with status "running" (so a crash or kill later
    keeps them). Stops early when interrupted. Returns (status, the first seed's
    tracks, result, evaluations)."""
    out, splits = base["out"], base["splits"]
    status, first = "complete", ()
    for number, seed in enumerate(config.seed_list):
        title = f"seed {seed} " if config.seeds > 1 else ""
        job = Job(seed, config.epochs, config.batch_size, config.lockstep, True,
                  out if number == 0 else None, title, config.data.distortions)  # fmt: skip
        try:
            result, outcomes = trainer.run_seed(job)
        except (Diverged, WorkerFailed) as error:
            base["processes"]["start_seconds"] = trainer.start_seconds
            base["framework_versions"] = trainer.versions
            _write_failure(base, trainer.tracks, error, (first, per_seed, seed, number))
            raise
        base["processes"]["start_seconds"] = trainer.start_seconds
        base["framework_versions"] = trainer.versions
        tracks = result.tracks
        if number == 0:
            first = (tracks, result, outcomes)
            _write_seed_files(out, data, splits, tracks, result, outcomes)
            base["first"] = first
        if result.status == "interrupted":  # a half-trained seed stays out of the statistics
            status = "interrupted"
            break
        per_seed.append({"seed": seed, "tracks": tracks, "outcomes": outcomes})
        # Results so far, kept should a later seed or the final write fail.
        runfolder.write_json(out / "summary.json", build_summary(base, "running", *first, per_seed))
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


def _write_failure(
    base: dict[str, Any], tracks: dict[str, Track], error: Diverged | WorkerFailed,
    where: tuple[tuple, list[dict[str, Any]], int, int],
) -> None:  # fmt: skip
    """Record a diverged or failed seed (status "diverged" / "failed"). The first seed:
    config, the completed epochs' metrics, no models. A later seed: the earlier seeds'
    files are complete, so keep them and say which seed failed."""
    first, per_seed, seed, number = where
    status = "diverged" if isinstance(error, Diverged) else "failed"
    details: dict[str, Any] = {"model": error.model}
    if isinstance(error, Diverged):
        details |= {"epoch": error.epoch, "step": error.step}
    if number == 0:
        runfolder.write_metrics(base["out"], records(tracks))
        summary = header(base, status)
        summary["error"] = str(error)
    else:
        summary = build_summary(base, status, *first, per_seed)
        summary["error"] = f"seed {seed}: {error}"
        details["seed"] = seed
    summary[status] = details
    runfolder.write_json(base["out"] / "summary.json", summary)


def _write_crash(base: dict[str, Any], per_seed: list[dict[str, Any]], error: Exception) -> None:
    """After an unexpected error (not a divergence or a failed worker, recorded already):
    once the first seed's files exist, summary.json says status "failed" with the error
    and holds every completed seed. If even that cannot be written (a full disk), the
    "running" summary of the last completed seed stays."""
    if "first" not in base or isinstance(error, Diverged | WorkerFailed):
        return
    summary = build_summary(base, "failed", *base["first"], per_seed)
    summary["error"] = f"{type(error).__name__}: {error}"
    summary["failed"] = {"seeds_completed": len(per_seed)}
    with contextlib.suppress(OSError):
        runfolder.write_json(base["out"] / "summary.json", summary)


def _toml_header(out: Path) -> str:
    return (
        "mnist-compare run config, fully resolved.\n"
        f"Repeat this run: mnist-compare run --config {out / 'config.toml'} --out NEW_FOLDER"
    )
