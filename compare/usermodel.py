"""Load a learner's own network (`check --model FILE.py:CLASS`) and tell its layout.

Loading runs the learner's Python file: it is their code, executed in this process.
Every call into it goes through `user_call`, so an exception there is reported as an
error in *their* file (file, line, the tail of their traceback), never as a crash of
this tool.

Three layouts are accepted, detected from the attributes the object has (the
adapters that give all three one interface are in compare/useradapters.py):

1. `project`: this project's Model interface (compare.models.Model), the subset
   `get_weights`/`set_weights` in Keras layout, `train_step(x, y) -> loss`,
   `predict_proba(x)` (and `loss_and_gradients` where present).
2. `textbook`: Nielsen's `network.py`: `weights` (out, in), `biases` (out, 1),
   `feedforward(a)` on column vectors, `update_mini_batch(mini_batch, eta)` (and
   `backprop(x, y) -> (nabla_b, nabla_w)` where present).
3. `gradients`: `params` (Keras layout) and `gradients(x, y) -> list`; the check applies
   the optimizer itself.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import sys
import sysconfig
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from compare.cli import CliError

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


class UserCodeError(CliError):
    """An exception raised inside the learner's code: their bug, shown as theirs."""


def user_call(what: str, function, *args, exit_code: int = 1):
    """Call into the learner's code; an exception becomes a UserCodeError naming their line."""
    try:
        with contextlib.redirect_stdout(sys.stderr):  # their prints: stdout is the table
            return function(*args)
    except (Exception, SystemExit) as error:  # anything, sys.exit() too: reported as theirs
        raise UserCodeError(describe_exception(what, error), exit_code) from None


def shown(value: Any) -> str:
    """What the learner's code returned, for an error line: `None`, `dict {...}`."""
    import reprlib

    return "None" if value is None else f"{type(value).__name__} {reprlib.repr(value)}"


def as_arrays(what: str, value: Any, exit_code: int = 1) -> list[np.ndarray]:
    """The list of numeric arrays the learner's code returned, or a one-line error saying
    what came back instead (None, a number, ragged or non-numeric items)."""
    if value is None or isinstance(value, str | bytes | dict) or not hasattr(value, "__iter__"):
        raise UserCodeError(f"{what} returned {shown(value)}; expected a list of arrays", exit_code)
    items = list(value)
    for index, item in enumerate(items):
        try:
            array = np.array(item)
        except (TypeError, ValueError):
            array = np.array(None)
        if not np.issubdtype(array.dtype, np.number):
            raise UserCodeError(f"{what} returned a list whose item {index} is {shown(item)}, "
                                "not an array of numbers", exit_code)  # fmt: skip
    return [np.array(item) for item in items]


def describe_exception(what: str, error: BaseException) -> str:
    """'error in your code (FILE:LINE in FUNC) during WHAT: Type: msg' + their traceback tail."""
    frames = traceback.extract_tb(error.__traceback__)
    if isinstance(error, SyntaxError) and error.filename:  # the frames are the importer's
        frames = [traceback.FrameSummary(error.filename, error.lineno or 0, "<module>",
                                         line=(error.text or "").strip())]  # fmt: skip
    theirs = [f for f in frames if not _is_tool_frame(f.filename)] or frames[-1:]
    where = f"{theirs[-1].filename}:{theirs[-1].lineno} in {theirs[-1].name}" if theirs else "?"
    tail = "".join(traceback.format_list(theirs[-3:])).rstrip()
    message = f"{type(error).__name__}: {error}"
    if isinstance(error, SystemExit):
        message = f"your code called sys.exit({error.code!r}); a network must not exit"
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


def parse_target(spec: str) -> tuple[str, str]:
    """`path/to/file.py:Name` or `package.module:Name` -> (location, name), or a one-line
    error; nothing is run."""
    location, _, name = spec.rpartition(":")
    if not location or not name.isidentifier():
        raise CliError(f"--model wants FILE.py:CLASS or package.module:CLASS, got {spec!r}")
    return location, name


def load_target(spec: str) -> Any:
    """`path/to/file.py:Name` or `package.module:Name` -> the class or function (runs the file)."""
    location, name = parse_target(spec)
    path = Path(location).expanduser()
    if location.endswith(".py") or "/" in location or path.exists():
        if path.is_dir():
            raise CliError(f"--model {spec}: {path} is a folder; give FILE.py:CLASS")
        if not path.is_file():
            raise CliError(f"--model {spec}: file {path} not found")
        if path.suffix != ".py":
            raise CliError(f"--model {spec}: {path} is not a Python file; give FILE.py:CLASS")
        module = _exec_file(path)
    else:
        module = user_call(f"import of {location}", importlib.import_module, location, exit_code=2)
    target = getattr(module, name, None)
    if target is not None and not callable(target):
        raise CliError(
            f"--model {spec}: {name} is a {type(target).__name__}, not a class or "
            "a function that returns the network"
        )
    if target is None:
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


def initial_weights(net: Any, layout: str) -> list[np.ndarray]:
    """The weights the object reports, in Keras layout, before an adapter exists."""
    if layout == "project":
        weights = user_call("get_weights()", net.get_weights, exit_code=2)
        return as_arrays("get_weights()", weights, exit_code=2)
    if layout == "textbook":
        if len(net.weights) != len(net.biases):
            raise CliError(f"weights has {len(net.weights)} arrays, biases {len(net.biases)}; "
                           f"{ACCEPTED}", 2)  # fmt: skip
        pairs = zip(net.weights, net.biases, strict=True)
        return [a for w, b in pairs for a in (np.asarray(w).T, np.asarray(b).reshape(-1))]
    return [np.asarray(p) for p in net.params]
