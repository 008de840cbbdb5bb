"""Numbers a report derives from the run files: per-class tables, McNemar, verdicts.

Everything is computed from what the run wrote (confusion matrices, predictions),
so the report is consistent with the files a reader can open themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from compare.metrics import accuracy_from_confusion, model_pairs, pairwise_agreement, per_class

# One implementation of McNemar and the agreement table for the run and its report
# (compare.metrics is NumPy only; reports imports nothing else from compare).
from compare.metrics import mcnemar_exact as mcnemar_exact_p  # noqa: F401 - the report's name

SIGNIFICANCE = 0.05


def classification_report(confusion: np.ndarray) -> pd.DataFrame:
    """Like scikit-learn's `classification_report`, from a (true, predicted) count matrix.

    Rows: digits 0..9 (`compare.metrics.per_class`, the run's own per-class scores), then
    accuracy, macro avg, weighted avg; columns precision, recall, f1-score, support. An
    empty class's undefined ratio is reported as 0.
    """
    C = np.asarray(confusion, dtype=np.int64)  # (10, 10) rows true, columns predicted
    scores = per_class(C)
    rows = {str(s.digit): [s.precision, s.recall, s.f1, s.support] for s in scores}
    table = np.array([[s.precision, s.recall, s.f1] for s in scores])  # (10, 3)
    support = np.array([s.support for s in scores], dtype=np.float64)  # (10,)
    total = support.sum()
    rows["accuracy"] = [np.nan, np.nan, accuracy_from_confusion(C), total]
    rows["macro avg"] = [*table.mean(axis=0), total]
    weights = support / total if total else np.zeros_like(support)
    rows["weighted avg"] = [*(weights @ table), total]
    frame = pd.DataFrame.from_dict(
        rows, orient="index", columns=["precision", "recall", "f1-score", "support"]
    )
    frame["support"] = frame["support"].astype(np.int64)
    return frame


def pair_agreements(
    summary: dict[str, Any], models: list[str], predictions: pd.DataFrame | None
) -> list[dict[str, Any]]:
    """One agreement block per pair of models (`models`, `prediction_agreement`,
    `both_correct`, `only_a_correct`, `only_b_correct`, `both_wrong`, `mcnemar_p_value`).

    From summary.json's `pairs`; for an older folder from its `agreement` block (the
    first pair, keys `only_<model>_correct`); else recomputed from predictions.csv.
    """
    pairs = model_pairs(models)
    if not pairs:
        return []
    listed = {
        tuple(p.get("models", ())): p for p in summary.get("pairs") or [] if isinstance(p, dict)
    }
    if all(pair in listed and "mcnemar_p_value" in listed[pair] for pair in pairs):
        return [listed[pair] for pair in pairs]
    block = summary.get("agreement")
    if len(pairs) == 1 and isinstance(block, dict) and "mcnemar_p_value" in block:
        (a, b), named = pairs[0], dict(block)
        named["only_a_correct"] = named.pop(f"only_{a}_correct", None)
        named["only_b_correct"] = named.pop(f"only_{b}_correct", None)
        return [{"models": [a, b], **named}]
    columns = {f"{m}_pred" for m in models}
    if predictions is None or not columns <= set(predictions):
        return []
    label = predictions["label"].to_numpy()
    found = {m: predictions[f"{m}_pred"].to_numpy() for m in models}
    return [agreement.to_dict() for agreement in pairwise_agreement(label, found)]


@dataclass(frozen=True)
class Verdict:
    """Who won on test accuracy, by how much, and whether it is significant."""

    winner: str | None  # the more accurate model's name, or None for a tie
    difference_points: float  # |accuracy difference| in percentage points
    p_value: float | None
    significant: bool | None

    def sentence(self, labels: dict[str, str]) -> str:
        """Plain words: which model was more accurate, and does it mean anything."""
        if self.winner is None:
            head = "Both models reached exactly the same test accuracy."
        else:
            head = (
                f"{labels[self.winner]} was more accurate on the test set by "
                f"{self.difference_points:.2f} percentage points."
            )
        if self.p_value is None:
            return head + " No significance test is available (predictions missing)."
        word = "is" if self.significant else "is not"
        return (
            f"{head} McNemar's test gives p = {format_p(self.p_value)}: "
            f"the difference {word} statistically significant at 5%."
        )


def verdict(accuracy: dict[str, float], p_value: float | None) -> Verdict:
    """Compare two models' test accuracies ({name: accuracy}); `p_value` from McNemar's test."""
    (name_a, a), (name_b, b) = accuracy.items()
    winner = None if a == b else (name_a if a > b else name_b)
    significant = None if p_value is None else bool(p_value < SIGNIFICANCE)
    return Verdict(winner, abs(a - b) * 100.0, p_value, significant)


def format_p(p: float) -> str:
    """p-values readably: 0.0312, 3.1e-05, < 1e-300."""
    if p <= 0.0:
        return "< 1e-300"
    return f"{p:.4f}" if p >= 1e-3 else f"{p:.1e}"
