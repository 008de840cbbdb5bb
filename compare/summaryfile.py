"""summary.json: the one reader and schema check, shared by `predict`, `report` and `serve`.

`load_summary(folder)` reads RUN/summary.json and checks every field it knows (types,
ranges, required keys) before any command uses a value; a bad file is one
`SummaryError` line that names the field: `summary.json: models.keras.test_accuracy is
nan, expected a number from 0 to 1`. `peek_summary(folder)` is the lenient quick look
(status, error) for code that only lists or sorts run folders.

Standard library only at import, on purpose: `reports` (which never imports TensorFlow
nor anything heavy from `compare`) imports this module as it imports `compare.metrics`.
Checking `config.model` loads `compare.configcheck` (NumPy and `scratch.config`), the
check `run` applies to a config file, so the two cannot disagree.
The writer is `compare.summary`; the fields are listed in docs/architecture.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

NAME = "summary.json"
MAX_BYTES = 16 * 2**20  # a summary is a few KB; a larger file is not one
# "running": written after each seed while the run goes on (docs/run.md, "What is never lost").
STATUSES = ("complete", "interrupted", "diverged", "failed", "running")
# A standardisation std divides every pixel. Pixels in [0, 1] have a std of at most 0.5,
# and no set of 8-bit images has a non-zero std below 1e-7 (one grey level of difference
# over all 47 million pixels of MNIST's training images gives 5e-7).
STD_RANGE = (1e-7, 0.5)


class SummaryError(ValueError):
    """summary.json is missing, unreadable or has a wrong field: one line that says which."""


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _within(low: float, high: float) -> Callable[[Any], bool]:
    return lambda value: _number(value) and low <= value <= high


def _at_least(low: float) -> Callable[[Any], bool]:
    return lambda value: _number(value) and value >= low


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _file_name(value: Any) -> bool:
    """A bare file name inside the run folder (no folder part, not hidden)."""
    return isinstance(value, str) and value == Path(value).name and not value.startswith(".")


# kind -> (test, what the field must be, in words)
KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "table": (lambda v: isinstance(v, dict), "a JSON object"),
    "list": (lambda v: isinstance(v, list), "a list"),
    "text": (lambda v: isinstance(v, str), "a string"),
    "flag": (lambda v: isinstance(v, bool), "true or false"),
    "count": (_count, "a whole number >= 0"),
    "positive": (lambda v: _count(v) and v >= 1, "a whole number >= 1"),
    "number": (_number, "a number"),
    "amount": (_at_least(0.0), "a number >= 0"),
    "fraction": (_within(0.0, 1.0), "a number from 0 to 1"),
    "status": (lambda v: v in STATUSES, "one of " + ", ".join(STATUSES)),
    "dtype": (lambda v: v in ("float32", "float64"), "float32 or float64"),
    "file": (_file_name, "a file name in the run folder"),
    "std": (_within(*STD_RANGE), f"a number from {STD_RANGE[0]:g} to {STD_RANGE[1]:g}"),
}

# (field path, kind, required). "*" is every key of an object or item of a list; a "?"
# after the kind also allows null. Parents come before their children. Keys not listed
# are allowed (any JSON value), so an older or newer run folder still reads.
FIELDS: tuple[tuple[str, str, bool], ...] = (
    ("format_version", "positive", False),
    ("status", "status", True),
    ("command", "text", False),
    ("invocation", "text", False),
    ("started_at", "text", False),
    ("finished_at", "text", False),
    ("error", "text", False),
    ("steps", "count", False),
    ("config", "table", True),
    ("config.epochs", "positive", False),
    ("config.batch_size", "positive", False),
    ("config.seed", "count", False),
    ("config.seeds", "positive", False),
    ("config.mode", "text", False),
    ("config.schedule", "text", False),
    ("config.preset", "text?", False),
    ("config.blas_threads", "count", False),
    ("config.models", "list", False),
    ("config.models.*", "text", False),
    ("config.model", "table", False),
    ("config.model.dtype", "dtype", False),
    ("config.data", "table", False),
    ("config.data.data_dir", "text?", False),
    ("config.data.verify", "flag", False),
    ("config.data.standardize", "flag", False),
    ("config.data.val_size", "count", False),
    ("config.data.limit_train", "positive?", False),
    ("config.data.shift", "amount", False),
    ("config.data.rotate", "amount", False),
    ("config.data.zoom", "amount", False),
    ("environment", "table", False),
    ("data", "table", True),
    ("data.source", "text", False),
    ("data.verified", "flag", False),
    ("data.standardized", "flag", False),
    ("data.mean", "number", False),
    ("data.std", "number", False),
    ("data.splits", "table", False),
    ("data.splits.*", "count", False),
    ("models", "table", False),
    ("models.*", "table", False),
    ("models.*.test_accuracy", "fraction", True),
    ("models.*.test_loss", "amount", False),
    ("models.*.train_seconds", "amount", False),
    ("models.*.seconds_per_epoch", "list", False),
    ("models.*.seconds_per_epoch.*", "amount", False),
    ("models.*.samples_per_second", "amount", False),
    ("models.*.predict_seconds", "amount", False),
    ("models.*.peak_memory_mb", "amount?", False),
    ("models.*.idle_memory_mb", "amount?", False),
    ("models.*.sync_seconds", "amount?", False),
    ("models.*.epochs_completed", "count", False),
    ("models.*.label", "text", False),
    ("models.*.color", "text", False),
    ("models.*.file", "file", False),
    ("agreement", "table", False),
    ("agreement.prediction_agreement", "fraction", False),
    ("agreement.mcnemar_p_value", "fraction", False),
    ("pairs", "list", False),
    ("pairs.*", "table", False),
    ("pairs.*.models", "list", True),
    ("pairs.*.models.*", "text", False),
    ("pairs.*.prediction_agreement", "fraction", False),
    ("pairs.*.mcnemar_p_value", "fraction", False),
    ("pairs.*.both_correct", "count", False),
    ("pairs.*.only_a_correct", "count", False),
    ("pairs.*.only_b_correct", "count", False),
    ("pairs.*.both_wrong", "count", False),
    ("pairs.*.max_abs_weight_diff", "list", False),
    ("pairs.*.max_abs_weight_diff.*", "amount", False),
    ("pairs.*.max_rel_weight_diff", "list", False),
    ("pairs.*.max_rel_weight_diff.*", "amount", False),
    ("lockstep", "table", False),
    ("lockstep.*", "list", False),
    ("lockstep.*.*", "amount", False),
    ("multi_seed", "table", False),
    ("multi_seed.seeds", "list", False),
    ("multi_seed.seeds.*", "count", False),
    ("multi_seed.pairs", "list", False),
    ("multi_seed.pairs.*", "table", False),
    ("multi_seed.pairs.*.models", "list", True),
    ("multi_seed.pairs.*.models.*", "text", False),
    ("multi_seed.pairs.*.n", "count", True),
    ("multi_seed.pairs.*.mean_difference", "number", True),
    ("multi_seed.pairs.*.std_difference", "amount", True),
    ("multi_seed.pairs.*.a_better", "count", True),
    ("multi_seed.pairs.*.b_better", "count", True),
    ("multi_seed.pairs.*.ties", "count", True),
    ("multi_seed.pairs.*.t_statistic", "number?", False),
    ("multi_seed.pairs.*.p_value", "fraction?", False),
    ("multi_seed.pairs.*.degrees_of_freedom", "count?", False),
)
MISSING = object()


def load_summary(folder: str | Path) -> dict[str, Any]:
    """`folder`/summary.json, read and checked; `SummaryError` (one line) if unusable."""
    path = Path(folder) / NAME
    if not path.is_file():
        raise SummaryError(f"{Path(folder)} is not a run folder (no {NAME})")
    summary = _parse(path)
    problem = summary_problem(summary)
    if problem:
        raise SummaryError(f"{path}: {problem}")
    return summary


def peek_summary(folder: str | Path) -> dict[str, Any] | None:
    """`folder`/summary.json as a dict, unchecked, or None when there is none readable:
    for listing and sorting run folders. Code that uses a value calls `load_summary`."""
    try:
        return _parse(Path(folder) / NAME)
    except (OSError, SummaryError):
        return None


def _parse(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise SummaryError(f"cannot read {path}: {error.strerror or error}") from None
    if len(raw) > MAX_BYTES:
        raise SummaryError(f"{path} is over {MAX_BYTES // 2**20} MiB, so not a run summary")
    try:
        summary = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SummaryError(f"{path} is corrupt, not valid JSON ({error})") from None
    except RecursionError:  # thousands of nested brackets: no summary is like that
        raise SummaryError(f"{path} is not a run summary (nested too deeply)") from None
    if not isinstance(summary, dict):
        raise SummaryError(f"{path} is not a run summary (expected a JSON object)")
    return summary


def summary_problem(summary: dict[str, Any]) -> str | None:
    """What is wrong with a parsed summary, in one phrase naming the field; None if valid."""
    place = _first_non_finite(summary, "")
    if place:
        return f"{place[0]} is {place[1]}, expected a finite number (the run never writes NaN/inf)"
    for path, kind, required in FIELDS:
        nullable = kind.endswith("?")
        test, words = KINDS[kind.rstrip("?")]
        for where, value in _values_at(summary, path.split(".")):
            if value is MISSING:
                if required:
                    return f"{where} is missing"
            elif not (test(value) or (nullable and value is None)):
                return f"{where} is {_show(value)}, expected {words}{' or null' * nullable}"
    if summary["status"] == "complete" and "models" not in summary:
        return "models is missing, though status is complete"
    return _standardization_problem(summary["data"]) or _model_config_problem(summary)


def _values_at(node: Any, parts: list[str], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) for each place `parts` names; MISSING for an absent last key
    of a present object. Absent or non-container parents yield nothing."""
    head, rest = parts[0], parts[1:]
    if head == "*":
        children = _children(node)
    elif isinstance(node, dict):
        children = [(head, node.get(head, MISSING))]
    else:
        children = []
    for key, child in children:
        where = f"{prefix}.{key}" if prefix else str(key)
        if not rest or child is MISSING:
            if not rest:
                yield where, child
            continue
        yield from _values_at(child, rest, where)


