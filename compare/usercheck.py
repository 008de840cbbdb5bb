"""`mnist-compare check --model FILE.py:CLASS`: a learner's own network beside its Keras twin.

1. Load and build their network (compare/usermodel.py: runs their file), detect its
   layout, read its initial weights, derive a `ModelConfig` from their shapes plus the
   flags, and build the Keras twin from it (keras_baseline.KerasTwin) with those weights.
2. Outputs and gradients on the first batch against the twin (`tf.GradientTape`), array
   by array: the `gradient` rows of `check`'s table.
3. Lockstep for `steps` steps on the shared `BatchSchedule` of real MNIST: `lockstep`
   rows at steps 1, 10, 100, ... and the last; the first step and array where the
   weights part beyond rounding (float64 1e-10, float32 1e-5).
4. A verdict and, if they differ, a diagnosis (compare/diagnose.py).

Same table, `--json` schema and exit codes as `check`: 0 equal, 1 different, 2 bad usage.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from compare import bugmodels, useradapters, usermodel, userreport
from compare.batches import BatchSchedule
from compare.check import CheckResult
from compare.check_gradients import norm_error
from compare.check_lockstep import F32_ABS_LIMIT, F64_ABS_LIMIT, batch_stream, checkpoints
from compare.diagnose import Diagnosis, Evidence, Observation, diagnose
from compare.metrics import weight_difference
from compare.usermodel import UserCodeError, shown
from scratch.config import ModelConfig

DEFAULT_STEPS = 100
LIMITS = {"float64": F64_ABS_LIMIT, "float32": F32_ABS_LIMIT}
F32_MIN_AGREEMENT = 0.99


@dataclass(frozen=True)
class ModelCheckOptions:
    """What `check --model` runs. `config.hidden_sizes` gives the constructor's sizes;
    the twin's are read from the learner's weights. `dtype=None`: their weights' dtype."""

    model: str
    config: ModelConfig
    dtype: str | None = None
    lr_given: bool = False
    batch_size: int = 32
    steps: int = DEFAULT_STEPS
    init_seed: int = 0
    seed: int = 0  # of the batches
    data_dir: str | None = None
    limit_train: int | None = None
    command: str = "mnist-compare check --model"


@dataclass
class Setup:
    adapter: object
    config: ModelConfig
    weights: list[np.ndarray]
    layout: str
    built: str


def build(options: ModelCheckOptions) -> Setup:
    """Their network, adapted, and the config their shapes and the flags say."""
    target = usermodel.load_target(options.model)
    sizes = list(options.config.layer_sizes)
    net, built = usermodel.construct(target, sizes, options.init_seed)
    layout = usermodel.detect_layout(net)
    weights = usermodel.initial_weights(net, layout)
    shapes = usermodel.kernel_shapes(weights)
    dtype = options.dtype or (str(weights[0].dtype) if weights[0].dtype.kind == "f" else None)
    dtype = dtype if dtype in ("float32", "float64") else "float64"
    config = replace(options.config, hidden_sizes=tuple(s[1] for s in shapes[:-1]), dtype=dtype)
    weights = [np.asarray(w, dtype=dtype) for w in weights]
    if layout == "project":
        config = useradapters.read_hyperparameters(net, config, options.lr_given)
    adapter = useradapters.ADAPTERS[layout](net, config)
    return Setup(adapter, config, weights, layout, built)


def user_probabilities(setup: Setup, x: np.ndarray) -> np.ndarray:
    """Their forward pass, or (layout 3 without predict_proba) the plain MLP forward of
    their params."""
    out = setup.adapter.forward(x)
    if out is None:
        out = bugmodels.forward(setup.adapter.get_weights(), x, setup.config)[2]
    what = "feedforward(a)" if setup.layout == "textbook" else "predict_proba(x)"
    try:
        P = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError):
        P = np.array(np.nan)
    if P.shape != (len(x), 10):
        got = f"an array of shape {P.shape}" if P.ndim else shown(out)[:80]
        raise UserCodeError(f"your {what} returned {got}; expected probabilities of shape "
                            f"({len(x)}, 10)", 1)  # fmt: skip
    if not np.isfinite(P).all():
        bad = int(np.sum(~np.isfinite(P)))
        raise UserCodeError(f"your {what} returned NaN or inf for {bad} of {P.size} outputs: "
                            "the network (or a training step) broke it", 1)  # fmt: skip
    return P


def batch_loss(setup: Setup, P: np.ndarray, y: np.ndarray, weights) -> float:
    """The Keras loss of outputs P (batch mean, + l2 * sum W**2) as the user's model gives it."""
    config = setup.config
    Y = np.eye(10)[y]
    if config.loss == "crossentropy":
        data = -np.mean(np.log(np.clip(P[np.arange(len(y)), y], 1e-300, None)))
    else:
        data = np.mean((P - Y) ** 2)
    return float(data + config.l2 * sum(np.sum(np.square(W)) for W in weights[0::2]))


