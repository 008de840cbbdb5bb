"""The HTTP side of `serve`: the standard library's ThreadingHTTPServer and one handler.

Routes (a handful, so no web framework):
  GET  /                         the page (package data: compare/serve/static/)
  GET  /static/NAME              the page's own JS and CSS, by exact name
  GET  /api/runs                 every complete run, newest first, and the chosen one
  GET  /api/load?run=NAME        load a run's models (TensorFlow only for a Keras run)
  GET  /api/compare?run=A&run=B  headline numbers of several runs, from summary.json
  POST /api/predict?run=NAME     body: one image file (PNG from the canvas, or an upload)
  GET  /runs/NAME/PATH           a file of a run folder (report.html, figures, ...)

Every error is a JSON `{"error": "..."}` with a 4xx status; an unexpected failure is a
500 with a one-line message, never a traceback. Request bodies over MAX_BODY are
refused before they are read.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from compare.serve.engine import Engine, RunError
from compare.serve.runs import find_runs, run_file, run_named

MAX_BODY = 5 * 2**20  # bytes: an uploaded photo, far more than a drawing needs
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# The page loads nothing but its own files: no CDN, no font, no network.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# A run's report is self-contained HTML without scripts.
REPORT_POLICY = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"


def static_files() -> dict[str, tuple[bytes, str]]:
    """name -> (content, type) of every file in compare/serve/static, read once."""
    folder = resources.files("compare.serve") / "static"
    return {
        entry.name: (entry.read_bytes(), STATIC_TYPES[Path(entry.name).suffix])
        for entry in folder.iterdir()
        if Path(entry.name).suffix in STATIC_TYPES
    }


@dataclass
class App:
    """What the handler serves: the runs folder, the chosen run, the model cache."""

    runs_dir: Path
    chosen: str | None
    engine: Engine
    static: dict[str, tuple[bytes, str]]
    quiet: bool = False


class HttpError(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


class Handler(BaseHTTPRequestHandler):
    server_version = "mnist-compare"
    server: Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._respond(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._respond(self._post)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if not self.server.app.quiet:
            sys.stderr.write(f"mnist-compare serve: {format % args}\n")

    def _respond(self, route) -> None:
        try:
            route(urlsplit(self.path))
        except HttpError as error:
            self._json({"error": str(error)}, error.status)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page went away (a newer drawing replaced this request)
        except Exception as error:  # noqa: BLE001 - a one-line 500, never a traceback
            line = str(error).splitlines()[0] if str(error) else ""
            print(f"mnist-compare serve: error: {type(error).__name__}: {line}", file=sys.stderr)
            self._json({"error": f"internal error ({type(error).__name__})"}, 500)

    def _get(self, url) -> None:
        app, query = self.server.app, parse_qs(url.query)
        if url.path in ("/", "/index.html"):
            self._static("index.html")
        elif url.path.startswith("/static/"):
            self._static(url.path.removeprefix("/static/"))
        elif url.path == "/api/runs":
            runs = [run.listing() for run in find_runs(app.runs_dir)]
            self._json({"runs": runs, "chosen": app.chosen, "runs_dir": str(app.runs_dir)})
        elif url.path == "/api/load":
            self._json(self._loaded(query).describe())
        elif url.path == "/api/compare":
            names = query.get("run", [])
            runs = [run_named(app.runs_dir, name) for name in names]
            if not names or None in runs:
                raise HttpError(HTTPStatus.NOT_FOUND, "give complete runs: ?run=A&run=B")
            self._json({"runs": [run.headline() for run in runs if run]})
        elif url.path.startswith("/runs/"):
            found = run_file(app.runs_dir, url.path.removeprefix("/runs/"))
            if found is None:
                raise HttpError(HTTPStatus.NOT_FOUND, "no such file in a run folder")
            path, content_type = found
            self._send(path.read_bytes(), content_type, REPORT_POLICY)
        else:
            raise HttpError(HTTPStatus.NOT_FOUND, f"no page {url.path}")

    def _post(self, url) -> None:
        if url.path != "/api/predict":
            raise HttpError(HTTPStatus.NOT_FOUND, f"no page {url.path}")
        body = self._body()
        loaded = self._loaded(parse_qs(url.query))
        started = time.perf_counter()
        name = self.headers.get("X-Image-Name") or "drawing"
        answer = loaded.answer(body, name[:100])
        if "error" in answer:
            raise HttpError(HTTPStatus.BAD_REQUEST, str(answer["error"]))
        answer["server_ms"] = round((time.perf_counter() - started) * 1000, 2)
        self._json(answer)

    def _loaded(self, query: dict[str, list[str]]):
        app = self.server.app
        name = (query.get("run") or [app.chosen or ""])[0]
        info = run_named(app.runs_dir, name)
        if info is None:
            raise HttpError(HTTPStatus.NOT_FOUND, f"no complete run {name!r} in {app.runs_dir}")
        try:
            return app.engine.loaded(info)
        except RunError as error:
            raise HttpError(HTTPStatus.CONFLICT, str(error)) from None

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding") or length is None:
            raise HttpError(HTTPStatus.LENGTH_REQUIRED, "send the image with a Content-Length")
        if not length.isdigit():
            raise HttpError(HTTPStatus.BAD_REQUEST, "Content-Length is not a number")
        if int(length) > MAX_BODY:
            self.close_connection = True  # the unread body must not be taken as a request
            raise HttpError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the image is {int(length):,} bytes, over the {MAX_BODY // 2**20} MB limit; "
                "crop or shrink it",
            )
        body = self.rfile.read(int(length))
        if len(body) != int(length):
            raise HttpError(HTTPStatus.BAD_REQUEST, "the request body ended early")
        return body

    def _static(self, name: str) -> None:
        found = self.server.app.static.get(name)
        if found is None:
            raise HttpError(HTTPStatus.NOT_FOUND, f"no page file {name}")
        self._send(found[0], found[1], PAGE_POLICY)

    def _json(self, value: Any, status: int = 200) -> None:
        self._send(json.dumps(value).encode(), "application/json", PAGE_POLICY, status)

    def _send(self, body: bytes, content_type: str, policy: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", policy)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    """Threads per request (daemon: they never hold up the exit); a backlog big enough for
    a burst of predictions."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: App) -> None:
        self.app = app
        super().__init__(address, Handler)


def make_server(host: str, port: int, app: App) -> Server:
    """Bind (port 0: any free port); OSError when the address is taken or unknown."""
    return Server((host, port), app)


def chosen_run(runs_dir: Path, wanted: str | None) -> str | None:
    """--run NAME (a run folder under --runs-dir, or its path), else the newest run."""
    runs = find_runs(runs_dir)
    if wanted is None:
        return runs[0].name if runs else None
    name = Path(wanted).name if Path(wanted).resolve().parent == runs_dir.resolve() else wanted
    if not any(run.name == name for run in runs):
        return None
    return name
