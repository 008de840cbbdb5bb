"""Random shifts of the training images (compare.augment, `run --shift N`).

Unit tests on tiny synthetic images check the one-gather shift against the shift
written pixel by pixel, and the draws' determinism and range. A real-MNIST run
checks that both models, each in its own worker process, got the same shifted
batches: in float64 their weights stay equal to rounding, as without shifts.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from compare.augment import MAX_SHIFT, SIDE, Shifts, shift_images
from compare.cli import main
from compare.data import flatten_scale
from compare.runconfig import resolve
from scratch.config import ConfigError


def shift_by_loops(image: np.ndarray, dy: int, dx: int, background: float) -> np.ndarray:
    """The definition: pixel (r, c) of the result is pixel (r - dy, c - dx) of `image`."""
    out = np.full((SIDE, SIDE), background, dtype=image.dtype)
    for r in range(SIDE):
        for c in range(SIDE):
            if 0 <= r - dy < SIDE and 0 <= c - dx < SIDE:
                out[r, c] = image[r - dy, c - dx]
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_shift_images_equals_the_pixel_by_pixel_shift(dtype):
    rng = np.random.default_rng(0)
    x = rng.random((7, SIDE * SIDE)).astype(dtype)  # (7, 784)
    offsets = np.array([[0, 0], [1, 0], [0, -1], [-2, 2], [3, -3], [-1, -1], [2, 1]])
    got = shift_images(x, offsets, background=-0.5)
    assert got.dtype == x.dtype and got.shape == x.shape
    for image, (dy, dx), moved in zip(x, offsets, got, strict=True):
        want = shift_by_loops(image.reshape(SIDE, SIDE), dy, dx, -0.5)
        np.testing.assert_array_equal(moved.reshape(SIDE, SIDE), want)


def test_a_batch_is_the_same_for_the_same_seed_epoch_and_batch_and_differs_otherwise():
    x = np.random.default_rng(1).random((64, SIDE * SIDE))
    before = x.copy()
    shifts = Shifts(max_shift=2, seed=5)
    first = shifts.batch(x, epoch=3, batch=7)
    np.testing.assert_array_equal(first, Shifts(2, 5).batch(x, 3, 7))
    np.testing.assert_array_equal(x, before)  # the input is not changed
    for other in (Shifts(2, 6).batch(x, 3, 7), shifts.batch(x, 4, 7), shifts.batch(x, 3, 8)):
        assert not np.array_equal(first, other)


def test_offsets_cover_every_move_up_to_max_shift_and_no_more():
    """A single lit pixel in the middle of each image shows where each image went."""
    x = np.zeros((2000, SIDE * SIDE))
    x[:, 14 * SIDE + 14] = 1.0
    moved = Shifts(max_shift=2, seed=0).batch(x, 0, 0)
    rows, cols = np.divmod(moved.argmax(axis=1), SIDE)
    assert (moved.sum(axis=1) == 1.0).all()  # nothing lost, nothing added
    moves = set(zip((rows - 14).tolist(), (cols - 14).tolist(), strict=True))
    assert moves == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}


def test_shift_zero_hands_back_the_batch_itself():
    x = np.ones((3, SIDE * SIDE), np.float32)
    assert Shifts(0, 0).batch(x, 0, 0) is x


def test_pixels_moved_in_are_the_preprocessed_blank_pixel():
    """Standardized data: an empty pixel is (0 - mean) / std, computed as the data was."""
    images = np.zeros((4, SIDE, SIDE), np.uint8)
    images[:, 10:18, 10:18] = 255
    mean, std = 0.1307, 0.3081
    x = flatten_scale(images, "float32", mean, std)  # (4, 784)
    blank = float(flatten_scale(np.zeros((1, 1), np.uint8), "float32", mean, std)[0, 0])
    moved = Shifts(MAX_SHIFT, seed=2, background=blank).batch(x, 0, 0)
    assert set(np.unique(moved)) <= set(np.unique(x))  # only values the images already had


@pytest.mark.parametrize("bad", [-1, MAX_SHIFT + 1, 1.5, True, "2"])
def test_a_bad_shift_is_refused_with_its_range(bad):
    with pytest.raises(ConfigError, match=rf"data.shift must be a whole number .*{MAX_SHIFT}"):
        resolve({"data": {"shift": bad}})


@pytest.mark.parametrize("bad", ["-1", "15", "two"])
def test_a_bad_shift_flag_is_one_line_naming_the_flag(bad, capsys, tmp_path):
    try:  # a value that is no number is argparse's own one-line error
        code = main(["run", "--shift", bad, "--out", str(tmp_path / "run"), "--quiet"])
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and "--shift" in err and len(err.splitlines()) == 1, err
    assert "Traceback" not in err and not (tmp_path / "run").exists()


@pytest.mark.mnist
@pytest.mark.slow
@pytest.mark.keras
def test_shifted_batches_keep_two_worker_processes_in_lockstep(mnist_dir, tmp_path):
    def run(shift: int) -> tuple[list[dict], dict]:
        out = tmp_path / f"shift{shift}"
        argv = ["run", "--data-dir", str(mnist_dir), "--limit-train", "1000"]
        argv += ["--val-size", "500", "--epochs", "2", "--batch-size", "50", "--dtype"]
        argv += ["float64", "--shift", str(shift), "--out", str(out), "--quiet", "--no-report"]
        assert main(argv) == 0
        with (out / "lockstep.csv").open(newline="") as handle:
            diffs = list(csv.DictReader(handle))
        return diffs, json.loads((out / "summary.json").read_text())

    diffs, summary = run(2)
    assert summary["config"]["data"]["shift"] == 2
    assert max(float(row["max_abs_weight_diff"]) for row in diffs) <= 1e-10  # same batches
    assert summary["agreement"]["prediction_agreement"] == 1.0
    assert "shift = 2" in (tmp_path / "shift2" / "config.toml").read_text()
    assert main(["report", str(tmp_path / "shift2")]) == 0
    assert "moved by a random -2..2 pixels" in (tmp_path / "shift2" / "report.md").read_text()
    _, plain = run(0)
    losses = [s["models"]["scratch"]["test_loss"] for s in (summary, plain)]
    assert losses[0] != losses[1]  # the shifts changed what the models learned
