"""SGD, momentum, Nesterov and Adam, with Keras 3's exact update formulas.

Every update is done in place on the parameter arrays. The gradient arrays are
used as scratch space and hold garbage afterwards.

Which scalars Keras rounds to float32 (read from keras/src/optimizers/*.py and
checked against TensorFlow) - it matters in float64, where the twin is compared
to 1e-10:

- `ops.cast(python_float, "float64")` is `tf.cast`, which first makes a float32
  tensor from the Python float: the value becomes float64(float32(x)). This hits
  SGD's `momentum` and Adam's `beta_1`/`beta_2` in the bias-correction powers
  (and the L2 factor, see network.py). `keras_cast` below does the same.
- The learning rate lives in a Variable of dtype `keras.config.floatx()`, which
  is "float32" unless the process changes it globally. The twin sets float64 per
  layer and per loss, and builds its optimizer under floatx float32 (the
  `OPTIMIZER_FLOATX` pin in keras_baseline/build.py), so lr -> float64(float32(lr)).
- Python floats combined with a tensor (`1 - beta_1`, `1 - beta_2`, `epsilon`)
  are "weak" and take the tensor's dtype directly: no float32 detour.
- A decaying learning rate (`lr_decay > 0`) is Keras's `InverseTimeDecay`
  schedule, evaluated by `BaseOptimizer._get_current_learning_rate` at
  `self._iterations` (updates already applied) before each update. The schedule
  converts the Python float lr to a tensor - float32, whatever floatx is - casts
  `decay_rate` (through float32), `decay_steps` and the int64 step to float32, and
  computes `lr / (1 + decay_rate * (step / decay_steps))` in float32 arithmetic;
  `update_step` then casts that float32 value to the variable dtype. So in a float64
  model the scheduled lr is float64(a float32 computation): `keras_decayed_learning_rate`.
- The iteration counter is int64; Adam's step t = iterations + 1 is cast to the
  variable dtype, exactly (t < 2**24 even in float32 for any real run).
"""

from __future__ import annotations

import numpy as np

from scratch.config import ModelConfig

Array = np.ndarray
KERAS_FLOATX = np.float32  # dtype of Keras's learning-rate Variable (floatx default)


def keras_cast(value: float, dtype: np.dtype) -> np.floating:
    """What `keras.ops.cast(value, dtype)` gives for a Python float with TensorFlow."""
    return dtype.type(np.float32(value))


def keras_learning_rate(value: float, dtype: np.dtype) -> np.floating:
    """The learning-rate Variable (floatx) cast to the variable dtype in `update_step`."""
    return dtype.type(KERAS_FLOATX(value))


def keras_decayed_learning_rate(
    learning_rate: float, lr_decay: float, iterations: int, dtype: np.dtype
) -> np.floating:
    """`InverseTimeDecay(learning_rate, 1, lr_decay)(iterations)` as Keras computes it:
    every operand and every operation in float32 (each NumPy float32 scalar operation
    rounds to float32, as TensorFlow's do), then cast to the variable dtype."""
    f32 = np.float32
    step = f32(iterations) / f32(1)  # global_step / decay_steps (exact for t < 2**24)
    denom = f32(1) + f32(lr_decay) * step  # (1 + decay_rate * p), float32
    return dtype.type(f32(learning_rate) / denom)


class LearningRateSchedule:
    """The learning rate of each step: constant, or decayed as Keras's InverseTimeDecay."""

    def __init__(self, config: ModelConfig, dtype: np.dtype) -> None:
        self.dtype = dtype
        self.learning_rate = config.learning_rate
        self.lr_decay = config.lr_decay
        self.lr = keras_learning_rate(config.learning_rate, dtype)  # constant case

    def at(self, t: int) -> np.floating:
        """The learning rate of 1-based step t (Keras evaluates it at iterations = t - 1)."""
        if not self.lr_decay:
            return self.lr
        return keras_decayed_learning_rate(self.learning_rate, self.lr_decay, t - 1, self.dtype)


