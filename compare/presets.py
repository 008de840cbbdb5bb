"""Named starting points for `mnist-compare run --preset NAME`.

A preset is an override layer (see `compare.runconfig`): it sits above the built-in
defaults and below a `--config` file and command-line flags, so
`--preset textbook --epochs 5` is the textbook network trained for 5 epochs.
"""

from __future__ import annotations

from typing import Any

from scratch.config import ConfigError

# Nielsen's network.py minimises the quadratic cost C_x = 1/2 * sum_j (a_j - y_j)^2
# (summed over the 10 outputs) and steps w -= (eta / m) * sum_x dC_x/dw, i.e. plain
# gradient descent on the batch mean of C_x with eta = 3.0. Keras's MSE (our `mse`)
# is the batch mean of (1/10) * sum_j (a_j - y_j)^2 = (2/10) * C_x, so its gradient is
# one fifth of Nielsen's. The same step therefore needs lr = 5 * 3.0 = 15.0 here.
NIELSEN_ETA = 3.0
MSE_LR_FACTOR = 10 / 2  # (outputs averaged by Keras) / (Nielsen's 1/2)
TEXTBOOK_LR = NIELSEN_ETA * MSE_LR_FACTOR  # 15.0

CONVNET_FEATURES = ["conv32x3", "relu", "pool2", "conv64x3", "relu", "pool2", "flatten"]
CONVNET_DISTORTIONS = {"shift": 2.0, "rotate": 10.0, "zoom": 0.1}


def _cnn(layers: list[str]) -> dict[str, Any]:
    """A CNN preset: `layers`, trained as Keras's convnet example is (cross-entropy,
    Glorot uniform, Adam lr 1e-3, batch 128, 15 epochs)."""
    model = {"layers": layers, "loss": "crossentropy", "init": "glorot_uniform"}
    model |= {"optimizer": "adam", "learning_rate": 1e-3}
    return {"model": model, "batch_size": 128, "epochs": 15}


def _with_model(preset: dict[str, Any], **model: Any) -> dict[str, Any]:
    """`preset` with these model settings added."""
    return {**preset, "model": {**preset["model"], **model}}


PRESETS: dict[str, dict[str, Any]] = {
    # The usual first MNIST project: one hidden layer of 128 ReLU units, plain SGD.
    "seed-project": {
        "model": {
            "hidden_sizes": [128],
            "activation": "relu",
            "loss": "crossentropy",
            "init": "glorot_uniform",
            "optimizer": "sgd",
            "learning_rate": 0.1,
        },
        "batch_size": 32,
        "epochs": 10,
    },
    # Nielsen's network.py ("Neural Networks and Deep Learning", chapter 1):
    # 784-30-10 sigmoid, quadratic cost, Gaussian init, SGD eta 3.0 (= lr 15.0 on
    # Keras's output-averaged MSE, see TEXTBOOK_LR), mini-batches of 10, 30 epochs.
    # Note: network.py draws weights from N(0, 1); our `normal` init is the model's
    # own Gaussian scheme (see scratch/config.py), so the start is not bit-identical.
    "textbook": {
        "model": {
            "hidden_sizes": [30],
            "activation": "sigmoid",
            "loss": "mse",
            "init": "normal",
            "optimizer": "sgd",
            "learning_rate": TEXTBOOK_LR,
        },
        "batch_size": 10,
        "epochs": 30,
    },
    # One wide hidden layer of 1024 ReLU units, SGD momentum 0.9 with a decaying learning
    # rate lr / (1 + 1e-4 * step): lr 0.1 falls to ~0.037 after 40 epochs of 430 steps.
    # Chosen by validation accuracy, the best of ten settings tried (docs/scratch.md,
    # "Accuracy", gives the figures).
    "high-accuracy": {
        "model": {
            "hidden_sizes": [1024],
            "activation": "relu",
            "loss": "crossentropy",
            "init": "he_normal",
            "optimizer": "momentum",
            "momentum": 0.9,
            "learning_rate": 0.1,
            "lr_decay": 1e-4,
            "l2": 5e-5,
        },
        "batch_size": 128,
        "epochs": 40,
    },
    # Keras's own example, "Simple MNIST convnet" (keras.io/examples/vision/mnist_convnet):
    # Conv 32 3x3 relu, max pool 2, Conv 64 3x3 relu, max pool 2, flatten, dense 10
    # softmax, Adam (lr 1e-3), batch 128, 15 epochs, without its Dropout(0.5) before the
    # last layer: dropout's random masks cannot be matched between two models in lockstep.
    # In its place, a regularizer both models can share: random distortions of the
    # training images, drawn in the shared pipeline (compare.augment): moved up to 2
    # pixels, turned up to 10 degrees, scaled by 0.9 to 1.1 (docs/cnn.md: how chosen).
    "convnet": {**_cnn([*CONVNET_FEATURES, "dense10"]), "data": CONVNET_DISTORTIONS},
    # Keras's example exactly, with its Dropout(0.5) before the last layer. Dropout's masks
    # cannot be matched between two models, so the models train independently (same
    # batches, each from its own initial weights and masks).
    "convnet-dropout": {
        **_cnn([*CONVNET_FEATURES, "dropout0.5", "dense10"]),
        "mode": "independent",
    },
    # LeCun et al. 1998's LeNet-5 as a modern Keras model allows (docs/cnn.md lists the
    # differences): C1 6 5x5 ('same' on 28x28 instead of a 32x32 padded input), S2 pool 2,
    # C3 16 5x5 (fully connected to S2, not the paper's partial table), S4 pool 2, C5 120
    # 5x5, F6 84, output 10 softmax (not RBF units); tanh (not the scaled 1.7159 tanh),
    # max pooling (not trainable average subsampling), Adam (not diagonal Levenberg-Marquardt).
    # Its learning rate falls as the paper's did (from 5e-4 to 1e-5 in steps over 20
    # passes): lr / (1 + 5e-4 * step), 1e-3 down to ~2.4e-4 after 15 epochs of 430 steps.
    "lenet5": _with_model(
        _cnn(
            [
                "conv6x5same",
                "tanh",
                "pool2",
                "conv16x5",
                "tanh",
                "pool2",
                "conv120x5",
                "tanh",
                "flatten",
                "dense84",
                "tanh",
                "dense10",
            ]
        ),
        lr_decay=5e-4,
    ),  # fmt: skip
}


def preset_layer(name: str) -> dict[str, Any]:
    """The override layer of preset `name` (a deep copy); unknown names are an error."""
    if not isinstance(name, str) or name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    layer = PRESETS[name]
    copy = {key: dict(value) if isinstance(value, dict) else value for key, value in layer.items()}
    copy["preset"] = name
    return copy
