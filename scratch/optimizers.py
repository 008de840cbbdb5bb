"""The update rules: SGD, momentum, Nesterov and Adam, as Keras 3 writes them.

    SGD        param -= lr * grad
    momentum   v = momentum * v - lr * grad;  param += v
    Nesterov   v = momentum * v - lr * grad;  param += momentum * v - lr * grad
    Adam       m += (grad - m) * (1 - beta_1);  v += (grad**2 - v) * (1 - beta_2)
               param -= m * alpha / (sqrt(v) + epsilon),
               alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)   (bias correction)

`step(params, grads, t)` updates each parameter array in place from its gradient;
t is the step number, from 1. The gradients are left as they are. Which constants
Keras rounds through float32 is in keras_rounding.py.

Speed: `Sequential` keeps all its parameters in one flat vector (network.py), so it
hands `step` a list of one array, and each rule runs a handful of NumPy calls per
step instead of a handful per layer. The arithmetic per element is the same for
any list (tests/test_scratch_optimizers.py checks per-layer lists against the vector).
"""

from __future__ import annotations

import numpy as np

from scratch.config import ModelConfig
from scratch.keras_rounding import keras_cast, keras_decayed_learning_rate, keras_learning_rate

Array = np.ndarray


class SGD:
    """param -= lr * grad."""

    def __init__(self, config: ModelConfig, params: list[Array]) -> None:
        self.learning_rate = LearningRate(config, params[0].dtype)
        self.updates = [np.empty_like(param) for param in params]  # room for lr * grad

    def step(self, params: list[Array], grads: list[Array], t: int) -> None:
        lr = self.learning_rate.at(t)
        for param, grad, update in zip(params, grads, self.updates, strict=True):
            np.multiply(grad, lr, out=update)  # lr * grad
            param -= update


class Momentum:
    """v = momentum * v - lr * grad;  param += v."""

    def __init__(self, config: ModelConfig, params: list[Array]) -> None:
        self.learning_rate = LearningRate(config, params[0].dtype)
        self.momentum = keras_cast(config.momentum, params[0].dtype)
        self.velocities = [np.zeros_like(param) for param in params]
        self.updates = [np.empty_like(param) for param in params]

    def step(self, params: list[Array], grads: list[Array], t: int) -> None:
        lr = self.learning_rate.at(t)
        for param, grad, v, update in zip(
            params, grads, self.velocities, self.updates, strict=True
        ):
            v *= self.momentum
            np.multiply(grad, lr, out=update)
            v -= update  # v = momentum * v - lr * grad
            param += v


class Nesterov(Momentum):
    """v = momentum * v - lr * grad;  param += momentum * v - lr * grad (with the new v)."""

    def step(self, params: list[Array], grads: list[Array], t: int) -> None:
        lr = self.learning_rate.at(t)
        for param, grad, v, update in zip(
            params, grads, self.velocities, self.updates, strict=True
        ):
            v *= self.momentum
            lr_grad = np.multiply(grad, lr, out=update)
            v -= lr_grad  # v = momentum * v - lr * grad
            param += v * self.momentum - lr_grad  # momentum * v - lr * grad


class Adam:
    """m += (grad - m) * (1 - beta_1);  v += (grad**2 - v) * (1 - beta_2);
    param -= m * alpha / (sqrt(v) + epsilon), alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t).

    Keras folds the bias correction into the step size alpha and adds epsilon
    outside the square root.
    """

    def __init__(self, config: ModelConfig, params: list[Array]) -> None:
        dtype = params[0].dtype
        self.learning_rate = LearningRate(config, dtype)
        self.beta_1 = keras_cast(config.beta_1, dtype)  # used in beta_1**t
        self.beta_2 = keras_cast(config.beta_2, dtype)  # used in beta_2**t
        self.one_minus_beta_1 = dtype.type(1 - config.beta_1)
        self.one_minus_beta_2 = dtype.type(1 - config.beta_2)
        self.epsilon = dtype.type(config.epsilon)
        self.m = [np.zeros_like(param) for param in params]  # first moments
        self.v = [np.zeros_like(param) for param in params]  # second moments
        self.updates = [np.empty_like(param) for param in params]
        self.denominators = [np.empty_like(param) for param in params]

    def step(self, params: list[Array], grads: list[Array], t: int) -> None:
        t_ = params[0].dtype.type(t)
        alpha = (
            self.learning_rate.at(t)
            * np.sqrt(1 - np.power(self.beta_2, t_))
            / (1 - np.power(self.beta_1, t_))
        )
        arrays = zip(params, grads, self.m, self.v, self.updates, self.denominators, strict=True)
        for param, grad, m, v, update, denominator in arrays:
            np.subtract(grad, m, out=update)
            update *= self.one_minus_beta_1
            m += update  # m += (grad - m) * (1 - beta_1)
            np.multiply(grad, grad, out=update)
            update -= v
            update *= self.one_minus_beta_2
            v += update  # v += (grad**2 - v) * (1 - beta_2)
            np.sqrt(v, out=denominator)
            denominator += self.epsilon  # sqrt(v) + epsilon
            np.multiply(m, alpha, out=update)
            update /= denominator  # m * alpha / (sqrt(v) + epsilon)
            param -= update


class LearningRate:
    """The learning rate of each step: constant, or decayed as Keras's InverseTimeDecay,
    lr_t = learning_rate / (1 + lr_decay * (t - 1))."""

    def __init__(self, config: ModelConfig, dtype: np.dtype) -> None:
        self.dtype = dtype
        self.initial, self.decay = config.learning_rate, config.lr_decay
        self.constant = keras_learning_rate(config.learning_rate, dtype)

    def at(self, t: int) -> np.floating:
        """The learning rate of step t (from 1; Keras evaluates it at iterations = t - 1)."""
        if not self.decay:
            return self.constant
        return keras_decayed_learning_rate(self.initial, self.decay, t - 1, self.dtype)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adam": Adam}


def make_optimizer(config: ModelConfig, params: list[Array]) -> SGD | Momentum | Adam:
    """The optimizer named by `config.optimizer`, with zeroed state for `params`."""
    return OPTIMIZERS[config.optimizer](config, params)
