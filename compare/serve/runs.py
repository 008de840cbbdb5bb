"""The runs `serve` shows: every complete run folder directly under --runs-dir.

A run is named by its folder name and found only by exact lookup among the folders
listed here, so a run name can never point elsewhere. A file of a run is served only
when every part of its path is a plain name (no `..`, `.`, empty part, hidden name,
separator or `%` left after decoding once), it resolves inside the run folder
(a symlink pointing out is refused), and its suffix is one a report uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from compare.summaryfile import SummaryError, load_summary
from scratch.config import ConfigError, ModelConfig

# What a run folder may serve, and as what.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
    ".toml": "text/plain; charset=utf-8",
}
# summary.json's per-model numbers the compare view puts side by side.
HEADLINE_KEYS = (
    "test_accuracy", "test_loss", "train_seconds", "epochs_completed", "samples_per_second",
)  # fmt: skip


@dataclass
class RunInfo:
    """One complete run folder, as the run list shows it."""

    name: str
    path: Path
    summary: dict[str, Any] = field(repr=False)

    @property
    def finished_at(self) -> str:
        return str(self.summary.get("finished_at") or "")

    @property
    def models(self) -> dict[str, dict[str, Any]]:
        models = self.summary.get("models")
        return {str(k): v for k, v in models.items() if isinstance(v, dict)} if models else {}

    @property
    def architecture(self) -> str:
        """e.g. '784-128-10 relu/crossentropy float32' (ModelConfig.describe)."""
        model = (self.summary.get("config") or {}).get("model") or {}
        try:
            return ModelConfig.from_dict(model).describe()
        except (ConfigError, TypeError, ValueError):
            return "unknown architecture"

    def listing(self) -> dict[str, Any]:
        """What the run list shows: name, when, models with labels and accuracy."""
        return {
            "name": self.name,
            "finished_at": self.finished_at,
            "architecture": self.architecture,
            "models": [
                {
                    "name": name,
                    "label": str(result.get("label") or name),
                    "color": str(result.get("color") or "#555555"),
                    "test_accuracy": result.get("test_accuracy"),
                }
                for name, result in self.models.items()
            ],  # fmt: skip
            "report": (self.path / "report.html").is_file(),
        }

    def headline(self) -> dict[str, Any]:
        """The compare view's numbers, read from summary.json."""
        config = self.summary.get("config") or {}
        data = self.summary.get("data") or {}
        numbers = {
            name: {key: result.get(key) for key in HEADLINE_KEYS}
            for name, result in self.models.items()
        }
        return {
            **self.listing(),
            "numbers": numbers,
            "epochs": config.get("epochs"),
            "batch_size": config.get("batch_size"),
            "mode": config.get("mode"),
            "optimizer": (config.get("model") or {}).get("optimizer"),
            "learning_rate": (config.get("model") or {}).get("learning_rate"),
            "train_images": (data.get("splits") or {}).get("train"),
        }


# Each folder's summary.json, kept while the file stays the same (its inode, size and
# modification time: a run writes summary.json by rename). The page lists the runs on
# every visit and a run's files are looked up among them, so without this every request
# would read and parse every summary in --runs-dir.
_summaries: dict[Path, tuple[tuple[int, int, int], dict[str, Any] | None]] = {}


def _read_complete(folder: Path) -> dict[str, Any] | None:
    """summary.json of a complete run, checked as `predict` and `report` check it; None
    for any other folder (unfinished, or a summary.json with a wrong field)."""
    try:
        stat = (folder / "summary.json").stat()
    except OSError:
        return None
    key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    cached = _summaries.get(folder)
    if cached is None or cached[0] != key:
        cached = _summaries[folder] = (key, read_summary(folder))
    summary = cached[1]
    return summary if summary is not None and summary.get("status") == "complete" else None


def read_summary(folder: Path) -> dict[str, Any] | None:
    """`folder`'s summary.json through the shared check (compare.summaryfile), or None."""
    try:
        return load_summary(folder)
    except SummaryError:
        return None


def find_runs(runs_dir: Path) -> list[RunInfo]:
    """Every complete run folder directly under `runs_dir`, newest first."""
    root = runs_dir.resolve()
    runs = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        if not folder.resolve().is_relative_to(root):  # a symlinked folder pointing out
            continue
        summary = _read_complete(folder)
        if summary is not None:
            runs.append(RunInfo(folder.name, folder.resolve(), summary))
    runs.sort(key=lambda run: (run.finished_at, run.name), reverse=True)
    return runs


def run_named(runs_dir: Path, name: str) -> RunInfo | None:
    """The complete run called `name`, by exact lookup; None for any other name."""
    return next((run for run in find_runs(runs_dir) if run.name == name), None)


def safe_parts(raw_path: str) -> list[str] | None:
    """The parts of a URL path below /runs/, each decoded once; None when any part
    could leave its folder or name a hidden file."""
    parts = [unquote(part, errors="strict") for part in raw_path.split("/")]
    for part in parts:
        if part in ("", ".", "..") or part.startswith("."):
            return None
        if any(char in part for char in "/\\%\x00") or not part.isprintable():
            return None
    return parts


def run_file(runs_dir: Path, raw_path: str) -> tuple[Path, str] | None:
    """(file, content type) for `<run>/<path>` under /runs/, or None (the server's 404)."""
    try:
        parts = safe_parts(raw_path)
    except UnicodeDecodeError:
        return None
    if not parts or len(parts) < 2:
        return None
    run = run_named(runs_dir, parts[0])
    if run is None:
        return None
    path = run.path.joinpath(*parts[1:])
    content_type = CONTENT_TYPES.get(path.suffix.lower())
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if content_type is None or not resolved.is_relative_to(run.path) or not resolved.is_file():
        return None
    return resolved, content_type
