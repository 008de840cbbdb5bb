"""The multilayer perceptron: 784 inputs, any hidden layers, 10 outputs.

Layer l computes Z = A_prev @ W + b, then A = activation(Z). The last layer's
activation (softmax or sigmoid) belongs to the loss, see losses.py. Parameters
are kept in Keras's order and layout, [W1 (784, h), b1 (h,), W2 (h, 10), b2 (10,)],
so `get_weights()` / `set_weights()` move weights between the two models as is.

Speed: a training step runs the forward and backward matrix products on
preallocated, C-contiguous buffers (`out=`), applies activations in place and
never builds a one-hot matrix, so almost all its time is spent in BLAS. All
parameters live in one flat vector (and all gradients in another); W1, b1, ...
are reshaped views of it. The optimizer then updates every parameter with a
couple of whole-vector operations instead of a couple per array: each NumPy
call costs about a microsecond however small its array, and that adds up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scratch import losses
from scratch.activations import HIDDEN, sigmoid, softmax
from scratch.config import ConfigError, ModelConfig
from scratch.initializers import init_params
from scratch.optimizers import keras_cast, make_optimizer
from scratch.serialization import load_model, save_model
from scratch.training import check_finite, fit

Array = np.ndarray
PREDICT_CHUNK = 8192  # rows per forward pass in predict/evaluate (bounds memory)
MAX_CACHED_BATCH = 8192  # larger batches get fresh buffers instead of cached ones


@dataclass
class Workspace:
    """Preallocated buffers for one batch size: Z[l] (batch, units) per layer,
    reused in place for the activations; dA[l] (batch, units) per hidden layer."""

    Z: list[Array]
    dA: list[Array]
    ones: Array  # (batch,) of 1: db = ones @ dZ, the batch sum as one BLAS call


class Network:
    """A multilayer perceptron trained with mini-batch gradient descent.

    `seed` is an int or a `numpy.random.Generator`; it only draws the initial weights.
    """

    def __init__(self, config: ModelConfig, seed: int | np.random.Generator = 0) -> None:
        if not isinstance(config, ModelConfig):
            raise ConfigError(f"Network needs a scratch.ModelConfig, got {type(config).__name__}")
        self.config = config
        self.dtype = np.dtype(config.dtype)
        initial = init_params(config.layer_sizes, config.init, config.dtype, _rng(seed))
        # params[i] and grads[i] are views of the flat vectors (set_weights copies in place,
        # so the views stay valid); kernels and biases are the same views again.
        self.flat_params, self.params = _flat_with_views(initial, self.dtype)
        self.flat_grads, self.grads = _flat_with_views(initial, self.dtype)
        self.kernels, self.biases = self.params[0::2], self.params[1::2]
        # The optimizers work on lists of arrays; here the list is just the one flat vector.
        self.optimizer = make_optimizer(config, [self.flat_params])
        self.iterations = 0  # optimizer steps taken, as Keras's optimizer.iterations
        self.last_batch_correct = 0  # right predictions in the last train_step's forward pass
        self.l2 = keras_cast(config.l2, self.dtype)  # keras.regularizers.L2 casts l2 like this
        self._l2_buffers = [np.empty_like(W) for W in self.kernels] if config.l2 else []
        self._activate, self._activate_backward = HIDDEN[config.activation]
        self._workspaces: dict[int, Workspace] = {}

    # ----- parameters -------------------------------------------------------------
    def get_weights(self) -> list[Array]:
        """Copies of [W1, b1, W2, b2, ...] in Keras order and layout."""
        return [p.copy() for p in self.params]

    def set_weights(self, weights: list[Array]) -> None:
        """Copy `weights` (Keras order and layout) into the network; optimizer state is kept."""
        weights = list(weights)
        if len(weights) != len(self.params):
            raise ValueError(
                f"set_weights got {len(weights)} arrays, this network has {len(self.params)} "
                f"([W1, b1, ...] for layers {self.describe()})"
            )
        arrays = [np.asarray(w) for w in weights]
        for i, (w, p) in enumerate(zip(arrays, self.params, strict=True)):
            if w.shape != p.shape:
                raise ValueError(f"set_weights: array {i} has shape {w.shape}, expected {p.shape}")
            if not np.can_cast(w.dtype, self.dtype, casting="same_kind"):
                raise ValueError(
                    f"set_weights: array {i} has dtype {w.dtype}, which cannot become {self.dtype}"
                )
        for w, p in zip(arrays, self.params, strict=True):
            np.copyto(p, w, casting="same_kind")

    def describe(self) -> str:
        """e.g. '784-128-10 relu/crossentropy float32'."""
        return self.config.describe()

    # ----- forward and backward ------------------------------------------------------
    def _forward(self, X: Array, ws: Workspace | None = None) -> list[Array]:
        """[X, A1, ..., A_{L-1}, Z_L]: every layer's input, then the output logits."""
        acts = [X]
        last = len(self.kernels) - 1
        for l, (W, b) in enumerate(zip(self.kernels, self.biases, strict=True)):
            Z = np.matmul(acts[-1], W, out=None if ws is None else ws.Z[l])  # (batch, units)
            Z += b
            acts.append(Z if l == last else self._activate(Z, out=Z))
        return acts

    def _loss_and_backward(self, X: Array, y: Array) -> np.floating:
        """Forward, loss, backward: fills self.grads, returns the batch loss (+ L2 penalty)."""
        ws = self._workspace(len(X))
        acts = self._forward(X, ws)
        Z_out = acts.pop()  # (batch, k), overwritten below by P, then by dZ
        sample_losses, P = self._output_and_losses(Z_out, y)
        # Right predictions before the update (training accuracy, as Keras's fit counts it).
        self.last_batch_correct = int(np.count_nonzero(P.argmax(axis=1) == y))
        loss = losses.batch_mean(sample_losses)
        for penalty in self._penalties():
            loss += penalty  # data loss + L2 of kernel 1 + kernel 2 ..., in Keras's order
        dZ = self._output_backward(P, y)  # (batch, k), overwrites P
        self._backward(acts, dZ, ws)
        return loss

    def _output_and_losses(self, Z: Array, y: Array) -> tuple[Array, Array]:
        """Per-sample losses (batch,) and output activations P (batch, k), P in Z's buffer."""
        if self.config.loss == "crossentropy":
            return losses.crossentropy_forward(Z, y, out=Z)  # softmax fused with its loss
        P = sigmoid(Z, out=Z)
        return losses.mse_forward(P, y), P

    def _output_backward(self, P: Array, y: Array) -> Array:
        """dZ of the output layer (batch, k), computed in P's buffer."""
        if self.config.loss == "crossentropy":
            return losses.crossentropy_backward(P, y)
        return losses.mse_backward(P, y)

    def _backward(self, acts: list[Array], dZ: Array, ws: Workspace) -> None:
        """From the output's dZ back to the first layer, filling self.grads."""
        for l in range(len(self.kernels) - 1, -1, -1):  # l: layer index, last first
            A_prev = acts[l]  # (batch, fan_in)
            np.matmul(A_prev.T, dZ, out=self.grads[2 * l])  # dW (fan_in, fan_out)
            np.matmul(ws.ones, dZ, out=self.grads[2 * l + 1])  # db (fan_out,) = sum over batch
            if l > 0:
                dA = np.matmul(dZ, self.kernels[l].T, out=ws.dA[l - 1])  # (batch, fan_in)
                dZ = self._activate_backward(dA, A_prev, out=dA)
        if self.config.l2:  # the penalty's gradient, 2 * l2 * W, kernels only
            for dW, W, buffer in zip(self.grads[0::2], self.kernels, self._l2_buffers, strict=True):
                losses.add_l2_gradient(dW, W, self.l2, buffer)

    def _penalties(self) -> list[np.floating]:
        return losses.l2_penalty(self.kernels, self.l2) if self.config.l2 else []

    def _workspace(self, batch: int) -> Workspace:
        ws = self._workspaces.get(batch)
        if ws is None:
            units = self.config.layer_sizes[1:]
            ws = Workspace(
                Z=[np.empty((batch, n), self.dtype) for n in units],
                dA=[np.empty((batch, n), self.dtype) for n in units[:-1]],
                ones=np.ones(batch, self.dtype),
            )
            if batch <= MAX_CACHED_BATCH:
                if len(self._workspaces) >= 4:
                    self._workspaces.pop(next(iter(self._workspaces)))
                self._workspaces[batch] = ws
        return ws

    # ----- the shared interface ------------------------------------------------------
    def train_step(self, x_batch: Array, y_batch: Array) -> float:
        """One optimizer step; returns the batch loss from before the update, as Keras does.

        A NaN or infinite loss raises DivergenceError and leaves the weights untouched.
        Afterwards `grads` holds the optimizer's leftovers (it is its scratch space), not
        the gradients: use `loss_and_gradients` to look at those.
        """
        X, y = self._check_data(x_batch, y_batch)
        return self._train_step(X, y)

    def _train_step(self, X: Array, y: Array) -> float:
        """train_step on data already checked (fit checks the whole arrays once)."""
        step = self.iterations + 1
        lr = self.config.learning_rate
        with np.errstate(over="ignore", invalid="ignore"):  # overflow ends as a NaN/inf loss
            loss = self._loss_and_backward(X, y)
            check_finite(loss, step=step, learning_rate=lr, weights=self.flat_params)
            self.optimizer.step([self.flat_params], [self.flat_grads], step)
        self.iterations = step
        return float(loss)

    def loss_and_gradients(self, x: Array, y: Array) -> tuple[float, list[Array]]:
        """The training loss on (x, y) and copies of its gradients in get_weights() order."""
        X, y = self._check_data(x, y)
        loss = self._loss_and_backward(X, y)
        return float(loss), [g.copy() for g in self.grads]

    def predict_proba(self, x: Array) -> Array:
        """Output activations (n, 10): softmax probabilities, or sigmoid outputs for mse."""
        X = self._check_inputs(x)
        output = sigmoid if self.config.loss == "mse" else softmax
        P = np.empty((len(X), self.config.output_size), self.dtype)  # (n, 10)
        for i in _starts(X):
            output(self._logits(X[i : i + PREDICT_CHUNK]), out=P[i : i + PREDICT_CHUNK])
        return P

    def predict(self, x: Array) -> Array:
        """The most likely digit per row, (n,) int64."""
        return self.predict_proba(x).argmax(axis=1).astype(np.int64)

    def evaluate(self, x: Array, y: Array) -> tuple[float, float]:
        """(loss, accuracy) over the whole set; the loss is the mean data loss plus the
        L2 penalty, which is what Keras's `evaluate` reports (a batch-size-weighted mean)."""
        X, y = self._check_data(x, y)
        total, correct = 0.0, 0
        for i in _starts(X):
            Z = self._logits(X[i : i + PREDICT_CHUNK])  # (chunk, k)
            y_chunk = y[i : i + PREDICT_CHUNK]
            sample_losses, P = self._output_and_losses(Z, y_chunk)
            total += float(sample_losses.sum(dtype=np.float64))
            correct += int(np.count_nonzero(P.argmax(axis=1) == y_chunk))  # as predict()
        penalty = float(sum(self._penalties(), self.dtype.type(0)))
        return total / len(y) + penalty, correct / len(y)

    def fit(
        self, x: Array, y: Array, schedule, epochs: int, *, start_epoch: int = 0
    ) -> list[float]:
        """Train epoch by epoch on `schedule.epoch(e)` index arrays; see training.fit."""
        return fit(self, x, y, schedule, epochs, start_epoch=start_epoch)

    def save(self, path: str | Path) -> None:
        """Write weights, config and format version to an .npz file, atomically."""
        save_model(path, self.config, self.params)

    @classmethod
    def load(cls, path: str | Path, expect: ModelConfig | None = None) -> Network:
        """A network rebuilt from `save`'s file; with `expect`, its architecture must match."""
        config, weights = load_model(path, expect=expect)
        network = cls(config, seed=0)
        network.set_weights(weights)
        return network

    # ----- helpers ---------------------------------------------------------------------
    def _logits(self, X: Array) -> Array:
        return self._forward(X)[-1]

    def _check_inputs(self, x: Array) -> Array:
        X = x if type(x) is np.ndarray else np.asarray(x)
        if X.ndim != 2 or X.shape[1] != self.config.input_size:
            raise ValueError(
                f"x must have shape (n, {self.config.input_size}), got {X.shape}: "
                "flatten each image to one row"
            )
        if X.dtype != self.dtype:
            X = X.astype(self.dtype)  # once per call, never inside the layer loop
        return X

    def _check_data(self, x: Array, y: Array) -> tuple[Array, Array]:
        X = self._check_inputs(x)
        return X, check_labels(y, len(X), self.config.output_size)


