"""The `serve` page in a real headless Chromium (the Debian package, driven by Playwright;
no browser is downloaded): draw a "1" with the mouse's pointer events and watch both
networks of a real run answer, redraw real MNIST test digits stroke by stroke, upload a
photo of a real MNIST test digit, open a report from the run list, compare runs, switch
to a scratch-only run. Every request that does
not go to the local server is blocked and counted: there must be none.

The stroke-to-answers round trip (performance.now in the page, from the end of the
stroke to both answers painted) is printed; docs/serve.md records it. With
MNIST_COMPARE_SERVE_SCREENSHOT=PATH the page's screenshot is also saved there.
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from serve_helpers import runs_folder, serving
from test_report_browser import chromium

from compare.predict import load_run, predict_images

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]  # fmt: skip
ROUND_TRIPS = 10
REPLAYED = 10  # MNIST test digits redrawn stroke by stroke


def draw_one(page) -> None:
    """A "1": one vertical stroke down the middle of the pad, as pointer events."""
    box = page.locator("#pad").bounding_box()
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + 45)
    page.mouse.down()
    page.mouse.move(x, box["y"] + box["height"] - 45, steps=12)
    page.mouse.up()


def answers(page) -> dict[str, str]:
    """Model name -> the digit its card shows."""
    cards = page.locator(".answer")
    return {
        cards.nth(k).get_attribute("data-model"): cards.nth(k).get_attribute("data-digit")
        for k in range(cards.count())
    }


def wait_until(page, expression: str, seconds: float = 60) -> None:
    """Poll a JS expression from outside the page: the page's Content-Security-Policy
    (no eval) is kept, which Playwright's wait_for_function would need lifted."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.005)


def replay_digit(page, digit: np.ndarray) -> None:
    """Redraw a 28x28 MNIST digit on the pad: one horizontal stroke per run of ink
    (grey level > 127) in each row, scaled to the pad; then wait for the last answer."""
    box = page.locator("#pad").bounding_box()
    step = box["width"] / 28
    for row, line in enumerate(digit > 127):
        columns = np.flatnonzero(line)
        for run in np.split(columns, np.flatnonzero(np.diff(columns) > 1) + 1):
            if run.size == 0:
                continue
            y = box["y"] + (row + 0.5) * step
            page.mouse.move(box["x"] + (run[0] + 0.5) * step, y)
            page.mouse.down()
            page.mouse.move(box["x"] + (run[-1] + 0.5) * step, y)
            page.mouse.up()
    wait_until(page, "window.serveTiming.answered === window.serveTiming.asked")


def stroke_and_wait(page) -> float:
    """Clear, draw a 1, wait until its answers are painted; the round trip in ms."""
    count = page.evaluate("window.serveTiming.samples.length")
    page.click("#clear")
    draw_one(page)
    wait_until(page, f"window.serveTiming.samples.length > {count}")
    return float(page.evaluate("window.serveTiming.lastMs"))


def recognised_photo(run_dir: Path, mnist, folder: Path) -> tuple[Path, int]:
    """A photo of a real MNIST test digit that every model of the run reads correctly."""
    from test_predict import write_photos

    photos = write_photos(mnist, folder, count=20, seed=2)
    results = predict_images(load_run(run_dir), [path for path, _ in photos])
    for (path, label), result in zip(photos, results, strict=True):
        if all(result.digit(name) == label for name in result.probabilities):
            return path, label
    raise AssertionError("the run read none of 20 photos correctly")


