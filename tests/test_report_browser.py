"""Open report.html as a reader would: in a real headless Chromium, from disk, with the
network cut off. Every figure must decode and the page must not render blank.

On CI (CI=true) a missing Chromium is a failure, not a skip: install the Debian
package `chromium`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from reports import render_report

# Counts the images once everything has loaded and writes the result into the DOM,
# which --dump-dom then prints. Injected into a copy: the report itself has no script.
PROBE = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const broken = images.filter((img) => !img.complete || img.naturalWidth === 0).length;
  document.body.setAttribute("data-images", String(images.length));
  document.body.setAttribute("data-broken", String(broken));
  document.body.setAttribute("data-probe", "done");
});
</script>"""


def chromium() -> str:
    """The Chromium binary; fails on CI, skips locally, when it is not installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    message = "headless Chromium not found: install it with `apt-get install -y chromium`"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves: no network at all
        "--hide-scrollbars", "--virtual-time-budget=10000",
    ]  # fmt: skip
    return subprocess.run(
        [binary, *flags, *args], capture_output=True, text=True, timeout=180, check=False
    )


@pytest.mark.browser
@pytest.mark.mnist
@pytest.mark.slow
@pytest.mark.keras
def test_report_renders_in_headless_chromium(quick_run, tmp_path):
    binary = chromium()
    run = Path(shutil.copytree(quick_run, tmp_path / "run"))
    html_path = render_report(run)["html"]
    html = html_path.read_text(encoding="utf-8")
    expected_images = html.count("<img ")
    assert expected_images >= 8

    probed = html_path.with_name("probe.html")
    probed.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = run_chromium(binary, tmp_path / "profile-dom", "--dump-dom", probed.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    body = re.search(r"<body[^>]*>", done.stdout)
    assert body, "Chromium printed no DOM"
    attributes = dict(re.findall(r'data-(\w+)="([^"]*)"', body.group(0)))
    assert attributes.get("probe") == "done", f"the load event never fired: {body.group(0)}"
    assert int(attributes["images"]) == expected_images
    assert attributes["broken"] == "0", f"{attributes['broken']} figure(s) failed to render"

    shot = tmp_path / "report.png"
    done = run_chromium(
        binary, tmp_path / "profile-shot", "--window-size=1280,2400", f"--screenshot={shot}",
        html_path.as_uri(),
    )  # fmt: skip
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[0] >= 2000 and pixels.shape[1] >= 1200
    assert float(np.var(pixels[..., :3])) > 1e-3, "the screenshot is blank"
    # Not just the background: a good share of the page is drawn (text, tables, figures).
    assert float((pixels[..., :3].mean(axis=2) < 0.5).mean()) > 0.01
