"""Writing the run folder: every file lands atomically (temp file, then os.replace).

A reader (the report, `predict`, a user with `cat`) therefore never sees a
half-written file, even if the run is killed mid-write.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from compare.runguard import is_unfinished, previous_path, settle_previous
from scratch.serialization import atomic_path

RUN_FOLDER_MARKERS = ("summary.json", "config.toml")


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(temp_path)` on a temp file beside `path`, then rename it into place."""
    with atomic_path(path) as temp:
        write(temp)


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda temp: temp.write_text(text, encoding="utf-8"))


def write_json(path: Path, value: Any) -> None:
    write_text(path, json.dumps(value, indent=2, allow_nan=False) + "\n")


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    def write(temp: Path) -> None:
        with temp.open("wb") as handle:  # a file object: np.savez must not append ".npz"
            np.savez(handle, **arrays)

    atomic_write(path, write)


def prepare_out_dir(out: Path, *, overwrite: bool) -> Path:
    """Create the run folder; refuse an existing non-empty one unless `overwrite`.

    With `overwrite`, only a folder that looks like a run folder (it holds
    summary.json or config.toml) is replaced, so a typo cannot wipe unrelated files;
    and it is only set aside (`previous_path`), not deleted: `settle_previous` deletes
    it once the new run has a result, or puts it back if the new run fails first.
    Errors are raised as `CliError` (exit 2) before any training starts.
    """
    from compare.cli import CliError

    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out} exists and is a file; choose a folder path")
    if out.is_dir() and any(out.iterdir()):
        unfinished = unfinished_note(out)
        if not overwrite:
            raise CliError(f"run folder {out} already exists{unfinished}; pass --overwrite to "
                           "replace it or choose another --out")  # fmt: skip
        if unfinished:
            print(f"mnist-compare: note: replacing {out}{unfinished}", file=sys.stderr)
        if not any((out / marker).exists() for marker in RUN_FOLDER_MARKERS):
            raise CliError(
                f"--overwrite refused: {out} is not a run folder (no summary.json/config.toml)"
            )
        previous = previous_path(out)
        if previous.exists():  # `runguard.recover_locked` restores it first; this is a guard
            raise CliError(
                f"{previous} is the intact previous run, left from an interrupted "
                f"--overwrite of {out}; keep it: move it back to {out} or elsewhere first"
            )
        try:
            out.rename(previous)
        except OSError as error:
            raise CliError(f"--overwrite cannot set {out} aside: {error.strerror or error}; "
                           "choose another --out") from None  # fmt: skip
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        settle_previous(out, keep_new=False)
        raise CliError(f"cannot write the run folder {out}: {error.strerror or error}") from None
    return out


def unfinished_note(out: Path) -> str:
    """A clause naming a folder a killed run left (config.toml, no summary.json) as an
    unfinished run, for the messages about `out`; "" for any other folder."""
    if not is_unfinished(out):
        return ""
    return ", an unfinished run (config.toml but no summary.json: the run was killed)"


METRICS_HEADER = (
    "model", "epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
    "seconds", "samples_per_second",
)  # fmt: skip


def _num(value: float | None) -> str:
    """A float for CSV: full precision (repr), empty when missing."""
    return "" if value is None else repr(float(value))


def write_metrics(out: Path, records: Iterable[Any]) -> None:
    """metrics.csv: one row per model and epoch (EpochRecord objects)."""
    rows = [
        [r.model, r.epoch, _num(r.train_loss), _num(r.train_accuracy), _num(r.val_loss),
         _num(r.val_accuracy), _num(r.seconds), _num(r.samples_per_second)]
        for r in records
    ]  # fmt: skip
    write_csv(out / "metrics.csv", METRICS_HEADER, rows)


def write_confusion(out: Path, model: str, confusion: np.ndarray) -> None:
    """confusion_<model>.csv: rows true digit, columns predicted digit."""
    header = ["true", *(str(d) for d in range(len(confusion)))]
    rows = [[digit, *(int(c) for c in row)] for digit, row in enumerate(confusion)]
    write_csv(out / f"confusion_{model}.csv", header, rows)


def write_per_class(out: Path, scores: dict[str, list[Any]]) -> None:
    """per_class.csv: model,digit,precision,recall,f1,support."""
    rows = [
        [model, s.digit, _num(s.precision), _num(s.recall), _num(s.f1), s.support]
        for model, model_scores in scores.items()
        for s in model_scores
    ]
    write_csv(
        out / "per_class.csv", ("model", "digit", "precision", "recall", "f1", "support"), rows
    )


def write_predictions(
    out: Path, labels: np.ndarray, predictions: dict[str, tuple[np.ndarray, np.ndarray]]
) -> None:
    """predictions.csv: index,label, then <model>_pred,<model>_confidence per trained model."""
    header = ["index", "label"]
    columns: list[np.ndarray] = [np.arange(len(labels)), labels]
    for model, (pred, confidence) in predictions.items():
        header += [f"{model}_pred", f"{model}_confidence"]
        columns += [pred, confidence]
    rows = (
        [int(columns[0][i]), int(columns[1][i])]
        + [int(c[i]) if k % 2 == 0 else f"{float(c[i]):.6g}" for k, c in enumerate(columns[2:])]
        for i in range(len(labels))
    )
    write_csv(out / "predictions.csv", header, rows)


def write_examples(
    out: Path, test_images: np.ndarray, labels: np.ndarray, predictions: dict[str, np.ndarray]
) -> int:
    """examples.npz: every test image a model got wrong or the models disagree on."""
    preds = list(predictions.values())
    interesting = np.zeros(len(labels), dtype=bool)
    for pred in preds:
        interesting |= pred != labels
    for pred in preds[1:]:
        interesting |= pred != preds[0]
    index = np.flatnonzero(interesting).astype(np.int64)
    write_npz(out / "examples.npz", {"index": index, "image": test_images[index].astype(np.uint8)})
    return len(index)


LOCKSTEP_HEADER = (
    "step", "epoch", "max_abs_weight_diff", "max_rel_weight_diff", "model_a", "model_b",
)  # fmt: skip


def write_lockstep(out: Path, diffs: Iterable[Any]) -> None:
    """lockstep.csv: one row per checkpoint and pair of models (WeightDiff tuples)."""
    rows = [
        [d.step, d.epoch, _num(d.max_abs), _num(d.max_rel), d.model_a, d.model_b] for d in diffs
    ]
    write_csv(out / "lockstep.csv", LOCKSTEP_HEADER, rows)


def write_seeds(out: Path, rows: Iterable[tuple[int, str, float, float, float]]) -> None:
    header = ("seed", "model", "test_accuracy", "test_loss", "train_seconds")
    write_csv(
        out / "seeds.csv", header, [[s, m, _num(a), _num(l), _num(t)] for s, m, a, l, t in rows]
    )
