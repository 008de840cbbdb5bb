"""Lockstep rows of `mnist-compare check`: both networks trained on the same batches.

The Keras twin starts from the scratch network's initial weights (copied with
`set_weights`) and both take one optimizer step on exactly `x_train[idx]` for each
`idx` of the shared `BatchSchedule`. At checkpoints (steps 1, 10, 100, 1000, ...
and the last) we compare weights, the batch losses of that step, and predictions
on the whole test set.

Pass criteria (see docs/check.md for why they are what they are):
- float64: at the last step, max |W_scratch - W_keras| <= 1e-10 and the two
  models predict the same digit for 100% of the test images.
- float32: max |dW| <= 1e-5 at every checkpoint up to step 100; at the last step
  >= 99% prediction agreement and test accuracies within 0.3 percentage points.
  In between (steps 101..last-1) float32 rows are shown, not judged: rounding
  differences of 1e-7 grow chaotically once training is under way.
- Kinks (compare/check_kinks.py): if a ReLU unit's pre-activation Z is so close to 0
  that the two models' rounding puts it on opposite sides (|Z| ~ 1e-7 in float32), or
  a max-pool window's two largest inputs are that close, the models route that
  gradient differently, and the weights jump apart by ~lr * |gradient| in one step.
  Flips by rounding are common and mostly harmless, so the check looks for the one that
  parted the models: in float32, over the first 100 steps, the latest flip at or before
  the step where max |dW| first leaves 1e-5. It reports that flip's step, size and layer,
  and rows of the first 100 steps are judged against 1e-5 only up to that step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from compare.batches import BatchSchedule
from compare.check_kinks import PartingWatch
from compare.metrics import weight_difference
from compare.training import is_checkpoint
from scratch.config import ModelConfig

F64_ABS_LIMIT = 1e-10
F32_ABS_LIMIT = 1e-5
F32_EARLY_STEPS = 100
# A kink flip excuses later float32 rows only if it is rounding noise: the unit's |Z| (or
# the pool window's gap) is within this of the kink, and the weights still agreed to
# F32_ABS_LIMIT just before.
F32_FLIP_MAX_SIZE = 1e-5
F64_LOSS_LIMIT = 1e-12  # |loss difference| at the end of a float64 run
F32_MIN_AGREEMENT = 0.99
F32_MAX_ACCURACY_GAP = 0.003


def checkpoints(total_steps: int) -> list[int]:
    """The run's checkpoints below `total_steps` (1, 10, 100, ...: `is_checkpoint`), then
    `total_steps` itself."""
    return [step for step in range(1, total_steps) if is_checkpoint(step)] + [total_steps]


def batch_stream(schedule: BatchSchedule, steps: int) -> Iterator[np.ndarray]:
    """The first `steps` index arrays of the schedule, epoch after epoch."""
    produced = 0
    epoch = 0
    while produced < steps:
        for idx in schedule.epoch(epoch):
            if produced == steps:
                return
            produced += 1
            yield idx
        epoch += 1


def judge(dtype: str, step: int, last: int, figures: dict) -> tuple[str, bool]:
    """(criterion shown in the table, passed) for one checkpoint."""
    if dtype == "float64":
        if step < last:
            return "-", True
        ok = (
            figures["max_abs_weight_diff"] <= F64_ABS_LIMIT
            and figures["prediction_agreement"] == 1.0
            and figures.get("loss_diff", 0.0) <= F64_LOSS_LIMIT
        )
        return f"|dW|<={F64_ABS_LIMIT:g}, agree=100%, |dloss|<={F64_LOSS_LIMIT:g}", ok
    rules, ok = [], True
    if step <= F32_EARLY_STEPS and not flipped_by_rounding(figures, step):
        rules.append(f"|dW|<={F32_ABS_LIMIT:g}")
        ok = figures["max_abs_weight_diff"] <= F32_ABS_LIMIT
    if step == last:  # judged whatever happened before
        gap = abs(figures["scratch_test_accuracy"] - figures["keras_test_accuracy"])
        rules.append("agree>=99%, |dacc|<=0.3pp")
        ok = ok and figures["prediction_agreement"] >= F32_MIN_AGREEMENT
        ok = ok and gap <= F32_MAX_ACCURACY_GAP
    if rules:
        return ", ".join(rules), ok
    if step <= F32_EARLY_STEPS:
        return f"- (kink flip at step {figures['parting_flip_step']})", True
    return "-", True


def flipped_by_rounding(figures: dict, step: int) -> bool:
    """A kink flip at or before `step` that rounding noise explains: the weights agreed to
    F32_ABS_LIMIT just before it, and the flip was within F32_FLIP_MAX_SIZE of the kink."""
    flip = figures.get("parting_flip_step")
    if flip is None or flip > step:
        return False
    before = figures.get("max_abs_weight_diff_before_flip")
    return (
        before is not None
        and before <= F32_ABS_LIMIT
        and figures["parting_flip_size"] <= F32_FLIP_MAX_SIZE
    )


def lockstep_rows(
    config: ModelConfig,
    splits,
    schedule: BatchSchedule,
    steps: int,
    seed: int = 0,
    on_row: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Train scratch and Keras side by side for `steps` steps; one row per checkpoint."""
    from keras_baseline.twin import KerasTwin
    from scratch.network import Network

    x_train = splits.x_train.astype(config.dtype, copy=False)
    x_test = splits.x_test.astype(config.dtype, copy=False)
    network = Network(config, seed=seed)
    twin = KerasTwin(config, seed=seed)
    twin.set_weights(network.get_weights())
    marks = set(checkpoints(steps))
    rows = []
    kinks = any(spec == "relu" or spec.startswith("pool") for spec in config.layer_specs)
    watch = PartingWatch(kinks and config.dtype == "float32", F32_ABS_LIMIT, F32_EARLY_STEPS)
    for step, idx in enumerate(batch_stream(schedule, steps), start=1):
        x_batch, y_batch = x_train[idx], splits.y_train[idx]
        watch.before_step(step, network, twin, x_batch)
        loss_s = network.train_step(x_batch, y_batch)
        loss_k = twin.train_step(x_batch, y_batch)
        watch.after_step(step, network, twin)
        if step not in marks:
            continue
        measured = watch.figures | {"loss_diff": abs(loss_s - loss_k)}
        row = _checkpoint(config, network, twin, (x_test, splits.y_test), step, steps, measured)
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows


