"""One interface over the three layouts of a learner's network (compare/usermodel.py).

Each adapter offers, in Keras layout and in the Keras loss's scale: `get_weights`,
`gradients(x, y)` (None when the class has none), `step(x, y, grads, t)`, `forward(x)`
(None when it has none), `array_names` (each array named as the learner's code names
it) and `conversions` (every conversion it makes, printed as a note). Every call into
the learner's code goes through `user_call`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from compare.usermodel import UserCodeError, as_arrays, shown, user_call
from scratch.config import ModelConfig
from scratch.keras_rounding import keras_cast, keras_learning_rate
from scratch.optimizers import make_optimizer

MSE_TO_TEXTBOOK = 0.2  # Keras MSE = mean over 10 outputs of (a - y)**2 = (2/10) * 1/2 |a - y|^2


# attribute of a project-layout class -> the ModelConfig field it means
HYPERPARAMETERS = {"learning_rate": "learning_rate", "lr": "learning_rate",
                   "momentum": "momentum", "beta_1": "beta_1", "beta_2": "beta_2"}  # fmt: skip
ROUNDED = ("learning_rate", "momentum")  # Keras steps with float64(float32(value)) of these


def read_hyperparameters(net: Any, config: ModelConfig, lr_given: bool) -> ModelConfig:
    """A project-layout class's own learning_rate/momentum/betas (float attributes) become
    the twin's, unless --lr (or --config) gave the learning rate."""
    values = {}
    for name, field in HYPERPARAMETERS.items():
        value = getattr(net, name, None)
        if isinstance(value, float) and not (field == "learning_rate" and lr_given):
            values[field] = value
    return replace(config, **values)


def one_hot(y: np.ndarray, dtype) -> np.ndarray:
    return np.eye(10, dtype=dtype)[y]  # (n, 10)


class ProjectAdapter:
    """Layout 1: the object already speaks Keras layout."""

    layout = "project"

    def __init__(self, net: Any, config: ModelConfig) -> None:
        self.net, self.conversions = net, []
        for name, field in HYPERPARAMETERS.items():
            if field in ROUNDED and isinstance(getattr(net, name, None), float):
                value = float(keras_cast(getattr(config, field), np.dtype(np.float64)))
                setattr(net, name, value)
                self.conversions.append(f"set your {name} = {value!r}: Keras keeps it in "
                                        "float32 (scratch/keras_rounding.py)")  # fmt: skip
        self.array_names = [f"get_weights()[{i}]" for i in range(len(self.get_weights()))]

    def get_weights(self) -> list[np.ndarray]:
        return as_arrays("get_weights()", user_call("get_weights()", self.net.get_weights))

    def gradients(self, x: np.ndarray, y: np.ndarray) -> list[np.ndarray] | None:
        if not hasattr(self.net, "loss_and_gradients"):
            return None
        result = user_call("loss_and_gradients(x, y)", self.net.loss_and_gradients, x, y)
        if not isinstance(result, tuple | list) or len(result) != 2:
            raise UserCodeError(f"loss_and_gradients(x, y) returned {shown(result)}; "
                                "expected (loss, [gradient arrays])", 1)  # fmt: skip
        return as_arrays("loss_and_gradients(x, y)'s gradients", result[1])

    def step(self, x: np.ndarray, y: np.ndarray, grads, t: int) -> None:
        user_call(f"train_step(x, y) at step {t}", self.net.train_step, x, y)

    def forward(self, x: np.ndarray) -> np.ndarray | None:
        return _probabilities(self.net, x)


