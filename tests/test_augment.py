"""Random distortions of the training images (compare.augment; run --shift/--rotate/--zoom).

Unit tests on tiny synthetic images check the vectorised distortion against the
same one written pixel by pixel with scalar math, and the draws' determinism and
ranges. A real-MNIST run checks that both models, each in its own worker process,
got the same distorted batches: in float64 their weights stay equal to rounding, as
without distortions.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from compare.augment import CENTRE, CHUNK, MAX_SHIFT, SIDE, Distortions, distort_images
from compare.cli import main
from compare.data import Splits, flatten_scale
from compare.presets import preset_layer
from compare.runconfig import resolve
from scratch.config import ConfigError


def distort_by_loops(image, angle, scale, dy, dx, background):
    """The definition, one pixel at a time: output pixel (r, c) reads the image at
    centre + R(-angle) ((r, c) - centre - (dy, dx)) / scale, bilinearly."""

    def pixel(i: int, j: int) -> float:
        return image[i, j] if 0 <= i < SIDE and 0 <= j < SIDE else background

    out = np.empty((SIDE, SIDE))
    cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
    for r in range(SIDE):
        for c in range(SIDE):
            y, x = r - CENTRE - dy, c - CENTRE - dx
            source_r, source_c = CENTRE + cos * y + sin * x, CENTRE - sin * y + cos * x
            top, left = math.floor(source_r), math.floor(source_c)
            down, right = source_r - top, source_c - left
            out[r, c] = (
                pixel(top, left) * (1 - down) * (1 - right)
                + pixel(top + 1, left) * down * (1 - right)
                + pixel(top, left + 1) * (1 - down) * right
                + pixel(top + 1, left + 1) * down * right
            )
    return out


@pytest.mark.parametrize("dtype, tolerance", [("float32", 1e-5), ("float64", 1e-12)])
def test_distort_images_equals_the_pixel_by_pixel_definition(dtype, tolerance):
    rng = np.random.default_rng(0)
    x = rng.random((6, SIDE * SIDE)).astype(dtype)  # (6, 784)
    angles = np.array([0.0, 0.3, -0.5, np.pi / 2, 1.0, -0.1])
    scales = np.array([1.0, 0.9, 1.2, 1.0, 2.0, 0.5])
    offsets = np.array([[0.0, 0.0], [1.5, -0.25], [-2.0, 3.0], [0.0, 0.0], [4.0, 1.0], [-7, 20]])
    got = distort_images(x, angles, scales, offsets, background=-0.5)
    assert got.dtype == x.dtype and got.shape == x.shape
    for i, image in enumerate(x.reshape(-1, SIDE, SIDE)):
        want = distort_by_loops(image, angles[i], scales[i], *offsets[i], -0.5)
        np.testing.assert_allclose(got[i].reshape(SIDE, SIDE), want, atol=tolerance)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_whole_pixel_move_is_an_exact_shift(dtype):
    x = np.random.default_rng(1).random((5, SIDE * SIDE)).astype(dtype)
    offsets = np.array([[0, 0], [1, 0], [0, -1], [-2, 2], [3, -3]], dtype=float)
    got = distort_images(x, np.zeros(5), np.ones(5), offsets, background=-0.5)
    images = x.reshape(-1, SIDE, SIDE)
    for image, (dy, dx), moved in zip(images, offsets.astype(int), got, strict=True):
        want = np.full((SIDE, SIDE), -0.5, dtype=dtype)
        rows, cols = slice(max(dy, 0), SIDE + min(dy, 0)), slice(max(dx, 0), SIDE + min(dx, 0))
        want[rows, cols] = image[max(-dy, 0) : SIDE - max(dy, 0), max(-dx, 0) : SIDE - max(dx, 0)]
        np.testing.assert_array_equal(moved.reshape(SIDE, SIDE), want)  # bit for bit


def test_a_quarter_turn_is_numpys_rot90():
    x = np.random.default_rng(2).random((1, SIDE * SIDE))
    turned = distort_images(x, np.array([np.pi / 2]), np.ones(1), np.zeros((1, 2)))
    want = np.rot90(x.reshape(SIDE, SIDE), k=1)  # counter-clockwise, as a positive angle
    np.testing.assert_allclose(turned.reshape(SIDE, SIDE), want, atol=1e-12)


def test_a_batch_is_the_same_for_the_same_seed_epoch_and_batch_and_differs_otherwise():
    x = np.random.default_rng(3).random((64, SIDE * SIDE))
    before = x.copy()
    distortions = Distortions(shift=2, rotate=10, zoom=0.1)
    first = distortions.batch(x, seed=5, epoch=3, batch=7)
    np.testing.assert_array_equal(first, Distortions(2, 10, 0.1).batch(x, 5, 3, 7))
    np.testing.assert_array_equal(x, before)  # the input is not changed
    for other in ((6, 3, 7), (5, 4, 7), (5, 3, 8)):
        assert not np.array_equal(first, distortions.batch(x, *other))


def test_the_draws_stay_within_their_ranges_and_fill_them():
    """One lit pixel at the centre of each image: where it went is each image's move."""
    x = np.zeros((1000, SIDE * SIDE))
    x[:, 14 * SIDE + 14] = 1.0  # pixel (14, 14): 0.5 below and right of the centre
    moved = Distortions(shift=3).batch(x, 0, 0, 0).reshape(-1, SIDE, SIDE)
    grid = np.arange(SIDE)
    mass = moved.sum(axis=(1, 2))
    np.testing.assert_allclose(mass, 1.0)  # bilinear moves keep the pixel's whole value
    rows = (moved.sum(axis=2) * grid).sum(axis=1) - 14  # (1000,) the move down
    cols = (moved.sum(axis=1) * grid).sum(axis=1) - 14  # the move across
    for move in (rows, cols):
        assert move.min() >= -3 - 1e-9 and move.max() <= 3 + 1e-9
        assert move.min() < -2.9 and move.max() > 2.9 and abs(move.mean()) < 0.25  # 4.5 sd


