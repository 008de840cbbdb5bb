"""Read the `ModelConfig` back from a Keras model (for `.keras` files), and refuse a
model that is not a twin, i.e. one `build_keras_model` would not have made."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from scratch.config import ModelConfig
from scratch.conv import Conv2D, MaxPooling2D
from scratch.layers import ACTIVATION_LAYERS


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
    kernels = [layer for layer in model.layers if isinstance(layer, KERNEL_LAYERS)]
    if len(model.layers) < 3 or not isinstance(model.layers[-1], keras.layers.Dense):
        raise ValueError("not an mnist-compare Keras twin (expected layers ending in Dense)")
    first, last = kernels[0], kernels[-1]
    layers = layer_specs_of(model)
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
        "input_size": math.prod(int(n) for n in model.inputs[0].shape[1:]),
        "layers": tuple(layers),  # stored as hidden_sizes for a multilayer perceptron
        "output_size": int(last.units),
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


KERNEL_LAYERS = (keras.layers.Dense, keras.layers.Conv2D)  # the layers with weights

# Settings a twin never uses; a file that sets one would train by another rule.
_OPTIMIZER_EXTRAS = ("weight_decay", "clipnorm", "global_clipnorm", "clipvalue")


def _not_a_twin(model: keras.Model, config: ModelConfig) -> str | None:
    """What in `model` differs from the twin `build_keras_model(config)` would make
    (read from the layers', loss's and optimizer's configs), or None."""
    kernels = [layer for layer in model.layers if isinstance(layer, KERNEL_LAYERS)]
    activations = kernel_activations(config)
    for layer, wanted in zip(kernels, activations, strict=False):
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


def layer_specs_of(model: keras.Model) -> list[str]:
    """The scratch layer specs of a twin's layers, the output layer last: a Dense layer
    is `denseN` followed by its activation (none for linear), an Activation layer its
    activation's spec. Anything else means the model is not a twin."""
    specs: list[str] = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        name = "linear"
        if isinstance(layer, keras.layers.Dense):
            specs.append(f"dense{layer.units}")
            name = layer.activation.__name__
        elif isinstance(layer, keras.layers.Conv2D):
            specs.append(_conv_spec(layer))
            name = layer.activation.__name__
        elif isinstance(layer, keras.layers.MaxPooling2D):
            specs.append(_pool_spec(layer))
        elif isinstance(layer, keras.layers.Flatten):
            specs.append("flatten")
        elif isinstance(layer, keras.layers.Dropout):
            specs.append(f"dropout{float(layer.rate):g}")
        elif isinstance(layer, keras.layers.Activation):
            name = layer.activation.__name__
        else:
            raise ValueError(f"not an mnist-compare Keras twin (a {type(layer).__name__} layer)")
        if name in ACTIVATION_LAYERS:
            specs.append(name)
        elif name != "linear" and layer is not model.layers[-1]:
            raise ValueError(f"not an mnist-compare Keras twin (activation {name})")
    return specs[:-1] if specs[-1] in ACTIVATION_LAYERS + ("softmax",) else specs


def _conv_spec(layer: keras.layers.Conv2D) -> str:
    (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
    if kh != kw or sh != sw or tuple(layer.dilation_rate) != (1, 1) or layer.groups != 1:
        raise ValueError(f"not an mnist-compare Keras twin (conv layer {layer.name})")
    if layer.data_format != "channels_last" or not layer.use_bias:
        raise ValueError(f"not an mnist-compare Keras twin (conv layer {layer.name})")
    return Conv2D(layer.filters, kh, sh, layer.padding).spec


def _pool_spec(layer: keras.layers.MaxPooling2D) -> str:
    (ph, pw), (sh, sw) = layer.pool_size, layer.strides
    if ph != pw or sh != sw or layer.padding != "valid":
        raise ValueError(f"not an mnist-compare Keras twin (pool layer {layer.name})")
    return MaxPooling2D(ph, sh).spec


def kernel_activations(config: ModelConfig) -> list[str]:
    """The activation of each Dense and Conv2D layer of the twin of `config`, as
    `keras_layers` folds them: the activation spec right after it, "linear" if none,
    and the output activation for the last."""
    specs = config.layer_specs
    names = []
    for index, spec in enumerate(specs):
        if spec.startswith(("dense", "conv")):
            following = specs[index + 1] if index + 1 < len(specs) else None
            names.append(following if following in ACTIVATION_LAYERS else "linear")
    names[-1] = config.output_activation
    return names
