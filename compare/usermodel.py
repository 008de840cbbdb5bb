"""Load a learner's own network (`check --model FILE.py:CLASS`) and adapt it to one interface.

Loading runs the learner's Python file: it is their code, executed in this process.
Every call into it goes through `user_call`, so an exception there is reported as an
error in *their* file (file, line, the tail of their traceback), never as a crash of
this tool.

Three layouts are accepted, detected from the attributes the object has:

1. `project`: this project's Model interface: `get_weights`/`set_weights` in Keras
   layout, `train_step(x, y) -> loss`, `predict_proba(x)` (and `loss_and_gradients`
   where present).
2. `textbook`: Nielsen's `network.py`: `weights` (out, in), `biases` (out, 1),
   `feedforward(a)` on column vectors, `update_mini_batch(mini_batch, eta)` (and
   `backprop(x, y) -> (nabla_b, nabla_w)` where present).
3. `gradients`: `params` (Keras layout) and `gradients(x, y) -> list`; the check applies
   the optimizer itself (scratch.optimizers, Keras's exact rules).

Each adapter offers the same methods in Keras layout and in the Keras loss's scale:
`get_weights`, `gradients` (None when the class has none), `step`, `forward` (None when
it has none), and `array_names` (each array named as the learner's code names it).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import sysconfig
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from compare.cli import CliError
from scratch.config import ModelConfig
from scratch.keras_rounding import keras_cast, keras_learning_rate
from scratch.optimizers import make_optimizer

LAYOUTS = {
    "project": ("get_weights", "set_weights", "train_step", "predict_proba"),
    "textbook": ("weights", "biases", "feedforward", "update_mini_batch"),
    "gradients": ("params", "gradients"),
}
ACCEPTED = (
    "accepted layouts: (1) get_weights/set_weights/train_step/predict_proba (Keras layout); "
    "(2) textbook: sizes, weights (out, in), biases (out, 1), feedforward, update_mini_batch; "
    "(3) params (Keras layout) and gradients(x, y)"
)
MSE_TO_TEXTBOOK = 0.2  # Keras MSE = mean over 10 outputs of (a - y)**2 = (2/10) * 1/2 |a - y|^2


class UserCodeError(CliError):
    """An exception raised inside the learner's code: their bug, shown as theirs."""


def user_call(what: str, function, *args, exit_code: int = 1):
    """Call into the learner's code; an exception becomes a UserCodeError naming their line."""
    try:
        return function(*args)
    except Exception as error:  # their code may raise anything; we report it as theirs
        raise UserCodeError(describe_exception(what, error), exit_code) from None


def describe_exception(what: str, error: BaseException) -> str:
    """'error in your code (FILE:LINE in FUNC) during WHAT: Type: msg' + their traceback tail."""
    frames = traceback.extract_tb(error.__traceback__)
    theirs = [f for f in frames if not _is_tool_frame(f.filename)] or frames[-1:]
    where = f"{theirs[-1].filename}:{theirs[-1].lineno} in {theirs[-1].name}" if theirs else "?"
    tail = "".join(traceback.format_list(theirs[-3:])).rstrip()
    message = f"{type(error).__name__}: {error}"
    return f"error in your code ({where}) during {what}: {message}\n{tail}"


def _not_theirs() -> tuple[Path, ...]:
    """Folders whose frames are this tool's or a library's (NumPy, the standard library)."""
    here = Path(__file__).resolve().parents[1]
    paths = sysconfig.get_paths()
    libraries = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    return (*(here / package for package in ("compare", "scratch", "keras_baseline")),
            *(Path(p).resolve() for p in libraries))  # fmt: skip


def _is_tool_frame(filename: str) -> bool:
    path = Path(filename).resolve()
    return filename.startswith("<") or any(path.is_relative_to(d) for d in _not_theirs())


def load_target(spec: str) -> Any:
    """`path/to/file.py:Name` or `package.module:Name` -> the class or function (runs the file)."""
    location, _, name = spec.rpartition(":")
    if not location or not name.isidentifier():
        raise CliError(f"--model wants FILE.py:CLASS or package.module:CLASS, got {spec!r}")
    if location.endswith(".py") or "/" in location:
        path = Path(location).expanduser()
        if not path.is_file():
            raise CliError(f"--model {spec}: file {path} not found")
        module = _exec_file(path)
    else:
        module = user_call(f"import of {location}", importlib.import_module, location, exit_code=2)
    target = getattr(module, name, None)
    if target is None or not callable(target):
        found = [n for n, v in vars(module).items() if inspect.isclass(v) and not n.startswith("_")]
        raise CliError(f"--model {spec}: no class or function {name!r} there (found: "
                       f"{', '.join(found) or 'none'})")  # fmt: skip
    return target


def _exec_file(path: Path) -> Any:
    module_name = f"_mnist_compare_user_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise CliError(f"--model: cannot import {path} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))  # so it can import its neighbours
    sys.modules[module_name] = module
    user_call(f"import of {path}", spec.loader.exec_module, module, exit_code=2)
    return module


def construct(target: Any, sizes: list[int], init_seed: int) -> tuple[Any, str]:
    """Call the class or function: with the layer sizes if it takes one required argument,
    else with none. NumPy's and Python's global generators are seeded first."""
    import random

    required = _required_arguments(target)
    if required > 1:
        name = getattr(target, "__name__", target)
        raise CliError(f"{name} takes {required} required arguments; give it one (the layer "
                       "sizes [784, ..., 10]) or none")  # fmt: skip
    np.random.seed(init_seed)  # textbook code draws from the global generators
    random.seed(init_seed)
    args = (list(sizes),) if required == 1 else ()
    shown = f"{getattr(target, '__name__', 'model')}({list(sizes) if args else ''})"
    return user_call(f"construction {shown}", target, *args, exit_code=2), shown


