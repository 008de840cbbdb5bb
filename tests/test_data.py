"""Locating, verifying and splitting MNIST: synthetic folders for rules, real MNIST for facts."""

from __future__ import annotations

import numpy as np
import pytest

from compare import data as data_module
from compare.data import (
    DataError,
    MnistData,
    cache_dir,
    load_mnist,
    locate_mnist,
    make_splits,
    split_indices,
)
from compare.idx import write_idx

NAMES = list(data_module.MNIST_FILES)


def write_dataset(folder, seed: int = 0, n_train: int = 30, n_test: int = 10, gz: bool = True):
    """A tiny MNIST-layout dataset (other content, like Fashion-MNIST) in `folder`."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for name, array in arrays.items():
        write_idx(folder / f"{name}{suffix}", array)
    return folder


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No $MNIST_DATA_DIR, a private cache, and no way to reach the network."""
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("MNIST_MIRRORS", "http://127.0.0.1:9/")  # discard port: refused at once
    return tmp_path


def test_cache_dir_follows_xdg(clean_env):
    assert cache_dir() == clean_env / "xdg" / "mnist-compare" / "mnist"


def test_locate_order(clean_env, monkeypatch):
    explicit = write_dataset(clean_env / "explicit")
    env_dir = write_dataset(clean_env / "env", gz=False)
    cached = write_dataset(cache_dir())
    assert locate_mnist() == cached
    monkeypatch.setenv("MNIST_DATA_DIR", str(env_dir))
    assert locate_mnist() == env_dir
    assert locate_mnist(explicit) == explicit
    assert locate_mnist(str(explicit)) == explicit


def test_explicit_dir_missing_files_does_not_fall_back(clean_env, monkeypatch):
    partial = write_dataset(clean_env / "partial")
    (partial / "t10k-labels-idx1-ubyte.gz").unlink()
    (partial / "train-images-idx3-ubyte.gz").unlink()
    monkeypatch.setenv("MNIST_DATA_DIR", str(write_dataset(clean_env / "env")))
    with pytest.raises(DataError) as caught:
        locate_mnist(partial)
    message = str(caught.value)
    assert "\n" not in message and f"not found in {partial} (--data-dir)" in message
    assert "missing train-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz;" in message
    assert message.endswith("put the four MNIST .gz files in that folder")
    assert "or pass --data-dir" not in message  # the user did pass it


def test_env_dir_that_does_not_exist(clean_env, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(clean_env / "nowhere"))
    with pytest.raises(DataError, match=r"nowhere \(\$MNIST_DATA_DIR\) does not exist"):
        locate_mnist()


def test_empty_cache_without_download_names_all_files(clean_env):
    with pytest.raises(DataError) as caught:
        locate_mnist(download=False)
    message = str(caught.value)
    assert str(cache_dir()) in message and "download off" in message
    assert all(f"{name}.gz" in message for name in NAMES)


def test_empty_cache_offline_download_fails_in_one_line(clean_env, monkeypatch):
    pauses: list[float] = []  # record the backoff instead of waiting 1.5 s
    monkeypatch.setattr("compare.download.time.sleep", pauses.append)
    with pytest.raises(DataError) as caught:
        load_mnist()
    assert pauses == [0.5, 1.0]  # 3 rounds over the one mirror, backoff doubling
    message = str(caught.value)
    assert "\n" not in message and "could not download MNIST" in message
    assert f"in {cache_dir()} " in message


def test_other_dataset_needs_no_verify(clean_env):
    folder = write_dataset(clean_env / "fashion")
    with pytest.raises(DataError) as caught:
        load_mnist(folder)
    assert "not MNIST's" in str(caught.value) and "--no-verify" in str(caught.value)
    data = load_mnist(folder, verify=False)
    assert not data.verified and data.source == folder.resolve()
    assert data.train_images.shape == (30, 28, 28) and data.test_labels.shape == (10,)
    assert set(data.digests) == set(NAMES)


def test_layout_is_checked_without_verify(clean_env):
    folder = write_dataset(clean_env / "bad")
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.full(10, 12, dtype=np.uint8))
    with pytest.raises(DataError, match="test labels go up to 12, expected 0..9"):
        load_mnist(folder, verify=False)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(9, dtype=np.uint8))
    with pytest.raises(DataError, match="test has 10 images but labels of shape"):
        load_mnist(folder, verify=False)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((9, 28, 27), dtype=np.uint8))
    with pytest.raises(DataError, match=r"test images are uint8 \(9, 28, 27\)"):
        load_mnist(folder, verify=False)


