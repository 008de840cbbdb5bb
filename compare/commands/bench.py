"""`mnist-compare bench`: how fast is the scratch network, against BLAS and against Keras?

One run measures, on the full real MNIST training set (60,000 images, no validation
split), 784-128-10 relu + SGD:

1. the ideal: only the five matrix products of one training step (forward X@W1,
   A1@W2; backward A1.T@dZ2, dZ2@W2.T, X.T@dZ1) on preallocated arrays with the
   epoch's batch shapes - what a step would cost if everything else were free;
2. one epoch of `Network.fit` at batch 128 and at batch 32;
3. one epoch of Keras `model.fit` (the `keras_baseline` twin) at the same batch
   sizes, after a warm-up epoch on a subset so tracing is not timed, verbose=0.

Each timing is repeated (`--repeats`) and the best is kept: the machine is shared,
so the minimum is the least disturbed measurement; the `spread` column (median over
best) shows how disturbed the repeats were. The figures for one batch size
are timed in turns (ideal, scratch, Keras, ideal, ...) so each ratio compares
runs made under the same background load. NumPy runs with OPENBLAS_NUM_THREADS=1
unless `--blas-threads` says otherwise (see that option). Ratios printed at the end:
scratch / ideal (target <= 1.3) and Keras / scratch (targets >= 4 at batch 32,
>= 2.5 at batch 128); `--check` makes a target not met exit code 1 (`compare.bench_targets`).
`--breakdown` adds where a batch-128 step's time goes beyond
the GEMMs, measured by leaving out one part of the step at a time.
`benchmarks/bench_scratch.py` runs the same code.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

from compare.bench_targets import Outcome, Target, evaluate, exit_code, print_outcomes
from compare.cli import add_data_dir, non_negative_int, positive_int
from scratch.config import ModelConfig
from scratch.network import Network

BENCH_CONFIG = ModelConfig(hidden_sizes=(128,), activation="relu", optimizer="sgd")


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of `mnist-compare bench`."""
    add_data_dir(parser)
    parser.add_argument(
        "--repeats",
        type=positive_int,
        metavar="N",
        help="timings per figure, best kept (default 7; 1 with --cnn)",
    )
    parser.add_argument("--no-keras", action="store_true", help="skip the Keras measurements")
    parser.add_argument(
        "--cnn",
        action="store_true",
        help="benchmark the convnet preset instead (one epoch of 60,000 images, batch 128; "
        "each side in its own process, with its peak memory; --repeats defaults to 1)",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also show where a batch-128 step's time goes beyond the GEMMs",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit with code 1 when a measured target is not met (without it, bench only "
        "informs: exit code 0)",
    )
    parser.add_argument(
        "--blas-threads",
        type=non_negative_int,
        metavar="N",
        default=1,
        help="OpenBLAS threads for NumPy (default 1: on a shared 2-core machine more threads "
        "spin against each other and run 2-20x slower); 0 leaves OpenBLAS's default",
    )


