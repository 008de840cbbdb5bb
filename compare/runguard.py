"""Keeping a run folder safe: the run lock, `--overwrite`'s set-aside copy, recovery.

- **The lock.** While `mnist-compare run` writes folder X it holds an OS lock
  (`fcntl.flock`) on the lock file `.X.lock` beside it. A second run on X fails at
  once; a crashed or killed run's lock vanishes with its process, so no stale lock.
- **The set-aside copy.** `--overwrite` renames the old run X to `.X.previous`; it is
  deleted only when the new run completes, and put back otherwise (`settle_previous`).
- **Recovery.** A run killed by SIGKILL (or a power cut) leaves `.X.previous` behind.
  The next command that touches X (`run`, `report`, `predict`) calls `recover`: with
  the lock free, it puts the intact previous run back in X and keeps whatever the
  killed run left under a name it prints. It never deletes a run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

# Names the tool puts beside X: ".X.previous", ".X.lock", "X.interrupted-YYYYmmdd-HHMMSS".
LONGEST_SIBLING_EXTRA = len(".") + len(".interrupted-20261129-222616-9")


class RunLocked(Exception):
    """Another process holds the run folder's lock."""


def previous_path(out: Path) -> Path:
    """Where `--overwrite` keeps the old run folder until the new run completes."""
    return out.with_name(f".{out.name}.previous")


def lock_path(out: Path) -> Path:
    return out.with_name(f".{out.name}.lock")


def check_name_length(out: Path) -> str | None:
    """Why `out`'s name is too long for the names kept beside it, or None."""
    try:
        limit = os.pathconf(out.parent if out.parent.is_dir() else ".", "PC_NAME_MAX")
    except OSError:
        limit = 255
    longest = len(out.name.encode()) + LONGEST_SIBLING_EXTRA
    if longest > limit:
        return (
            f"--out name {out.name[:20]}... is {len(out.name.encode())} bytes; keep it under "
            f"{limit - LONGEST_SIBLING_EXTRA} so the backup names beside it fit"
        )
    return None


def out_folder(given: str | None, default: Path, what: str, example: str) -> Path:
    """The folder `--out` names (else `default`) as an absolute path, `.` and symlinks
    resolved. An empty --out, the root folder, a name too long for the names kept beside
    it, or a file in its path are one-line errors. Nothing is created: `locked` makes
    missing parents."""
    from compare.cli import CliError

    if given is not None and not given.strip():
        raise CliError(f"--out is empty; give a folder path, e.g. --out {example}")
    out = (Path(given).expanduser() if given else default).resolve()
    if out.parent == out:
        raise CliError(f"--out {given} is the root folder; choose a folder inside it")
    problem = check_name_length(out)
    if problem:
        raise CliError(problem)
    existing = next(folder for folder in out.parents if folder.exists())
    if not existing.is_dir():
        raise CliError(f"cannot write the {what} {out}: {existing} is a file; choose another --out")
    return out


