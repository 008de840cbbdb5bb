"""`mnist-compare data` on real MNIST, on corrupted copies of it, and offline."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys

import numpy as np
import pytest

from compare.cli import main
from compare.data import MNIST_FILES
from compare.idx import write_idx

BAD_FILE = "t10k-labels-idx1-ubyte.gz"


def corrupted_copy(mnist_dir, folder, how: str):
    """`folder` with MNIST's files (symlinked) except one with a single flipped byte."""
    folder.mkdir()
    for name in MNIST_FILES:
        if f"{name}.gz" != BAD_FILE:
            (folder / f"{name}.gz").symlink_to(mnist_dir / f"{name}.gz")
    packed = (mnist_dir / BAD_FILE).read_bytes()
    if how == "gzip":  # a flipped bit inside the deflate stream
        damaged = bytearray(packed)
        damaged[len(damaged) // 2] ^= 0x10
        (folder / BAD_FILE).write_bytes(bytes(damaged))
    else:  # a flipped byte in the content, recompressed: a valid gzip of the wrong data
        content = bytearray(gzip.decompress(packed))
        content[5000] ^= 0x01  # a label 7 <-> 6, still a valid label
        (folder / BAD_FILE).write_bytes(gzip.compress(bytes(content)))
    return folder


def assert_one_line_error(err: str, *fragments: str) -> None:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnist-compare: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.mnist
def test_summary_on_real_mnist(mnist_dir, capsys):
    assert main(["data", "--data-dir", str(mnist_dir), "--no-download"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert f"source:  {mnist_dir.resolve()}" in out
    assert "digests: verified" in out
    assert "train 55000, val 5000 (drawn from the training images with seed 0), test 10000" in out
    assert "pixels:  mean 0.1307, std 0.3081" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[6:]}
    assert sum(int(rows[str(d)][0]) + int(rows[str(d)][1]) for d in range(10)) == 60000
    assert int(rows["0"][0]) + int(rows["0"][1]) == 5923  # zeros in the 60,000 train images
    assert rows["0"][2] == "980" and rows["total"] == ["55000", "5000", "10000"]


@pytest.mark.mnist
def test_flipped_byte_in_gzip_stream(mnist_dir, tmp_path, capsys):
    copy = corrupted_copy(mnist_dir, tmp_path / "copy", "gzip")
    code = main(["data", "--data-dir", str(copy)])
    assert code == 2
    assert_one_line_error(capsys.readouterr().err, BAD_FILE, "corrupt or truncated gzip data")


@pytest.mark.mnist
def test_flipped_byte_in_content(mnist_dir, tmp_path, capsys):
    copy = corrupted_copy(mnist_dir, tmp_path / "copy", "content")
    assert main(["data", "--data-dir", str(copy)]) == 2
    assert_one_line_error(capsys.readouterr().err, BAD_FILE, "not MNIST's", "--no-verify")
    assert main(["data", "--data-dir", str(copy), "--no-verify"]) == 0
    out = capsys.readouterr().out
    assert "UNVERIFIED (--no-verify; content differs from MNIST in 1 of 4 files)" in out


@pytest.mark.mnist
def test_corrupted_copy_in_a_real_process(mnist_dir, tmp_path):
    copy = corrupted_copy(mnist_dir, tmp_path / "copy", "gzip")
    result = subprocess.run(
        [sys.executable, "-m", "compare", "data", "--data-dir", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MNIST_MIRRORS": "http://127.0.0.1:9/"},
    )
    assert result.returncode == 2 and result.stdout == ""
    assert_one_line_error(result.stderr, BAD_FILE, "CRC check failed")


def write_other_dataset(folder) -> None:
    """A tiny dataset of MNIST's layout and other content (as Fashion-MNIST would be)."""
    rng = np.random.default_rng(0)
    for name, shape in (
        ("train-images-idx3-ubyte", (40, 28, 28)),
        ("t10k-images-idx3-ubyte", (8, 28, 28)),
    ):
        write_idx(folder / f"{name}.gz", rng.integers(0, 256, shape, dtype=np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte.gz", (np.arange(40) % 10).astype(np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", (np.arange(8) % 10).astype(np.uint8))


def test_other_dataset_with_no_verify(tmp_path, capsys):
    write_other_dataset(tmp_path)
    assert main(["data", "--data-dir", str(tmp_path)]) == 2
    assert_one_line_error(capsys.readouterr().err, "pass --no-verify for another IDX dataset")
    assert main(["data", "--data-dir", str(tmp_path), "--no-verify", "--val-size", "10"]) == 0
    out = capsys.readouterr().out
    assert "content differs from MNIST in 4 of 4 files" in out
    assert "train 30, val 10 (drawn from the training images with seed 0), test 8" in out
    assert main(["data", "--data-dir", str(tmp_path), "--no-verify", "--val-size", "0"]) == 0
    assert "train 40, val 0" in capsys.readouterr().out
    assert main(["data", "--data-dir", str(tmp_path), "--no-verify", "--val-size", "40"]) == 2
    assert_one_line_error(capsys.readouterr().err, "--val-size 40 leaves no training images")
    with pytest.raises(SystemExit) as stopped:  # a usage error, before the data is read
        main(["data", "--data-dir", str(tmp_path), "--no-verify", "--val-size", "-1"])
    assert stopped.value.code == 2
    assert_one_line_error(capsys.readouterr().err, "--val-size must be a whole number >= 0")


def test_seed_changes_the_validation_draw(tmp_path, capsys):
    write_other_dataset(tmp_path)
    tables = []
    for seed in ("0", "0", "1"):
        argv = ["data", "--data-dir", str(tmp_path), "--no-verify", "--val-size", "20"]
        assert main([*argv, "--seed", seed]) == 0
        out = capsys.readouterr().out
        assert f"with seed {seed})" in out
        tables.append(out.split("digit")[1])
    assert tables[0] == tables[1] and tables[0] != tables[2]


def test_missing_data_offline(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert main(["data", "--no-download"]) == 2
    assert_one_line_error(capsys.readouterr().err, "download off", "train-images-idx3-ubyte.gz")
    assert main(["data", "--data-dir", str(tmp_path / "none")]) == 2
    assert_one_line_error(capsys.readouterr().err, "does not exist or is not a folder")