def best_time(action: Callable[[], object], repeats: int) -> float:
    """The fastest of `repeats` wall-clock timings of `action()`, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def ideal_epoch(batch_sizes: list[int], config: ModelConfig) -> Callable[[], None]:
    """One epoch of the forward and backward GEMMs alone, on preallocated arrays."""
    n_in, n_hidden, n_out = config.layer_sizes
    dtype, rng = config.dtype, np.random.default_rng(0)
    W1 = rng.random((n_in, n_hidden)).astype(dtype)  # (784, 128)
    W2 = rng.random((n_hidden, n_out)).astype(dtype)  # (128, 10)
    dW1, dW2 = np.empty_like(W1), np.empty_like(W2)
    buffers = {}
    for b in set(batch_sizes):
        buffers[b] = (
            rng.random((b, n_in)).astype(dtype),  # X (b, 784)
            np.empty((b, n_hidden), dtype),  # A1 (b, 128)
            np.empty((b, n_out), dtype),  # Z2 / dZ2 (b, 10)
            np.empty((b, n_hidden), dtype),  # dA1 / dZ1 (b, 128)
        )

    def epoch() -> None:
        for b in batch_sizes:
            X, A1, Z2, dZ1 = buffers[b]
            np.matmul(X, W1, out=A1)
            np.matmul(A1, W2, out=Z2)
            np.matmul(A1.T, Z2, out=dW2)
            np.matmul(Z2, W2.T, out=dZ1)
            np.matmul(X.T, dZ1, out=dW1)

    return epoch


def scratch_epoch(splits, batch_size: int) -> Callable[[], object]:
    """One epoch of Network.fit (a fresh epoch permutation each call), after a warm-up."""
    from compare.batches import BatchSchedule

    network = Network(BENCH_CONFIG, seed=0)
    schedule = BatchSchedule(len(splits.y_train), batch_size, seed=0)
    network.fit(splits.x_train[:4096], splits.y_train[:4096], batch_size=batch_size, epochs=1)
    epochs = iter(range(1_000_000))
    return lambda: network.fit(
        splits.x_train, splits.y_train, schedule=schedule, epochs=1, start_epoch=next(epochs)
    )


def breakdown_epochs(splits, batch_size: int) -> dict[str, Callable[[], object]]:
    """Epoch loops that each leave out one more part of Network.fit, so that the
    differences between their times say what each part costs per step."""
    from compare.batches import BatchSchedule

    x, y = splits.x_train, splits.y_train
    batches = BatchSchedule(len(y), batch_size, seed=0).epoch(0)
    network, cached = Network(BENCH_CONFIG, seed=0), Network(BENCH_CONFIG, seed=0)
    X_cached = np.ascontiguousarray(x[:batch_size])  # one batch, gathered once

    def fit_epoch() -> None:
        network.fit(x, y, schedule=BatchSchedule(len(y), batch_size, seed=0), epochs=1)

    def steps_on_cached_batch() -> None:  # no gather
        for idx in batches:
            cached._train_step(X_cached[: len(idx)], y[idx])

    def backprop_on_cached_batch() -> None:  # no gather, no update, no checks
        with np.errstate(over="ignore", invalid="ignore"):
            for idx in batches:
                cached.loss(cached.forward(X_cached[: len(idx)]), y[idx])
                cached.backward()

    return {
        "fit": fit_epoch,
        "steps": steps_on_cached_batch,
        "backprop": backprop_on_cached_batch,
        "ideal": ideal_epoch(batch_sizes_of_epoch(len(y), batch_size), BENCH_CONFIG),
    }


def print_breakdown(splits, repeats: int, batch_size: int = 128) -> None:
    """Per-step microseconds of each part of a training step, from `breakdown_epochs`."""
    best = interleaved_best(breakdown_epochs(splits, batch_size), repeats)
    steps = len(batch_sizes_of_epoch(len(splits.y_train), batch_size))
    us = {name: seconds / steps * 1e6 for name, seconds in best.items()}
    parts = [
        ("GEMMs (the ideal)", us["ideal"]),
        ("bias, activations, softmax/loss/dZ, bias grads", us["backprop"] - us["ideal"]),
        ("optimizer update, checks, step bookkeeping", us["steps"] - us["backprop"]),
        ("gathering the shuffled batch, fit's loop", us["fit"] - us["steps"]),
    ]
    print(f"\nwhere a batch-{batch_size} step's time goes (us per step, best of {repeats})")
    for label, value in parts:
        print(f"  {label:50s} {value:7.1f}  {value / us['fit']:6.1%}")
    print(f"  {'Network.fit, whole step':50s} {us['fit']:7.1f}")


def interleaved_times(
    actions: dict[str, Callable[[], object]], repeats: int
) -> dict[str, list[float]]:
    """Every timing of each action, timed in turns so all of them see the same load."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            times[name].append(best_time(action, 1))
    return times