def gradient_rows(setup: Setup, twin, x, y, names) -> tuple[list[dict], Observation, float]:
    """The outputs row, then one row per array of their gradients (if they have any)."""
    config = setup.config
    base = {"check": "gradient", "activation": config.activation, "loss": config.loss,
            "l2": config.l2, "dtype": config.dtype, "optimizer": None, "steps": None}  # fmt: skip
    limit = LIMITS[config.dtype]
    P_user, P_keras = user_probabilities(setup, x), twin.predict_proba(x)
    forward_error = norm_error(P_user, P_keras)
    rows = [base | _row("outputs", P_user, P_keras, limit, None)]
    grads = setup.adapter.gradients(x, y)
    observation = Observation(setup.adapter.get_weights(), x, y, 0, user_grads=grads)
    if grads is not None:
        loss_k, grads_k = twin.loss_and_gradients(x, y)
        loss_diff = abs(batch_loss(setup, P_user, y, setup.weights) - loss_k)
        pairs = zip(names, grads + [None] * (len(grads_k) - len(grads)), grads_k, strict=False)
        rows += [base | _row(f"tape {n}", g, k, limit, loss_diff) for n, g, k in pairs]
    return rows, observation, forward_error


def _row(reference: str, user, keras, limit: float, loss_diff: float | None) -> dict:
    same_shape = user is not None and np.shape(user) == np.shape(keras)
    error = max_abs = None
    if same_shape:
        user, keras = np.asarray(user, np.float64), np.asarray(keras, np.float64)
        error, max_abs = norm_error(user, keras), float(np.abs(user - keras).max())
    return {
        "reference": reference, "relative_error": error, "max_abs_error": max_abs,
        "limit": limit, "loss_diff": loss_diff, "shape": list(np.shape(user)),
        "keras_shape": list(np.shape(keras)),
        "passed": bool(same_shape and np.isfinite(error) and error <= limit),
    }  # fmt: skip


def lockstep(setup: Setup, twin, splits, schedule, steps, names, progress) -> tuple[list, dict]:
    """Both models on the same batches; rows at the checkpoints and what the run showed."""
    config, adapter = setup.config, setup.adapter
    limit, marks = LIMITS[config.dtype], set(checkpoints(steps))
    x_train = splits.x_train.astype(config.dtype, copy=False)
    found: dict = {"departure": None, "losses": [], "steps_run": 0}
    rows: list[dict] = []
    for t, idx in enumerate(batch_stream(schedule, steps), start=1):
        x, y = x_train[idx], splits.y_train[idx]
        before_u, before_k = adapter.get_weights(), twin.get_weights()
        grads = adapter.gradients(x, y) if (adapter.layout == "gradients" or
                                           found["departure"] is None) else None  # fmt: skip
        if adapter.layout == "gradients" and _shapes(grads) != _shapes(before_u):
            found["stopped"] = f"stopped: gradients(x, y) shapes {_shapes(grads)} at step {t}"
            break
        loss_u = batch_loss(setup, user_probabilities(setup, x), y, before_u)
        adapter.step(x, y, grads, t)
        loss_k = twin.train_step(x, y)
        found["losses"].append(loss_u)
        found["steps_run"] = t
        after_u, after_k = adapter.get_weights(), twin.get_weights()
        if _shapes(after_u) != _shapes(after_k):
            shapes = _shapes(after_u)
            found["stopped"] = f"stopped: the weights changed shape to {shapes} at step {t}"
            found["departure"] = found["departure"] or (t, None)
            break
        abs_diff, rel_diff = weight_difference(after_u, after_k)
        if found["departure"] is None and not abs_diff <= limit:
            worst = _worst_array(after_u, after_k)
            found["departure"] = (t, names[worst])
            found["observation"] = Observation(
                before_u,
                x,
                y,
                t,
                user_grads=grads,
                user_delta=[a - b for a, b in zip(after_u, before_u, strict=True)],
                keras_delta=[a - b for a, b in zip(after_k, before_k, strict=True)],
            )
        if progress is not None:
            progress(t, steps)
        if t in marks:
            rows.append(_checkpoint(setup, twin, splits, t, steps, abs_diff, rel_diff,
                                    abs(loss_u - loss_k), found["departure"]))  # fmt: skip
    return rows, found


def _shapes(arrays) -> list:
    return [np.shape(a) for a in arrays or []]


