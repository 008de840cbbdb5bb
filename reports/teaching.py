""" "What Keras did for you": each training step of the scratch network beside the
Keras code that replaces it.

The scratch code is excerpted from its source *at render time* with
`inspect.getsource`, so the report shows the code as it is on disk now. Each step
names where its code lives (dotted paths, some filled in from the run's config: the
activation, initializer, optimizer and loss actually used); a missing symbol is said
so in the report instead of crashing it. Only `scratch` is imported (NumPy only),
never TensorFlow.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from dataclasses import dataclass
from typing import Any

from reports.document import Code, SideBySide
from reports.keras_code import keras_lines, layer_specs
from scratch.config import ConfigError
from scratch.layers import make_layer

MAX_EXCERPT_LINES = 60
NET = "scratch.network.Sequential"
OPTIMIZER_CLASSES = {"sgd": "SGD", "momentum": "Momentum", "nesterov": "Nesterov", "adam": "Adam"}
OUTPUT_CLASSES = {"crossentropy": "SoftmaxCrossEntropy", "mse": "SigmoidMSE"}


@dataclass(frozen=True)
class Step:
    """One training step: what it does, and where the scratch code for it lives.

    `sources` is a list of groups; each group lists alternative dotted paths (the
    first one found wins). Paths may use {activation}, {init}, {optimizer} and
    {output} (the output-and-loss pair), filled in from the run's model config.
    """

    title: str
    sources: tuple[tuple[str, ...], ...]
    explanation: str


STEPS: tuple[Step, ...] = (
    Step(
        "Initialization",
        (("scratch.initializers.{init}",), ("{kernel_layer}.build",)),
        "Draw each kernel from the configured scheme and set every bias to zero (Glorot "
        "uniform draws from U(±sqrt(6 / (fan_in + fan_out)))). Keras does this when it "
        "builds each Dense layer.",
    ),
    Step(
        "Forward pass",
        (
            (f"{NET}.forward",),
            ("{layer}.forward",),
        ),
        "Each layer's forward pass, first to last: a Dense layer multiplies by its kernel "
        "and adds its bias, a Conv2D layer does the same for every window of the image "
        "(im2col), a pooling layer keeps each window's largest value, an activation layer "
        "applies the nonlinearity. Keras: calling the model.",
    ),
    Step(
        "Loss",
        (
            (f"{NET}.loss",),
            ("scratch.losses.{output}.forward",),
            ("scratch.losses.batch_mean",),
            ("scratch.losses.l2_penalty",),
        ),
        "The output activation (softmax or sigmoid) with its loss, averaged over the batch, "
        "plus `l2 * sum(W**2)` over the kernels. Keras: the loss given to compile() and each "
        "layer's kernel_regularizer.",
    ),
    Step(
        "Gradients (backpropagation)",
        (
            (f"{NET}.backward",),
            ("scratch.losses.{output}.backward",),
            ("{layer}.backward",),
        ),
        "The chain rule from the output back: dZ from the output-and-loss pair, then each "
        "layer's backward pass, last to first: a Dense layer gives dW = X.T @ dZ, "
        "db = sum(dZ) and dX = dZ @ W.T, a Conv2D layer the same on its im2col rows (then "
        "col2im), a pooling layer routes each gradient to its window's max, an activation "
        "multiplies by its derivative. Keras: automatic differentiation (tf.GradientTape) "
        "inside fit().",
    ),
    Step(
        "Parameter update",
        (("scratch.optimizers.{optimizer}.step",),),
        "Move each parameter against its gradient by the optimizer's rule (SGD: "
        "W -= learning_rate * dW; momentum and Adam keep running state per parameter). "
        "Keras: the optimizer object.",
    ),
    Step(
        "One training step",
        ((f"{NET}._train_step",),),
        "Forward, loss, backward and update for one mini-batch; returns the loss computed "
        "before the update, as Keras's fit() logs it.",
    ),
    Step(
        "Batching",
        (("scratch.batches.BatchSchedule.epoch",), ("scratch.training.fit",)),
        "Shuffle the training indices each epoch and cut them into mini-batches; the last "
        "batch keeps the remainder. Keras: fit(batch_size=..., shuffle=True). In this "
        "project the runner feeds both models the same batches from one schedule.",
    ),
    Step(
        "Metrics",
        ((f"{NET}.evaluate",),),
        "Loss and accuracy (the argmax of the outputs equals the label) over a whole set. "
        "Keras: metrics=['accuracy'] in compile(), and evaluate().",
    ),
)


def placeholders(model: dict[str, Any]) -> dict[str, Any]:
    """Values for the {names} in `Step.sources`, from the run's model config. "layer"
    lists the dotted path of each layer class the stack uses (in stack order, each
    once), "kernel_layer" those with a kernel (Dense, Conv2D)."""
    classes = []
    for spec in layer_specs(model):
        try:
            classes.append(type(make_layer(spec)))
        except ConfigError:
            continue  # a layer this code does not know: nothing to excerpt
    used = list(dict.fromkeys(classes))
    return {
        "layer": [f"{kind.__module__}.{kind.__qualname__}" for kind in used],
        "kernel_layer": [f"{k.__module__}.{k.__qualname__}" for k in used if k.param_names],
        "init": str(model.get("init", "glorot_uniform")),
        "optimizer": OPTIMIZER_CLASSES.get(str(model.get("optimizer", "sgd")), "SGD"),
        "output": OUTPUT_CLASSES.get(str(model.get("loss", "crossentropy")), "SoftmaxCrossEntropy"),
    }


def resolve(dotted: str) -> Any | None:
    """The object at `dotted` (a module path, then attributes), or None if absent."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except Exception:  # noqa: BLE001 - a missing or broken module means "not found"
            continue
        for name in parts[cut:]:
            # vars() on classes: the method itself, not one inherited from a base class.
            obj = vars(obj).get(name) if inspect.isclass(obj) else getattr(obj, name, None)
            if obj is None:
                return None
        return obj
    return None


