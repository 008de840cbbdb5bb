"""The one MNIST pipeline both networks share: locate, verify, load, preprocess, split.

Where the data comes from, first match wins:
1. an explicit directory (`--data-dir`, `data_dir=`);
2. the environment variable `MNIST_DATA_DIR`;
3. the per-user cache, `$XDG_CACHE_HOME/mnist-compare/mnist` (default `~/.cache/...`);
4. a download from public mirrors into that cache (see `compare.download`).

Each file may be gzip-compressed (`train-images-idx3-ubyte.gz`) or raw
(`train-images-idx3-ubyte`). The SHA-256 of each file's *decompressed* content
must equal the canonical MNIST digest below (the archives on different mirrors
differ byte for byte; the content does not). `verify=False` accepts any IDX
dataset of the same layout, such as Fashion-MNIST, and the result says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compare.idx import IdxError, parse_idx, read_bytes, sha256_hex
from scratch.errors import must_be

# Canonical SHA-256 of the decompressed IDX content of each MNIST file.
MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
ENV_DATA_DIR = "MNIST_DATA_DIR"
DEFAULT_VAL_SIZE = 5000


class DataError(Exception):
    """Missing, corrupt or unverifiable data; the message is one line that says what to do.

    Bad input, so exit code 2 (as a bad flag); `DownloadError` is the exception.
    """

    exit_code = 2


class DownloadError(DataError):
    """MNIST could not be downloaded (network, mirrors, disk): a failure, exit code 1."""

    exit_code = 1


@dataclass(frozen=True)
class MnistData:
    """The four MNIST arrays as stored: uint8 images (n, 28, 28) and uint8 labels (n,)."""

    train_images: np.ndarray  # (60000, 28, 28) uint8
    train_labels: np.ndarray  # (60000,) uint8
    test_images: np.ndarray  # (10000, 28, 28) uint8
    test_labels: np.ndarray  # (10000,) uint8
    source: Path
    verified: bool
    digests: dict[str, str]  # file name -> SHA-256 of its decompressed content


def cache_dir() -> Path:
    """The per-user cache folder for MNIST (XDG convention)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mnist-compare" / "mnist"


def find_file(directory: Path, name: str) -> Path | None:
    """`name.gz` or `name` in `directory`, whichever exists (gzip preferred)."""
    for candidate in (directory / f"{name}.gz", directory / name):
        if candidate.is_file():
            return candidate
    return None


def missing_files(directory: Path) -> list[str]:
    return [name for name in MNIST_FILES if find_file(directory, name) is None]


def _missing_message(directory: Path, missing: list[str], how: str) -> str:
    advice = {
        "--data-dir": "put the four MNIST .gz files in that folder",
        f"${ENV_DATA_DIR}": f"put the four MNIST .gz files there, or point ${ENV_DATA_DIR} "
        "at the folder that holds them",
    }.get(how, "put the four MNIST .gz files there, or pass --data-dir DIR")
    return (
        f"MNIST not found in {directory} ({how}): missing {', '.join(n + '.gz' for n in missing)}; "
        f"{advice}"
    )


def locate_mnist(data_dir: str | Path | None = None, *, download: bool = True) -> Path:
    """The folder holding all four MNIST files, downloading into the cache if needed."""
    for directory, how in (
        (data_dir, "--data-dir"),
        (os.environ.get(ENV_DATA_DIR) or None, f"${ENV_DATA_DIR}"),
    ):
        if directory is None:
            continue
        directory = Path(directory).expanduser()
        if not directory.is_dir():
            raise DataError(f"data directory {directory} ({how}) does not exist or is not a folder")
        missing = missing_files(directory)
        if missing:
            raise DataError(_missing_message(directory, missing, how))
        return directory
    cached = cache_dir()
    if not missing_files(cached):
        return cached
    if not download:
        raise DataError(_missing_message(cached, missing_files(cached), "cache, download off"))
    from compare.download import download_mnist

    download_mnist(cached)
    return cached


def read_verified(path: Path, name: str, verify: bool) -> tuple[np.ndarray, str]:
    """Parse one file; with `verify`, its content digest must be MNIST's."""
    try:
        content = read_bytes(path)
        digest = sha256_hex(content)
        if verify and digest != MNIST_FILES[name]:
            raise DataError(
                f"{path}: SHA-256 of the content is {digest[:16]}..., not MNIST's "
                f"{MNIST_FILES[name][:16]}...; the file is corrupt or another dataset "
                "(delete it to re-download, or pass --no-verify for another IDX dataset)"
            )
        return parse_idx(content, name=str(path)), digest
    except IdxError as error:
        raise DataError(str(error)) from None


def load_mnist(
    data_dir: str | Path | None = None, *, verify: bool = True, download: bool = True
) -> MnistData:
    """Locate, verify and parse the four files into uint8 arrays."""
    directory = locate_mnist(data_dir, download=download)
    arrays: dict[str, np.ndarray] = {}
    digests: dict[str, str] = {}
    for name in MNIST_FILES:
        path = find_file(directory, name)
        assert path is not None  # locate_mnist checked
        arrays[name], digests[name] = read_verified(path, name, verify)
    data = MnistData(
        train_images=arrays["train-images-idx3-ubyte"],
        train_labels=arrays["train-labels-idx1-ubyte"],
        test_images=arrays["t10k-images-idx3-ubyte"],
        test_labels=arrays["t10k-labels-idx1-ubyte"],
        source=directory.resolve(),
        verified=verify,
        digests=digests,
    )
    _check_layout(data)
    return data


