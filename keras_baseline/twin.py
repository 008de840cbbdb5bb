"""`KerasTwin`: a Keras 3 model with the scratch `Network`'s interface.

The runner and the check drive both models through the same methods
(docs/architecture.md). Training goes through `train_step`, one optimizer step
on exactly the batch given, compiled once with `tf.function`: the batch
dimension is `None` in the input signature, so the remainder batch at the end of
an epoch reuses the same graph instead of retracing every epoch.

The step is Keras's own `Trainer.train_step` minus the metric trackers: forward
pass with `training=True`, `model.compute_loss` (data loss + the layers' L2
penalties, summed in Keras order), `GradientTape`, `optimizer.apply_gradients`.
"""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_baseline.build import KERAS_LAYERS, build_keras_model, floatx
from keras_baseline.files import load_twin_model, save_model_atomic
from keras_baseline.readback import config_from_model
from scratch.config import ModelConfig
from scratch.layers import make_layer
from scratch.network import check_labels

PREDICT_BATCH = 10_000  # rows per forward call of `predict_proba`
EVALUATE_BATCH = 32  # `model.evaluate`'s batch size (Keras's default): its loss is per batch


class KerasTwin:
    """The Keras twin of the scratch network: same config, same interface."""

    def __init__(
        self, config: ModelConfig, seed: int = 0, *, model: keras.Model | None = None
    ) -> None:
        self.config = config
        self.seed = seed
        self.model = model if model is not None else build_keras_model(config, seed)
        self._dtype = tf.as_dtype(config.dtype)
        self.last_batch_correct = 0  # right predictions in the last train_step's forward pass
        x_spec = tf.TensorSpec((None, *config.input_shape), self._dtype)
        y_spec = tf.TensorSpec((None,), tf.int64)
        self._train_fn = tf.function(
            self._train, input_signature=[x_spec, y_spec], jit_compile=False, reduce_retracing=True
        )
        self._grad_fn = tf.function(self._gradients, input_signature=[x_spec, y_spec])
        self._forward_fn = tf.function(self._forward, input_signature=[x_spec])

    # -- compiled pieces -------------------------------------------------------------
    def _one_hot(self, y: tf.Tensor) -> tf.Tensor:
        return tf.one_hot(y, self.config.output_size, dtype=self._dtype)  # (batch, 10)

    def _loss_and_output(self, x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        Y = self._one_hot(y)  # (batch, 10)
        P = self.model(x, training=True)  # (batch, 10)
        return self.model.compute_loss(x=x, y=Y, y_pred=P, training=True), P

    def _loss(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        return self._loss_and_output(x, y)[0]

    def _train(self, x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """One update; returns the loss and how many predictions of this forward pass
        (before the update) were right, as fit()'s accuracy metric counts them."""
        weights = self.model.trainable_weights
        with tf.GradientTape() as tape:
            loss, P = self._loss_and_output(x, y)
        gradients = tape.gradient(loss, weights)
        self.model.optimizer.apply_gradients(zip(gradients, weights, strict=True))
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(P, axis=1), y), tf.int64))
        return loss, correct

    def _gradients(self, x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, list[tf.Tensor]]:
        with tf.GradientTape() as tape:
            loss = self._loss(x, y)
        return loss, tape.gradient(loss, self.model.trainable_weights)

    def _forward(self, x: tf.Tensor) -> tf.Tensor:
        return self.model(x, training=False)

    # -- the shared interface --------------------------------------------------------
    def _x(self, x: np.ndarray) -> tf.Tensor:
        """x as (n, *input_shape); rows of 784 pixels become 28x28x1 images for a CNN."""
        x, shape = np.asarray(x), self.config.input_shape
        if x.shape[1:] != shape and x.ndim in (2, 4) and math.prod(x.shape[1:]) == math.prod(shape):
            x = x.reshape(len(x), *shape)
        if x.shape[1:] != shape:
            raise ValueError(f"x must be (n, {', '.join(map(str, shape))}), got shape {x.shape}")
        return tf.constant(x, dtype=self._dtype)

    def _y(self, y: np.ndarray, n_samples: int) -> tf.Tensor:
        """Labels checked as the scratch network checks them, as an int64 tensor."""
        return tf.constant(check_labels(y, n_samples, self.config.output_size).astype(np.int64))

    def train_step(self, x_batch: np.ndarray, y_batch: np.ndarray) -> float:
        """One optimizer step on this batch; the batch loss before the update.
        `last_batch_correct` is then the number of right predictions before the update."""
        loss, correct = self._train_fn(self._x(x_batch), self._y(y_batch, len(x_batch)))
        self.last_batch_correct = int(correct)
        return float(loss)

    def loss_and_gradients(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        """Loss (data + L2) and its gradients in `get_weights()` order; no update."""
        loss, gradients = self._grad_fn(self._x(x), self._y(y, len(x)))
        return float(loss), [g.numpy() for g in gradients]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Output activations (n, 10) in the config's dtype."""
        X = self._x(x)
        parts = [
            self._forward_fn(X[i : i + PREDICT_BATCH]).numpy()
            for i in range(0, len(x), PREDICT_BATCH)
        ]
        if not parts:
            return np.zeros((0, self.config.output_size), dtype=self.config.dtype)
        return np.concatenate(parts)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted digits (n,) int64."""
        return self.predict_proba(x).argmax(axis=1).astype(np.int64)

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """(loss, accuracy) over the whole set: the loss exactly as `model.evaluate` reports it
        (mean of per-batch losses incl. L2, weighted by batch size, tracked in the model's
        dtype); the accuracy exactly, from `predict`. Run under `floatx(dtype)` because
        `evaluate`, like `fit`, casts float inputs to floatx."""
        X = self._x(x).numpy()  # (n, *input_shape) in the model's dtype
        labels = check_labels(y, len(X), self.config.output_size)
        Y = np.eye(self.config.output_size, dtype=self.config.dtype)[labels]
        with floatx(self.config.dtype):
            logs = self.model.evaluate(X, Y, batch_size=EVALUATE_BATCH, verbose=0, return_dict=True)
        accuracy = float(np.mean(self.predict(X) == labels))
        return float(logs["loss"]), accuracy

    def get_weights(self) -> list[np.ndarray]:
        """Kernel (inputs, units) then bias (units,), layer by layer: copies."""
        return [np.array(w) for w in self.model.get_weights()]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        """Replace every weight (shapes must match; values are cast to the config's dtype).

        Optimizer state (momentum, Adam moments, step count) is kept, as in Keras.
        """
        current = self.model.get_weights()
        if len(weights) != len(current):
            raise ValueError(f"expected {len(current)} weight arrays, got {len(weights)}")
        for index, (new, old) in enumerate(zip(weights, current, strict=True)):
            if np.shape(new) != old.shape:
                raise ValueError(f"weight {index} has shape {np.shape(new)}, expected {old.shape}")
        self.model.set_weights([np.asarray(w, dtype=self.config.dtype) for w in weights])

    def kink_inputs(self, x: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """The input of every ReLU and every max pool, first to last, as ("relu", Z) or
        ("pool", A). A ReLU folded into Dense or Conv2D gets its Z = A_prev W + b from the
        ops that layer's `call` uses (`matmul` or `convolution_op`, then `add`). The check
        compares these with the scratch network's to spot a unit, or a pool window, that
        sits on opposite sides of a kink in the two models."""
        A = self._x(x)
        inputs = []
        for layer in self.model.layers[1:]:
            relu = getattr(layer, "activation", None) is keras.activations.relu
            if isinstance(layer, keras.layers.MaxPooling2D):
                inputs.append(("pool", A.numpy()))
            elif isinstance(layer, keras.layers.Activation) and relu:
                inputs.append(("relu", A.numpy()))
            elif relu and isinstance(layer, keras.layers.Dense | keras.layers.Conv2D):
                A = _preactivation(layer, A)  # (n, units) or (n, h, w, filters)
                inputs.append(("relu", A.numpy()))
                A = layer.activation(A)
                continue
            A = layer(A)
        return inputs

    def save(self, path: str | Path) -> Path:
        """Write a `.keras` file atomically (weights, config, optimizer state)."""
        return save_model_atomic(self.model, path)

    @classmethod
    def load(cls, path: str | Path) -> KerasTwin:
        """Load a `.keras` file written by `save` (safe_mode=True); one-line error if bad."""
        model = load_twin_model(path)
        return cls(config_from_model(model), model=model)


def _preactivation(layer: keras.layers.Layer, A: tf.Tensor) -> tf.Tensor:
    """Z = A_prev W + b of a Dense or Conv2D layer, with the ops its `call` uses."""
    if isinstance(layer, keras.layers.Conv2D):
        Z = layer.convolution_op(A, layer.kernel)  # (n, h, w, filters)
        return keras.ops.add(Z, keras.ops.reshape(layer.bias, (1, 1, 1, -1)))
    return tf.add(tf.matmul(A, layer.kernel.value), layer.bias.value)  # (n, units)


def keras_layer_gradient(
    spec: str, X: np.ndarray, dA: np.ndarray, config: ModelConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(A, dX) of the one Keras layer that `spec` becomes (`KERAS_LAYERS`), by
    `tf.GradientTape`: its output on X and the gradient of sum(A * dA) with respect to X.
    The check compares a scratch layer's forward and backward with these."""
    layer = make_layer(spec)
    keras_layer = KERAS_LAYERS[type(layer).spec_name](layer, None, config, spec)
    x = tf.constant(X)
    with tf.GradientTape() as tape:
        tape.watch(x)
        A = keras_layer(x)
    dX = tape.gradient(A, x, output_gradients=tf.constant(dA))
    return A.numpy(), dX.numpy()
