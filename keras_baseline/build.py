"""Build the Keras twin of a `ModelConfig` (readback.py reads a config back from a model).

Three Keras defaults would silently make a float64 twin compute in float32; each is
overridden here, and each is a trap a hand-built float64 Keras model falls into.
A fourth float32 detour is kept on purpose.

1. Layers take their dtype from `keras.config.floatx()` (float32). We pass
   `dtype=config.dtype` to the `Input` and to every `Dense` layer instead.
2. A `keras.losses.Loss` casts `y_true` and `y_pred` to *its own* dtype, which
   defaults to floatx: a float64 network would get a float32 loss and float32
   gradients. We give the loss `dtype=config.dtype`. (Keras does not serialize a
   loss's dtype, so `load_twin_model` recompiles with the right loss.)
3. `model.compile` builds its loss wrapper, loss tracker and metrics in floatx
   and casts the loss value to it; we compile under `floatx(config.dtype)`.
4. Not overridden, on purpose: Keras keeps the learning rate in a Variable of
   dtype floatx and casts Python hyperparameters through float32
   (`ops.cast(0.9, "float64")` is `float64(float32(0.9))`), so a float64 Keras
   model steps with lr = float64(float32(lr)) and momentum/beta = float64(float32(.)).
   That is what every Keras program that sets the dtype per layer and leaves floatx
   at float32 gets (one that calls `set_floatx("float64")` would not);
   scratch/keras_rounding.py reproduces it,
   and we pin it by creating the optimizer under `floatx("float32")` so a global
   `set_floatx` elsewhere in the process cannot silently change it.
   With `lr_decay > 0` the optimizer gets an `InverseTimeDecay` schedule instead of a
   float; the schedule computes in float32 whatever floatx is (`make_learning_rate`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import keras
import tensorflow as tf

from scratch.config import ModelConfig
from scratch.conv import Conv2D, Flatten, MaxPooling2D
from scratch.layers import ACTIVATION_LAYERS, Dense, Dropout, Layer, make_layer


def make_initializer(init: str) -> keras.initializers.Initializer:
    """The Keras initializer drawing from the same distribution as scratch's `init`.

    "normal" is the textbook N(0, 1/fan_in) in scratch (not Keras's "normal" alias,
    RandomNormal(0, 0.05)), so it maps to an untruncated fan-in VarianceScaling.
    """
    if init == "glorot_uniform":
        return keras.initializers.GlorotUniform()
    if init == "he_normal":
        return keras.initializers.HeNormal()
    return keras.initializers.VarianceScaling(
        scale=1.0, mode="fan_in", distribution="untruncated_normal"
    )


OPTIMIZER_FLOATX = "float32"  # Keras's default floatx: dtype of the learning-rate Variable


@contextlib.contextmanager
def floatx(dtype: str) -> Iterator[None]:
    """Temporarily set `keras.config.floatx()`; always restored, even on error."""
    previous = keras.config.floatx()
    keras.config.set_floatx(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(previous)


def enable_determinism(seed: int) -> None:
    """Seed Python, NumPy, TensorFlow and Keras; make TF ops deterministic.

    `enable_op_determinism` makes TF pick deterministic kernels and reduction
    orders. On this CPU-only build it costs little for dense layers (Eigen matmuls
    are already deterministic for a fixed thread count), but it does forbid some
    parallel reductions and stateful-random shortcuts, so `fit` can be a few
    percent slower than a non-deterministic run. We pay that: two runs with the
    same seed must give the same weights bit for bit.
    """
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def make_loss(config: ModelConfig) -> keras.losses.Loss:
    """CategoricalCrossentropy (softmax output) or MeanSquaredError (sigmoid output)."""
    if config.loss == "crossentropy":
        return keras.losses.CategoricalCrossentropy(dtype=config.dtype)
    return keras.losses.MeanSquaredError(dtype=config.dtype)


def make_learning_rate(config: ModelConfig) -> float | keras.optimizers.schedules.InverseTimeDecay:
    """A plain float (the optimizer keeps it in a float32 Variable) without decay;
    with `lr_decay > 0`, `InverseTimeDecay(lr, decay_steps=1, decay_rate=lr_decay)`,
    which the optimizer evaluates at its `iterations` before each update, in float32
    (scratch/keras_rounding.py, `keras_decayed_learning_rate`)."""
    if not config.lr_decay:
        return float(config.learning_rate)
    return keras.optimizers.schedules.InverseTimeDecay(
        float(config.learning_rate), decay_steps=1, decay_rate=float(config.lr_decay)
    )


def make_optimizer(config: ModelConfig) -> keras.optimizers.Optimizer:
    """The optimizer of `config`; its learning-rate Variable is float32 (see module doc)."""
    lr = make_learning_rate(config)
    with floatx(OPTIMIZER_FLOATX):
        if config.optimizer == "sgd":
            return keras.optimizers.SGD(learning_rate=lr)
        if config.optimizer in ("momentum", "nesterov"):
            return keras.optimizers.SGD(
                learning_rate=lr,
                momentum=float(config.momentum),
                nesterov=config.optimizer == "nesterov",
            )
        return keras.optimizers.Adam(
            learning_rate=lr,
            beta_1=float(config.beta_1),
            beta_2=float(config.beta_2),
            epsilon=float(config.epsilon),
        )


def compile_model(model: keras.Model, config: ModelConfig, optimizer=None) -> None:
    """Compile with the config's loss (in the config's dtype) and accuracy.

    Compiled under `floatx(config.dtype)`: Keras creates the compiled-loss wrapper,
    the loss tracker and the metrics with dtype floatx, and its wrapper casts the
    loss *value* to that dtype. Under float32 a float64 model with L2 fails in
    `compute_loss` (float32 data loss + float64 penalties: TypeError), and without
    L2 it reports float32-rounded losses.
    """
    optimizer = optimizer if optimizer is not None else make_optimizer(config)
    with floatx(config.dtype):
        model.compile(optimizer=optimizer, loss=make_loss(config), metrics=["accuracy"])


def build_keras_model(config: ModelConfig, seed: int = 0) -> keras.Model:
    """A compiled Keras model of the config's layer stack, e.g. `Input(784) -> Dense(128,
    relu) -> Dense(10, softmax)`, one Keras layer per scratch layer (`keras_layers`).

    Initial weights depend only on `seed` (via `keras.utils.set_random_seed`).
    Note the side effects on the whole process: that call reseeds Python's, NumPy's
    global and TensorFlow's random generators, and `enable_determinism` switches on
    TensorFlow's op determinism. (The scratch network and the batch schedule use their
    own `numpy.random.Generator`s, so they are not affected.)
    """
    enable_determinism(seed)
    inputs = keras.Input(shape=config.input_shape, dtype=config.dtype, name="pixels")
    x = inputs
    for layer in keras_layers(config):
        x = layer(x)
    model = keras.Model(inputs, x, name="keras_twin")
    compile_model(model, config)
    model.optimizer.build(model.trainable_variables)
    return model


def _kernel_options(config: ModelConfig) -> dict[str, Any]:
    """What every layer with a kernel shares: initializer, L2 and dtype."""
    return {
        "kernel_initializer": make_initializer(config.init),
        "kernel_regularizer": keras.regularizers.L2(config.l2) if config.l2 else None,
        "dtype": config.dtype,
    }


def _dense(layer: Dense, activation: str | None, config: ModelConfig, name: str):
    return keras.layers.Dense(
        layer.units, activation=activation, name=name, **_kernel_options(config)
    )


def _conv(layer: Conv2D, activation: str | None, config: ModelConfig, name: str):
    return keras.layers.Conv2D(
        layer.filters,
        layer.kernel,
        strides=layer.stride,
        padding=layer.padding,
        activation=activation,
        name=name,
        **_kernel_options(config),
    )


def _pool(layer: MaxPooling2D, activation: None, config: ModelConfig, name: str):
    return keras.layers.MaxPooling2D(
        layer.pool, strides=layer.stride, dtype=config.dtype, name=name
    )


def _flatten(layer: Flatten, activation: None, config: ModelConfig, name: str):
    return keras.layers.Flatten(dtype=config.dtype, name=name)


def _dropout(layer: Dropout, activation: None, config: ModelConfig, name: str):
    return keras.layers.Dropout(layer.rate, dtype=config.dtype, name=name)


def _activation(layer: Layer, activation: None, config: ModelConfig, name: str):
    return keras.layers.Activation(type(layer).spec_name, dtype=config.dtype, name=name)


# The one table from a scratch layer (by its spec name) to its Keras layer.
# Each entry: (scratch layer, activation or None, config, layer name) -> Keras layer.
KERAS_LAYERS = {
    "dense": _dense,
    "conv": _conv,
    "pool": _pool,
    "flatten": _flatten,
    "dropout": _dropout,
    "relu": _activation,
    "sigmoid": _activation,
    "tanh": _activation,
}
TAKES_ACTIVATION = ("dense", "conv")  # Keras layers with an `activation` argument


def keras_layers(config: ModelConfig) -> list[keras.layers.Layer]:
    """The Keras layers of the config's stack, through `KERAS_LAYERS`.

    An activation right after a Dense or Conv2D layer becomes that layer's
    `activation=` (as Keras code is usually written; it is the same function, so the
    same numbers),
    and the last Dense layer gets the loss's output activation (softmax or sigmoid).
    Dense layers are named hidden_1, hidden_2, ..., output.
    """
    specs = config.layer_specs
    built, dense_count, index = [], 0, 0
    while index < len(specs):
        layer = make_layer(specs[index])
        kind = type(layer).spec_name
        if kind not in KERAS_LAYERS:
            raise ValueError(f"layer {specs[index]!r} has no Keras twin (see KERAS_LAYERS)")
        last = index == len(specs) - 1
        following = specs[index + 1] if not last else None
        activation = config.output_activation if last else None
        if kind in TAKES_ACTIVATION and following in ACTIVATION_LAYERS:
            activation, index = following, index + 1
        if kind == "dense":
            dense_count += 1
            name = "output" if last else f"hidden_{dense_count}"
        else:
            name = f"{kind}_{index + 1}"
        built.append(KERAS_LAYERS[kind](layer, activation, config, name))
        index += 1
    return built