@pytest.fixture(scope="module")
def runs_dir(quick_run, scratch_only_run, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("serve-browser") / "runs"
    return runs_folder(root, {"mlp": quick_run, "scratch-1": scratch_only_run})


@pytest.mark.browser
@pytest.mark.mnist
@pytest.mark.slow
@pytest.mark.keras
def test_draw_upload_browse_and_compare_in_chromium(runs_dir, mnist, tmp_path):
    binary = chromium()
    from playwright.sync_api import sync_playwright

    photo, label = recognised_photo(runs_dir / "mlp", mnist, tmp_path)
    requested, blocked = [], []

    def local_only(route) -> None:
        host = urlsplit(route.request.url).hostname
        if route.request.url.startswith("data:") or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with serving(runs_dir, chosen="mlp") as (host, port), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=binary, args=FLAGS)
        context = browser.new_context(viewport={"width": 1250, "height": 1000})
        context.route("**/*", local_only)
        context.on("request", lambda request: requested.append(request.url))
        page = context.new_page()
        page.goto(f"http://{host}:{port}/")
        page.wait_for_selector('body[data-loaded="mlp"]', timeout=120_000)

        # Draw a 1: both networks answer 1, the agreement is stated, the input is shown.
        first = stroke_and_wait(page)
        assert answers(page) == {"scratch": "1", "keras": "1"}
        assert page.locator("#agreement").get_attribute("data-agree") == "true"
        assert "agree" in page.text_content("#agreement")
        assert page.evaluate("document.getElementById('input').naturalWidth") == 140
        assert page.locator("#first-layer .unit img").count() == 6
        assert page.is_visible("#first-layer")
        tops = [card.bounding_box()["y"] for card in page.locator(".answer").all()]
        assert abs(tops[0] - tops[1]) < 2, "the two answers are not side by side"

        times = [first] + [stroke_and_wait(page) for _ in range(ROUND_TRIPS - 1)]
        print(
            f"\nserve round trip, stroke end -> both answers painted, {ROUND_TRIPS} strokes: "
            f"median {statistics.median(times):.1f} ms, min {min(times):.1f}, "
            f"max {max(times):.1f}"
        )
        assert all(0 < ms < 60_000 for ms in times)

        # The page as drawn: not blank.
        shot = tmp_path / "serve.png"
        page.screenshot(path=str(shot), full_page=True)
        if os.environ.get("MNIST_COMPARE_SERVE_SCREENSHOT"):
            shutil.copy(shot, os.environ["MNIST_COMPARE_SERVE_SCREENSHOT"])
        import matplotlib.image

        pixels = matplotlib.image.imread(shot)
        assert float(np.var(pixels[..., :3])) > 1e-3, "the screenshot is blank"
        assert float((pixels[..., :3].mean(axis=2) < 0.5).mean()) > 0.005

        # Replay real MNIST test digits as strokes: both networks name most of them.
        right = {"scratch": 0, "keras": 0}
        for index in range(REPLAYED):
            page.click("#clear")
            replay_digit(page, mnist.test_images[index])
            for model, digit in answers(page).items():
                right[model] += digit == str(mnist.test_labels[index])
        print(f"replayed MNIST test digits named right, of {REPLAYED}: {right}")
        assert min(right.values()) >= REPLAYED - 3, f"{right} of {REPLAYED} replayed digits"

        # Upload a photo of a real MNIST test digit: the same path, the same answers.
        page.click("#clear")
        page.set_input_files("#upload", str(photo))
        page.wait_for_selector(".answer", timeout=60_000)
        assert answers(page) == {"scratch": str(label), "keras": str(label)}

        # The run list, a report opened from it, and the compare view.
        rows = page.locator("#run-table tbody tr")
        assert rows.count() == 2
        with context.expect_page() as opened:
            page.click('tr[data-run="mlp"] a')
        report = opened.value
        report.wait_for_load_state("load")
        assert report.url.endswith("/runs/mlp/report.html")
        images = report.evaluate("Array.from(document.images).map((i) => i.naturalWidth)")
        assert len(images) >= 8 and min(images) > 0
        report.close()

        for box in page.locator(".pick").all():
            box.check()
        page.click("#compare")
        table = page.wait_for_selector("#compare-table")
        heads = [th.text_content() for th in page.locator("#compare-table thead th").all()]
        expected = ["mlp: Scratch (NumPy)", "mlp: Keras", "scratch-1: Scratch (NumPy)"]
        assert sorted(heads[1:]) == sorted(expected)
        assert "test accuracy" in table.text_content()

        # Choosing the scratch-only run makes it the one the canvas asks.
        page.click('tr[data-run="scratch-1"] button')
        page.wait_for_selector('body[data-loaded="scratch-1"]', timeout=60_000)
        stroke_and_wait(page)
        assert list(answers(page)) == ["scratch"]
        assert "Only one network" in page.text_content("#agreement")
        browser.close()

    assert blocked == [], f"requests left localhost: {blocked}"
    assert all(url.startswith(f"http://{host}:{port}/") for url in requested), requested
