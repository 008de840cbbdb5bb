"""The download path against a real HTTP server on 127.0.0.1, serving tiny synthetic MNIST.

Each test scripts what the server answers for each request of a file ("ok",
"500", "corrupt", "garbage", "drop", "slow"; paths outside /mnist/ and /mirror2/
get a 404); the server records every request, so
the tests count retries. The server runs in a daemon thread and is shut down by
the fixture, which joins every handler thread; slow answers sleep 0.6 s.
"""

from __future__ import annotations

import gzip
import http.server
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from compare import data as data_module
from compare.data import DataError, load_mnist, locate_mnist
from compare.download import configured_mirrors, download_mnist
from compare.idx import encode_idx, sha256_hex

NAMES = list(data_module.MNIST_FILES)


def synthetic_mnist(seed: int = 0) -> dict[str, bytes]:
    """IDX content of a tiny MNIST-shaped dataset: 12 train and 5 test images."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(12, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.array([7, 2, 1, 0, 4], dtype=np.uint8),
    }
    return {name: encode_idx(array) for name, array in arrays.items()}


CONTENT = synthetic_mnist()
DIGESTS = {name: sha256_hex(content) for name, content in CONTENT.items()}
ARCHIVES = {f"{name}.gz": gzip.compress(content, mtime=0) for name, content in CONTENT.items()}


class _QuietServer(http.server.ThreadingHTTPServer):
    """Handler threads are joined on close (none outlives its test); a client that hung up
    early (the timeout test) is recorded instead of printed to stderr."""

    daemon_threads = False
    block_on_close = True
    errors: list[str]

    def handle_error(self, request, client_address) -> None:
        import sys

        self.errors.append(repr(sys.exc_info()[1]))


class ScriptedServer:
    """A real HTTP server; `script[file]` lists the answers to successive requests."""

    def __init__(self) -> None:
        self.script: dict[str, list[str]] = defaultdict(list)
        self.requests: list[str] = []
        handler = self._handler_class()
        self.errors: list[str] = []
        self.httpd = _QuietServer(("127.0.0.1", 0), handler)
        self.httpd.errors = self.errors
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def count(self, file_name: str) -> int:
        return sum(path.endswith("/" + file_name) for path in self.requests)

    def _handler_class(self):
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 5  # a stuck client cannot hold a handler thread for long

            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                file_name = self.path.rsplit("/", 1)[-1]
                known_mirror = self.path.startswith(("/mnist/", "/mirror2/"))
                body = ARCHIVES.get(file_name) if known_mirror else None
                if body is None:
                    self.send_error(404)
                    return
                plan = server.script[file_name]
                action = plan.pop(0) if plan else "ok"
                if action == "500":
                    self.send_error(500)
                elif action == "corrupt":  # valid gzip, wrong content
                    self._send(gzip.compress(b"\x00\x00\x08\x01" + b"\x00" * 100, mtime=0))
                elif action == "garbage":  # not gzip at all
                    self._send(b"<html>captive portal</html>")
                elif action == "drop":  # promise the full length, send half, hang up
                    self._send(body[: len(body) // 2], length=len(body))
                    self.close_connection = True
                elif action == "slow":
                    time.sleep(0.6)
                    self._send(body)
                else:
                    self._send(body)

            def _send(self, payload: bytes, length: int | None = None) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(payload) if length is None else length))
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()

        return Handler


@pytest.fixture
def server():
    scripted = ScriptedServer()
    scripted.thread.start()
    try:
        yield scripted
    finally:
        scripted.httpd.shutdown()
        scripted.httpd.server_close()
        scripted.thread.join(timeout=5)


def fetch(target: Path, mirrors, **options) -> Path:
    options = {"timeout": 2.0, "retries": 3, "backoff": 0.0, "progress": False, **options}
    return download_mnist(target, mirrors=mirrors, expected=DIGESTS, **options)


def assert_clean(folder: Path, expected_files: set[str]) -> None:
    """Only complete, correct files are left: no temp files, no bad archives."""
    present = {path.name for path in folder.iterdir()}
    assert present == expected_files
    for name in present:
        assert gzip.decompress((folder / name).read_bytes()) == CONTENT[name.removesuffix(".gz")]


def test_download_success(server, tmp_path):
    target = tmp_path / "cache" / "mnist"
    assert fetch(target, [server.url]) == target
    assert_clean(target, set(ARCHIVES))
    assert len(server.requests) == 4
    fetch(target, [server.url])  # everything present: nothing is fetched again
    assert len(server.requests) == 4


def test_corrupt_body_is_retried_and_never_kept(server, tmp_path):
    server.script["t10k-labels-idx1-ubyte.gz"] = ["corrupt", "garbage"]
    fetch(tmp_path, [server.url])
    assert server.count("t10k-labels-idx1-ubyte.gz") == 3
    assert_clean(tmp_path, set(ARCHIVES))


def test_corrupt_body_every_time_leaves_nothing(server, tmp_path):
    server.script["train-labels-idx1-ubyte.gz"] = ["corrupt"] * 3
    with pytest.raises(DataError) as caught:
        fetch(tmp_path, [server.url])
    message = str(caught.value)
    assert "3 attempts" in message and "is not MNIST's" in message
    assert server.count("train-labels-idx1-ubyte.gz") == 3
    assert_clean(tmp_path, {"train-images-idx3-ubyte.gz"})  # fetched before the failure


def test_http_500_then_success_on_retry(server, tmp_path):
    server.script["train-images-idx3-ubyte.gz"] = ["500", "500"]
    started = time.monotonic()
    fetch(tmp_path, [server.url], backoff=0.05)
    assert server.count("train-images-idx3-ubyte.gz") == 3
    assert time.monotonic() - started >= 0.05 + 0.1  # backoff 0.05, then 0.1
    assert_clean(tmp_path, set(ARCHIVES))


def test_second_mirror_serves_when_the_first_fails(server, tmp_path):
    server.script["train-images-idx3-ubyte.gz"] = ["500"]
    fetch(tmp_path, [server.url, server.url.replace("/mnist/", "/mirror2/")])
    assert [p for p in server.requests if "train-images" in p] == [
        "/mnist/train-images-idx3-ubyte.gz",
        "/mirror2/train-images-idx3-ubyte.gz",
    ]
    assert len(server.requests) == 5
    assert_clean(tmp_path, set(ARCHIVES))


def test_a_404_mirror_is_not_asked_again(server, tmp_path):
    broken = server.url.replace("/mnist/", "/gone/")
    server.script["train-images-idx3-ubyte.gz"] = ["500"]
    fetch(tmp_path, [broken, server.url])
    train_images = [p for p in server.requests if "train-images" in p]
    assert train_images == [
        "/gone/train-images-idx3-ubyte.gz",  # round 1: 404, mirror dropped for this file
        "/mnist/train-images-idx3-ubyte.gz",  # round 1: 500
        "/mnist/train-images-idx3-ubyte.gz",  # round 2: ok
    ]
    assert_clean(tmp_path, set(ARCHIVES))


def test_every_mirror_404_stops_after_one_round(server, tmp_path):
    gone = [server.url.replace("/mnist/", f"/gone{i}/") for i in range(2)]
    with pytest.raises(DataError, match="HTTP 404"):
        fetch(tmp_path, gone, retries=5)
    assert len(server.requests) == 2
    assert list(tmp_path.iterdir()) == []


def test_connection_dropped_mid_file(server, tmp_path):
    server.script["train-images-idx3-ubyte.gz"] = ["drop", "drop", "drop"]
    with pytest.raises(DataError) as caught:
        fetch(tmp_path, [server.url])
    message = str(caught.value)
    size = len(ARCHIVES["train-images-idx3-ubyte.gz"])
    assert f"connection dropped after {size // 2} of {size} bytes" in message
    assert server.count("train-images-idx3-ubyte.gz") == 3
    assert list(tmp_path.iterdir()) == []  # no partial file, no temp file
    server.script["train-images-idx3-ubyte.gz"] = ["drop"]
    fetch(tmp_path, [server.url])
    assert_clean(tmp_path, set(ARCHIVES))


def test_timeout_is_short_and_retried(server, tmp_path):
    server.script["t10k-images-idx3-ubyte.gz"] = ["slow"]
    started = time.monotonic()
    fetch(tmp_path, [server.url], timeout=0.2)
    assert time.monotonic() - started < 0.6  # did not wait for the slow answer
    assert server.count("t10k-images-idx3-ubyte.gz") == 2
    assert_clean(tmp_path, set(ARCHIVES))


def test_offline_gives_one_line_naming_files_and_folder(tmp_path):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    target = tmp_path / "cache"
    with pytest.raises(DataError) as caught:
        fetch(target, [dead, dead + "other/"], retries=2)
    message = str(caught.value)
    assert "\n" not in message and "could not download MNIST" in message
    assert all(f"{name}.gz" in message for name in NAMES)
    assert f"in {target} " in message
    assert not target.exists()  # the folder it made, empty, is gone (tmp_path stays)
    assert tmp_path.is_dir()


def test_progress_lines_on_a_non_tty_stderr(server, tmp_path, capsys):
    fetch(tmp_path, [server.url], progress=True)
    err = capsys.readouterr().err
    assert err.count("downloading ") == 4 and err.count("downloaded ") == 4
    assert "\r" not in err  # no live bar when stderr is not a terminal


def test_mirrors_from_environment(monkeypatch):
    monkeypatch.delenv("MNIST_MIRRORS", raising=False)
    assert configured_mirrors()[0] == "https://storage.googleapis.com/cvdf-datasets/mnist/"
    assert "ossci-datasets.s3.amazonaws.com" in configured_mirrors()[1]
    monkeypatch.setenv("MNIST_MIRRORS", " http://a/x/ , ,http://b/ ")
    assert configured_mirrors() == ("http://a/x/", "http://b/")
    monkeypatch.setenv("MNIST_MIRRORS", " , ")
    with pytest.raises(DataError, match="holds no URL"):
        configured_mirrors()


def test_load_mnist_downloads_into_the_cache(server, tmp_path, monkeypatch, capsys):
    """End to end: nothing local -> locate_mnist downloads via $MNIST_MIRRORS -> verified load."""
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("MNIST_MIRRORS", server.url)
    monkeypatch.setattr(data_module, "MNIST_FILES", DIGESTS)
    data = load_mnist()
    cache = tmp_path / "mnist-compare" / "mnist"
    assert data.source == cache.resolve() and data.verified
    assert data.train_images.shape == (12, 28, 28) and list(data.test_labels) == [7, 2, 1, 0, 4]
    assert len(server.requests) == 4
    assert capsys.readouterr().err.count("downloaded ") == 4
    assert locate_mnist() == cache and len(server.requests) == 4  # cached now