class TextbookAdapter:
    """Layout 2: Nielsen's column-vector network; weights transposed, labels one-hot."""

    layout = "textbook"

    def __init__(self, net: Any, config: ModelConfig) -> None:
        self.net, self.config = net, config
        # Keras's gradient = scale * the textbook one (averaged over the batch)
        self.scale = MSE_TO_TEXTBOOK if config.loss == "mse" else 1.0
        lr = float(keras_learning_rate(config.learning_rate, np.dtype(np.float64)))
        self.eta = lr * self.scale
        self.conversions = [
            "weights (out, in) -> Keras kernels (in, out), transposed; biases (out, 1) -> (out,)",
            "labels -> one-hot (10, 1) columns; images -> (784, 1) columns",
        ]
        if config.loss == "mse":
            self.conversions.append(
                f"eta = Keras lr / 5 = {self.eta!r}: the textbook cost 1/2 |a - y|^2 is 5x "
                "Keras's MSE (mean over 10 outputs, no 1/2)"
            )
        else:
            self.conversions.append(f"eta = Keras lr = {self.eta!r} (cross-entropy is the same)")
        count = len(net.weights)
        self.array_names = [n for i in range(count) for n in (f"weights[{i}]", f"biases[{i}]")]

    def get_weights(self) -> list[np.ndarray]:
        pairs = zip(self.net.weights, self.net.biases, strict=False)
        return [a for w, b in pairs for a in (np.array(w).T, np.array(b).reshape(-1))]

    def _columns(self, x: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        Y = one_hot(y, x.dtype)
        return [(x[i].reshape(-1, 1), Y[i].reshape(-1, 1)) for i in range(len(x))]

    def gradients(self, x: np.ndarray, y: np.ndarray) -> list[np.ndarray] | None:
        if not hasattr(self.net, "backprop"):
            return None
        total: list[np.ndarray] | None = None
        for x_col, y_col in self._columns(x, y):
            nabla_b, nabla_w = user_call("backprop(x, y)", self.net.backprop, x_col, y_col)
            flat = [a for nw, nb in zip(nabla_w, nabla_b, strict=False) for a in (nw.T, nb)]
            total = flat if total is None else [t + a for t, a in zip(total, flat, strict=True)]
        factor = self.scale / len(x)
        return [np.asarray(g * factor).reshape(_keras_shape(g)) for g in total or []]

    def step(self, x: np.ndarray, y: np.ndarray, grads, t: int) -> None:
        batch = self._columns(x, y)
        user_call(f"update_mini_batch at step {t}", self.net.update_mini_batch, batch, self.eta)

    def forward(self, x: np.ndarray) -> np.ndarray | None:
        try:  # all columns at once, if their feedforward takes a matrix
            out = np.asarray(self.net.feedforward(x.T))
            if out.shape == (10, len(x)):
                return out.T
        except Exception:  # noqa: BLE001 (then one column at a time, as the textbook does)
            pass
        columns = [user_call("feedforward(a)", self.net.feedforward, col.reshape(-1, 1))
                   for col in x]  # fmt: skip
        return np.concatenate([np.asarray(c).reshape(1, -1) for c in columns])


def _probabilities(net: Any, x: np.ndarray) -> Any:
    """Their predict_proba(x); None is their bug here (None from `forward` means "has none"),
    other wrong values are caught by the caller (compare.usercheck.user_probabilities)."""
    P = user_call("predict_proba(x)", net.predict_proba, x)
    if P is None:
        raise UserCodeError("predict_proba(x) returned None; expected probabilities of shape "
                            f"({len(x)}, 10)", 1)  # fmt: skip
    return P


def _keras_shape(gradient: np.ndarray) -> tuple[int, ...]:
    """A bias gradient (out, 1) becomes (out,); kernels keep their (transposed) shape."""
    shape = np.shape(gradient)
    return shape[:1] if len(shape) == 2 and shape[1] == 1 else shape


class GradientsAdapter:
    """Layout 3: `params` and `gradients(x, y)`; the optimizer is scratch's (Keras's rules)."""

    layout = "gradients"

    def __init__(self, net: Any, config: ModelConfig) -> None:
        self.net, self.config = net, config
        self.params = list(net.params)
        self.optimizer = make_optimizer(config, self.params)
        self.conversions = [f"the check applies {config.optimizer} (scratch.optimizers, "
                            f"Keras's rules, lr {config.learning_rate:g}) to params"]  # fmt: skip
        self.array_names = [f"params[{i}]" for i in range(len(self.params))]

    def get_weights(self) -> list[np.ndarray]:
        return [np.array(p) for p in self.params]

    def gradients(self, x: np.ndarray, y: np.ndarray) -> list[np.ndarray] | None:
        return as_arrays("gradients(x, y)", user_call("gradients(x, y)", self.net.gradients, x, y))

    def step(self, x: np.ndarray, y: np.ndarray, grads, t: int) -> None:
        self.optimizer.step(self.params, grads, t)

    def forward(self, x: np.ndarray) -> np.ndarray | None:
        if not hasattr(self.net, "predict_proba"):
            return None
        return _probabilities(self.net, x)


ADAPTERS = {"project": ProjectAdapter, "textbook": TextbookAdapter, "gradients": GradientsAdapter}