def _check_layout(data: MnistData) -> None:
    """Images (n, 28, 28) uint8 with n labels in 0..9, for train and for test."""
    for split, images, labels in (
        ("train", data.train_images, data.train_labels),
        ("test", data.test_images, data.test_labels),
    ):
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise DataError(
                f"{data.source}: {split} images are {images.dtype} {images.shape}, "
                "expected uint8 (n, 28, 28)"
            )
        if labels.ndim != 1 or len(labels) != len(images):
            raise DataError(
                f"{data.source}: {split} has {len(images)} images "
                f"but labels of shape {labels.shape}"
            )
        if labels.size and labels.max() > 9:
            raise DataError(f"{data.source}: {split} labels go up to {labels.max()}, expected 0..9")
        if not len(images):  # nothing to train on or to score: a traceback mid-run before
            raise DataError(f"{data.source}: the {split} split holds no images; give a dataset "
                            f"with {split} images")  # fmt: skip


@dataclass(frozen=True)
class Splits:
    """Train, validation and test arrays, preprocessed for both networks.

    Images are flattened to 784 values in [0, 1] (or standardized with the
    *training split's* mean and std); labels are int64 digits. `train_index` and
    `val_index` are positions in the 60,000 original training images.
    """

    x_train: np.ndarray  # (n_train, 784)
    y_train: np.ndarray  # (n_train,) int64
    x_val: np.ndarray  # (n_val, 784)
    y_val: np.ndarray  # (n_val,) int64
    x_test: np.ndarray  # (10000, 784)
    y_test: np.ndarray  # (10000,) int64
    train_index: np.ndarray  # (n_train,) int64
    val_index: np.ndarray  # (n_val,) int64
    source: Path
    verified: bool
    standardized: bool
    mean: float  # subtracted after scaling to [0, 1] (0.0 unless standardized)
    std: float  # divided by afterwards (1.0 unless standardized)

    @property
    def background(self) -> float:
        """The value a blank (0) pixel has after this preprocessing: 0.0, or -mean/std."""
        blank = np.zeros((1, 1), np.uint8)
        return float(flatten_scale(blank, str(self.x_train.dtype), self.mean, self.std)[0, 0])

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}

    def sentence(self) -> str:
        """The splits in words: "55,000 training, 5,000 validation and 10,000 test images
        from DIR (SHA-256 verified)"."""
        train, val, test = (f"{n:,}" for n in self.sizes().values())
        checked = "SHA-256 verified" if self.verified else "not verified"
        scaled = ", standardized" if self.standardized else ""
        return (
            f"{train} training, {val} validation and {test} test images from {self.source} "
            f"({checked}{scaled})"
        )


def split_indices(
    n_images: int, val_size: int, seed: int, limit_train: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint sorted (train_index, val_index) drawn from one seeded permutation."""
    if not 0 <= val_size < n_images:
        raise DataError(f"val_size {must_be('a whole number', 0, n_images - 1)}, got {val_size}")
    if limit_train is not None and limit_train < 1:
        raise DataError(f"limit_train {must_be('a whole number', 1)}, got {limit_train}")
    order = np.random.default_rng(seed).permutation(n_images)
    val_index = np.sort(order[:val_size])
    train_index = order[val_size:]
    if limit_train is not None:
        if limit_train > len(train_index):
            raise DataError(
                f"limit_train {limit_train} exceeds the {len(train_index)} training images left "
                f"after the {val_size}-image validation split; give at most {len(train_index)}"
            )
        train_index = train_index[:limit_train]
    return np.sort(train_index), val_index


def flatten_scale(
    images: np.ndarray, dtype: str, mean: float = 0.0, std: float = 1.0
) -> np.ndarray:
    """uint8 (n, 28, 28) -> (n, 784) in [0, 1], then (x - mean) / std, in `dtype`."""
    pixels = int(np.prod(images.shape[1:]))  # 784; explicit so an empty set reshapes too
    x = images.reshape(len(images), pixels).astype(dtype)  # (n, 784)
    x /= np.asarray(255.0, dtype=dtype)  # division, not * (1/255): bit-equal to `x / 255`
    if mean != 0.0 or std != 1.0:
        x -= np.asarray(mean, dtype=dtype)
        x /= np.asarray(std, dtype=dtype)
    return x


def make_splits(
    data: MnistData,
    *,
    val_size: int = DEFAULT_VAL_SIZE,
    seed: int = 0,
    dtype: str = "float32",
    standardize: bool = False,
    limit_train: int | None = None,
) -> Splits:
    """Carve a seeded validation set out of the training images and preprocess all three."""
    if dtype not in ("float32", "float64"):
        raise DataError(f"dtype must be float32 or float64, got {dtype!r}")
    train_index, val_index = split_indices(len(data.train_labels), val_size, seed, limit_train)
    x_train = flatten_scale(data.train_images[train_index], dtype)
    mean, std = 0.0, 1.0
    if standardize:
        mean, std = float(x_train.mean(dtype=np.float64)), float(x_train.std(dtype=np.float64))
        if std == 0.0:
            raise DataError("cannot standardize: every training pixel has the same value")
        x_train = flatten_scale(data.train_images[train_index], dtype, mean, std)
    return Splits(
        x_train=x_train,
        y_train=data.train_labels[train_index].astype(np.int64),
        x_val=flatten_scale(data.train_images[val_index], dtype, mean, std),
        y_val=data.train_labels[val_index].astype(np.int64),
        x_test=flatten_scale(data.test_images, dtype, mean, std),
        y_test=data.test_labels.astype(np.int64),
        train_index=train_index.astype(np.int64),
        val_index=val_index.astype(np.int64),
        source=data.source,
        verified=data.verified,
        standardized=standardize,
        mean=mean,
        std=std,
    )
