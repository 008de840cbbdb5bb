"""Classification metrics and the statistics that compare two classifiers.

NumPy and the standard library only (no scipy, no scikit-learn), so every number in
a run folder can be checked by hand. Labels are digits 0..n_classes-1.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Counts (n_classes, n_classes) int64: rows are the true class, columns the prediction."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    counts = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes)


def accuracy_from_confusion(confusion: np.ndarray) -> float:
    """Trace / total: the share of correct predictions."""
    total = int(confusion.sum())
    return float(np.trace(confusion)) / total if total else 0.0


@dataclass(frozen=True)
class ClassScores:
    """Precision, recall and F1 of one class; 0.0 where the ratio is 0/0."""

    digit: int
    precision: float
    recall: float
    f1: float
    support: int  # number of true examples of this class


def per_class(confusion: np.ndarray) -> list[ClassScores]:
    """Per-class precision (column-wise), recall (row-wise), F1 and support."""
    true_positive = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0).astype(np.float64)  # column sums
    support = confusion.sum(axis=1)  # row sums
    scores = []
    for digit in range(len(confusion)):
        precision = _ratio(true_positive[digit], predicted[digit])
        recall = _ratio(true_positive[digit], float(support[digit]))
        f1 = _ratio(2 * precision * recall, precision + recall)
        scores.append(ClassScores(digit, precision, recall, f1, int(support[digit])))
    return scores


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def model_pairs(names: Sequence[str]) -> list[tuple[str, str]]:
    """Every pair of models, in order: (a, b), (a, c), (b, c) for models a, b, c."""
    return list(itertools.combinations(names, 2))


@dataclass(frozen=True)
class Agreement:
    """How two classifiers' test predictions relate (the 2x2 table and McNemar's test)."""

    models: tuple[str, str]  # (a, b): the names of the two classifiers
    prediction_agreement: float  # share of images where both predict the same digit
    both_correct: int
    only_a_correct: int
    only_b_correct: int
    both_wrong: int
    mcnemar_p_value: float

    def to_dict(self) -> dict[str, Any]:
        """summary.json's `pairs` entry: `models`, then the table with a/b names."""
        return {**asdict(self), "models": list(self.models)}

    def named_dict(self) -> dict[str, float | int]:
        """summary.json's `agreement` block: `only_<a>_correct`, `only_<b>_correct`."""
        a, b = self.models
        return {
            "prediction_agreement": self.prediction_agreement,
            "both_correct": self.both_correct,
            f"only_{a}_correct": self.only_a_correct,
            f"only_{b}_correct": self.only_b_correct,
            "both_wrong": self.both_wrong,
            "mcnemar_p_value": self.mcnemar_p_value,
        }


def agreement(
    y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, models: tuple[str, str] = ("a", "b")
) -> Agreement:
    """The 2x2 correct/wrong table of two classifiers on the same images, and McNemar's p."""
    pred_a, pred_b, y_true = np.asarray(pred_a), np.asarray(pred_b), np.asarray(y_true)
    right_a, right_b = pred_a == y_true, pred_b == y_true
    only_a = int(np.sum(right_a & ~right_b))
    only_b = int(np.sum(~right_a & right_b))
    return Agreement(
        models=tuple(models),
        prediction_agreement=float(np.mean(pred_a == pred_b)),
        both_correct=int(np.sum(right_a & right_b)),
        only_a_correct=only_a,
        only_b_correct=only_b,
        both_wrong=int(np.sum(~right_a & ~right_b)),
        mcnemar_p_value=mcnemar_exact(only_a, only_b),
    )


def pairwise_agreement(y_true: np.ndarray, predictions: dict[str, np.ndarray]) -> list[Agreement]:
    """`agreement` for every pair of models (`model_pairs` order); [] for one model."""
    return [
        agreement(y_true, predictions[a], predictions[b], (a, b))
        for a, b in model_pairs(list(predictions))
    ]