def check_labels(y: Array, n_samples: int, n_classes: int) -> Array:
    """`y` as an integer array of `n_samples` labels in 0..n_classes-1, else ValueError.
    (The Keras twin checks its labels with this too: tf.one_hot would silently turn a
    label of 10 or -1 into a row of zeros.)"""
    y = y if type(y) is np.ndarray else np.asarray(y)
    if y.shape != (n_samples,) or y.dtype.kind not in "iu":  # signed or unsigned integers
        raise ValueError(
            f"y must be {n_samples} integer labels, shape ({n_samples},), got {y.dtype} {y.shape}"
        )
    if n_samples == 0:
        raise ValueError("empty batch: x and y hold no samples")
    low, high = np.minimum.reduce(y), np.maximum.reduce(y)
    if low < 0 or high >= n_classes:
        raise ValueError(f"labels must be in 0..{n_classes - 1}, got {low}..{high}")
    return y


def _flat_with_views(arrays: list[Array], dtype: np.dtype) -> tuple[Array, list[Array]]:
    """A flat vector holding copies of `arrays` back to back, and a view of it per array."""
    flat = np.empty(sum(a.size for a in arrays), dtype)  # (total parameters,)
    views, start = [], 0
    for a in arrays:
        view = flat[start : start + a.size].reshape(a.shape)  # a view: no copy
        view[...] = a
        views.append(view)
        start += a.size
    return flat, views


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative int or numpy Generator, got {seed!r}")
    return np.random.default_rng(int(seed))


def _starts(X: Array) -> range:
    return range(0, len(X), PREDICT_CHUNK)