def _required_arguments(target: Any) -> int:
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return 0
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(p.kind in kinds and p.default is inspect.Parameter.empty for p in parameters)


def detect_layout(net: Any) -> str:
    """The first layout whose every attribute the object has; else a one-line error."""
    for layout, names in LAYOUTS.items():
        if all(hasattr(net, name) for name in names):
            return layout
    best = max(LAYOUTS.values(), key=lambda names: sum(hasattr(net, n) for n in names))
    missing = [n for n in best if not hasattr(net, n)]
    raise CliError(f"{type(net).__name__} matches no accepted layout (closest lacks "
                   f"{', '.join(missing)}); {ACCEPTED}", 2)  # fmt: skip


def kernel_shapes(weights: list[np.ndarray]) -> list[tuple[int, int]]:
    """Check a Keras-layout list [W1 (in, out), b1 (out,), ...]; return the kernel shapes."""
    shapes = [np.shape(w) for w in weights]
    ok = len(shapes) >= 4 and len(shapes) % 2 == 0
    for index in range(0, len(shapes) - 1, 2) if ok else ():
        W, b = shapes[index], shapes[index + 1]
        ok = ok and len(W) == 2 and b == (W[1],)
        ok = ok and (index == 0 or shapes[index - 2][1] == W[0])
    if not ok or shapes[0][0] != 784 or shapes[-1] != (10,):
        raise CliError(f"weight shapes {shapes} match no layout: expected [W1 (784, h), b1 (h,), "
                       f"..., Wn (h, 10), bn (10,)] in Keras layout; {ACCEPTED}", 2)  # fmt: skip
    return [shapes[i] for i in range(0, len(shapes), 2)]


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

    def __init__(self, net: Any, config: ModelConfig, lr_given: bool) -> None:
        self.net, self.conversions = net, []
        for name, field in HYPERPARAMETERS.items():
            if field in ROUNDED and isinstance(getattr(net, name, None), float):
                value = float(keras_cast(getattr(config, field), np.dtype(np.float64)))
                setattr(net, name, value)
                self.conversions.append(f"set your {name} = {value!r}: Keras keeps it in "
                                        "float32 (scratch/keras_rounding.py)")  # fmt: skip
        self.array_names = [f"get_weights()[{i}]" for i in range(len(self.get_weights()))]

    def get_weights(self) -> list[np.ndarray]:
        return [np.array(w) for w in user_call("get_weights()", self.net.get_weights)]

    def gradients(self, x: np.ndarray, y: np.ndarray) -> list[np.ndarray] | None:
        if not hasattr(self.net, "loss_and_gradients"):
            return None
        _, grads = user_call("loss_and_gradients(x, y)", self.net.loss_and_gradients, x, y)
        return [np.asarray(g) for g in grads]

    def step(self, x: np.ndarray, y: np.ndarray, grads, t: int) -> None:
        user_call(f"train_step(x, y) at step {t}", self.net.train_step, x, y)

    def forward(self, x: np.ndarray) -> np.ndarray | None:
        return np.asarray(user_call("predict_proba(x)", self.net.predict_proba, x))


class TextbookAdapter:
    """Layout 2: Nielsen's column-vector network; weights transposed, labels one-hot."""

    layout = "textbook"

    def __init__(self, net: Any, config: ModelConfig, lr_given: bool) -> None:
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


def _keras_shape(gradient: np.ndarray) -> tuple[int, ...]:
    """A bias gradient (out, 1) becomes (out,); kernels keep their (transposed) shape."""
    shape = np.shape(gradient)
    return shape[:1] if len(shape) == 2 and shape[1] == 1 else shape


class GradientsAdapter:
    """Layout 3: `params` and `gradients(x, y)`; the optimizer is scratch's (Keras's rules)."""

    layout = "gradients"

    def __init__(self, net: Any, config: ModelConfig, lr_given: bool) -> None:
        self.net, self.config = net, config
        self.params = list(net.params)
        self.optimizer = make_optimizer(config, self.params)
        self.conversions = [f"the check applies {config.optimizer} (scratch.optimizers, "
                            f"Keras's rules, lr {config.learning_rate:g}) to params"]  # fmt: skip
        self.array_names = [f"params[{i}]" for i in range(len(self.params))]

    def get_weights(self) -> list[np.ndarray]:
        return [np.array(p) for p in self.params]

    def gradients(self, x: np.ndarray, y: np.ndarray) -> list[np.ndarray] | None:
        return [np.asarray(g) for g in user_call("gradients(x, y)", self.net.gradients, x, y)]

    def step(self, x: np.ndarray, y: np.ndarray, grads, t: int) -> None:
        self.optimizer.step(self.params, grads, t)

    def forward(self, x: np.ndarray) -> np.ndarray | None:
        if not hasattr(self.net, "predict_proba"):
            return None
        return np.asarray(user_call("predict_proba(x)", self.net.predict_proba, x))


ADAPTERS = {"project": ProjectAdapter, "textbook": TextbookAdapter, "gradients": GradientsAdapter}


def initial_weights(net: Any, layout: str) -> list[np.ndarray]:
    """The weights the object reports, in Keras layout, before an adapter exists."""
    if layout == "project":
        return [np.asarray(w) for w in user_call("get_weights()", net.get_weights, exit_code=2)]
    if layout == "textbook":
        if len(net.weights) != len(net.biases):
            raise CliError(f"weights has {len(net.weights)} arrays, biases {len(net.biases)}; "
                           f"{ACCEPTED}", 2)  # fmt: skip
        pairs = zip(net.weights, net.biases, strict=True)
        return [a for w, b in pairs for a in (np.asarray(w).T, np.asarray(b).reshape(-1))]
    return [np.asarray(p) for p in net.params]