class SGD:
    """W -= g * lr."""

    def __init__(self, config: ModelConfig, params: list[Array]) -> None:
        dtype = params[0].dtype
        self.schedule = LearningRateSchedule(config, dtype)
        self.lr = self.schedule.lr  # the initial (and, without decay, constant) rate

    def step(self, params: list[Array], grads: list[Array], t: int) -> None:
        lr = self.schedule.at(t)
        for W, g in zip(params, grads, strict=True):
            g *= lr  # g * lr
            W -= g


class Momentum:
    """m = m * momentum - g * lr;  W += m."""

    def __init__(self, config: ModelConfig, params: list[Array]) -> None:
        dtype = params[0].dtype
        self.schedule = LearningRateSchedule(config, dtype)
        self.lr = self.schedule.lr  # the initial (and, without decay, constant) rate
        self.momentum = keras_cast(config.momentum, dtype)
        self.velocities = [np.zeros_like(W) for W in params]

    def step(self, params: list[Array], grads: list[Array], t: int) -> None:
        lr = self.schedule.at(t)
        for W, g, m in zip(params, grads, self.velocities, strict=True):
            m *= self.momentum
            g *= lr
            m -= g  # m * momentum - g * lr
            W += m


class Nesterov(Momentum):
    """m = m * momentum - g * lr;  W += m * momentum - g * lr."""

    def __init__(self, config: ModelConfig, params: list[Array]) -> None:
        super().__init__(config, params)
        self.buffers = [np.empty_like(W) for W in params]  # room for a temporary

    def step(self, params: list[Array], grads: list[Array], t: int) -> None:
        lr = self.schedule.at(t)
        for W, g, m, step in zip(params, grads, self.velocities, self.buffers, strict=True):
            m *= self.momentum
            g *= lr
            m -= g  # m * momentum - g * lr
            np.multiply(m, self.momentum, out=step)
            step -= g  # m * momentum - g * lr, with the new m
            W += step


class Adam:
    """Keras's Adam (bias correction folded into the step size, epsilon outside the sqrt).

    alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
    m += (g - m) * (1 - beta_1)
    v += (g**2 - v) * (1 - beta_2)
    W -= m * alpha / (sqrt(v) + epsilon)
    """

    def __init__(self, config: ModelConfig, params: list[Array]) -> None:
        dtype = params[0].dtype
        self.schedule = LearningRateSchedule(config, dtype)
        self.lr = self.schedule.lr  # the initial (and, without decay, constant) rate
        self.beta_1 = keras_cast(config.beta_1, dtype)  # only used in beta_1**t
        self.beta_2 = keras_cast(config.beta_2, dtype)  # only used in beta_2**t
        self.one_minus_beta_1 = dtype.type(1 - config.beta_1)  # weak Python float
        self.one_minus_beta_2 = dtype.type(1 - config.beta_2)  # weak Python float
        self.epsilon = dtype.type(config.epsilon)  # weak Python float
        self.momentums = [np.zeros_like(W) for W in params]
        self.velocities = [np.zeros_like(W) for W in params]
        self.buffers = [np.empty_like(W) for W in params]  # room for a temporary

    def step(self, params: list[Array], grads: list[Array], t: int) -> None:
        dtype = params[0].dtype
        local_step = dtype.type(t)
        beta_1_power = np.power(self.beta_1, local_step)
        beta_2_power = np.power(self.beta_2, local_step)
        alpha = self.schedule.at(t) * np.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        for W, g, m, v, tmp in zip(
            params, grads, self.momentums, self.velocities, self.buffers, strict=True
        ):
            np.subtract(g, m, out=tmp)
            tmp *= self.one_minus_beta_1
            m += tmp  # m += (g - m) * (1 - beta_1)
            np.multiply(g, g, out=tmp)
            tmp -= v
            tmp *= self.one_minus_beta_2
            v += tmp  # v += (g**2 - v) * (1 - beta_2)
            np.multiply(m, alpha, out=g)
            np.sqrt(v, out=tmp)
            tmp += self.epsilon
            g /= tmp
            W -= g  # W -= m * alpha / (sqrt(v) + epsilon)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adam": Adam}


def make_optimizer(config: ModelConfig, params: list[Array]) -> SGD | Momentum | Adam:
    """The optimizer named by `config.optimizer`, with zeroed state for `params`."""
    return OPTIMIZERS[config.optimizer](config, params)
