"""The report of a real sweep (both models, Keras included): `mnist-compare report
SWEEP_DIR` writes report.md and a self-contained report.html, which renders in headless
Chromium with every figure decoded."""

from __future__ import annotations

import re

import numpy as np
import pytest
from test_report_browser import PROBE, chromium, run_chromium

from compare.cli import main

pytestmark = [pytest.mark.mnist, pytest.mark.slow, pytest.mark.keras]


@pytest.fixture(scope="module")
def sweep_dir(mnist_dir, tmp_path_factory):
    """2 learning rates x 2 seeds of scratch and Keras, 500 training images, 1 epoch."""
    folder = tmp_path_factory.mktemp("sweeps")
    path = folder / "sweep.toml"
    path.write_text(
        "seeds = 2\nepochs = 1\n"
        f'[data]\ndata_dir = "{mnist_dir}"\nlimit_train = 500\nval_size = 500\n'
        '[grid]\n"model.learning_rate" = [0.05, 0.1]\n',
        encoding="utf-8",
    )
    out = folder / "sweep"
    assert (
        main(["sweep", str(path), "--out", str(out), "--jobs", "1", "--quiet", "--no-report"]) == 0
    )
    return out


def test_report_of_a_sweep_folder(sweep_dir, capsys):
    assert main(["report", str(sweep_dir)]) == 0
    assert "report.html" in capsys.readouterr().out
    markdown = (sweep_dir / "report.md").read_text(encoding="utf-8")
    for heading in ("Accuracy per cell", "Where the models differ", "Speed ratio per cell"):
        assert f"## {heading}" in markdown
    assert "Holm's step-down method" in markdown
    # lockstep twins: identical accuracy in every run, so no cell can differ
    assert "No cell differs significantly" in markdown
    links = re.findall(r"\[([^\]]+)\]\((runs/[^)]+)\)", markdown)
    assert len(links) == 4 and all((sweep_dir / target).is_file() for _, target in links)
    figures = sorted(p.name for p in (sweep_dir / "figures").glob("*.png"))
    assert figures == ["accuracy_by_model_learning_rate.png", "speed_ratio.png"]
    html = (sweep_dir / "report.html").read_text(encoding="utf-8")
    assert html.count("<img ") == 2 and 'src="http' not in html
    assert html.count('<a href="runs/') == 4


@pytest.mark.browser
def test_sweep_report_renders_in_headless_chromium(sweep_dir, tmp_path):
    binary = chromium()
    assert main(["report", str(sweep_dir)]) == 0
    html_path = sweep_dir / "report.html"
    probed = html_path.with_name("probe.html")
    probed.write_text(html_path.read_text().replace("</body>", PROBE + "</body>"))
    done = run_chromium(binary, tmp_path / "profile-dom", "--dump-dom", probed.as_uri())
    probed.unlink()
    assert done.returncode == 0, done.stderr[-2000:]
    body = re.search(r"<body[^>]*>", done.stdout)
    assert body, "Chromium printed no DOM"
    attributes = dict(re.findall(r'data-(\w+)="([^"]*)"', body.group(0)))
    assert attributes.get("probe") == "done" and attributes["images"] == "2"
    assert attributes["broken"] == "0"
    shot = tmp_path / "sweep.png"
    done = run_chromium(binary, tmp_path / "profile-shot", "--window-size=1280,2000",
                        f"--screenshot={shot}", html_path.as_uri())  # fmt: skip
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert float(np.var(pixels[..., :3])) > 1e-3, "the screenshot is blank"
    assert float((pixels[..., :3].mean(axis=2) < 0.5).mean()) > 0.01
