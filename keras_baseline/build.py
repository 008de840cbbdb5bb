"""Build the Keras twin of a `ModelConfig`, and read a `ModelConfig` back from a Keras model.

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
import numpy as np
import tensorflow as tf

from scratch.config import ModelConfig
from scratch.layers import ACTIVATION_LAYERS, make_layer


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


def initializer_name(initializer: keras.initializers.Initializer) -> str | None:
    """Inverse of `make_initializer` (None for anything else)."""
    kind = type(initializer).__name__
    if kind == "GlorotUniform":
        return "glorot_uniform"
    if kind == "HeNormal":
        return "he_normal"
    options = initializer.get_config() if kind == "VarianceScaling" else {}
    expected = {"scale": 1.0, "mode": "fan_in", "distribution": "untruncated_normal"}
    if options and all(options.get(key) == value for key, value in expected.items()):
        return "normal"
    return None


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
    inputs = keras.Input(shape=(config.input_size,), dtype=config.dtype, name="pixels")
    x = inputs
    for layer in keras_layers(config):
        x = layer(x)
    model = keras.Model(inputs, x, name="keras_twin")
    compile_model(model, config)
    model.optimizer.build(model.trainable_variables)
    return model


def _dense(units: int, activation: str | None, config: ModelConfig, name: str):
    regularizer = keras.regularizers.L2(config.l2) if config.l2 else None
    return keras.layers.Dense(
        units,
        activation=activation,
        kernel_initializer=make_initializer(config.init),
        kernel_regularizer=regularizer,
        dtype=config.dtype,
        name=name,
    )


def _activation(name: str, config: ModelConfig, layer_name: str):
    return keras.layers.Activation(name, dtype=config.dtype, name=layer_name)


# The one table from a scratch layer (by its spec name) to its Keras layer.
# Each entry: (scratch layer, activation or None, config, layer name) -> Keras layer.
KERAS_LAYERS = {
    "dense": lambda layer, activation, config, name: _dense(layer.units, activation, config, name),
    "relu": lambda layer, activation, config, name: _activation("relu", config, name),
    "sigmoid": lambda layer, activation, config, name: _activation("sigmoid", config, name),
    "tanh": lambda layer, activation, config, name: _activation("tanh", config, name),
}
TAKES_ACTIVATION = ("dense",)  # Keras layers with an `activation` argument


def keras_layers(config: ModelConfig) -> list[keras.layers.Layer]:
    """The Keras layers of the config's stack, through `KERAS_LAYERS`.

    An activation right after a Dense layer becomes that layer's `activation=` (as
    Keras code is usually written; it is the same function, so the same numbers),
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
        if kind in TAKES_ACTIVATION:
            dense_count += 1
            name = "output" if last else f"hidden_{dense_count}"
        else:
            name = f"{kind}_{index + 1}"
        built.append(KERAS_LAYERS[kind](layer, activation, config, name))
        index += 1
    return built


def _learning_rate_fields(value: Any) -> dict[str, float]:
    """`learning_rate` (and `lr_decay`) from an optimizer config's learning_rate entry:
    a float, or a serialized InverseTimeDecay(lr, decay_steps=1, decay_rate) schedule."""
    if not isinstance(value, dict):
        return {"learning_rate": _shortest(value)}
    options = value.get("config", {})
    if value.get("class_name") != "InverseTimeDecay" or options.get("decay_steps") != 1:
        raise ValueError("not an mnist-compare Keras twin (unsupported learning-rate schedule)")
    if options.get("staircase"):
        raise ValueError("not an mnist-compare Keras twin (staircase learning-rate decay)")
    return {
        "learning_rate": float(options["initial_learning_rate"]),
        "lr_decay": float(options["decay_rate"]),
    }


def _shortest(value: float) -> float:
    """The shortest decimal that rounds to the same float32 (0.10000000149 -> 0.1): the
    learning-rate Variable is float32, so this recovers the value the user gave."""
    return float(str(np.float32(value)))


def config_from_model(model: keras.Model) -> ModelConfig:
    """Recover the `ModelConfig` a model was built from (for `.keras` files).

    Raises `ValueError` with a one-line message if the model is not a twin.
    """
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if len(dense) < 2 or len(dense) != len(model.layers) - 1:
        raise ValueError("not an mnist-compare Keras twin (expected Input then 2+ Dense layers)")
    first, last = dense[0], dense[-1]
    loss = model.loss
    loss_name = {"CategoricalCrossentropy": "crossentropy", "MeanSquaredError": "mse"}.get(
        type(loss).__name__
    )
    init = initializer_name(first.kernel_initializer)
    optimizer = model.optimizer
    if loss_name is None or init is None or optimizer is None:
        raise ValueError("not an mnist-compare Keras twin (unknown loss, initializer or optimizer)")
    options = optimizer.get_config()
    regularizer = first.kernel_regularizer
    fields: dict = {
        "input_size": int(model.inputs[0].shape[-1]),
        "hidden_sizes": tuple(int(layer.units) for layer in dense[:-1]),
        "output_size": int(last.units),
        "activation": first.activation.__name__,
        "loss": loss_name,
        "init": init,
        **_learning_rate_fields(options["learning_rate"]),
        "l2": float(regularizer.l2) if regularizer is not None else 0.0,
        "dtype": str(first.dtype_policy.variable_dtype),
    }
    if isinstance(optimizer, keras.optimizers.Adam):
        fields.update(optimizer="adam", beta_1=float(options["beta_1"]))
        fields.update(beta_2=float(options["beta_2"]), epsilon=float(options["epsilon"]))
    elif isinstance(optimizer, keras.optimizers.SGD):
        momentum = float(options["momentum"])
        kind = "nesterov" if options["nesterov"] else "momentum" if momentum else "sgd"
        fields.update(optimizer=kind)
        if momentum:
            fields.update(momentum=momentum)
    else:
        raise ValueError(f"unsupported optimizer {type(optimizer).__name__} in the Keras model")
    config = ModelConfig(**fields)
    difference = _not_a_twin(model, config)
    if difference:
        raise ValueError(f"not an mnist-compare Keras twin: {difference}")
    return config


# Settings a twin never uses; a file that sets one would train by another rule.
_OPTIMIZER_EXTRAS = ("weight_decay", "clipnorm", "global_clipnorm", "clipvalue")


def _not_a_twin(model: keras.Model, config: ModelConfig) -> str | None:
    """What in `model` differs from the twin `build_keras_model(config)` would make
    (read from the layers', loss's and optimizer's configs), or None."""
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    for index, layer in enumerate(dense):
        wanted = config.output_activation if index == len(dense) - 1 else config.activation
        regularizer = layer.kernel_regularizer
        l2 = float(regularizer.l2) if isinstance(regularizer, keras.regularizers.L2) else 0.0
        if layer.activation.__name__ != wanted:
            return f"layer {layer.name} uses {layer.activation.__name__}, expected {wanted}"
        if not layer.use_bias or layer.bias_regularizer is not None:
            return f"layer {layer.name} has no plain bias"
        if l2 != config.l2 or (regularizer is not None and l2 == 0.0):
            return f"layer {layer.name} has another kernel regularizer"
    loss = model.loss.get_config() if hasattr(model.loss, "get_config") else {}
    if loss.get("from_logits") or loss.get("label_smoothing"):
        return "the loss uses from_logits or label_smoothing"
    options = model.optimizer.get_config()
    extras = [name for name in _OPTIMIZER_EXTRAS if options.get(name)]
    extras += [name for name in ("use_ema", "amsgrad") if options.get(name)]
    if extras:
        return f"the optimizer sets {', '.join(extras)}"
    return None