def test_no_distortion_hands_back_the_batch_itself():
    x = np.ones((3, SIDE * SIDE), np.float32)
    assert Distortions().batch(x, 0, 0, 0) is x
    assert not Distortions() and Distortions(zoom=0.1)


def test_pixels_brought_in_are_the_preprocessed_blank_pixel():
    """Standardized data: a blank pixel is (0 - mean) / std, computed as the data was."""
    images = np.zeros((50, SIDE, SIDE), np.uint8)
    images[:, 12:16, 12:16] = 255
    mean, std = 0.1307, 0.3081
    x = flatten_scale(images, "float32", mean, std)  # (50, 784)
    blank = float(flatten_scale(np.zeros((1, 1), np.uint8), "float32", mean, std)[0, 0])
    moved = Distortions(shift=2, rotate=45, zoom=0.5).batch(x, 2, 0, 0, blank)
    corners = moved.reshape(-1, SIDE, SIDE)[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners == np.float32(blank)).all()  # far from the digit: exactly blank
    assert moved.min() >= x.min() - 1e-6 and moved.max() <= x.max() + 1e-6  # blends only


def test_describe_says_what_is_drawn():
    assert Distortions(2, 10, 0.1).describe() == (
        "each training image moved up to 2 pixels in each direction, turned up to 10 degrees "
        "and scaled by 0.9 to 1.1 at random"
    )
    assert Distortions(shift=1.0).describe() == (
        "each training image moved up to 1 pixel in each direction at random"
    )
    assert Distortions(rotate=5, zoom=0.2).describe() == (
        "each training image turned up to 5 degrees and scaled by 0.8 to 1.2 at random"
    )
    assert Distortions().describe() == ""


