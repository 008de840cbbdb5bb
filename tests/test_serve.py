"""`mnist-compare serve` over real HTTP: a real server on a free port, real run folders
(the scratch network trained on real MNIST), requests sent byte for byte.

Security: path traversal (plain, URL-encoded, double-encoded, absolute, through a
symlink), the body limit, the pixel limit, bad images, no 500 with a traceback, 50
predictions at once, SIGTERM and Ctrl-C with the port released; and no TensorFlow for a
scratch-only run.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from serve_helpers import drawn_one, get_json, post_image, request, runs_folder, serving

from compare.predict import load_run, predict_images

pytestmark = pytest.mark.mnist

SECRET = "top secret, outside the runs folder"


@pytest.fixture(scope="module")
def runs_dir(scratch_only_run, tmp_path_factory) -> Path:
    """runs/ with two complete runs, an unfinished one, a hidden one, a symlinked run
    folder and a symlinked file that point outside, and a secret file beside runs/."""
    root = tmp_path_factory.mktemp("serve")
    runs = runs_folder(root / "runs", {"alpha": scratch_only_run, "beta": scratch_only_run})
    (root / "secret.html").write_text(SECRET)
    (runs / "unfinished").mkdir()
    (runs / "unfinished" / "config.toml").write_text("")
    runs_folder(runs, {".hidden": scratch_only_run})
    outside = runs_folder(root / "elsewhere", {"outside": scratch_only_run}) / "outside"
    (outside / "report.html").write_text(SECRET)
    (runs / "linked").symlink_to(outside, target_is_directory=True)
    (runs / "alpha" / "escape.html").symlink_to(root / "secret.html")
    summary = json.loads((runs / "beta" / "summary.json").read_text())
    summary["finished_at"] = "2999-01-01T00:00:00+00:00"  # the newest
    (runs / "beta" / "summary.json").write_text(json.dumps(summary))
    return runs


@pytest.fixture(scope="module")
def server(runs_dir):
    with serving(runs_dir) as address:
        yield address


def test_run_list_shows_complete_runs_newest_first(server, runs_dir):
    status, reply = get_json(server, "/api/runs")
    assert status == 200
    assert [run["name"] for run in reply["runs"]] == ["beta", "alpha"]
    assert reply["chosen"] == "beta"
    alpha = reply["runs"][1]
    summary = json.loads((runs_dir / "alpha" / "summary.json").read_text())
    assert alpha["architecture"] == "784-128-10 relu/crossentropy float32"
    assert alpha["models"][0]["name"] == "scratch" and alpha["report"] is True
    assert alpha["models"][0]["test_accuracy"] == summary["models"]["scratch"]["test_accuracy"]


def test_compare_reads_headline_numbers_from_summary(server, runs_dir):
    status, reply = get_json(server, "/api/compare?run=alpha&run=beta")
    assert status == 200 and [run["name"] for run in reply["runs"]] == ["alpha", "beta"]
    summary = json.loads((runs_dir / "alpha" / "summary.json").read_text())
    numbers = reply["runs"][0]["numbers"]["scratch"]
    for key in ("test_accuracy", "test_loss", "train_seconds", "epochs_completed"):
        assert numbers[key] == summary["models"]["scratch"][key]
    assert reply["runs"][0]["train_images"] == 2000 and reply["runs"][0]["epochs"] == 1
    assert get_json(server, "/api/compare?run=alpha&run=nope")[0] == 404


def test_the_page_and_the_report_are_served(server):
    status, body, headers = request(server, "GET", "/")
    assert status == 200 and b'<canvas id="pad"' in body
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    for name in ("index.html", "app.js", "style.css"):  # no CDN, no web font, no network
        status, body, headers = request(server, "GET", f"/static/{name}")
        assert status == 200 and b"http:" not in body and b"https:" not in body
        assert b"@import" not in body and b"@font-face" not in body
    assert headers["Content-Type"].startswith("text/css")
    status, body, _ = request(server, "GET", "/runs/alpha/report.html")
    assert status == 200 and b"<html" in body[:300].lower()
    assert request(server, "GET", "/runs/alpha/summary.json")[0] == 200


TRAVERSALS = [
    "/runs/alpha/../../secret.html",
    "/runs/../secret.html",
    "/runs/alpha/%2e%2e/%2e%2e/secret.html",
    "/runs/alpha/%2E%2E%2F%2E%2E%2Fsecret.html",
    "/runs/alpha/%252e%252e/%252e%252e/secret.html",
    "/runs/alpha/%25252e%25252e/secret.html",
    "/runs/alpha/..%5c..%5csecret.html",
    "/runs//etc/passwd",
    "/runs/%2Fetc%2Fpasswd",
    "/runs/alpha/%2Fetc%2Fpasswd",
    "/runs/alpha//etc/passwd",
    "/runs/alpha/./summary.json",
    "/runs/alpha/escape.html",  # a symlink to a file outside the run folder
    "/runs/linked/report.html",  # a symlinked run folder outside --runs-dir
    "/runs/.hidden/report.html",
    "/runs/unfinished/config.toml",
    "/runs/alpha/scratch.npz",  # not a file the page needs
    "/runs/alpha/%00report.html",
    "/runs/alpha/%ff%fe.html",
    "/static/../../secret.html",
    "/static/%2e%2e/app.js",
    "//etc/passwd",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_is_refused_with_404(server, path):
    status, body, headers = request(server, "GET", path)
    assert status == 404, path
    assert SECRET.encode() not in body and b"root:" not in body
    assert headers["Content-Type"] == "application/json" and "error" in json.loads(body)


def test_bad_images_get_a_json_error(server, tmp_path):
    from test_digits import png_header_only

    png_header_only(tmp_path / "huge.png", 12_000, 12_000)
    blank = tmp_path / "blank.png"
    import cv2

    cv2.imwrite(str(blank), np.full((80, 80), 255, np.uint8))
    cases = {
        b"not an image": "not an image OpenCV can read",
        b"": "the file is empty",
        (tmp_path / "huge.png").read_bytes(): "over the 50 megapixel limit",
        blank.read_bytes(): "no ink found",
    }
    for data, why in cases.items():
        status, reply = post_image(server, "alpha", data)
        assert status == 400 and why in reply["error"] and "\n" not in reply["error"]
    assert post_image(server, "nope", drawn_one())[0] == 404


def test_body_limit_refuses_before_reading(server):
    import http.client

    connection = http.client.HTTPConnection(*server, timeout=30)
    connection.putrequest("POST", "/api/predict?run=alpha")
    connection.putheader("Content-Length", str(5 * 2**20 + 1))
    connection.endheaders()  # the body is never sent: the server must not wait for it
    response = connection.getresponse()
    assert response.status == 413 and "5 MB limit" in json.loads(response.read())["error"]
    connection.close()
    connection = http.client.HTTPConnection(*server, timeout=30)
    connection.putrequest("POST", "/api/predict?run=alpha")  # no Content-Length at all
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 411 and b"Content-Length" in response.read()
    connection.close()


ODD_REQUESTS = [
    ("GET", "/api/load?run=%ff%fe"),
    ("GET", "/api/load?run=../alpha"),
    ("GET", "/api/compare"),
    ("GET", "/api/compare?run=alpha&run=%00"),
    ("POST", "/api/predict?run=alpha&run=beta&junk=%zz"),
    ("POST", "/api/other"),
    ("GET", "/api/runs?x=" + "a" * 4000),
    ("DELETE", "/runs/alpha/report.html"),
]


@pytest.mark.parametrize(("method", "path"), ODD_REQUESTS)
def test_odd_requests_never_get_a_500_or_a_traceback(server, method, path):
    status, body, _ = request(server, method, path, body=b"x" if method == "POST" else None)
    assert 400 <= status < 500 or status in (200, 501), (status, body[:200])
    assert b"Traceback" not in body and b'File "' not in body


def test_a_damaged_model_file_is_a_json_error(scratch_only_run, tmp_path):
    runs = runs_folder(tmp_path / "runs", {"broken": scratch_only_run})
    (runs / "broken" / "scratch.npz").write_bytes(b"PK\x03\x04 damaged")
    with serving(runs) as address:
        status, reply = post_image(address, "broken", drawn_one())
    assert status == 409 and "cannot load" in reply["error"] and "re-run" in reply["error"]


def test_answers_match_predict_and_the_first_layer(server, runs_dir, tmp_path):
    image = tmp_path / "one.png"
    image.write_bytes(drawn_one())
    status, reply = post_image(server, "alpha", image.read_bytes())
    assert status == 200
    expected = predict_images(load_run(runs_dir / "alpha"), [image])[0]
    (answer,) = reply["answers"]
    assert answer["digit"] == expected.digit("scratch") and reply["agree"] is None
    want = expected.probabilities["scratch"]
    np.testing.assert_allclose(answer["probabilities"], want, atol=1e-5)
    assert reply["input"].startswith("data:image/png;base64,")
    # "what the first layer sees": the units with the largest x W + b, from the run's weights
    run = load_run(runs_dir / "alpha")
    with np.load(runs_dir / "alpha" / "scratch.npz", allow_pickle=False) as weights:
        W, b = weights["w0"].astype(np.float64), weights["w1"].astype(np.float64)
    Z = (run.model_input(expected.pixels).astype(np.float64) @ W + b)[0]  # (128,)
    units = reply["first_layer"]["units"]
    assert [unit["unit"] for unit in units] == list(np.argsort(-Z, kind="stable")[:6])
    assert units[0]["activation"] == pytest.approx(Z.max(), abs=1e-3)


def test_fifty_predictions_at_once_are_each_answered_correctly(server, runs_dir, mnist, tmp_path):
    from test_predict import write_photos

    photos = write_photos(mnist, tmp_path, count=50, seed=1)
    expected = predict_images(load_run(runs_dir / "alpha"), [path for path, _ in photos])
    start = threading.Barrier(50)

    def ask(path: Path) -> tuple[int, dict]:
        data = path.read_bytes()
        start.wait(timeout=30)  # all 50 requests leave together
        return post_image(server, "alpha", data)

    with ThreadPoolExecutor(max_workers=50) as pool:
        replies = list(pool.map(ask, [path for path, _ in photos]))
    for (status, reply), want in zip(replies, expected, strict=True):
        assert status == 200, reply
        assert reply["answers"][0]["digit"] == want.digit("scratch")
        np.testing.assert_allclose(
            reply["answers"][0]["probabilities"], want.probabilities["scratch"], atol=1e-5
        )


NO_TF = """
import json, sys, urllib.request
from pathlib import Path
sys.path.insert(0, {tests!r})
from serve_helpers import drawn_one, serving
with serving(Path({runs!r})) as (host, port):
    base = f"http://{{host}}:{{port}}"
    urllib.request.urlopen(base + "/api/runs").read()
    urllib.request.urlopen(base + "/api/load?run=alpha").read()
    request = urllib.request.Request(base + "/api/predict?run=alpha", data=drawn_one())
    reply = json.loads(urllib.request.urlopen(request).read())