def code_line_count(source: str) -> int:
    """Lines of code: not blank, not a comment, not part of a docstring."""
    source = textwrap.dedent(source)
    skip: set[int] = set()
    try:
        for node in ast.walk(ast.parse(source)):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
                value = body[0].value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    skip.update(range(body[0].lineno, (body[0].end_lineno or 0) + 1))
    except SyntaxError:
        pass
    return sum(
        1
        for number, line in enumerate(source.splitlines(), start=1)
        if number not in skip and line.strip() and not line.strip().startswith("#")
    )


def excerpt(obj: Any) -> tuple[str, int]:
    """(source, lines of code) of `obj`; the shown source is cut at MAX_EXCERPT_LINES."""
    source = textwrap.dedent(inspect.getsource(obj))
    count = code_line_count(source)
    lines = source.rstrip().splitlines()
    if len(lines) > MAX_EXCERPT_LINES:
        lines = [*lines[:MAX_EXCERPT_LINES], f"# ... ({len(lines) - MAX_EXCERPT_LINES} more lines)"]
    return "\n".join(lines), count


def scratch_code(step: Step, names: dict[str, str]) -> Code:
    """The step's scratch source, excerpt by excerpt, with the total line count."""
    pieces: list[str] = []
    missing: list[str] = []
    total = 0
    for group in _expanded(step.sources, names):
        paths = [path.format(**names) for path in group]
        found = next(((p, obj) for p in paths if (obj := resolve(p)) is not None), None)
        if found is None:
            missing.append(" or ".join(paths))
            pieces.append(f"# not found in the source: {' or '.join(paths)}")
            continue
        path, obj = found
        try:
            source, count = excerpt(obj)
        except (OSError, TypeError) as error:
            pieces.append(f"# {path}: source unavailable ({error})")
            continue
        total += count
        pieces.append(f"# {path}  ({_plural(count, 'line')})\n{source}")
    caption = f"scratch — {_plural(total, 'line')} of code"
    if missing:
        caption += f" (not found: {', '.join(missing)})"
    return Code("\n\n".join(pieces), caption=caption)


def _expanded(sources: tuple[tuple[str, ...], ...], names: dict[str, Any]) -> list[tuple]:
    """The source groups with each list-valued {name} written out once per value (no
    group at all when the list is empty)."""
    groups: list[tuple] = []
    for group in sources:
        lists = [key for key, value in names.items() if isinstance(value, list)]
        key = next((k for k in lists if any(f"{{{k}}}" in path for path in group)), None)
        if key is None:
            groups.append(group)
            continue
        for value in names[key]:
            groups.append(tuple(path.replace(f"{{{key}}}", value) for path in group))
    return groups


def teaching_pairs(model: dict[str, Any], run_config: dict[str, Any]) -> list[SideBySide]:
    """One side-by-side block per training step; missing scratch symbols are said so."""
    names = placeholders(model)
    keras_code = keras_lines(model, run_config)
    pairs = []
    for step in STEPS:
        keras = keras_code[step.title]
        right = Code(keras, caption=f"Keras — {_plural(code_line_count(keras), 'line')}")
        pairs.append(SideBySide(step.title, step.explanation, scratch_code(step, names), right))
    return pairs


def _plural(count: int, noun: str) -> str:
    """'1 line', '12 lines'."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
