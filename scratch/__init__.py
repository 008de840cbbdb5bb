"""A multilayer perceptron for MNIST written from scratch with NumPy only.

Read the files in this order: `config.py`, `activations.py`, `losses.py`,
`initializers.py`, `optimizers.py`, `network.py`, `training.py`, `serialization.py`,
`gradcheck.py`.
This package imports nothing but NumPy and the standard library.
"""

from scratch.config import ConfigError, ModelConfig
from scratch.network import Network
from scratch.serialization import ModelFileError
from scratch.training import DivergenceError

__all__ = ["ConfigError", "DivergenceError", "ModelConfig", "ModelFileError", "Network"]
