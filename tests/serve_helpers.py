"""Helpers of the `serve` tests: a runs folder of real run copies, a real server on a free
port in a thread, and raw HTTP requests (http.client sends paths as given, unnormalized)."""

from __future__ import annotations

import contextlib
import http.client
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from compare.serve.app import App, chosen_run, make_server, static_files
from compare.serve.engine import Engine


def runs_folder(root: Path, runs: dict[str, Path]) -> Path:
    """`root` holding a copy of each run folder under its new name."""
    root.mkdir(parents=True, exist_ok=True)
    for name, source in runs.items():
        shutil.copytree(source, root / name)
    return root


@contextlib.contextmanager
def serving(runs_dir: Path, chosen: str | None = None) -> Iterator[tuple[str, int]]:
    """A real server on 127.0.0.1 and a free port, in a thread, asking run `chosen` (default
    the newest, as the command does); yields (host, port)."""
    app = App(runs_dir, chosen_run(runs_dir, chosen), Engine(), static_files(), quiet=True)
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_address[:2]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def request(
    address: tuple[str, int], method: str, path: str, body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, dict[str, str]]:  # fmt: skip
    """(status, body, headers) of one request, the path sent exactly as given."""
    connection = http.client.HTTPConnection(*address, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        connection.close()


def get_json(address: tuple[str, int], path: str) -> tuple[int, dict]:
    status, body, _ = request(address, "GET", path)
    return status, json.loads(body)


def post_image(address: tuple[str, int], run: str, data: bytes) -> tuple[int, dict]:
    status, body, _ = request(address, "POST", f"/api/predict?run={run}", body=data)
    return status, json.loads(body)


def drawn_one() -> bytes:
    """A PNG like the canvas sends: a black vertical stroke on white, 280x280."""
    image = np.full((280, 280), 255, np.uint8)
    cv2.line(image, (140, 40), (140, 240), 0, 18)
    return cv2.imencode(".png", image)[1].tobytes()
