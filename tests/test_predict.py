"""`mnist-compare predict`: real run folders, real MNIST test digits turned into 'photos'.

The test images are made here from real MNIST test digits the way a person's
photo of a digit differs from MNIST: dark ink on white paper, enlarged 6-12x,
off-centre on a larger canvas, slightly blurred, noisy, saved as JPEG/PNG/BMP.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from compare.cli import main
from compare.predict import load_run, predict_images
from compare.predictfigure import figure_paths

FORMATS = (".jpg", ".png")


def photo_of(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 28x28 MNIST digit as a person's photo of it: (h, w) uint8, dark ink on paper."""
    scale = rng.uniform(6, 12)
    big = cv2.resize(digit, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    ink = 255 - big  # dark ink on white
    h, w = ink.shape
    paper_level = int(rng.integers(200, 250))
    canvas = np.full((h + int(rng.integers(60, 240)), w + int(rng.integers(60, 240))), paper_level)
    top = int(rng.integers(0, canvas.shape[0] - h))
    left = int(rng.integers(0, canvas.shape[1] - w))
    canvas[top : top + h, left : left + w] = np.minimum(canvas[top : top + h, left : left + w], ink)
    blurred = cv2.GaussianBlur(canvas.astype(np.float32), (0, 0), rng.uniform(0.8, 2.0))
    noisy = blurred + rng.normal(0, 6, blurred.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def write_photos(mnist, folder: Path, count: int, seed: int = 0) -> list[tuple[Path, int]]:
    """`count` seeded MNIST test digits as JPEG/PNG files (the first one BMP): (path, label)."""
    rng = np.random.default_rng(seed)
    indices = rng.choice(len(mnist.test_labels), size=count, replace=False)
    files = []
    for k, index in enumerate(indices):
        suffix = ".bmp" if k == 0 else FORMATS[k % 2]
        path = folder / f"test{index:05d}{suffix}"
        assert cv2.imwrite(str(path), photo_of(mnist.test_images[index], rng))
        files.append((path, int(mnist.test_labels[index])))
    return files


@pytest.fixture(scope="module")
def scratch_run(mnist_dir, tmp_path_factory) -> Path:
    """A real run folder that trained only the scratch network (2,000 images, 2 epochs)."""
    out = tmp_path_factory.mktemp("predict") / "scratch-only"
    argv = ["run", "--data-dir", str(mnist_dir), "--models", "scratch", "--limit-train", "2000"]
    argv += ["--val-size", "1000", "--epochs", "2", "--standardize", "--no-report"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def photos(mnist, tmp_path_factory) -> list[tuple[Path, int]]:
    return write_photos(mnist, tmp_path_factory.mktemp("photos"), count=150)


def test_figure_paths_one_per_image():
    assert figure_paths("out/fig.png", ["a/7.jpg"]) == [Path("out/fig.png")]
    paths = figure_paths("out/fig.png", ["a/7.jpg", "b/seven.png", "c/7.bmp"])
    assert paths == [Path("out/fig-7.png"), Path("out/fig-seven.png"), Path("out/fig-7-2.png")]


def test_missing_run_folder_exits_2(tmp_path, capsys):
    code = main(["predict", str(tmp_path / "x.png"), "--run", str(tmp_path / "nope")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and "nope does not exist" in err
    (tmp_path / "a-file").write_text("not a run")
    code = main(["predict", str(tmp_path / "x.png"), "--run", str(tmp_path / "a-file")])
    assert code == 2 and "a-file is a file, not a run folder" in capsys.readouterr().err


def test_run_folder_without_summary_or_models_exits_2(tmp_path, capsys):
    assert main(["predict", "x.png", "--run", str(tmp_path)]) == 2
    assert "has no summary.json" in capsys.readouterr().err
    summary = {"status": "interrupted", "config": {}, "data": {"standardized": False}}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    assert main(["predict", "x.png", "--run", str(tmp_path)]) == 2
    assert "neither scratch.npz nor keras.keras" in capsys.readouterr().err
    (tmp_path / "summary.json").write_text("{not json")
    assert main(["predict", "x.png", "--run", str(tmp_path)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


@pytest.mark.mnist
def test_bad_images_get_one_line_each_and_others_still_run(scratch_run, photos, tmp_path, capsys):
    good = [str(path) for path, _ in photos[:2]]
    (tmp_path / "notes.png").write_text("not an image")
    cv2.imwrite(str(tmp_path / "blank.png"), np.full((80, 80), 255, np.uint8))
    from test_digits import png_header_only

    png_header_only(tmp_path / "huge.png", 12_000, 12_000)
    bad = [str(tmp_path / name) for name in ("missing.jpg", "notes.png", "blank.png", "huge.png")]
    code = main(["predict", good[0], *bad, good[1], "--run", str(scratch_run)])
    out, err = capsys.readouterr()
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 4
    for line, path, why in zip(
        lines, bad, ("no such file", "not an image", "no ink found", "megapixel limit"), strict=True
    ):
        assert line.startswith(f"mnist-compare: error: {path}: ") and why in line
    assert good[0] in out and good[1] in out and "scratch:" in out
    assert "keras" not in out  # the run trained only the scratch network


@pytest.mark.mnist
def test_json_output_shape(scratch_run, photos, tmp_path, capsys):
    path, _ = photos[3]
    code = main(["predict", str(path), str(tmp_path / "gone.png"), "--run", str(scratch_run)])
    assert code == 1
    capsys.readouterr()
    main(["predict", str(path), str(tmp_path / "gone.png"), "--run", str(scratch_run), "--json"])
    entries = json.loads(capsys.readouterr().out)
    assert [set(entry) for entry in entries] == [
        {"image", "scratch", "agree"},
        {"image", "error"},
    ]
    first = entries[0]
    assert first["image"] == str(path) and first["agree"] is None  # one model: nothing to agree
    top3 = first["scratch"]["top3"]
    assert first["scratch"]["digit"] == top3[0][0]
    assert [len(pair) for pair in top3] == [2, 2, 2] and len({d for d, _ in top3}) == 3
    probabilities = [p for _, p in top3]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1 + 1e-6
    assert "gone.png" in entries[1]["error"]


@pytest.mark.mnist
def test_standardization_of_the_run_is_applied(scratch_run, photos):
    run = load_run(scratch_run)
    summary = json.loads((scratch_run / "summary.json").read_text())
    assert run.standardized and summary["data"]["standardized"]
    assert run.mean == pytest.approx(summary["data"]["mean"]) and run.std > 0
    result = predict_images(run, [photos[5][0]])[0]
    x = ((result.pixels - run.mean) / run.std).astype(np.float32)[None]  # (1, 784)
    expected = run.models["scratch"].predict_proba(x)[0]
    np.testing.assert_allclose(result.probabilities["scratch"], expected, rtol=1e-5)


@pytest.mark.mnist
def test_show_saves_a_figure_per_image(scratch_run, photos, tmp_path, capsys):
    paths = [str(path) for path, _ in photos[6:8]]
    assert (
        main(["predict", *paths, "--run", str(scratch_run), "--show", str(tmp_path / "f.png")]) == 0
    )
    for path in paths:
        figure = tmp_path / f"f-{Path(path).stem}.png"
        assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (
        main(["predict", paths[0], "--run", str(scratch_run), "--show", str(tmp_path / "one.png")])
        == 0
    )
    assert (tmp_path / "one.png").stat().st_size > 1000
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temps
    code = main(["predict", paths[0], "--run", str(scratch_run), "--show", "/no/such/dir/f.png"])
    assert code == 2 and "does not exist" in capsys.readouterr().err


@pytest.mark.mnist
@pytest.mark.slow
@pytest.mark.keras
def test_both_models_recognise_photos_of_mnist_digits(quick_run, photos):
    run = load_run(quick_run)
    assert set(run.models) == {"scratch", "keras"}
    results = predict_images(run, [path for path, _ in photos])
    labels = np.array([label for _, label in photos])
    assert all(result.error is None for result in results)
    for name in ("scratch", "keras"):
        predicted = np.array([result.digit(name) for result in results])
        accuracy = float(np.mean(predicted == labels))
        assert accuracy >= 0.90, f"{name} recognised only {accuracy:.1%} of {len(labels)} photos"


@pytest.mark.mnist
@pytest.mark.slow
@pytest.mark.keras
def test_cli_with_both_models(quick_run, photos, capsys):
    paths = [str(path) for path, _ in photos[:3]]
    assert main(["predict", *paths, "--run", str(quick_run), "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert len(entries) == 3
    for entry in entries:
        assert set(entry) == {"image", "scratch", "keras", "agree"}
        assert entry["agree"] == (entry["scratch"]["digit"] == entry["keras"]["digit"])
    assert main(["predict", *paths, "--run", str(quick_run)]) == 0
    out = capsys.readouterr().out
    assert out.count("scratch:") == 3 and out.count("keras:") == 3
    assert out.count("agree") + out.count("DISAGREE") == 3


def test_a_missing_model_file_of_a_two_model_run_is_an_error(quick_run, tmp_path, capsys):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(quick_run, copy)
    (copy / "keras.keras").unlink()
    image = tmp_path / "seven.png"
    cv2.imwrite(str(image), np.full((40, 40), 255, np.uint8))
    assert main(["predict", str(image), "--run", str(copy)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "keras.keras is missing, though this run trained keras" in err