def mcnemar_exact(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value from the discordant counts b and c.

    Under the null hypothesis that both classifiers are equally accurate, each
    discordant image is a fair coin: b ~ Binomial(b + c, 1/2). The two-sided p-value
    is 2 * P(X <= min(b, c)), capped at 1; with no discordant pairs it is 1.
    """
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1))
    return min(1.0, 2 * tail / 2**n)


def mean_std(values: Sequence[float]) -> dict[str, float]:
    """Mean and sample standard deviation (ddof=1; 0.0 for a single value)."""
    array = np.asarray(values, dtype=np.float64)
    std = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    return {"mean": float(array.mean()), "std": std}


def paired_comparison(a: Sequence[float], b: Sequence[float]) -> dict[str, float | int | None]:
    """Per-seed paired differences a - b: mean, std, paired t test and sign counts.

    t = mean(d) / (std(d) / sqrt(n)) with n - 1 degrees of freedom, and its two-sided
    p-value; both are None when undefined (one seed, or every difference equal).
    """
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    stats = mean_std(d)
    t = None
    if len(d) > 1 and stats["std"] > 0:
        t = stats["mean"] / (stats["std"] / math.sqrt(len(d)))
    return {
        "n": len(d),
        "mean_difference": stats["mean"],
        "std_difference": stats["std"],
        "t_statistic": t,
        "degrees_of_freedom": len(d) - 1,
        "p_value": None if t is None else student_t_two_sided_p(t, len(d) - 1),
        "a_better": int(np.sum(d > 0)),
        "b_better": int(np.sum(d < 0)),
        "ties": int(np.sum(d == 0)),
    }


def student_t_two_sided_p(t: float, df: int) -> float:
    """P(|T| >= |t|) for Student's t with `df` degrees of freedom.

    Equals I_x(df/2, 1/2), the regularized incomplete beta function at
    x = df / (df + t^2); computed with its continued fraction (no SciPy needed).
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    x = df / (df + t * t)
    return _regularized_incomplete_beta(df / 2, 0.5, x)


def student_t_quantile(probability: float, df: int) -> float:
    """The t value with P(T <= t) = `probability` (0.5 < probability < 1), by bisection on
    `student_t_two_sided_p`: e.g. 0.975 with 4 degrees of freedom gives 2.776."""
    if not 0.5 < probability < 1.0:
        raise ValueError(f"probability must be in (0.5, 1), got {probability}")
    two_sided = 2.0 * (1.0 - probability)
    low, high = 0.0, 1.0
    while student_t_two_sided_p(high, df) > two_sided:
        high *= 2.0
    for _ in range(200):
        middle = (low + high) / 2
        if student_t_two_sided_p(middle, df) > two_sided:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def confidence_interval(values: Sequence[float]) -> tuple[float, float] | None:
    """Student's t 95% interval for the mean: mean -+ t * sd / sqrt(n); None below two values."""
    array = np.asarray(values, dtype=np.float64)
    if len(array) < 2:
        return None
    stats = mean_std(array)
    half = student_t_quantile(0.975, len(array) - 1) * stats["std"] / math.sqrt(len(array))
    return stats["mean"] - half, stats["mean"] + half


def holm_adjust(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (family-wise error control); None stays None.

    The k-th smallest of m p-values becomes max over j <= k of min(1, (m - j + 1) p_(j));
    a hypothesis is rejected at level alpha when its adjusted p-value is below alpha.
    """
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, index) in enumerate(present):
        running = max(running, min(1.0, (len(present) - rank) * p))
        adjusted[index] = running
    return adjusted


def _regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b) by Lentz's continued fraction (Numerical Recipes, betai/betacf)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
        + a * math.log(x) + b * math.log1p(-x)
    )  # fmt: skip
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < eps:
            break
    return result


def weight_difference(
    weights_a: Sequence[np.ndarray], weights_b: Sequence[np.ndarray]
) -> tuple[float, float]:
    """Max absolute and max relative difference over all parameters of two networks.

    The one definition for the run's lockstep rows and `mnist-compare check`.
    Relative is per parameter array: max|a - b| / max(|a|, |b|) (the array's scale), the
    largest over the arrays. An element-wise ratio would be dominated by weights near
    zero (two tiny weights of opposite sign differ by 200%) and say nothing. A NaN
    anywhere comes out as NaN (and fails a check), never vanishes.
    """
    abs_diffs, rel_diffs = [0.0], [0.0]
    for a, b in zip(weights_a, weights_b, strict=True):
        a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
        diff = float(np.abs(a64 - b64).max(initial=0.0))
        scale = max(float(np.abs(a64).max(initial=0.0)), float(np.abs(b64).max(initial=0.0)))
        abs_diffs.append(diff)
        rel_diffs.append(diff / scale if scale > 0 else diff)  # scale 0: both all zero
    return float(np.max(abs_diffs)), float(np.max(rel_diffs))
