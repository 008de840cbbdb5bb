"""`mnist-compare data`: locate or download MNIST, verify it, print a short summary.

The summary is what a user wants to see before training: where the files came
from, whether their content is the real MNIST, how the 60,000 training images
are split into train and validation, how many of each digit each split holds,
and the pixel mean and std (the numbers a standardizing pipeline would use).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from compare.cli import add_data_dir, non_negative_int


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of `mnist-compare data`."""
    from compare.data import DEFAULT_VAL_SIZE

    add_data_dir(parser)
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="accept any IDX dataset of MNIST's layout (e.g. Fashion-MNIST); reported UNVERIFIED",
    )
    parser.add_argument(
        "--no-download",
        action="store_true",
        help="never download; fail if the files are not found",
    )
    parser.add_argument(
        "--val-size",
        type=non_negative_int,
        default=DEFAULT_VAL_SIZE,
        metavar="N",
        help=f"validation images carved from the training set (default {DEFAULT_VAL_SIZE})",
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, help="seed of the validation split (default 0)"
    )


def pixel_stats(images: np.ndarray) -> tuple[float, float]:
    """Exact mean and std of uint8 images scaled to [0, 1], via a 256-bin histogram
    (no float copy of the 47 million training pixels)."""
    counts = np.bincount(images.ravel(), minlength=256).astype(np.float64)  # (256,)
    values = np.arange(256, dtype=np.float64) / 255.0  # (256,)
    n = counts.sum()
    mean = float(counts @ values / n)
    var = float(counts @ (values - mean) ** 2 / n)
    return mean, var**0.5


def _digest_line(data) -> str:
    from compare.data import MNIST_FILES

    if data.verified:
        return f"verified (SHA-256 of the decompressed content of all {len(MNIST_FILES)} files)"
    differing = [name for name, digest in data.digests.items() if digest != MNIST_FILES[name]]
    if differing:
        return (
            f"UNVERIFIED (--no-verify; content differs from MNIST in {len(differing)} of 4 files)"
        )
    return "UNVERIFIED (--no-verify; the content happens to match MNIST)"


def summary_lines(data, val_size: int, seed: int) -> list[str]:
    """The printed summary, one string per line."""
    from compare.data import split_indices

    train_index, val_index = split_indices(len(data.train_labels), val_size, seed)
    labels = {
        "train": data.train_labels[train_index],
        "val": data.train_labels[val_index],
        "test": data.test_labels,
    }
    counts = {split: np.bincount(y, minlength=10) for split, y in labels.items()}
    mean, std = pixel_stats(data.train_images)
    lines = [
        f"source:  {data.source}",
        f"digests: {_digest_line(data)}",
        f"images:  {data.train_images.shape[0]} train + {data.test_images.shape[0]} test, "
        f"{data.train_images.shape[1]}x{data.train_images.shape[2]} uint8",
        f"splits:  train {len(train_index)}, val {len(val_index)} "
        f"(drawn from the training images with seed {seed}), test {len(data.test_labels)}",
        f"pixels:  mean {mean:.4f}, std {std:.4f} "
        f"(all {len(data.train_images)} training images, scaled to [0, 1])",
        "",
        f"{'digit':>5} {'train':>7} {'val':>7} {'test':>7}",
    ]
    for digit in range(10):
        row = " ".join(f"{counts[split][digit]:>7}" for split in counts)
        lines.append(f"{digit:>5} {row}")
    lines.append(f"{'total':>5} " + " ".join(f"{counts[s].sum():>7}" for s in counts))
    return lines


def run(args: argparse.Namespace) -> int:
    from compare.cli import CliError
    from compare.data import load_mnist

    data = load_mnist(args.data_dir, verify=not args.no_verify, download=not args.no_download)
    if args.val_size >= len(data.train_labels):
        raise CliError(
            f"--val-size {args.val_size} leaves no training images "
            f"(there are {len(data.train_labels)})"
        )
    try:
        print("\n".join(summary_lines(data, args.val_size, args.seed)), flush=True)
    except BrokenPipeError:  # `mnist-compare data | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