def lit_pixels(points: list[tuple[int, int]], n: int) -> np.ndarray:
    """n images (n, 784), each with pixels `points` lit (1.0) and the rest blank."""
    x = np.zeros((n, SIDE, SIDE))
    for row, col in points:
        x[:, row, col] = 1.0
    return x.reshape(n, SIDE * SIDE)


def where_lit(images: np.ndarray, rows: slice, cols: slice) -> np.ndarray:
    """The centre of mass (row, col) of each image's window (n, 2), in image coordinates."""
    window = images.reshape(-1, SIDE, SIDE)[:, rows, cols]
    grid_rows = np.arange(SIDE)[rows][None, :, None]
    grid_cols = np.arange(SIDE)[cols][None, None, :]
    mass = window.sum(axis=(1, 2))
    centre_row = (window * grid_rows).sum(axis=(1, 2)) / mass
    centre_col = (window * grid_cols).sum(axis=(1, 2)) / mass
    return np.stack([centre_row, centre_col], axis=1)


def test_the_turns_stay_within_rotate_and_fill_it():
    """Two lit pixels 9 rows above and below the centre: each image's turn is the angle
    of the line between where they went."""
    x = lit_pixels([(5, 14), (22, 14)], 1000)  # about (-9, 0.5) and (8, 0.5) from centre
    turned = Distortions(rotate=20).batch(x, 0, 0, 0)
    top = where_lit(turned, slice(0, 14), slice(0, SIDE))  # (1000, 2)
    bottom = where_lit(turned, slice(14, SIDE), slice(0, SIDE))
    drow, dcol = (bottom - top).T
    degrees = np.rad2deg(np.arctan2(dcol, drow))  # 0 for no turn
    assert np.abs(degrees).max() <= 20.5 and np.abs(degrees).max() > 19
    assert degrees.min() < -19 and degrees.max() > 19 and abs(degrees.mean()) < 1.5


def test_the_scales_stay_within_zoom_and_fill_it():
    """Two lit pixels 16 apart across the centre: their distance is 16 times the scale."""
    x = lit_pixels([(14, 6), (14, 22)], 1000)
    scaled = Distortions(zoom=0.2).batch(x, 0, 0, 0)
    left = where_lit(scaled, slice(0, SIDE), slice(0, 14))
    right = where_lit(scaled, slice(0, SIDE), slice(14, SIDE))
    factors = (right[:, 1] - left[:, 1]) / 16
    assert factors.min() >= 0.8 - 0.01 and factors.max() <= 1.2 + 0.01
    assert factors.min() < 0.82 and factors.max() > 1.18


def test_a_large_batch_is_distorted_in_slices_with_the_same_result():
    x = np.random.default_rng(4).random((CHUNK + 5, SIDE * SIDE)).astype(np.float32)
    distortions = Distortions(2, 10, 0.1)
    whole = distortions.batch(x, 1, 2, 3)
    rng = np.random.default_rng((1, 2, 3))  # the draws, in batch's order
    angles = np.deg2rad(rng.uniform(-10, 10, len(x)))
    scales, offsets = rng.uniform(0.9, 1.1, len(x)), rng.uniform(-2, 2, (len(x), 2))
    np.testing.assert_array_equal(whole, distort_images(x, angles, scales, offsets))


def test_splits_background_is_the_preprocessed_blank_pixel():
    images = np.full((3, SIDE, SIDE), 255, np.uint8)
    images[:, 0, 0] = 0
    for dtype in ("float32", "float64"):
        x = flatten_scale(images, dtype, 0.1307, 0.3081)  # (3, 784)
        empty = np.zeros((0, SIDE * SIDE), dtype)
        labels, none = np.zeros(3, np.int64), np.zeros(0, np.int64)
        splits = Splits(x, labels, empty, none, x, labels, np.arange(3), none, Path("."), True,
                        True, 0.1307, 0.3081)  # fmt: skip
        assert splits.background == x[0, 0] and splits.background < 0


