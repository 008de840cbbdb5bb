"""Metrics on tiny arrays with hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from compare import metrics


def test_confusion_rows_true_columns_predicted():
    y_true = np.array([0, 0, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 2, 0, 2])
    confusion = metrics.confusion_matrix(y_true, y_pred, n_classes=3)
    assert confusion.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert metrics.accuracy_from_confusion(confusion) == pytest.approx(4 / 6)


def test_confusion_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        metrics.confusion_matrix(np.zeros(3, int), np.zeros(4, int))


def test_per_class_precision_recall_f1_support():
    confusion = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    scores = metrics.per_class(confusion)
    # class 0: TP 1, predicted 2, support 2
    assert (scores[0].precision, scores[0].recall, scores[0].support) == (0.5, 0.5, 2)
    assert scores[0].f1 == pytest.approx(0.5)
    # class 1: TP 1, predicted 2, support 1 -> P 0.5, R 1, F1 2/3
    assert scores[1].precision == 0.5 and scores[1].recall == 1.0
    assert scores[1].f1 == pytest.approx(2 / 3)
    # class 2: TP 2, predicted 2, support 3
    assert scores[2].precision == 1.0 and scores[2].recall == pytest.approx(2 / 3)


def test_per_class_zero_division_is_zero():
    confusion = np.array([[2, 0], [0, 0]])  # class 1 never true, never predicted
    scores = metrics.per_class(confusion)
    assert (scores[1].precision, scores[1].recall, scores[1].f1, scores[1].support) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("b", "c", "p"),
    [(1, 9, 0.021484375), (9, 1, 0.021484375), (0, 0, 1.0), (5, 5, 1.0), (0, 3, 0.25)],
)
def test_mcnemar_exact_known_values(b, c, p):
    assert metrics.mcnemar_exact(b, c) == pytest.approx(p, abs=1e-15)


def test_mcnemar_large_counts_stay_finite():
    p = metrics.mcnemar_exact(400, 500)  # 2**900 would overflow a float: exact ints used
    assert 0 < p < 0.01


def test_agreement_two_by_two_table():
    y = np.array([0, 1, 2, 3, 4])
    a = np.array([0, 1, 2, 0, 0])  # right on 0,1,2
    b = np.array([0, 1, 0, 3, 1])  # right on 0,1,3
    result = metrics.agreement(y, a, b, ("scratch", "keras"))
    assert result.both_correct == 2
    assert result.only_a_correct == 1
    assert result.only_b_correct == 1
    assert result.both_wrong == 1
    assert result.prediction_agreement == pytest.approx(2 / 5)
    assert result.mcnemar_p_value == 1.0
    # summary.json's old `agreement` block names the models; `pairs` entries say a and b
    assert result.named_dict()["only_scratch_correct"] == 1
    assert result.named_dict()["only_keras_correct"] == 1
    assert result.to_dict()["models"] == ["scratch", "keras"]
    assert result.to_dict()["only_a_correct"] == 1


def test_model_pairs_in_order():
    assert metrics.model_pairs(["a"]) == []
    assert metrics.model_pairs(["s", "k"]) == [("s", "k")]
    assert metrics.model_pairs(["s", "k", "d"]) == [("s", "k"), ("s", "d"), ("k", "d")]


def test_pairwise_agreement_every_pair_by_hand():
    y = np.array([0, 1, 2, 3, 4, 5])
    preds = {
        "s": np.array([0, 1, 2, 3, 0, 0]),  # right on 0-3
        "k": np.array([0, 1, 2, 0, 4, 0]),  # right on 0-2, 4
        "d": np.array([0, 1, 2, 3, 0, 0]),  # the same as s
    }
    sk, sd, kd = metrics.pairwise_agreement(y, preds)
    assert sk.models == ("s", "k") and sd.models == ("s", "d") and kd.models == ("k", "d")
    assert (sk.both_correct, sk.only_a_correct, sk.only_b_correct, sk.both_wrong) == (3, 1, 1, 1)
    assert sk.prediction_agreement == pytest.approx(4 / 6)
    assert (sd.only_a_correct, sd.only_b_correct, sd.prediction_agreement) == (0, 0, 1.0)
    assert sd.mcnemar_p_value == 1.0
    assert (kd.only_a_correct, kd.only_b_correct) == (1, 1)
    assert metrics.pairwise_agreement(y, {"s": preds["s"]}) == []
    # every table counts every image once
    for pair in (sk, sd, kd):
        total = pair.both_correct + pair.only_a_correct + pair.only_b_correct + pair.both_wrong
        assert total == len(y)


def test_mean_std_and_paired_comparison():
    assert metrics.mean_std([1.0]) == {"mean": 1.0, "std": 0.0}
    stats = metrics.mean_std([1.0, 2.0, 3.0])
    assert stats["mean"] == 2.0 and stats["std"] == pytest.approx(1.0)
    paired = metrics.paired_comparison([0.98, 0.97, 0.99], [0.97, 0.97, 0.97])
    d = np.array([0.01, 0.0, 0.02])
    assert paired["mean_difference"] == pytest.approx(d.mean())
    assert paired["t_statistic"] == pytest.approx(d.mean() / (d.std(ddof=1) / math.sqrt(3)))
    assert (paired["a_better"], paired["b_better"], paired["ties"]) == (2, 0, 1)
    assert metrics.paired_comparison([0.9], [0.8])["t_statistic"] is None


@pytest.mark.parametrize(
    ("t", "df", "p"),
    [
        (12.706, 1, 0.05),  # the textbook table's two-sided 5% critical values
        (4.303, 2, 0.05),
        (2.776, 4, 0.05),
        (2.228, 10, 0.05),
        (3.169, 10, 0.01),
        (1.0, 1, 0.5),  # df = 1 is the Cauchy distribution: P(|T| >= 1) = 1/2
        (0.0, 5, 1.0),
        (-2.776, 4, 0.05),
    ],
)
def test_student_t_p_value_matches_the_table(t, df, p):
    assert metrics.student_t_two_sided_p(t, df) == pytest.approx(p, abs=2e-4)


def test_paired_comparison_p_value():
    paired = metrics.paired_comparison([0.98, 0.97, 0.99], [0.97, 0.97, 0.97])
    # d = [0.01, 0, 0.02]: mean 0.01, sd 0.01, t = sqrt(3) with 2 df -> p = 0.2254
    assert paired["p_value"] == pytest.approx(0.2254, abs=1e-4)
    assert metrics.paired_comparison([0.9], [0.8])["p_value"] is None


def test_weight_difference_abs_and_rel():
    a = [np.array([[1.0, -4.0]]), np.array([0.5])]
    b = [np.array([[1.0, -4.5]]), np.array([0.6])]
    max_abs, max_rel = metrics.weight_difference(a, b)
    assert max_abs == pytest.approx(0.5)
    assert max_rel == pytest.approx(0.1 / 0.6)  # bias: 0.1 / 0.6 beats kernel: 0.5 / 4.5
    assert metrics.weight_difference(a, a) == (0.0, 0.0)
    zeros = [np.zeros(3)]
    assert metrics.weight_difference(zeros, zeros) == (0.0, 0.0)