def _worst_array(user, keras) -> int:
    rel = []
    for a, b in zip(user, keras, strict=True):
        scale = max(float(np.abs(b).max(initial=0.0)), 1e-300)
        rel.append(float(np.abs(np.asarray(a, np.float64) - b).max(initial=0.0)) / scale)
    return int(np.nanargmax(np.nan_to_num(rel, nan=np.inf)))


def _checkpoint(setup, twin, splits, t, last, abs_diff, rel_diff, loss_diff, departure) -> dict:
    config = setup.config
    x_test = splits.x_test.astype(config.dtype, copy=False)
    pred_u = user_probabilities(setup, x_test).argmax(axis=1)
    pred_k = twin.predict(x_test)
    agree = float(np.mean(pred_u == pred_k))
    limit = LIMITS[config.dtype]
    need = 1.0 if config.dtype == "float64" else F32_MIN_AGREEMENT
    passed = abs_diff <= limit and (t < last or agree >= need)
    criterion = f"|dW|<={limit:g}" + (f", agree>={need:.0%}" if t == last else "")
    return {
        "check": "lockstep", "optimizer": config.optimizer, "variant": False,
        "learning_rate": config.learning_rate, "dtype": config.dtype, "steps": t,
        "max_abs_weight_diff": abs_diff, "max_rel_weight_diff": rel_diff,
        "loss_diff": loss_diff, "prediction_agreement": agree,
        "scratch_test_accuracy": float(np.mean(pred_u == splits.y_test)),
        "keras_test_accuracy": float(np.mean(pred_k == splits.y_test)),
        "first_departure_step": departure[0] if departure else None,
        "first_departure_array": departure[1] if departure else None,
        "criterion": criterion, "passed": bool(passed),
    }  # fmt: skip


def run_model_check(
    options: ModelCheckOptions,
    progress: Callable[[int, int], None] | None = None,
    data=None,
) -> tuple[CheckResult, Diagnosis | None]:
    """The whole check of one learner's network; the diagnosis is None when it passes.
    `data`: MNIST already loaded (`compare.data.load_mnist`), else loaded here."""
    from compare.data import load_mnist, make_splits
    from compare.threads import blas_threads
    from keras_baseline.twin import KerasTwin

    setup = build(options)  # their code runs first: its errors come before TensorFlow loads
    _quiet_tensorflow()
    config = setup.config
    data = data if data is not None else load_mnist(options.data_dir)
    splits = make_splits(data, val_size=0, seed=options.seed,
                         dtype=config.dtype, limit_train=options.limit_train)  # fmt: skip
    schedule = BatchSchedule(len(splits.y_train), options.batch_size, seed=options.seed)
    names = setup.adapter.array_names
    with blas_threads(1):
        twin = KerasTwin(config, seed=options.init_seed)
        twin.set_weights(setup.weights)
        idx = schedule.epoch(0)[0]
        x0, y0 = splits.x_train[idx].astype(config.dtype), splits.y_train[idx]
        rows, first, forward_error = gradient_rows(setup, twin, x0, y0, names)
        grads_ok = first.user_grads is None or _shapes(first.user_grads) == _shapes(setup.weights)
        found: dict = {"departure": None, "losses": [], "steps_run": 0}
        if grads_ok or setup.layout != "gradients":
            steps = options.steps
            lock_rows, found = lockstep(setup, twin, splits, schedule, steps, names, progress)
            rows += lock_rows
        else:
            shapes = _shapes(first.user_grads), _shapes(setup.weights)
            found["stopped"] = f"not started: gradient shapes {shapes[0]}, params {shapes[1]}"
    passed = bool(rows) and all(row["passed"] for row in rows)
    diagnosis = None
    if not passed:
        evidence = Evidence(config, options.batch_size, names, forward_error, first,
                            found.get("observation"), found["losses"])  # fmt: skip
        diagnosis = diagnose(evidence)
    header = userreport.header(options, setup, splits, schedule, found, diagnosis)
    notes = userreport.notes(setup, found, diagnosis, passed, LIMITS[config.dtype])
    return CheckResult(passed, rows, header, notes), diagnosis


def _quiet_tensorflow() -> None:
    """One twin per check; TensorFlow's start-up and retracing chatter is noise here."""
    from keras_baseline.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")


def print_progress(step: int, total: int) -> None:
    """'lockstep step t/N' on stderr (the learner's code may be slow): rewritten in place on
    a terminal, else one line per tenth of the run."""
    if sys.stderr.isatty():
        end = "\n" if step == total else ""
        print(f"\rlockstep step {step}/{total}", end=end, file=sys.stderr, flush=True)
    elif step == 1 or step == total or step % max(1, total // 10) == 0:
        print(f"lockstep step {step}/{total}", file=sys.stderr, flush=True)