def test_the_convnet_preset_distorts_its_training_images():
    assert resolve(preset_layer("convnet")).data.distortions == Distortions(2, 10, 0.1)
    assert not resolve(preset_layer("convnet-dropout")).data.distortions  # Keras's example
    plain = resolve(preset_layer("convnet"), {"data": {"shift": 0, "rotate": 0, "zoom": 0}})
    assert not plain.data.distortions


@pytest.mark.parametrize(
    "key, bad", [("shift", -1), ("shift", MAX_SHIFT + 1), ("rotate", 181), ("zoom", 0.6),
                 ("zoom", "0.1"), ("rotate", True), ("shift", float("nan")), ("shift", 10**400)],
)  # fmt: skip
def test_a_bad_amount_is_refused_with_its_range(key, bad):
    with pytest.raises(ConfigError, match=rf"data.{key} must be a"):
        resolve({"data": {key: bad}})


def test_amounts_are_stored_in_one_form():
    data = resolve({"data": {"shift": -0, "rotate": 2, "zoom": -0.0}}).data
    assert (data.shift, data.rotate, data.zoom) == (0.0, 2.0, 0.0)
    assert str(data.zoom) == "0.0" and isinstance(data.rotate, float)  # not -0.0, not 2


@pytest.mark.parametrize("digits", [401, 4400])
def test_a_huge_integer_in_a_config_file_is_one_line(digits, tmp_path, capsys):
    path = tmp_path / "big.toml"
    path.write_text(f"[data]\nshift = 1{'0' * (digits - 1)}\n")
    code = main(["run", "--config", str(path), "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err


@pytest.mark.parametrize("argv", [["--shift", "-1"], ["--rotate", "200"], ["--zoom", "two"]])
def test_a_bad_flag_is_one_line_naming_the_flag(argv, capsys, tmp_path):
    try:  # a value that is no number is argparse's own one-line error
        code = main(["run", *argv, "--out", str(tmp_path / "run"), "--quiet"])
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and argv[0] in err and len(err.splitlines()) == 1, err
    assert "Traceback" not in err and not (tmp_path / "run").exists()


@pytest.mark.mnist
@pytest.mark.slow
@pytest.mark.keras
def test_distorted_batches_keep_two_worker_processes_in_lockstep(mnist_dir, tmp_path):
    def run(*distort: str) -> tuple[list[dict], dict]:
        out = tmp_path / ("distorted" if distort else "plain")
        argv = ["run", "--data-dir", str(mnist_dir), "--limit-train", "1000", "--val-size"]
        argv += ["500", "--epochs", "2", "--batch-size", "50", "--dtype", "float64", *distort]
        assert main([*argv, "--out", str(out), "--quiet", "--no-report"]) == 0
        with (out / "lockstep.csv").open(newline="") as handle:
            diffs = list(csv.DictReader(handle))
        return diffs, json.loads((out / "summary.json").read_text())

    diffs, summary = run("--shift", "2", "--rotate", "10", "--zoom", "0.1")
    data = summary["config"]["data"]
    assert (data["shift"], data["rotate"], data["zoom"]) == (2.0, 10.0, 0.1)
    assert max(float(row["max_abs_weight_diff"]) for row in diffs) <= 1e-10  # same batches
    assert summary["agreement"]["prediction_agreement"] == 1.0
    assert "shift = 2.0" in (tmp_path / "distorted" / "config.toml").read_text()
    assert main(["report", str(tmp_path / "distorted")]) == 0
    words = "moved up to 2 pixels in each direction, turned up to 10 degrees and scaled by 0.9"
    assert words in (tmp_path / "distorted" / "report.md").read_text()
    _, plain = run()
    losses = [s["models"]["scratch"]["test_loss"] for s in (summary, plain)]
    assert losses[0] != losses[1]  # the distortions changed what the models learned