def _is_variant(config: ModelConfig) -> bool:
    """True for a run off the default path (another loss, init, L2 or lr decay)."""
    return (config.loss, config.init, config.l2, config.lr_decay) != (
        "crossentropy",
        "glorot_uniform",
        0.0,
        0.0,
    )


def _checkpoint(config, network, twin, test, step: int, last: int, flip: dict) -> dict:
    x_test, y_test = test
    abs_diff, rel_diff = weight_difference(network.get_weights(), twin.get_weights())
    pred_s, pred_k = network.predict(x_test), twin.predict(x_test)
    figures = {
        "check": "lockstep",
        "network": "mlp" if config.is_mlp else "cnn",
        "optimizer": config.optimizer + ("*" if _is_variant(config) else ""),
        "variant": _is_variant(config),
        "learning_rate": config.learning_rate,
        "dtype": config.dtype,
        "steps": step,
        "max_abs_weight_diff": abs_diff,
        "max_rel_weight_diff": rel_diff,
        "prediction_agreement": float(np.mean(pred_s == pred_k)),
        "scratch_test_accuracy": float(np.mean(pred_s == y_test)),
        "keras_test_accuracy": float(np.mean(pred_k == y_test)),
        **flip,
    }
    criterion, passed = judge(config.dtype, step, last, figures)
    return figures | {"criterion": criterion, "passed": bool(passed)}
