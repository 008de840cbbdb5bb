"""The headline table's "Better" (two models) or "Best" column: a model is named only
when its lead is larger than the measurement's noise; otherwise "no clear difference".

- Test accuracy: McNemar's exact test on the test images (`compare.metrics`, the
  p-values of summary.json's pairs), p < 0.05.
- Test loss: more than `LOSS_TOLERANCE` (2%) apart, relative to the smaller loss. The
  twins' float32 rounding alone moved one network's test loss by 1.1% between two
  machines (0.0746 and 0.0738, CHANGELOG.md), and no per-image losses are stored to
  test it.
- Times (training time, samples per second, prediction time): the slower more than
  `TIME_TOLERANCE` (1.25x) the faster, or more than the run's own noise if that is larger:
  the largest ratio between two epochs' training times of one model (epoch 1 left out,
  it includes Keras's tracing). On the shared host one command's training time varied by
  up to a third from run to run (docs/run.md, "Measured: the default run").
With more than two models the best one is named only if it is clearly better than
each of the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from reports.stats import SIGNIFICANCE

NO_CLEAR = "no clear difference"
LOSS_TOLERANCE = 0.02  # relative
TIME_TOLERANCE = 1.25  # ratio of the slower to the faster


@dataclass(frozen=True)
class Rule:
    key: str  # in summary.json's models.<name>
    higher_is_better: bool
    kind: str  # "mcnemar", "loss" or "time"


# Headline row -> how its winner is decided.
RULES = {
    "Test accuracy": Rule("test_accuracy", True, "mcnemar"),
    "Test loss": Rule("test_loss", False, "loss"),
    "Training time (s)": Rule("train_seconds", False, "time"),
    "Training samples / s": Rule("samples_per_second", True, "time"),
    "Prediction time, whole test set (s)": Rule("predict_seconds", False, "time"),
}

CAPTION = (
    "“Better” names a model only when the difference is larger than the measurement's "
    f"noise: accuracy by McNemar's test (p < {SIGNIFICANCE}), loss by more than "
    f"{LOSS_TOLERANCE:.0%}, times by more than {TIME_TOLERANCE}× (or the run's own "
    "epoch-to-epoch spread, if larger); otherwise “no clear difference”."
)


def epoch_time_noise(metrics: pd.DataFrame | None) -> float:
    """The largest ratio between two epochs' training seconds of one model (epochs 2 and
    later), 1.0 when there are fewer than two such epochs."""
    if metrics is None or not {"model", "epoch", "seconds"} <= set(metrics.columns):
        return 1.0
    later = metrics[metrics["epoch"] >= 2]
    noise = 1.0
    for _, seconds in later.groupby("model")["seconds"]:
        values = seconds.dropna()
        if len(values) >= 2 and values.min() > 0:
            noise = max(noise, float(values.max() / values.min()))
    return noise


def clearly_better(
    rule: Rule, a: float, b: float, p_value: float | None, time_noise: float = 1.0
) -> bool:
    """Is value `a` clearly better than `b` under `rule`? (`p_value`: McNemar's, for
    accuracy.)"""
    ahead = a > b if rule.higher_is_better else a < b
    if not ahead:
        return False
    if rule.kind == "mcnemar":
        return p_value is not None and p_value < SIGNIFICANCE
    low, high = sorted((abs(a), abs(b)))
    if low <= 0:
        return high > 0
    if rule.kind == "loss":
        return high / low - 1 > LOSS_TOLERANCE
    return high / low > max(TIME_TOLERANCE, time_noise)


def best(
    name: str,
    stats: dict[str, dict[str, Any]],
    labels: dict[str, str],
    p_values: dict[tuple[str, str], float],
    time_noise: float = 1.0,
) -> str:
    """The cell of row `name`: the clearly best model's label, "no clear difference", ""
    (a row without a winner, e.g. epochs) or "—" (a value missing)."""
    rule = RULES.get(name)
    if rule is None:
        return ""
    values = {m: s.get(rule.key) for m, s in stats.items()}
    if any(v is None for v in values.values()):
        return "—"
    sign = 1 if rule.higher_is_better else -1
    top = max(values, key=lambda m: sign * float(values[m]))
    others = [m for m in values if m != top]
    if all(
        clearly_better(rule, float(values[top]), float(values[m]), _p(p_values, top, m), time_noise)
        for m in others
    ):
        return labels[top]
    return NO_CLEAR


def _p(p_values: dict[tuple[str, str], float], a: str, b: str) -> float | None:
    return p_values.get((a, b), p_values.get((b, a)))
