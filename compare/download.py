"""Download the four MNIST files from public mirrors into a folder, safely.

Each `.gz` file is streamed into a temp file in the target folder, then
decompressed and its *content* checked against MNIST's SHA-256 (the archives
differ from mirror to mirror, the content does not); only then is it renamed
into place with `os.replace`. A failed, corrupt or partial download leaves
nothing behind. Mirrors are tried in order, for `retries` rounds with a short
backoff between rounds. Network faults end in one `DataError` line that names
the files and the folder to put them in, never a traceback.

`MNIST_MIRRORS` (comma-separated base URLs) replaces the built-in mirror list,
for tests, local servers and `file://` copies.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

from scratch.serialization import atomic_path

# The mirror TFDS uses, then the one torchvision uses.
MIRRORS: tuple[str, ...] = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
ENV_MIRRORS = "MNIST_MIRRORS"
CHUNK = 1 << 16
USER_AGENT = "mnist-compare/0.1 (Python urllib)"


class _AttemptFailed(Exception):
    """One download attempt failed; `permanent` means this mirror will not serve the file."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def configured_mirrors() -> tuple[str, ...]:
    """`$MNIST_MIRRORS` split on commas when set, else the built-in `MIRRORS`."""
    from compare.data import DataError

    value = os.environ.get(ENV_MIRRORS)
    if value is None or not value.strip():
        return MIRRORS
    mirrors = tuple(part.strip() for part in value.split(",") if part.strip())
    if not mirrors:
        raise DataError(f"${ENV_MIRRORS} holds no URL; unset it or give comma-separated base URLs")
    return mirrors


def _url(base: str, file_name: str) -> str:
    return base if base.endswith(file_name) else base.rstrip("/") + "/" + file_name


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB" if n_bytes >= 1e5 else f"{n_bytes / 1e3:.1f} kB"


class _Progress:
    """A text progress bar on stderr (live on a TTY; a start and an end line otherwise)."""

    def __init__(self, label: str, total: int | None, enabled: bool) -> None:
        self.label, self.total, self.enabled = label, total, enabled
        self.live = enabled and sys.stderr.isatty()
        self.done, self.last_draw = 0, 0.0
        if enabled and not self.live:
            size = f" ({_size(total)})" if total else ""
            print(f"downloading {label}{size} ...", file=sys.stderr, flush=True)

    def update(self, n_bytes: int) -> None:
        self.done += n_bytes
        now = time.monotonic()
        if self.live and now - self.last_draw > 0.1:
            self.last_draw = now
            self._draw()

    def _draw(self) -> None:
        if self.total:
            fraction = min(self.done / self.total, 1.0)
            bar = "#" * int(30 * fraction) + "." * (30 - int(30 * fraction))
            text = f"{self.label} [{bar}] {100 * fraction:3.0f}% of {_size(self.total)}"
        else:
            text = f"{self.label} {_size(self.done)}"
        print(f"\r{text}", end="", file=sys.stderr, flush=True)

    def close(self, ok: bool) -> None:
        if self.live:
            self._draw()
            print(" ok" if ok else " failed", file=sys.stderr, flush=True)
        elif self.enabled and ok:
            print(f"downloaded {self.label}", file=sys.stderr, flush=True)