tf = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
print(json.dumps({{"digit": reply["answers"][0]["digit"], "tf": tf}}))
"""


def test_a_scratch_only_run_never_imports_tensorflow(runs_dir):
    script = NO_TF.format(tests=str(Path(__file__).parent), runs=str(runs_dir))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(result["digit"], int) and result["tf"] == []


CLI = [sys.executable, "-c", "import sys; from compare.cli import main; sys.exit(main())"]


def _start(runs_dir: Path, *extra: str) -> tuple[subprocess.Popen, int]:
    command = [*CLI, "serve", "--runs-dir", str(runs_dir)]
    process = subprocess.Popen(
        [*command, "--port", "0", "--quiet", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = process.stdout.readline()
    assert line.startswith("serving http://"), (line, process.stderr.read())
    return process, int(line.split("/")[2].split(":")[1])


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_stop_cleanly_and_release_the_port(runs_dir, stop):
    process, port = _start(runs_dir)
    try:
        status, reply = get_json(("127.0.0.1", port), "/api/runs")
        assert status == 200 and reply["runs"]
        process.send_signal(stop)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    err = process.stderr.read()
    assert "stopped" in err and "Traceback" not in err
    with socket.socket() as probe:  # the port is free again: a new server can listen on it
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do
        probe.bind(("127.0.0.1", port))
        probe.listen()


def test_host_0000_warns_and_bad_arguments_are_one_line(runs_dir, tmp_path):
    process, _ = _start(runs_dir, "--host", "0.0.0.0")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    warning = [line for line in process.stderr.read().splitlines() if "warning" in line]
    assert len(warning) == 1 and "reachable from the network" in warning[0]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    busy = str(taken.getsockname()[1])
    for argv, why in (
        (["--runs-dir", str(tmp_path / "none")], "is not a folder"),
        (["--runs-dir", str(runs_dir), "--run", "nope"], "no complete run of that name"),
        (["--runs-dir", str(runs_dir), "--port", busy], "choose another --port"),
    ):
        done = subprocess.run(
            [*CLI, "serve", *argv],
            capture_output=True, text=True, timeout=60, check=False, env=env,
        )  # fmt: skip
        assert done.returncode == 2 and why in done.stderr
        assert done.stderr.strip().count("\n") == 0
    taken.close()


def test_a_run_name_with_a_space_and_a_colon_serves_its_report(scratch_only_run, tmp_path):
    runs = runs_folder(tmp_path / "runs", {"run 12:30": scratch_only_run})
    with serving(runs) as address:
        status, body, _ = request(address, "GET", "/runs/run%2012%3A30/report.html")
        assert status == 200 and b"<html" in body[:300].lower()
        assert get_json(address, "/api/runs")[1]["chosen"] == "run 12:30"


def test_a_port_out_of_range_is_a_one_line_usage_error(capsys):
    from compare.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["serve", "--port", "70000"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "--port must be a whole number from 0 to 65535, got 70000" in err


def test_the_run_list_rereads_a_summary_only_when_it_changes(scratch_only_run, tmp_path):
    """summary.json is parsed once per change, not once per request; a rewritten one
    (a run re-done with --overwrite, an interrupted one) shows at once."""
    from compare.serve import runs as serve_runs

    runs = runs_folder(tmp_path / "runs", {"alpha": scratch_only_run, "beta": scratch_only_run})
    parsed = []
    real_read = serve_runs.read_summary
    serve_runs.read_summary = lambda folder: parsed.append(folder.name) or real_read(folder)
    try:
        assert [run.name for run in serve_runs.find_runs(runs)] == ["beta", "alpha"]
        assert sorted(parsed) == ["alpha", "beta"]
        serve_runs.find_runs(runs)
        assert serve_runs.run_named(runs, "alpha") is not None
        assert sorted(parsed) == ["alpha", "beta"]  # nothing changed: nothing re-read
        summary_file = runs / "alpha" / "summary.json"
        summary = json.loads(summary_file.read_text())
        summary["status"] = "interrupted"
        temp = summary_file.with_suffix(".tmp")
        temp.write_text(json.dumps(summary))
        temp.replace(summary_file)  # as a run writes it
        assert [run.name for run in serve_runs.find_runs(runs)] == ["beta"]
        assert sorted(parsed) == ["alpha", "alpha", "beta"]
    finally:
        serve_runs.read_summary = real_read


def test_a_cnn_run_shows_the_feature_maps_of_its_first_conv_layer(mnist_dir, tmp_path):
    """For a CNN the panel shows the first Conv2D's filters whose feature map of the
    drawing peaks highest; checked against the convolution written as loops here."""
    from compare.cli import main

    out = tmp_path / "runs" / "cnn"
    argv = ["run", "--data-dir", str(mnist_dir), "--models", "scratch", "--epochs", "1",
            "--layers", "conv4x3,relu,pool2,flatten,dense10", "--limit-train", "500",
            "--val-size", "500", "--no-report", "--quiet", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    image = tmp_path / "one.png"
    image.write_bytes(drawn_one())
    with serving(out.parent) as address:
        status, reply = post_image(address, "cnn", image.read_bytes())
    assert status == 200, reply
    first = reply["first_layer"]
    assert first["measure"] == "max Z" and "Conv2D" in first["note"]
    x = load_run(out).model_input(predict_images(load_run(out), [image])[0].pixels)
    x = x.astype(np.float64).reshape(28, 28)
    with np.load(out / "scratch.npz", allow_pickle=False) as weights:
        W, b = weights["w0"].astype(np.float64), weights["w1"].astype(np.float64)  # (3,3,1,4)
    peaks = [max(float(np.sum(x[i : i + 3, j : j + 3] * W[:, :, 0, f]) + b[f])
                 for i in range(26) for j in range(26)) for f in range(4)]  # fmt: skip
    units = first["units"]
    assert [unit["unit"] for unit in units] == list(np.argsort(-np.array(peaks), kind="stable"))
    assert [unit["activation"] for unit in units] == pytest.approx(sorted(peaks)[::-1], abs=1e-3)
    assert all(unit["image"].startswith("data:image/png;base64,") for unit in units)
