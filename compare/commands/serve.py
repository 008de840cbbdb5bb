"""`mnist-compare serve`: a local web page to draw a digit and watch both networks answer,
and to browse and compare the runs under --runs-dir (compare/serve/, docs/serve.md).

It binds to 127.0.0.1 unless told otherwise, prints its URL, and runs until Ctrl-C or
SIGTERM, which close the listening socket (the port is free again) and exit 0.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path

from compare.cli import int_at_least
from scratch.errors import must_be


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of `mnist-compare serve`."""
    parser.add_argument(
        "--runs-dir", default="runs", metavar="DIR", help="the folder of run folders (default runs)"
    )
    parser.add_argument(
        "--run", metavar="RUN", help="the run the canvas asks first (default: the newest)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=port_number, default=8000, help="port (default 8000; 0: any free port)"
    )
    parser.add_argument("--open", action="store_true", help="open the page in a web browser")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 to 65535 (0: any free port)."""
    port = int_at_least(0)(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"{must_be('a whole number', 0, 65535)}, got {port}")
    return port


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    from compare.cli import CliError
    from compare.runguard import interrupt_on_sigterm
    from compare.serve.app import App, chosen_run, make_server, static_files
    from compare.serve.engine import Engine

    runs_dir = Path(args.runs_dir).expanduser()
    if not runs_dir.is_dir():
        raise CliError(
            f"--runs-dir {runs_dir} is not a folder; give the folder your runs are in "
            "(mnist-compare run --out DIR/NAME)"
        )
    chosen = chosen_run(runs_dir, args.run)
    if args.run is not None and chosen is None:
        raise CliError(f"--run {args.run}: no complete run of that name in {runs_dir}")
    app = App(runs_dir, chosen, Engine(), static_files(), quiet=args.quiet)
    try:
        server = make_server(args.host, args.port, app)
    except OSError as error:
        raise CliError(
            f"cannot listen on {args.host}:{args.port} ({error.strerror or error}); "
            "choose another --port (0: any free port)"
        ) from None
    with interrupt_on_sigterm():  # before the URL is printed: a client may stop us at once
        try:
            _announce(args, server.server_address[:2], runs_dir, chosen)
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    print("mnist-compare serve: stopped", file=sys.stderr)
    return 0


def _announce(args: argparse.Namespace, address: tuple, runs_dir: Path, chosen: str | None) -> None:
    """The URL on stdout (and the browser with --open); warnings on stderr."""
    host, port = address
    shown = f"[{host}]" if ":" in str(host) else host
    if not _is_loopback(args.host):
        print(
            f"mnist-compare serve: warning: bound to {args.host}, the page and your runs "
            "are reachable from the network; use --host 127.0.0.1 to keep them local",
            file=sys.stderr,
        )
    if chosen is None:
        print(f"mnist-compare serve: note: no complete run in {runs_dir} yet", file=sys.stderr)
    print(f"serving http://{shown}:{port}/  (runs: {runs_dir}; Ctrl-C stops)", flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown}:{port}/")
