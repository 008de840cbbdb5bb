"""The quick real run (`quick_run`: both models, 10,000 images, 3 epochs): every file of
the run folder exists and its numbers agree with each other."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from compare.runconfig import RunConfig, load_toml, resolve

pytestmark = [pytest.mark.mnist, pytest.mark.slow, pytest.mark.keras]

FILES = (
    "config.toml", "summary.json", "metrics.csv", "confusion_scratch.csv",
    "confusion_keras.csv", "per_class.csv", "predictions.csv", "examples.npz",
    "lockstep.csv", "scratch.npz", "keras.keras", "keras_weights.npz",
)  # fmt: skip
N_TEST = 10_000


def read_csv(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def summary(quick_run):
    return json.loads((quick_run / "summary.json").read_text())


@pytest.fixture(scope="module")
def predictions(quick_run):
    rows = read_csv(quick_run / "predictions.csv")
    return {key: np.array([float(r[key]) for r in rows]) for key in rows[0]}


def confusion(run, model):
    rows = read_csv(run / f"confusion_{model}.csv")
    assert [int(r["true"]) for r in rows] == list(range(10))
    return np.array([[int(r[str(d)]) for d in range(10)] for r in rows])


def test_every_file_is_written_and_no_temp_files_remain(quick_run):
    for name in FILES:
        assert (quick_run / name).is_file(), name
    assert not [p.name for p in quick_run.iterdir() if p.name.endswith(".tmp")]


def test_summary_header(summary, quick_run):
    assert summary["format_version"] == 1 and summary["status"] == "complete"
    assert summary["data"]["splits"] == {"train": 10_000, "val": 5000, "test": N_TEST}
    assert summary["data"]["verified"] is True
    assert (summary["data"]["mean"], summary["data"]["std"]) == (0.0, 1.0)
    env = summary["environment"]
    for key in ("python", "numpy", "tensorflow", "keras", "blas", "cpu_count", "threads"):
        assert env[key], key
    assert str(quick_run / "config.toml") in summary["command"]
    for model in ("scratch", "keras"):
        result = summary["models"][model]
        assert result["epochs_completed"] == 3 and len(result["seconds_per_epoch"]) == 3
        assert result["train_seconds"] == pytest.approx(sum(result["seconds_per_epoch"]))
        assert result["peak_memory_mb"] > 0 and result["predict_seconds"] > 0
        assert 0.9 < result["test_accuracy"] <= 1.0


def test_config_toml_repeats_the_run(quick_run, summary):
    again = resolve(load_toml(quick_run / "config.toml"))
    assert again == RunConfig.from_dict(summary["config"])
    assert again.epochs == 3 and again.data.limit_train == 10_000


@pytest.mark.parametrize("model", ["scratch", "keras"])
def test_confusion_matches_accuracy_and_predictions(quick_run, summary, predictions, model):
    matrix = confusion(quick_run, model)
    assert matrix.sum() == N_TEST
    assert np.trace(matrix) / matrix.sum() == pytest.approx(
        summary["models"][model]["test_accuracy"]
    )
    labels, pred = predictions["label"].astype(int), predictions[f"{model}_pred"].astype(int)
    assert (np.bincount(labels * 10 + pred, minlength=100).reshape(10, 10) == matrix).all()
    assert (
        (predictions[f"{model}_confidence"] > 0) & (predictions[f"{model}_confidence"] <= 1)
    ).all()


def test_per_class_matches_confusion(quick_run):
    rows = read_csv(quick_run / "per_class.csv")
    assert len(rows) == 20
    for model in ("scratch", "keras"):
        matrix = confusion(quick_run, model)
        mine = [r for r in rows if r["model"] == model]
        assert [int(r["support"]) for r in mine] == matrix.sum(axis=1).tolist()
        recall = np.diag(matrix) / matrix.sum(axis=1)
        assert np.allclose([float(r["recall"]) for r in mine], recall)


def test_agreement_matches_predictions(summary, predictions):
    agreement = summary["agreement"]
    table = ("both_correct", "only_scratch_correct", "only_keras_correct", "both_wrong")
    assert sum(agreement[key] for key in table) == N_TEST
    same = np.mean(predictions["scratch_pred"] == predictions["keras_pred"])
    assert agreement["prediction_agreement"] == pytest.approx(same)
    right_s = predictions["scratch_pred"] == predictions["label"]
    right_k = predictions["keras_pred"] == predictions["label"]
    assert agreement["only_scratch_correct"] == int(np.sum(right_s & ~right_k))
    assert 0.0 <= agreement["mcnemar_p_value"] <= 1.0


def test_metrics_csv_three_epochs_per_model(quick_run):
    rows = read_csv(quick_run / "metrics.csv")
    assert [(r["model"], int(r["epoch"])) for r in rows] == [
        (m, e) for m in ("scratch", "keras") for e in (1, 2, 3)
    ]
    for row in rows:
        assert 0 < float(row["train_loss"]) < 3 and 0.5 < float(row["val_accuracy"]) <= 1
        assert float(row["samples_per_second"]) == pytest.approx(10_000 / float(row["seconds"]))


def test_lockstep_twins_stay_close(quick_run, summary):
    rows = read_csv(quick_run / "lockstep.csv")
    assert [int(r["step"]) for r in rows][:3] == [1, 10, 100]
    assert [int(r["epoch"]) for r in rows][-1] == 3
    assert max(float(r["max_abs_weight_diff"]) for r in rows) < 1e-4  # measured 2e-6
    assert len(summary["lockstep"]["max_abs_weight_diff"]) == 3


def test_examples_hold_every_mistake_and_disagreement(quick_run, predictions, mnist):
    examples = np.load(quick_run / "examples.npz")
    label = predictions["label"]
    interesting = (
        (predictions["scratch_pred"] != label)
        | (predictions["keras_pred"] != label)
        | (predictions["scratch_pred"] != predictions["keras_pred"])
    )
    assert examples["index"].tolist() == np.flatnonzero(interesting).tolist()
    assert examples["image"].dtype == np.uint8
    assert (examples["image"] == mnist.test_images[examples["index"]]).all()


def test_saved_models_reproduce_the_predictions(quick_run, predictions, mnist):
    from compare.data import flatten_scale
    from scratch import Network

    weights = np.load(quick_run / "keras_weights.npz")
    assert [weights[f"w{i}"].shape for i in range(4)] == [(784, 128), (128,), (128, 10), (10,)]
    network = Network.load(quick_run / "scratch.npz")
    x = flatten_scale(mnist.test_images[:500], "float32")
    assert (network.predict(x) == predictions["scratch_pred"][:500]).all()
