"""A small neural-network library written from scratch with NumPy only.

Read it in this order:

1. `layers.py`     Dense, ReLU, Sigmoid, Tanh: each forward pass with its backward pass
2. `conv.py`       Conv2D (im2col), MaxPooling2D, Flatten: the same, for images
3. `losses.py`     the output layer with its loss (softmax + cross-entropy, sigmoid + MSE), L2
4. `network.py`    Sequential: forward, loss, backward and the update, layer by layer
5. `optimizers.py` SGD, momentum, Nesterov, Adam: each update formula, then its code
6. `training.py`   the epoch loop (`fit`) and what happens when training diverges
7. `batches.py`    the seeded shuffle that cuts each epoch into mini-batches
8. `initializers.py`, `config.py` (the one config both networks are built from),
   `serialization.py` (save/load), `gradcheck.py` (backprop against finite differences)
9. `keras_rounding.py`: where Keras rounds through float32, which the optimizers follow

It imports nothing but NumPy and the standard library, and trains on its own:

    from compare.data import load_mnist, make_splits  # only to read MNIST
    from scratch import ModelConfig, Network

    splits = make_splits(load_mnist())  # 55,000 train, 5,000 validation, 10,000 test
    config = ModelConfig(
        layers=("dense128", "relu", "dense10"),  # same as hidden_sizes=(128,), activation="relu"
        loss="crossentropy",  # softmax outputs
        optimizer="sgd",
        learning_rate=0.1,
    )
    network = Network(config, seed=0)
    losses = network.fit(splits.x_train, splits.y_train, batch_size=32, epochs=2, seed=0)
    for epoch, loss in enumerate(losses, start=1):
        print(f"epoch {epoch}: training loss {loss:.4f}")
    test_loss, test_accuracy = network.evaluate(splits.x_test, splits.y_test)
    print(f"test accuracy {test_accuracy:.2%}")  # 96.42% here
    network.save("mlp.npz")
    print(Network.load("mlp.npz").predict(splits.x_test[:10]), splits.y_test[:10])
"""

from scratch.config import ConfigError, ModelConfig
from scratch.layers import Layer, register_layer
from scratch.network import Network, Sequential
from scratch.serialization import ModelFileError
from scratch.training import DivergenceError

__all__ = [
    "ConfigError",
    "DivergenceError",
    "Layer",
    "ModelConfig",
    "ModelFileError",
    "Network",
    "Sequential",
    "register_layer",
]
