"""The Keras code that replaces each scratch training step, filled in with the run's
model config (layer sizes, activation, initializer, optimizer and learning-rate
schedule, L2, batch size).

Written out as text: the report never imports TensorFlow or Keras.
"""

from __future__ import annotations

from typing import Any

from scratch.config import ACTIVATIONS, ConfigError, ModelConfig
from scratch.conv import Conv2D, Flatten, MaxPooling2D
from scratch.layers import Dense, Dropout, make_layer

# The Keras initializer that draws as scratch's `init` does (keras_baseline/build.py,
# make_initializer): scratch's "normal" is the textbook N(0, 1/fan_in), not Keras's
# "normal" alias, which is RandomNormal(stddev=0.05).
KERAS_INITIALIZERS = {
    "glorot_uniform": '"glorot_uniform"',
    "he_normal": '"he_normal"',
    "normal": 'keras.initializers.VarianceScaling(\n        scale=1.0, mode="fan_in", '
    'distribution="untruncated_normal")',
}


def keras_lines(model: dict[str, Any], run_config: dict[str, Any]) -> dict[str, str]:
    """The Keras code replacing each step, filled in with this run's config."""
    out_act = "softmax" if model.get("loss", "crossentropy") == "crossentropy" else "sigmoid"
    init = str(model.get("init", "glorot_uniform"))
    initializer = KERAS_INITIALIZERS.get(init, f'"{init}"')
    l2 = float(model.get("l2", 0.0) or 0.0)
    reg = f", kernel_regularizer=keras.regularizers.L2({l2:g})" if l2 else ""
    loss = '"sparse_categorical_crossentropy"' if out_act == "softmax" else '"mean_squared_error"'
    on_one_hot = "" if out_act == "softmax" else "  # with one-hot labels"
    specs = layer_specs(model)
    layers = keras_layer_lines(specs, out_act)
    batch = run_config.get("batch_size", 32)
    epochs = run_config.get("epochs", 1)
    return {
        "Initialization": f"keras.layers.{_kernel_layer(specs)}, "
        f"kernel_initializer={initializer},\n"
        f'    bias_initializer="zeros"{reg})',
        "Forward pass": f"model = keras.Sequential([\n    keras.Input({input_shape_text(specs)}),\n"
        + "".join(f"    {line},\n" for line in layers)
        + "])\nprobabilities = model(x)",
        "Loss": f"model.compile(loss={loss}, ...){on_one_hot}",
        "Gradients (backpropagation)": "# nothing to write: fit() runs\n"
        "grads = tape.gradient(loss, model.trainable_weights)",
        "Parameter update": f"{_schedule_line(model)}"
        f"model.compile(optimizer={_keras_optimizer(model)}, ...)",
        "One training step": "model.train_on_batch(x_batch, y_batch)",
        "Batching": f"model.fit(x_train, y_train, batch_size={batch}, epochs={epochs}, "
        "shuffle=True)",
        "Metrics": 'model.compile(metrics=["accuracy"], ...)\nmodel.evaluate(x_test, y_test)',
    }


def layer_specs(model: dict[str, Any]) -> list[str]:
    """The run's layer stack as specs (ModelConfig.layer_specs), or the given `layers`
    when the config cannot be read (then nothing of the stack is guessed)."""
    try:
        return list(ModelConfig.from_dict(model).layer_specs)
    except (ConfigError, TypeError, ValueError):
        return [str(spec) for spec in model.get("layers") or []]


def keras_layer_lines(specs: list[str], output_activation: str) -> list[str]:
    """One Keras layer per spec, as keras_baseline builds it: an activation right after a
    Dense or Conv2D layer is its `activation=`, and the last Dense layer gets the output
    activation. Specs are read by scratch's own parser (`make_layer`)."""
    lines: list[str] = []
    for index, spec in enumerate(specs):
        if spec in ACTIVATIONS and index > 0 and specs[index - 1].startswith(FOLDS_ACTIVATION):
            continue  # folded into the layer before it
        following = specs[index + 1] if index + 1 < len(specs) else output_activation
        activation = following if following in (*ACTIVATIONS, output_activation) else None
        argument = f', activation="{activation}"' if activation else ""
        lines.append(_keras_layer(spec, argument))
    return lines


def _keras_layer(spec: str, activation: str) -> str:
    try:
        layer = make_layer(spec)
    except ConfigError:
        return f"# {spec}"
    if isinstance(layer, Dense):
        return f"keras.layers.Dense({layer.units}{activation})"
    if isinstance(layer, Conv2D):
        stride = f", strides={layer.stride}" if layer.stride != 1 else ""
        padding = ', padding="same"' if layer.padding == "same" else ""
        return f"keras.layers.Conv2D({layer.filters}, {layer.kernel}{stride}{padding}{activation})"
    if isinstance(layer, MaxPooling2D):
        stride = f", strides={layer.stride}" if layer.stride != layer.pool else ""
        return f"keras.layers.MaxPooling2D({layer.pool}{stride})"
    if isinstance(layer, Flatten):
        return "keras.layers.Flatten()"
    if isinstance(layer, Dropout):
        return f"keras.layers.Dropout({layer.rate:g})"
    return f'keras.layers.Activation("{spec}")'


def _kernel_layer(specs: list[str]) -> str:
    """How the Initialization step names its layer: Conv2D for a CNN, else Dense."""
    return "Conv2D(filters, kernel" if any(s.startswith("conv") for s in specs) else "Dense(units"


def input_shape_text(specs: list[str]) -> str:
    """The Input's shape: images for a stack that starts with conv or pool."""
    return "(28, 28, 1)" if specs and specs[0].startswith(("conv", "pool")) else "(784,)"


FOLDS_ACTIVATION = ("dense", "conv")  # Keras layers that take activation=


def _schedule_line(model: dict[str, Any]) -> str:
    """With lr_decay, the Keras schedule giving lr / (1 + lr_decay * step), as a line of
    code defining `lr` (ending in a newline); without decay, nothing."""
    decay = float(model.get("lr_decay", 0.0) or 0.0)
    if not decay:
        return ""
    lr = model.get("learning_rate", 0.01)
    return (
        f"lr = keras.optimizers.schedules.InverseTimeDecay({lr}, decay_steps=1, "
        f"decay_rate={decay:g})  # lr / (1 + {decay:g} * step)\n"
    )


def _keras_optimizer(model: dict[str, Any]) -> str:
    name, lr = model.get("optimizer", "sgd"), model.get("learning_rate", 0.01)
    if float(model.get("lr_decay", 0.0) or 0.0):
        lr = "lr"  # the schedule defined by _schedule_line
    if name == "adam":
        return (
            f"keras.optimizers.Adam(learning_rate={lr}, beta_1={model.get('beta_1')}, "
            f"beta_2={model.get('beta_2')}, epsilon={model.get('epsilon')})"
        )
    if name in ("momentum", "nesterov"):
        nesterov = ", nesterov=True" if name == "nesterov" else ""
        momentum = model.get("momentum")
        return f"keras.optimizers.SGD(learning_rate={lr}, momentum={momentum}{nesterov})"
    return f"keras.optimizers.SGD(learning_rate={lr})"
