"""Sequential: a stack of layers (layers.py) with an output-and-loss pair (losses.py),
trained with mini-batch gradient descent (optimizers.py).

One training step, in the order `train_step` runs it:

    Z = forward(X)          each layer's forward, first to last: the logits (batch, 10)
    loss = loss(Z, y)       the output-and-loss pair's mean loss, plus the L2 penalty
    backward()              dZ from the pair, then each layer's backward, last to first
    optimizer.step(...)     every parameter moved against its gradient

Parameters are in Keras's order and layout, [W1 (784, h), b1 (h,), W2 (h, 10), b2 (10,)],
so `get_weights()` / `set_weights()` move weights between the two models as they are.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from scratch.batches import BatchSchedule
from scratch.config import ConfigError, ModelConfig
from scratch.conv_speed import relu_mask_in_pool
from scratch.keras_rounding import keras_cast
from scratch.layers import Layer, make_layer
from scratch.losses import OUTPUT_LOSSES, add_l2_gradient, batch_mean, l2_penalty
from scratch.optimizers import make_optimizer
from scratch.serialization import check_weights, load_model, save_model
from scratch.training import check_finite, fit

Array = np.ndarray
PREDICT_CHUNK = 8192  # at most this many rows per forward pass in predict/evaluate
PREDICT_BYTES = 64 << 20  # and few enough that the layers' arrays stay under 64 MiB


class Sequential:
    """Layers applied one after the other. `seed` (an int or a `numpy.random.Generator`)
    only draws the initial weights."""

    def __init__(self, config: ModelConfig, seed: int | np.random.Generator = 0) -> None:
        if not isinstance(config, ModelConfig):
            raise ConfigError(f"Network needs a scratch.ModelConfig, got {type(config).__name__}")
        self.config = config
        self.dtype = np.dtype(config.dtype)
        self.input_shape = config.input_shape  # (784,), or (28, 28, 1) for a CNN
        self.layers: list[Layer] = [make_layer(spec) for spec in config.layer_specs]
        shape, rng, numbers = self.input_shape, _rng(seed), 0
        for layer in self.layers:
            numbers += layer.numbers_per_sample(shape)
            shape = layer.build(shape, self.dtype, config.init, rng)
        relu_mask_in_pool(self.layers)  # speed trick for `relu,pool2` (conv_speed.py)
        # rows per forward pass in predict/evaluate: a CNN's im2col rows are large
        self.chunk = max(1, min(PREDICT_CHUNK, PREDICT_BYTES // (numbers * self.dtype.itemsize)))
        self.output_loss = OUTPUT_LOSSES[config.loss]()  # softmax + crossentropy, or sigmoid + mse
        self.flat_params = pack_into_one_vector(self.layers, "param_names", self.dtype)
        self.flat_grads = pack_into_one_vector(self.layers, "grad_names", self.dtype)
        self.params = [param for layer in self.layers for param in layer.params]
        self.grads = [grad for layer in self.layers for grad in layer.grads]
        self.regularized = [  # (W, dW) of each kernel the L2 penalty applies to
            (getattr(layer, p), getattr(layer, g))
            for layer in self.layers
            for p, g in zip(layer.param_names, layer.grad_names, strict=True)
            if p in layer.regularized_names
        ]
        self.l2 = keras_cast(config.l2, self.dtype)
        self.optimizer = make_optimizer(config, [self.flat_params])
        self.iterations = 0  # optimizer steps taken, as Keras's optimizer.iterations
        self.last_batch_correct = 0  # right predictions of the last train_step's forward pass

    # ----- the four steps of training --------------------------------------------------
    def forward(self, X: Array) -> Array:
        """The logits Z (batch, 10): every layer's forward, first to last. (The layers
        reuse their arrays, so the next call overwrites this one: copy it to keep it.)"""
        for layer in self.layers:
            X = layer.forward(X)
        return X

    def training_forward(self, X: Array) -> Array:
        """`forward` with the layers in training mode (only dropout behaves differently)."""
        for layer in self.layers:
            layer.training = True
        try:
            return self.forward(X)
        finally:
            for layer in self.layers:
                layer.training = False

    def loss(self, Z: Array, y: Array) -> np.floating:
        """Mean loss over the batch, plus l2 * sum(W**2) for each kernel (Keras's order).
        The output-and-loss pair turns Z into the probabilities P in Z's own array and
        keeps them for `backward`: call `forward` again before computing another loss."""
        loss = batch_mean(self.output_loss.forward(Z, y))
        for W, _ in self.regularized if self.config.l2 else ():
            loss += l2_penalty(W, self.l2)
        return loss

    def backward(self) -> None:
        """Fill every layer's gradients: dZ from the output-and-loss pair, then each
        layer's backward, last to first. It uses what the last `forward` and `loss`
        kept, so nothing (not even `predict`) may run in between."""
        dY = self.output_loss.backward()  # (batch, 10)
        for layer in reversed(self.layers[1:]):
            dY = layer.backward(dY)
        self.layers[0].backward(dY, need_dX=False)
        for W, dW in self.regularized if self.config.l2 else ():
            add_l2_gradient(dW, W, self.l2)  # dW += 2 * l2 * W

    def train_step(self, x_batch: Array, y_batch: Array) -> float:
        """One optimizer step; returns the batch loss from before the update, as Keras does.
        A NaN or infinite loss raises DivergenceError and leaves the weights untouched."""
        X, y = self._check_data(x_batch, y_batch)
        return self._train_step(X, y)

    def _train_step(self, X: Array, y: Array) -> float:
        """train_step on data already checked (fit checks the whole arrays once)."""
        t = self.iterations + 1
        with np.errstate(over="ignore", invalid="ignore"):  # overflow ends as a NaN/inf loss
            loss = self.loss(self.training_forward(X), y)
            # Right predictions before the update: training accuracy as Keras's fit counts it.
            self.last_batch_correct = int(np.count_nonzero(self.output_loss.P.argmax(axis=1) == y))
            check_finite(loss, step=t, learning_rate=self.config.learning_rate,
                         weights=self.flat_params)  # fmt: skip
            self.backward()
            self.optimizer.step([self.flat_params], [self.flat_grads], t)
        self.iterations = t
        return float(loss)

    # ----- using the trained network -----------------------------------------------------
    def loss_and_gradients(self, x: Array, y: Array) -> tuple[float, list[Array]]:
        """The training loss on (x, y) and copies of its gradients in get_weights() order."""
        X, y = self._check_data(x, y)
        loss = self.loss(self.forward(X), y)
        self.backward()
        return float(loss), [grad.copy() for grad in self.grads]

    def predict_proba(self, x: Array) -> Array:
        """Output activations (n, 10): softmax probabilities, or sigmoid outputs for mse."""
        X = self._check_inputs(x)
        P = np.empty((len(X), self.config.output_size), self.dtype)  # (n, 10)
        for i in range(0, len(X), self.chunk):
            chunk = slice(i, i + self.chunk)
            self.output_loss.probabilities(self.forward(X[chunk]), out=P[chunk])
        return P

    def predict(self, x: Array) -> Array:
        """The most likely digit per row, (n,) int64."""
        return self.predict_proba(x).argmax(axis=1).astype(np.int64)

    def evaluate(self, x: Array, y: Array) -> tuple[float, float]:
        """(loss, accuracy) over the whole set; the loss is the mean data loss plus the
        L2 penalty, which is what Keras's `evaluate` reports."""
        X, y = self._check_data(x, y)
        total, correct = 0.0, 0
        for i in range(0, len(X), self.chunk):
            chunk = slice(i, i + self.chunk)
            total += float(
                self.output_loss.forward(self.forward(X[chunk]), y[chunk]).sum(dtype=np.float64)
            )
            correct += int(np.count_nonzero(self.output_loss.P.argmax(axis=1) == y[chunk]))
        penalties = [l2_penalty(W, self.l2) for W, _ in self.regularized] if self.config.l2 else []
        return total / len(y) + float(sum(penalties, self.dtype.type(0))), correct / len(y)

    def fit(
        self, x: Array, y: Array, *, batch_size: int = 32, epochs: int = 1, seed: int = 0,
        schedule: BatchSchedule | None = None, start_epoch: int = 0,
    ) -> list[float]:  # fmt: skip
        """Train on shuffled mini-batches; returns each epoch's mean loss (training.fit)."""
        schedule = schedule or BatchSchedule(len(y), batch_size, seed)
        return fit(self, x, y, schedule, epochs, start_epoch=start_epoch)

    # ----- weights and files ---------------------------------------------------------------
    def get_weights(self) -> list[Array]:
        """Copies of [W1, b1, W2, b2, ...] in Keras order and layout."""
        return [param.copy() for param in self.params]

    def set_weights(self, weights: list[Array]) -> None:
        """Copy `weights` (Keras order and layout) in; optimizer state is kept."""
        arrays = [np.asarray(w) for w in weights]
        if len(arrays) != len(self.params):
            raise ValueError(
                f"set_weights got {len(arrays)} arrays, this network has {len(self.params)} "
                f"([W1, b1, ...] for layers {self.describe()})"
            )
        for i, (w, param) in enumerate(zip(arrays, self.params, strict=True)):
            if w.shape != param.shape:
                raise ValueError(
                    f"set_weights: array {i} has shape {w.shape}, expected {param.shape}"
                )
            if not np.can_cast(w.dtype, self.dtype, casting="same_kind"):
                raise ValueError(
                    f"set_weights: array {i} has dtype {w.dtype}, which cannot become {self.dtype}"
                )
        for w, param in zip(arrays, self.params, strict=True):
            np.copyto(param, w, casting="same_kind")

    def describe(self) -> str:
        """e.g. '784-128-10 relu/crossentropy float32'."""
        return self.config.describe()

    def save(self, path: str | Path) -> None:
        """Write weights, config and format version to an .npz file, atomically."""
        save_model(path, self.config, self.params)

    @classmethod
    def load(cls, path: str | Path, expect: ModelConfig | None = None) -> Sequential:
        """A network rebuilt from `save`'s file; with `expect`, its architecture must match."""
        config, arrays = load_model(path, expect=expect)
        network = cls(config, seed=0)
        network.set_weights(check_weights(path, arrays, network.params, config.describe()))
        return network

    # ----- input checks ---------------------------------------------------------------------
    def _check_inputs(self, x: Array) -> Array:
        """x as (n, *input_shape) in the model's dtype. Rows of 784 pixels are viewed as
        28x28x1 images for a CNN (no copy), so one set of arrays serves every model."""
        X = x if type(x) is np.ndarray else np.asarray(x)
        same_size = X.ndim in (2, 4) and math.prod(X.shape[1:]) == math.prod(self.input_shape)
        if X.shape[1:] != self.input_shape and same_size:
            X = X.reshape(len(X), *self.input_shape)
        if X.shape[1:] != self.input_shape:
            shape = ", ".join(map(str, self.input_shape))
            raise ValueError(f"x must have shape (n, {shape}), got {X.shape}")
        if X.dtype != self.dtype:
            X = X.astype(self.dtype)  # once per call, never inside the layer loop
        return X

    def _check_data(self, x: Array, y: Array) -> tuple[Array, Array]:
        X = self._check_inputs(x)
        return X, check_labels(y, len(X), self.config.output_size)


Network = Sequential  # the name the rest of the project (and earlier code) uses


def pack_into_one_vector(layers: list[Layer], names: str, dtype: np.dtype) -> Array:
    """Speed trick "one flat vector": copy the arrays that `layer.<names>` lists into one
    flat vector, back to back, and make each layer's attribute a view of its part.

    The layers compute exactly as before (a view is an array), but the optimizer can
    update every parameter with a few whole-vector NumPy calls instead of a few per
    array (each call costs about a microsecond however small its array). The plain
    form is to hand the optimizer the list of arrays itself: same numbers, checked in
    tests/test_scratch_optimizers.py.
    """
    owners = [(layer, name) for layer in layers for name in getattr(layer, names)]
    flat = np.empty(sum(getattr(layer, name).size for layer, name in owners), dtype)
    start = 0
    for layer, name in owners:
        array = getattr(layer, name)
        view = flat[start : start + array.size].reshape(array.shape)  # a view: no copy
        view[...] = array
        setattr(layer, name, view)
        start += array.size
    return flat


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


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative int or numpy Generator, got {seed!r}")
    return np.random.default_rng(int(seed))