def test_split_indices_rules():
    train, val = split_indices(100, 20, seed=3)
    assert len(val) == 20 and len(train) == 80
    assert np.array_equal(np.union1d(train, val), np.arange(100))
    train2, val2 = split_indices(100, 20, seed=3, limit_train=10)
    assert np.array_equal(val2, val) and len(train2) == 10 and set(train2) <= set(train)
    for bad in ({"val_size": 100}, {"val_size": -1}, {"val_size": 5, "limit_train": 0}):
        with pytest.raises(DataError):
            split_indices(100, **{"seed": 0, **bad})


def test_standardize_refuses_constant_images(clean_env):
    folder = write_dataset(clean_env / "flat")
    write_idx(folder / "train-images-idx3-ubyte.gz", np.zeros((30, 28, 28), dtype=np.uint8))
    with pytest.raises(DataError, match="cannot standardize"):
        make_splits(load_mnist(folder, verify=False), val_size=5, standardize=True)


# --- real MNIST ---------------------------------------------------------------


@pytest.mark.mnist
def test_real_mnist_arrays(mnist: MnistData):
    assert mnist.verified and mnist.digests == data_module.MNIST_FILES
    assert mnist.train_images.shape == (60000, 28, 28)
    assert mnist.test_images.shape == (10000, 28, 28)
    assert mnist.train_images.dtype == np.uint8 and mnist.test_labels.dtype == np.uint8
    assert mnist.train_images.min() == 0 and mnist.train_images.max() == 255
    assert np.bincount(mnist.train_labels)[0] == 5923
    assert np.bincount(mnist.test_labels)[0] == 980
    assert list(mnist.train_labels[:5]) == [5, 0, 4, 1, 9]


@pytest.mark.mnist
def test_real_splits(mnist: MnistData):
    splits = make_splits(mnist, seed=0)
    assert splits.sizes() == {"train": 55000, "val": 5000, "test": 10000}
    assert splits.x_train.shape == (55000, 784) and splits.x_test.shape == (10000, 784)
    assert splits.x_train.dtype == np.float32 and splits.y_train.dtype == np.int64
    assert splits.x_train.min() == 0.0 and splits.x_train.max() == 1.0
    assert np.intersect1d(splits.train_index, splits.val_index).size == 0
    union = np.union1d(splits.train_index, splits.val_index)
    assert np.array_equal(union, np.arange(60000))
    row = splits.train_index[7]
    expected = mnist.train_images[row].reshape(784).astype(np.float32) / np.float32(255)
    assert np.array_equal(splits.x_train[7], expected)
    assert np.array_equal(splits.y_val, mnist.train_labels[splits.val_index])
    assert splits.verified and not splits.standardized


@pytest.mark.mnist
def test_real_splits_seeded(mnist: MnistData):
    a = make_splits(mnist, seed=5, val_size=1000, limit_train=3000)
    b = make_splits(mnist, seed=5, val_size=1000, limit_train=3000)
    c = make_splits(mnist, seed=6, val_size=1000, limit_train=3000)
    assert np.array_equal(a.val_index, b.val_index) and np.array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.val_index, c.val_index)
    assert a.sizes() == {"train": 3000, "val": 1000, "test": 10000}
    assert a.train_index.max() < 60000 and a.train_index.min() >= 0


@pytest.mark.mnist
def test_real_standardize_uses_train_stats_only(mnist: MnistData):
    splits = make_splits(mnist, val_size=2000, limit_train=4000, standardize=True, dtype="float64")
    assert splits.x_train.dtype == np.float64 and splits.standardized
    assert abs(splits.x_train.mean()) < 1e-9 and abs(splits.x_train.std() - 1.0) < 1e-9
    raw = mnist.train_images[splits.train_index].astype(np.float64) / 255
    assert splits.mean == pytest.approx(raw.mean(), rel=1e-12)
    assert splits.std == pytest.approx(raw.std(), rel=1e-12)
    test_raw = mnist.test_images[:500].reshape(500, 784) / 255
    np.testing.assert_allclose(splits.x_test[:500], (test_raw - splits.mean) / splits.std)
    assert abs(splits.x_val.mean()) > 1e-6  # val/test are NOT re-centred on their own stats


def test_limit_train_beyond_the_training_split_is_an_error():
    from compare.data import DataError, split_indices

    with pytest.raises(DataError, match="exceeds the 900 training images left"):
        split_indices(1000, 100, seed=0, limit_train=901)
    train, _ = split_indices(1000, 100, seed=0, limit_train=900)
    assert len(train) == 900
