"""One line for a target that cannot be written: a full disk, a quota, a read-only folder.

`run`, `sweep`, `report`, `check --json` and `predict --show` say it the same way: what could not
be written, the system's reason, and what to do. Each checks that its folder can be
written before it starts working (`check_writable`, exit code 2); a disk that fills up
while it works is exit code 1 (`one_line_write_errors`). Every file is written
atomically (`scratch.serialization.atomic_path`), so a failed write leaves no partial
file: the temp file is removed and the file it was to replace is untouched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
NOT_WRITABLE = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def is_write_failure(error: BaseException) -> bool:
    """True for an OSError that says the disk is full or the target is read-only."""
    return isinstance(error, OSError) and error.errno in DISK_FULL | NOT_WRITABLE


CHOOSE = "choose a folder you can write"


def reason(error: OSError, read_only_remedy: str = CHOOSE, retry: str = "try again") -> str:
    """The system's words for `error` and what to do about it (`retry`: after freeing space)."""
    words = error.strerror or str(error)
    if error.errno in DISK_FULL:
        return f"{words}; free some space and {retry}"
    return f"{words}; {read_only_remedy}"


def write_error(what: str, error: OSError, exit_code: int = 1, **remedy: str) -> Exception:
    """The one-line `CliError` for `what` (e.g. "the report into RUN") and `error`;
    `read_only_remedy` replaces "choose a folder you can write", `retry` "try again"."""
    from compare.cli import CliError

    return CliError(f"cannot write {what}: {reason(error, **remedy)}", exit_code)


@contextlib.contextmanager
def one_line_write_errors(what: str, exit_code: int = 1, **remedy: str) -> Iterator[None]:
    """Turn a full disk or a read-only target inside the block into `write_error`."""
    try:
        yield
    except OSError as error:
        if not is_write_failure(error):
            raise
        raise write_error(what, error, exit_code, **remedy) from None


def check_writable(folder: Path, what: str, **remedy: str) -> None:
    """Make and remove an empty file in `folder`, before any work: a read-only folder is
    one line, exit code 2. (A full disk still takes an empty file; it shows when the
    content is written.)"""
    probe = Path(folder) / f".mnist-compare-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise write_error(what, error, 2, **remedy) from None


def run_write_error(out: Path, existed: bool, error: OSError, status: str) -> Exception:
    """A full disk (or a folder made read-only) stopped `run`: one line, exit code 1.
    `status`: summary.json's. Once a seed completed ("running", or "failed" after the
    crash was recorded) its files are kept (`keep_completed_seeds`); before that the
    partial run is removed (`discard_partial_run`)."""
    from compare.cli import CliError

    why = reason(error, read_only_remedy="choose another --out")
    if status in ("running", "failed"):
        where = keep_completed_seeds(out, status)
        return CliError(f"cannot write the run folder {out}: {why}; the seeds completed "
                        f"before are kept in {where}, summary.json status {status}",
                        exit_code=1)  # fmt: skip
    note = discard_partial_run(out, existed)
    return CliError(f"cannot write the run folder {out}: {why} ({note})", exit_code=1)


def sweep_write_error(out: Path, error: OSError, complete: int) -> Exception:
    """A full disk (or a folder made read-only) stopped `sweep`: one line, exit code 1.
    The `complete` runs are kept and `--resume` reuses them; the run the disk stopped
    was settled by `run_write_error` in its worker (`compare.sweeprun`)."""
    from compare.cli import CliError

    resume = f"go on with: mnist-compare sweep {out / 'sweep.toml'} --out {out} --resume"
    why = reason(error, read_only_remedy=f"make it writable and {resume}", retry=resume)
    runs = "run is" if complete == 1 else "runs are"
    return CliError(f"cannot write the sweep folder {out}: {why} (its {complete} complete "
                    f"{runs} kept)", exit_code=1)  # fmt: skip


def keep_completed_seeds(out: Path, status: str) -> str:
    """After a full disk stopped `run` once a seed completed: keep the new run, in `out`
    or, with --overwrite, beside the previous run, which comes back; where it is."""
    from compare.runguard import previous_path, settle_previous

    try:
        kept = settle_previous(out, keep_new=False, what=status)
    except OSError:  # even a rename failed: say where each one is
        return f"{out} (the previous run is intact in {previous_path(out)})"
    return f"{out}" if kept is None else f"{kept} ({out} holds the previous run again)"


def discard_partial_run(out: Path, existed: bool) -> str:
    """After a full disk stopped `run`: remove the new run's files (incomplete, and they
    hold the space) and put the old run back from `.X.previous`; a note of what was done.
    `existed`: `out` was there before the run (then empty, or set aside by --overwrite)."""
    from compare.runguard import previous_path, settle_previous

    had_previous = previous_path(out).is_dir()
    if existed and not had_previous:  # an empty folder the user made: keep the folder
        for child in list(out.iterdir()):
            shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()
    else:
        shutil.rmtree(out, ignore_errors=True)
    note = "the new run's partial files were removed"
    if had_previous:
        try:
            settle_previous(out, keep_new=False)
            note += f"; the previous run is back in {out}"
        except OSError:
            note += f"; the previous run is intact in {previous_path(out)}"
    return note