def _first_non_finite(node: Any, where: str) -> tuple[str, str] | None:
    if isinstance(node, float) and not math.isfinite(node):
        return where or "the file", repr(node)
    for key, child in _children(node):
        found = _first_non_finite(child, f"{where}.{key}" if where else str(key))
        if found:
            return found
    return None


def _children(node: Any) -> list[tuple[Any, Any]]:
    """(key, value) of an object, (index, item) of a list, nothing for anything else."""
    if isinstance(node, dict):
        return list(node.items())
    return list(enumerate(node)) if isinstance(node, list) else []


def _standardization_problem(data: dict[str, Any]) -> str | None:
    """A standardized run divides by data.std: it must be one a real image set has."""
    if not data.get("standardized"):
        return None
    for key, kind in (("mean", "fraction"), ("std", "std")):
        value = data.get(key, MISSING)
        test, words = KINDS[kind]
        if value is MISSING:
            return f"data.{key} is missing, though data.standardized is true"
        if not test(value):
            return f"data.{key} is {_show(value)}, expected {words} (data.standardized is true)"
    return None


def _model_config_problem(summary: dict[str, Any]) -> str | None:
    """config.model's string keys hold strings and its numbers fit the dtype: the check
    `run` applies to a config file (compare.configcheck), loaded only when needed."""
    model = summary["config"].get("model")
    if not isinstance(model, dict):
        return None
    from compare.configcheck import check_model_values
    from scratch.config import ConfigError

    try:
        check_model_values(model)
    except ConfigError as error:  # "learning_rate ..." or "model.activation ..."
        return f"config.{error.renamed('model.' + error.key) if error.key else error}"
    return None


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