def _stream(url: str, out: BinaryIO, timeout: float, progress: bool, label: str) -> int:
    """Copy `url` into `out`; the byte count must match Content-Length when one is sent."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            bar = _Progress(label, total, progress)
            received, ok = 0, False
            try:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
                ok = total is None or received == total
            finally:
                bar.close(ok)
    except urllib.error.HTTPError as error:
        raise _AttemptFailed(f"HTTP {error.code} from {url}", 400 <= error.code < 500) from None
    except urllib.error.URLError as error:
        raise _AttemptFailed(f"cannot reach {url} ({error.reason})") from None
    except (OSError, http.client.HTTPException) as error:
        reason = str(error) or type(error).__name__
        raise _AttemptFailed(f"connection to {url} failed ({reason})") from None
    except ValueError as error:  # a malformed URL in MNIST_MIRRORS
        raise _AttemptFailed(f"bad mirror URL {url!r} ({error})", permanent=True) from None
    if total is not None and received != total:
        raise _AttemptFailed(f"{url}: connection dropped after {received} of {total} bytes")
    return received


def content_sha256(gz_path: Path) -> str:
    """SHA-256 of the decompressed content of a .gz file, streamed."""
    digest = hashlib.sha256()
    try:
        with gzip.open(gz_path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error) as error:
        raise _AttemptFailed(f"corrupt gzip data ({error})") from None
    return digest.hexdigest()


def _fetch_one(url: str, target: Path, expected: str, timeout: float, progress: bool) -> None:
    """Download `url` to `target` via a temp file; nothing is left behind on failure."""
    with atomic_path(target, suffix=".part") as temp:  # a raise below discards the temp
        with temp.open("wb") as handle:
            _stream(url, handle, timeout, progress, target.name)
        digest = content_sha256(temp)
        if digest != expected:
            raise _AttemptFailed(
                f"{url}: content SHA-256 {digest[:16]}... is not MNIST's {expected[:16]}..."
            )


def _failure_message(target_dir: Path, names: Sequence[str], reason: str) -> str:
    files = ", ".join(f"{name}.gz" for name in names)
    message = (
        f"could not download MNIST ({reason}); without network, put {files} "
        f"in {target_dir} (or pass --data-dir DIR, or set MNIST_DATA_DIR)"
    )
    return " ".join(message.split())  # one line, whatever the server said


def download_file(
    name: str,
    target_dir: Path,
    expected: str,
    *,
    mirrors: Sequence[str],
    timeout: float,
    retries: int,
    backoff: float,
    progress: bool,
) -> int:
    """Fetch `name.gz` from the first mirror that serves it intact; returns attempts made."""
    target = target_dir / f"{name}.gz"
    dead: set[str] = set()
    attempts, last_error = 0, "no mirror tried"
    for round_index in range(retries):
        if round_index:
            time.sleep(backoff * 2 ** (round_index - 1))
        for base in mirrors:
            if base in dead:
                continue
            attempts += 1
            try:
                _fetch_one(_url(base, target.name), target, expected, timeout, progress)
                return attempts
            except _AttemptFailed as failure:
                last_error = str(failure)
                if failure.permanent:
                    dead.add(base)
        if len(dead) == len(mirrors):
            break
    raise _AttemptFailed(f"{attempts} attempts, last: {last_error}")


def download_mnist(
    target_dir: str | Path,
    *,
    mirrors: Sequence[str] | None = None,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 0.5,
    progress: bool = True,
    expected: Mapping[str, str] | None = None,
) -> Path:
    """Download every MNIST file missing from `target_dir`; returns `target_dir`.

    `mirrors` defaults to `$MNIST_MIRRORS` or `MIRRORS`; `expected` (file name ->
    content SHA-256) defaults to `compare.data.MNIST_FILES`. `retries` is the
    number of rounds over the mirrors per file; `progress` prints to stderr
    (a live bar on a terminal, a line per file otherwise).
    """
    from compare import data

    target_dir = Path(target_dir).expanduser()
    expected = dict(data.MNIST_FILES if expected is None else expected)
    mirrors = tuple(configured_mirrors() if mirrors is None else mirrors)
    if retries < 1 or not mirrors:
        raise ValueError("download_mnist needs retries >= 1 and at least one mirror")
    made = [p for p in (target_dir, *target_dir.parents) if not p.exists()]  # deepest first
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = f"cannot create the folder: {error.strerror or error}"
        raise data.DownloadError(_failure_message(target_dir, list(expected), reason)) from None
    try:
        _download_missing(target_dir, expected, mirrors, timeout, retries, backoff, progress)
    except BaseException:  # a failure, Ctrl-C: a first download leaves no empty cache folder
        _remove_if_empty(made)
        raise
    return target_dir


def _remove_if_empty(folders: list[Path]) -> None:
    """Remove the folders this download made (deepest first) while they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty (a file arrived), or gone: keep the rest
            return


def _download_missing(
    target_dir: Path,
    expected: Mapping[str, str],
    mirrors: Sequence[str],
    timeout: float,
    retries: int,
    backoff: float,
    progress: bool,
) -> None:
    """Each file of `expected` missing from `target_dir`, downloaded and verified."""
    from compare import data

    for name, digest in expected.items():
        if data.find_file(target_dir, name) is not None:
            continue
        try:
            download_file(
                name,
                target_dir,
                digest,
                mirrors=mirrors,
                timeout=timeout,
                retries=retries,
                backoff=backoff,
                progress=progress,
            )
        except _AttemptFailed as failure:
            message = _failure_message(target_dir, list(expected), f"{name}.gz: {failure}")
            raise data.DownloadError(message) from None
        except OSError as error:  # the disk, not the network: full, read-only, ...
            reason = f"cannot write {name}.gz: {error.strerror or error}"
            raise data.DownloadError(_failure_message(target_dir, list(expected), reason)) from None
