"""The Keras code that replaces each scratch training step, filled in with the run's
model config (layer sizes, activation, initializer, optimizer and learning-rate
schedule, L2, batch size).

Written out as text: the report never imports TensorFlow or Keras.
"""

from __future__ import annotations

from typing import Any


def keras_lines(model: dict[str, Any], run_config: dict[str, Any]) -> dict[str, str]:
    """The Keras code replacing each step, filled in with this run's config."""
    hidden = model.get("hidden_sizes", [128])
    act, init = model.get("activation", "relu"), model.get("init", "glorot_uniform")
    out_act = "softmax" if model.get("loss", "crossentropy") == "crossentropy" else "sigmoid"
    l2 = float(model.get("l2", 0.0) or 0.0)
    reg = f", kernel_regularizer=keras.regularizers.L2({l2:g})" if l2 else ""
    loss = (
        '"sparse_categorical_crossentropy"'
        if out_act == "softmax"
        else '"mean_squared_error"  # on one-hot labels'
    )
    optimizer = _keras_optimizer(model)
    batch = run_config.get("batch_size", 32)
    epochs = run_config.get("epochs", 1)
    dense = [
        f'keras.layers.Dense({h}, activation="{act}",\n'
        f'    kernel_initializer="{init}", bias_initializer="zeros"{reg})'
        for h in hidden
    ]
    return {
        "Initialization": "\n".join(dense),
        "Forward pass": "model = keras.Sequential([\n    keras.Input((784,)),\n"
        + "".join(f'    keras.layers.Dense({h}, activation="{act}"),\n' for h in hidden)
        + f'    keras.layers.Dense(10, activation="{out_act}"),\n])\nprobabilities = model(x)',
        "Loss": f"model.compile(loss={loss}, ...)",
        "Gradients (backpropagation)": "# nothing to write: fit() runs\n"
        "grads = tape.gradient(loss, model.trainable_weights)",
        "Parameter update": f"{_schedule_line(model)}model.compile(optimizer={optimizer}, ...)",
        "One training step": "model.train_on_batch(x_batch, y_batch)",
        "Batching": f"model.fit(x_train, y_train, batch_size={batch}, epochs={epochs}, "
        "shuffle=True)",
        "Metrics": 'model.compile(metrics=["accuracy"], ...)\nmodel.evaluate(x_test, y_test)',
    }


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
