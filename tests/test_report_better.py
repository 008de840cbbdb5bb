"""The headline's "Better" column names a winner only beyond the measurement's noise."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from reports.better import NO_CLEAR, RULES, best, clearly_better, epoch_time_noise
from reports.document import Document, Table
from reports.headline import headline
from reports.loader import RunData

LABELS = {"scratch": "Scratch (NumPy)", "keras": "Keras", "wide": "Wide"}

# The default run of 2026-11-30 (README): accuracy 0.9777 / 0.9778, McNemar p = 1.
DEFAULT_RUN = {
    "scratch": {"test_accuracy": 0.9777, "test_loss": 0.0736, "train_seconds": 5.9,
                "samples_per_second": 93984, "predict_seconds": 0.04, "epochs_completed": 10},
    "keras": {"test_accuracy": 0.9778, "test_loss": 0.0738, "train_seconds": 21.8,
              "samples_per_second": 25212, "predict_seconds": 0.10, "epochs_completed": 10},
}  # fmt: skip


def cell(row: str, stats=DEFAULT_RUN, p=1.0, noise=1.0) -> str:
    return best(row, stats, LABELS, {("scratch", "keras"): p}, noise)


def test_the_default_run_names_the_faster_model_and_no_accuracy_or_loss_winner():
    assert cell("Test accuracy") == NO_CLEAR  # 0.01 points, p = 1
    assert cell("Test loss") == NO_CLEAR  # 0.3% apart
    assert cell("Training time (s)") == "Scratch (NumPy)"  # 3.7x
    assert cell("Training samples / s") == "Scratch (NumPy)"
    assert cell("Prediction time, whole test set (s)") == "Scratch (NumPy)"  # 2.5x
    assert cell("Epochs completed") == ""


def test_accuracy_needs_a_significant_mcnemar_test():
    stats = {"scratch": {"test_accuracy": 0.9700}, "keras": {"test_accuracy": 0.9790}}
    assert cell("Test accuracy", stats, p=0.001) == "Keras"
    assert cell("Test accuracy", stats, p=0.2) == NO_CLEAR
    assert best("Test accuracy", stats, LABELS, {}) == NO_CLEAR  # no test: no claim


def test_loss_and_time_tolerances():
    loss = RULES["Test loss"]
    assert clearly_better(loss, 0.070, 0.0738, None)  # 5.4% lower
    assert not clearly_better(loss, 0.0730, 0.0738, None)  # 1.1%: machine rounding
    assert not clearly_better(loss, 0.0738, 0.070, None)  # higher loss is worse
    time = RULES["Training time (s)"]
    assert clearly_better(time, 10.0, 13.0, None)  # 1.3x
    assert not clearly_better(time, 10.0, 12.0, None)  # 1.2x: within the tolerance
    assert not clearly_better(time, 10.0, 13.0, None, time_noise=1.4)  # the run was noisier


def test_epoch_time_noise_leaves_out_the_first_epoch():
    metrics = pd.DataFrame(
        {
            "model": ["k"] * 4 + ["s"] * 4,
            "epoch": [1, 2, 3, 4] * 2,
            "seconds": [9.0, 2.0, 2.2, 2.4, 1.0, 0.5, 0.6, 0.55],
        }  # fmt: skip
    )
    assert epoch_time_noise(metrics) == pytest.approx(1.2)
    assert epoch_time_noise(None) == 1.0


def test_three_models_best_only_if_clearly_ahead_of_each_other():
    stats = {"scratch": {"test_accuracy": 0.97}, "keras": {"test_accuracy": 0.96},
             "wide": {"test_accuracy": 0.969}}  # fmt: skip
    p_values = {("scratch", "keras"): 0.001, ("scratch", "wide"): 0.6, ("keras", "wide"): 0.01}
    assert best("Test accuracy", stats, LABELS, p_values) == NO_CLEAR
    p_values[("scratch", "wide")] = 0.04
    assert best("Test accuracy", stats, LABELS, p_values) == "Scratch (NumPy)"


def test_the_headline_table_says_it_and_states_the_rule(tmp_path: Path):
    summary = {
        "status": "complete",
        "data": {"verified": True},
        "models": DEFAULT_RUN,
        "pairs": [{"models": ["scratch", "keras"], "prediction_agreement": 0.9977,
                   "both_correct": 9768, "only_a_correct": 9, "only_b_correct": 10,
                   "both_wrong": 213, "mcnemar_p_value": 1.0}],
    }  # fmt: skip
    doc = Document("t")
    headline(RunData(tmp_path, summary, ["scratch", "keras"]), doc)
    table = next(b for b in doc.blocks if isinstance(b, Table) and b.columns[0] == "Metric")
    better = {row[0]: row[-1] for row in table.rows}
    assert table.columns[-1] == "Better"
    assert better["Test accuracy"] == NO_CLEAR and better["Test loss"] == NO_CLEAR
    assert better["Training time (s)"] == "Scratch (NumPy)"
    assert "McNemar" in table.caption and "no clear difference" in table.caption
