"""Where a scratch CNN training step spends its time, layer by layer, beside the
im2col and matrix products of `mnist-compare bench --cnn`'s ideal, in one process.

Usage: python benchmarks/profile_cnn_step.py [--steps N] [--data-dir DIR]

The convnet preset, batch 128 of real digits, one thread. Each step runs the ideal's
work (compare/bench_cnn.py) and then one scratch training step layer by layer,
alternating, and times every piece in CPU time of this thread (`time.thread_time`),
so other processes on a shared host count less than in wall time. Prints the median
of each piece over the steps and the ratio scratch / ideal.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

BATCH = 128


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="profile_cnn_step.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--steps", type=int, default=30, help="steps to time (default 30)")
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default MNIST_DATA_DIR)")
    args = parser.parse_args(argv)

    from compare.bench_cnn import _ideal_epoch
    from compare.data import load_mnist
    from compare.presets import preset_layer
    from compare.runconfig import resolve
    from compare.threads import pin_threads
    from scratch import Network

    pin_threads(1)
    config = resolve(preset_layer("convnet")).model
    mnist = load_mnist(args.data_dir)
    X = (mnist.train_images[:BATCH] / np.float32(255)).reshape(BATCH, 28, 28, 1)
    y = mnist.train_labels[:BATCH].astype(np.int64)
    network = Network(config, seed=0)
    ideal_step = _ideal_epoch(config, np.empty((BATCH, 28, 28, 1), np.float32), y)
    for _ in range(3):  # warm-up: every kept array made
        network._train_step(X, y)
    ideal, layers = [], []
    for _ in range(args.steps):
        ideal.append(_cpu_seconds(ideal_step))  # one batch: len(y) == BATCH
        layers.append(_layer_seconds(network, X, y))
    layers_ms = np.median(layers, axis=0) * 1e3  # (layers + 1, 2)
    ideal_ms = float(np.median(ideal)) * 1e3
    print(f"convnet, batch {BATCH}, {args.steps} steps, median CPU ms per step")
    for layer, (forward, backward) in zip(network.layers, layers_ms, strict=False):
        print(f"  {layer.spec:10s} forward {forward:6.2f}  backward {backward:6.2f}")
    print(f"  {'loss, adam':10s} {layers_ms[-1].sum():14.2f}")
    total = float(layers_ms.sum())
    print(f"scratch step {total:.1f}  ideal step {ideal_ms:.1f}  ratio {total / ideal_ms:.2f}")
    return 0


def _cpu_seconds(action) -> float:
    start = time.thread_time()
    action()
    return time.thread_time() - start


def _layer_seconds(network, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(layers + 1, 2): each layer's forward and backward seconds; last row: the loss
    with its gradient, and the optimizer step (train_step's work, piece by piece)."""
    seconds = np.zeros((len(network.layers) + 1, 2))
    for index, layer in enumerate(network.layers):
        start = time.thread_time()
        X = layer.forward(X)
        seconds[index, 0] = time.thread_time() - start
    start = time.thread_time()
    network.loss(X, y)
    dY = network.output_loss.backward()
    seconds[-1, 0] = time.thread_time() - start
    for index in reversed(range(len(network.layers))):
        start = time.thread_time()
        dY = network.layers[index].backward(dY, need_dX=index > 0)
        seconds[index, 1] = time.thread_time() - start
    network.iterations += 1
    start = time.thread_time()
    network.optimizer.step([network.flat_params], [network.flat_grads], network.iterations)
    seconds[-1, 1] = time.thread_time() - start
    return seconds


if __name__ == "__main__":
    sys.exit(main())
