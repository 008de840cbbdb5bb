"""A third model: the scratch network in float64, registered beside scratch and Keras.

The real CLI trains all three on real MNIST (2,000 images, one epoch, lockstep), then
`report` and `predict` read the folder. Every pair gets its agreement table, McNemar
test and lockstep weight difference; the old scratch+Keras keys stay where they were.
Also: an old run folder (before `pairs`, labels and the lockstep pair columns) renders.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from compare import models
from compare.cli import main
from scratch import Network
from scratch.config import ModelConfig

pytestmark = [pytest.mark.mnist, pytest.mark.slow, pytest.mark.keras]

NAMES = ["scratch", "keras", "scratch64"]  # registration order
PAIRS = [["scratch", "keras"], ["scratch", "scratch64"], ["keras", "scratch64"]]


def float64_network(config: ModelConfig, seed: int = 0) -> Network:
    return Network(dataclasses.replace(config, dtype="float64"), seed=seed)


@pytest.fixture(scope="module")
def scratch64():
    models.register(
        "scratch64", float64_network, suffix=".npz", label="Scratch float64", color="#2ca02c",
        loader=Network.load,
    )  # fmt: skip
    yield "scratch64"
    models.unregister("scratch64")


@pytest.fixture(scope="module")
def three_model_run(scratch64, mnist_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("models") / "three"
    argv = ["run", "--data-dir", str(mnist_dir), "--limit-train", "2000", "--val-size", "1000"]
    argv += ["--epochs", "1", "--models", "scratch64,keras,scratch", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    return out


@pytest.fixture(scope="module")
def summary(three_model_run):
    return json.loads((three_model_run / "summary.json").read_text())


def read_rows(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_model_has_its_files_and_description(three_model_run, summary):
    assert summary["config"]["models"] == NAMES and list(summary["models"]) == NAMES
    for name in NAMES:
        assert (three_model_run / f"confusion_{name}.csv").is_file()
        assert 0.8 < summary["models"][name]["test_accuracy"] <= 1.0
    assert (three_model_run / "scratch64.npz").is_file()
    assert not (three_model_run / "scratch64_weights.npz").exists()  # its own file is .npz
    assert (three_model_run / "keras_weights.npz").is_file()
    described = {key: summary["models"]["scratch64"][key] for key in ("label", "color", "file")}
    assert described == {"label": "Scratch float64", "color": "#2ca02c", "file": "scratch64.npz"}
    header = read_rows(three_model_run / "predictions.csv")[0]
    assert {f"{n}_{c}" for n in NAMES for c in ("pred", "confidence")} <= set(header)


def test_pairwise_keys_beside_the_old_ones(three_model_run, summary):
    pairs = summary["pairs"]
    assert [p["models"] for p in pairs] == PAIRS
    rows = read_rows(three_model_run / "predictions.csv")
    for pair in pairs:
        a, b = pair["models"]
        table = ("both_correct", "only_a_correct", "only_b_correct", "both_wrong")
        assert sum(pair[key] for key in table) == len(rows) == 10_000
        same = sum(r[f"{a}_pred"] == r[f"{b}_pred"] for r in rows) / len(rows)
        assert pair["prediction_agreement"] == pytest.approx(same)
        only_a = sum(r[f"{a}_pred"] == r["label"] != r[f"{b}_pred"] for r in rows)
        assert pair["only_a_correct"] == only_a and 0 <= pair["mcnemar_p_value"] <= 1
        assert len(pair["max_abs_weight_diff"]) == len(pair["max_rel_weight_diff"]) == 1
    # the old keys describe the first pair, scratch and Keras, exactly as before
    first = pairs[0]
    assert summary["agreement"]["only_scratch_correct"] == first["only_a_correct"]
    assert summary["agreement"]["only_keras_correct"] == first["only_b_correct"]
    assert summary["lockstep"]["max_abs_weight_diff"] == first["max_abs_weight_diff"]


def test_float32_and_float64_twins_stay_close_but_not_equal(three_model_run, summary):
    pair = summary["pairs"][1]
    assert pair["models"] == ["scratch", "scratch64"]
    # the same start and batches; float32 rounding alone separates them
    assert 0 < pair["max_abs_weight_diff"][-1] < 1e-3
    assert pair["prediction_agreement"] > 0.99
    rows = read_rows(three_model_run / "lockstep.csv")
    steps = {(r["model_a"], r["model_b"]): [] for r in rows}
    for row in rows:
        steps[(row["model_a"], row["model_b"])].append(int(row["step"]))
    assert [list(p) for p in steps] == PAIRS
    assert all(s[:2] == [1, 10] for s in steps.values())
    first_step = next(r for r in rows if r["model_b"] == "scratch64" and r["step"] == "1")
    assert float(first_step["max_abs_weight_diff"]) < 1e-6  # one step apart: rounding only


def test_report_shows_every_pair(three_model_run):
    markdown = (three_model_run / "report.md").read_text(encoding="utf-8")
    assert "could not be drawn" not in markdown
    assert markdown.count("Agreement of ") == 3
    assert "**Scratch (NumPy) vs Scratch float64**" in markdown
    assert "Only Scratch float64 correct" in markdown
    for figure in ("confusion_difference", "lockstep_drift", "mistakes_scratch64"):
        assert (three_model_run / "figures" / f"{figure}.png").stat().st_size > 5_000, figure
    again = three_model_run.parent / "again"
    shutil.copytree(three_model_run, again)
    assert main(["report", str(again)]) == 0  # `report` re-renders the same folder


def test_predict_asks_every_model(three_model_run, mnist, tmp_path, capsys):
    from test_predict import write_photos

    paths = [str(path) for path, _ in write_photos(mnist, tmp_path, count=2)]
    capsys.readouterr()
    assert main(["predict", *paths, "--run", str(three_model_run), "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    for entry in entries:
        assert set(entry) == {"image", *NAMES, "agree"}
        digits = {entry[name]["digit"] for name in NAMES}
        assert entry["agree"] == (len(digits) == 1)


def test_an_unregistered_model_is_a_one_line_error(three_model_run, tmp_path, capsys):
    models.unregister("scratch64")
    try:
        code = main(["predict", "x.png", "--run", str(three_model_run)])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.count("\n") == 0 and "unknown model 'scratch64'" in err
        config = str(three_model_run / "config.toml")
        assert main(["run", "--config", config, "--out", str(tmp_path / "r")]) == 2
        assert "models must be one or both of scratch,keras" in capsys.readouterr().err
    finally:
        models.register(
            "scratch64", float64_network, suffix=".npz", label="Scratch float64",
            color="#2ca02c", loader=Network.load,
        )  # fmt: skip


def test_an_old_run_folder_still_renders(quick_run, tmp_path):
    """A folder from before the pairwise keys: no `pairs`, no labels, old lockstep.csv."""
    old = Path(shutil.copytree(quick_run, tmp_path / "old"))
    summary = json.loads((old / "summary.json").read_text())
    summary.pop("pairs")
    for result in summary["models"].values():
        for key in ("label", "color", "file"):
            result.pop(key)
    (old / "summary.json").write_text(json.dumps(summary))
    lockstep = read_rows(old / "lockstep.csv")
    keep = ("step", "epoch", "max_abs_weight_diff", "max_rel_weight_diff")
    with (old / "lockstep.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, keep, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(lockstep)
    assert main(["report", str(old)]) == 0
    markdown = (old / "report.md").read_text(encoding="utf-8")
    assert "could not be drawn" not in markdown and "Unreadable" not in markdown
    assert "Only Scratch (NumPy) correct" in markdown and "Only Keras correct" in markdown
    assert (old / "figures" / "lockstep_drift.png").is_file()
    assert (old / "figures" / "first_layer_weights.png").is_file()
