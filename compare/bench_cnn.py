"""`mnist-compare bench --cnn`: the scratch CNN against its own matrix products and
im2col, and against Keras `fit`.

The network is the `convnet` preset (conv32x3, relu, pool2, conv64x3, relu, pool2,
flatten, dense10; Adam, float32) and one epoch is the full 60,000-image training set
at batch 128. Each measurement runs in a fresh process of its own (multiprocessing,
spawn, as `compare.workers` starts a run's workers), so neither side's thread pools
or memory touch the other's, and each reports its process's peak resident memory. Both
sides get the same number of threads (`--blas-threads`, default 1) from
`compare.threads.pin_threads`: OpenBLAS through threadpoolctl, TensorFlow through its
intra- and inter-op thread variables.

1. the ideal: per batch, only the im2col copies and the matrix products of a training
   step (for each conv layer: im2col, cols @ W, cols.T @ dZ and, past the first layer,
   dZ @ W.T; for the dense layer its three products), on preallocated arrays;
2. one epoch of the scratch network's `fit` (after a warm-up on 1,024 images);
3. one epoch of Keras `model.fit` on the twin (after a warm-up epoch on 1,024 images).

Targets (`TARGETS`): scratch / ideal <= 2.0, scratch / Keras <= 1.5 (goal <= 1.0).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from compare.bench_targets import Target, evaluate, exit_code, print_outcomes

BATCH = 128
WARM = 1024


# The CNN bench's targets: names of `run_cnn`'s measurements.
TARGETS = (
    Target("scratch / ideal", "scratch", "ideal", "<=", 2.0),
    Target("scratch / keras", "scratch", "keras", "<=", 1.5, note="(goal <= 1.0)"),
)


def run_cnn(
    data_dir: str | None, repeats: int, threads: int, keras: bool, *, check: bool = False
) -> int:
    """Print the three measurements and their ratios; the exit code (`--check`: 1 when a
    target is not met)."""
    from compare.environment import environment

    threads = max(threads, 1)
    env = environment()
    print(f"mnist-compare bench --cnn: 60000 training images, convnet preset, batch {BATCH}")
    print(f"python {env['python']}, numpy {env['numpy']}, {env['cpu_count']} CPUs; "
          f"{threads} thread(s) for each side; best of {repeats}\n")  # fmt: skip
    names = ["ideal", "scratch"] + (["keras"] if keras else [])
    from compare.workers import SPAWN

    rows = {}
    for name in names:
        with SPAWN.Pool(1) as pool:
            rows[name] = pool.apply(measure, (name, data_dir, repeats, threads))
    labels = {"ideal": "im2col + GEMMs only (ideal)", "scratch": "scratch Sequential.fit",
              "keras": "keras model.fit"}  # fmt: skip
    print(f"{'measurement':32s} {'s/epoch':>9s} {'images/s':>10s} {'peak MB':>9s}")
    for name, (seconds, peak_mb) in rows.items():
        print(f"{labels[name]:32s} {seconds:9.2f} {60000 / seconds:10.0f} {peak_mb:9.0f}")
    print()
    outcomes = evaluate(TARGETS, {name: seconds for name, (seconds, _) in rows.items()})
    print_outcomes(outcomes, width=18)
    return exit_code(outcomes, check)


def measure(name: str, data_dir: str | None, repeats: int, threads: int) -> tuple[float, float]:
    """In a fresh process: (best seconds for one epoch, peak resident memory in MB)."""
    from compare.data import load_mnist, make_splits
    from compare.environment import peak_rss_mb
    from compare.presets import preset_layer
    from compare.runconfig import resolve
    from compare.threads import pin_threads

    pin_threads(threads)  # as a run's worker process: BLAS and TensorFlow threads alike
    config = resolve(preset_layer("convnet")).model
    splits = make_splits(load_mnist(data_dir), val_size=0)
    x = splits.x_train.reshape(-1, 28, 28, 1)
    epoch = EPOCHS[name](config, x, splits.y_train)
    best = min(_seconds(epoch) for _ in range(repeats))
    return best, peak_rss_mb()


def _seconds(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _scratch_epoch(config: Any, x: np.ndarray, y: np.ndarray):
    from scratch import Network

    network = Network(config, seed=0)
    network.fit(x[:WARM], y[:WARM], batch_size=BATCH, epochs=1)
    epochs = iter(range(1, 1_000_000))
    return lambda: network.fit(x, y, batch_size=BATCH, epochs=1, seed=next(epochs))


def _keras_epoch(config: Any, x: np.ndarray, y: np.ndarray):
    from keras_baseline import KerasTwin

    model = KerasTwin(config).model
    Y = np.eye(10, dtype=np.float32)[y]  # (n, 10) one-hot, as fit needs
    model.fit(x[:WARM], Y[:WARM], batch_size=BATCH, epochs=1, verbose=0)
    return lambda: model.fit(x, Y, batch_size=BATCH, epochs=1, verbose=0)


def _ideal_epoch(config: Any, x: np.ndarray, y: np.ndarray):
    """im2col and the matrix products of each batch alone, on preallocated arrays."""
    from scratch import Network
    from scratch.conv import Conv2D, im2col
    from scratch.layers import Dense

    network, rng = Network(config, seed=0), np.random.default_rng(0)
    steps, shape, work = -(-len(y) // BATCH), config.input_shape, []
    for index, layer in enumerate(network.layers):
        out_shape = layer.output_shape(shape)
        if isinstance(layer, (Conv2D, Dense)):
            X = rng.random((BATCH, *shape)).astype(np.float32)
            W = layer.W.reshape(-1, out_shape[-1]).copy()
            rows = BATCH * int(np.prod(out_shape[:-1]))
            cols = np.empty((rows, W.shape[0]), np.float32)
            dZ = rng.random((rows, W.shape[1])).astype(np.float32)
            grads = (np.empty_like(W), np.empty((rows if isinstance(layer, Conv2D) else BATCH,
                                                  W.shape[0]), np.float32))  # dW, dX  # fmt: skip
            work.append((layer, X, W, cols, dZ, grads, index > 0))
        shape = out_shape

    def epoch() -> None:
        for _ in range(steps):
            for layer, X, W, cols, dZ, (dW, dX), need_dX in work:
                A = X.reshape(BATCH, -1)  # a dense layer's input
                if isinstance(layer, Conv2D):
                    im2col(layer.padded(X), layer.kernel, layer.stride, out=_six(cols, layer, X))
                    A = cols
                np.matmul(A, W, out=dZ)  # the forward product (Z, in dZ's array)
                np.matmul(A.T, dZ, out=dW)
                if need_dX:
                    np.matmul(dZ, W.T, out=dX)  # for a conv layer: before col2im

    return epoch


def _six(cols: np.ndarray, layer: Any, X: np.ndarray) -> np.ndarray:
    """cols viewed as (batch, Ho, Wo, k, k, C), the layout im2col fills."""
    Ho, Wo, _ = layer.output_shape(X.shape[1:])
    return cols.reshape(len(X), Ho, Wo, layer.kernel, layer.kernel, X.shape[3])


EPOCHS = {"ideal": _ideal_epoch, "scratch": _scratch_epoch, "keras": _keras_epoch}