def _make_parents(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents; returns those created, innermost first."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        from compare.cli import CliError

        raise CliError(f"cannot write the output folder {folder}: {error.strerror or error}; "
                       "choose another --out") from None  # fmt: skip
    return missing


def _remove_if_empty(folders: list[Path]) -> None:
    """Remove the folders `_make_parents` made that are still empty (a refused command)."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold the OS lock of run folder `out` for the block; `RunLocked` if another process
    holds it. The lock file is removed on the way out; a lock taken on a lock file that
    was just removed is dropped and taken again on the new file. Missing parents of
    `out` are made, and removed again if the command leaves them empty."""
    made = _make_parents(out.parent)
    try:
        with _locked(out):
            yield
    finally:
        _remove_if_empty(made)


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    path = lock_path(out)
    while True:
        try:
            handle = path.open("a+b")
        except OSError as error:  # a read-only or missing folder: before anything is written
            from compare.cli import CliError

            reason = error.strerror or error
            raise CliError(
                f"cannot write the output folder {out}: {reason}; choose another --out"
            ) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise RunLocked(str(out)) from None
        try:
            same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        handle.close()
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        handle.close()


@contextlib.contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """SIGTERM (timeout, kill, schedulers, container runtimes) acts as Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stamped(out: Path, what: str) -> Path:
    """A free name beside `out`: X.<what>-YYYYmmdd-HHMMSS (-2, -3, ... if taken)."""
    base = f"{out.name}.{what}-{datetime.now():%Y%m%d-%H%M%S}"
    candidate, number = out.with_name(base), 1
    while candidate.exists() or candidate.is_symlink():
        number += 1
        candidate = out.with_name(f"{base}-{number}")
    return candidate


def run_status(folder: Path) -> str | None:
    """summary.json's `status` of `folder`, or None when there is none readable."""
    from compare.summaryfile import peek_summary

    summary = peek_summary(folder)
    return None if summary is None else summary.get("status")


def holds_only_config(folder: Path) -> bool:
    """True for a folder a run left before writing anything but config.toml (and temps)."""
    return all(p.name == "config.toml" or p.name.startswith(".") for p in folder.iterdir())


def settle_previous(out: Path, *, keep_new: bool, what: str = "unfinished") -> Path | None:
    """After a run: delete the set-aside old run (`keep_new`, the new run completed), or
    put it back in X. What the new run left is kept beside X as X.<what>-<time> unless
    it holds nothing but config.toml; returns where it was kept (None: nothing kept)."""
    previous = previous_path(out)
    if not previous.is_dir():
        return None
    if keep_new:
        shutil.rmtree(previous)
        return None
    return _restore(out, previous, what)


def _restore(out: Path, previous: Path, what: str) -> Path | None:
    kept = None
    if out.is_dir() and not holds_only_config(out):
        kept = stamped(out, what)
        out.rename(kept)
    elif out.is_dir():
        shutil.rmtree(out)
    previous.rename(out)
    return kept


def recover(out: Path) -> str | None:
    """Restore an `--overwrite` that was killed (`.X.previous` left behind); returns a
    one-line note of what was done, or None when there was nothing to do. Does nothing
    while a run holds X's lock (that run owns `.X.previous`)."""
    if not previous_path(out).is_dir() or not out.parent.is_dir():
        return None
    try:
        with locked(out):
            return recover_locked(out)
    except RunLocked:
        return None


def recover_locked(out: Path) -> str | None:
    """`recover` for a caller that already holds X's lock."""
    previous = previous_path(out)
    if not previous.is_dir():
        return None
    if run_status(out) == "complete":  # the new run finished; the old one was due to go
        kept = stamped(out, "replaced")
        previous.rename(kept)
        return f"note: {out} is complete; the run it replaced is kept in {kept}"
    kept = _restore(out, previous, "unfinished")
    extra = f"; what the killed run left is in {kept}" if kept else ""
    return f"note: restored the intact previous run into {out} from {previous.name}{extra}"


def recover_and_say(out: Path) -> None:
    """`recover`, printing its note on stderr."""
    note = recover(out)
    if note:
        print(f"mnist-compare: {note}", file=sys.stderr)


def is_unfinished(folder: Path) -> bool:
    """A folder a run left without a summary (killed): config.toml, no summary.json."""
    return (folder / "config.toml").is_file() and not (folder / "summary.json").exists()


def check_not_unfinished(folder: Path) -> str | None:
    """For `report` and `predict`: the one-line reason a folder a run left without a
    summary (killed, e.g. by SIGKILL) cannot be used, or None."""
    if not is_unfinished(folder):
        return None
    return (
        f"{folder} is an unfinished run (it holds config.toml but no summary.json: the run "
        f"was killed); run it again: mnist-compare run --config {folder / 'config.toml'} "
        f"--out {folder} --overwrite"
    )


def prepare_to_read(folder: str | Path) -> None:
    """Before `report` or `predict` reads a run folder: restore a killed `--overwrite`
    (note on stderr), then refuse an unfinished run in one line (`CliError`)."""
    from compare.cli import CliError

    folder = Path(folder)
    if folder.name:
        recover_and_say(folder.resolve())
    problem = check_not_unfinished(folder)
    if problem:
        raise CliError(problem)