def interleaved_best(actions: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best time of each action, timed in turns so all of them see the same machine load."""
    return {name: min(values) for name, values in interleaved_times(actions, repeats).items()}


def keras_model(config: ModelConfig):
    """The compiled Keras twin of `config`, as the harness trains it."""
    from keras_baseline import KerasTwin

    return KerasTwin(config).model


def keras_epoch(splits, batch_size: int) -> Callable[[], object]:
    """One epoch of Keras `model.fit` (verbose=0), after a warm-up that traces the step."""
    model = keras_model(BENCH_CONFIG)
    Y = np.eye(10, dtype=np.float32)[splits.y_train]  # (n, 10) one-hot, as fit needs
    warm = 4096
    model.fit(splits.x_train[:warm], Y[:warm], batch_size=batch_size, epochs=1, verbose=0)
    return lambda: model.fit(splits.x_train, Y, batch_size=batch_size, epochs=1, verbose=0)


def batch_sizes_of_epoch(n: int, batch_size: int) -> list[int]:
    full, rest = divmod(n, batch_size)
    return [batch_size] * full + ([rest] if rest else [])


def rerun_with_blas_threads(args: argparse.Namespace) -> int | None:
    """OpenBLAS reads its thread count once, when NumPy is imported: if it differs
    from --blas-threads, run the benchmark again in a child process that sets it."""
    wanted = str(args.blas_threads)
    if args.blas_threads <= 0 or os.environ.get("OPENBLAS_NUM_THREADS") == wanted:
        return None
    env = {**os.environ, "OPENBLAS_NUM_THREADS": wanted}
    return subprocess.run(child_argv(args), env=env, check=False).returncode


def child_argv(args: argparse.Namespace) -> list[str]:
    """The same bench (every option) as a child process's command line."""
    argv = [sys.executable, "-m", "compare", "bench", "--repeats", str(args.repeats)]
    argv += ["--blas-threads", str(args.blas_threads)]
    argv += ["--no-keras"] if args.no_keras else []
    argv += ["--breakdown"] if args.breakdown else []
    argv += ["--check"] if args.check else []
    argv += ["--data-dir", args.data_dir] if args.data_dir else []
    return argv


def run(args: argparse.Namespace) -> int:
    from compare.data import load_mnist, make_splits

    if args.repeats is None:
        args.repeats = 1 if args.cnn else 7
    if args.cnn:
        from compare.bench_cnn import run_cnn

        return run_cnn(
            args.data_dir, args.repeats, args.blas_threads, not args.no_keras, check=args.check
        )
    child = rerun_with_blas_threads(args)
    if child is not None:
        return child
    splits = make_splits(load_mnist(args.data_dir), val_size=0)  # all 60,000
    n, repeats = len(splits.y_train), args.repeats
    print(f"mnist-compare bench: {n} training images, 784-128-10 relu, SGD, float32")
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "OpenBLAS default")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
        f"OPENBLAS_NUM_THREADS={threads}, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"best of {repeats} timings per figure; seconds for one epoch\n")
    rows: dict[str, float] = {}
    spread: dict[str, float] = {}  # median / best - 1: how much one figure's timings varied
    for batch in (128, 32):
        actions = {
            f"GEMMs only (ideal), batch {batch}": ideal_epoch(
                batch_sizes_of_epoch(n, batch), BENCH_CONFIG
            ),
            f"scratch Network.fit, batch {batch}": scratch_epoch(splits, batch),
        }
        if not args.no_keras:
            actions[f"keras model.fit, batch {batch}"] = keras_epoch(splits, batch)
        for name, times in interleaved_times(actions, repeats).items():
            rows[name] = min(times)
            spread[name] = float(np.median(times)) / min(times) - 1
    print(f"{'measurement':40s} {'s/epoch':>9s} {'images/s':>10s} {'spread':>7s}")
    for name, seconds in rows.items():
        print(f"{name:40s} {seconds:9.3f} {n / seconds:10.0f} {spread[name]:7.1%}")
    print(
        "spread: median over best timing. A few % on a quiet machine; more when the host is\n"
        "busy, which slows scratch's memory-bound steps (the gather) more than the GEMMs,\n"
        "so scratch / ideal then reads high.\n"
    )
    outcomes = print_ratios(rows)
    if args.breakdown:
        print_breakdown(splits, repeats)
    return exit_code(outcomes, args.check)


# The MLP bench's targets: names of `run`'s measurement rows.
TARGETS = (
    Target("scratch / ideal, batch 128", "scratch Network.fit, batch 128",
           "GEMMs only (ideal), batch 128", "<=", 1.3),
    Target("scratch / ideal, batch 32", "scratch Network.fit, batch 32",
           "GEMMs only (ideal), batch 32"),
    Target("keras / scratch, batch 32", "keras model.fit, batch 32",
           "scratch Network.fit, batch 32", ">=", 4.0),
    Target("keras / scratch, batch 128", "keras model.fit, batch 128",
           "scratch Network.fit, batch 128", ">=", 2.5),
)  # fmt: skip


def print_ratios(rows: dict[str, float]) -> list[Outcome]:
    """The targets' table; returns the outcomes (for `--check`)."""
    outcomes = evaluate(TARGETS, rows)
    print_outcomes(outcomes)
    return outcomes
