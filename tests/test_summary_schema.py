"""Issue 16/17: one reader and schema check of summary.json for `predict` and `report`
(compare.summaryfile), a report that never replaces a good one with a worse one, and
summary.json written as soon as a seed's results exist.

The schema cases use a synthetic summary.json (no training); the rest use one tiny
real run (scratch only, 1,000 images, 1 epoch) and real files damaged in the test.
"""

from __future__ import annotations

import copy
import errno
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from compare.cli import main
from compare.summaryfile import STATUSES, SummaryError, load_summary, summary_problem

REPO = Path(__file__).resolve().parents[1]

VALID = {
    "format_version": 1, "status": "complete", "command": "mnist-compare run ...",
    "config": {"epochs": 1, "seeds": 1, "models": ["scratch", "keras"],
               "model": {"dtype": "float32", "learning_rate": 0.1, "optimizer": "sgd"},
               "data": {"val_size": 500, "limit_train": None, "standardize": True}},
    "environment": {"cpu_count": 2},
    "data": {"verified": True, "standardized": True, "mean": 0.13, "std": 0.31,
             "splits": {"train": 1000, "val": 500, "test": 10000}},
    "models": {name: {"test_accuracy": 0.9, "test_loss": 0.3, "train_seconds": 1.5,
                      "seconds_per_epoch": [1.5], "peak_memory_mb": None, "file": file}
               for name, file in (("scratch", "scratch.npz"), ("keras", "keras.keras"))},
    "pairs": [{"models": ["scratch", "keras"], "prediction_agreement": 0.98,
               "mcnemar_p_value": 0.5, "both_correct": 8900}],
}  # fmt: skip


def damaged(path: str, value: object) -> dict:
    """VALID with the field at dotted `path` set to `value` (a missing key: `...`)."""
    summary = copy.deepcopy(VALID)
    *parents, key = path.split(".")
    node = summary
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return summary


# (field, bad value, what the one-line message must say)
BAD_FIELDS = [
    ("config", "oops", 'config is "oops", expected a JSON object'),
    ("models.keras.test_accuracy", float("nan"), "models.keras.test_accuracy is nan"),
    ("models.keras.test_accuracy", True, "models.keras.test_accuracy is true, expected a number"),
    ("models.keras.test_accuracy", 1.5, "expected a number from 0 to 1"),
    ("models.scratch.test_accuracy", ..., "models.scratch.test_accuracy is missing"),
    ("data.std", float("nan"), "data.std is nan"),
    ("data.std", float("inf"), "data.std is inf"),
    ("data.std", 1e-300, "data.std is 1e-300, expected a number from 1e-07 to 0.5"),
    ("data.std", -0.3, "data.std is -0.3"),
    ("data.std", ..., "data.std is missing, though data.standardized is true"),
    ("data.mean", "0.1", 'data.mean is "0.1", expected a number'),
    ("status", "done", 'status is "done", expected one of'),
    ("status", ..., "status is missing"),
    ("data", ..., "data is missing"),
    ("models", ["scratch"], 'models is ["scratch"], expected a JSON object'),
    ("models", ..., "models is missing, though status is complete"),
    ("models.scratch", "oops", 'models.scratch is "oops"'),
    ("models.scratch.file", "../../etc/passwd", "expected a file name in the run folder"),
    ("models.scratch.seconds_per_epoch", [1.0, "x"], "models.scratch.seconds_per_epoch.1"),
    ("config.models", "scratch", 'config.models is "scratch", expected a list'),
    ("config.model.dtype", 3, "config.model.dtype is 3, expected float32 or float64"),
    ("config.model.optimizer", ["sgd"], "config.model.optimizer must be a string"),
    ("config.model.learning_rate", 1e308, "config.model.learning_rate = 1e+308 does not fit"),
    ("config.epochs", 1.5, "config.epochs is 1.5, expected a whole number >= 1"),
    ("pairs.0.mcnemar_p_value", None, "pairs.0.mcnemar_p_value is null"),
    ("environment.cpu_count", float("-inf"), "environment.cpu_count is -inf"),
]


def test_a_valid_summary_and_every_status_pass():
    assert summary_problem(copy.deepcopy(VALID)) is None
    for status in STATUSES:
        assert summary_problem(damaged("status", status)) is None
    unstandardized = damaged("data.standardized", False)
    unstandardized["data"]["std"] = 1.0  # what the run writes when it did not standardize
    assert summary_problem(unstandardized) is None


@pytest.mark.parametrize(("path", "value", "expected"), BAD_FIELDS)
def test_each_wrong_field_is_named_in_one_line(path, value, expected, tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps(damaged(path, value)))
    with pytest.raises(SummaryError) as caught:
        load_summary(tmp_path)
    message = str(caught.value)
    assert expected in message and "\n" not in message, message


@pytest.mark.parametrize(("path", "value", "expected"), BAD_FIELDS[:10:3])
@pytest.mark.parametrize("command", ["report", "predict"])
def test_report_and_predict_refuse_it_the_same_way(
    command, path, value, expected, tmp_path, capsys
):
    (tmp_path / "summary.json").write_text(json.dumps(damaged(path, value)))
    argv = (
        ["report", str(tmp_path)]
        if command == "report"
        else ["predict", "x.png", "--run", str(tmp_path)]
    )
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err, err
    assert "nan%" not in err and not (tmp_path / "report.md").exists()


def test_unreadable_summaries_are_one_line(tmp_path):
    cases = [(b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object"), (b"", "not valid")]
    for content, expected in [*cases, (b"\xff\xfe", "not valid JSON")]:
        (tmp_path / "summary.json").write_bytes(content)
        with pytest.raises(SummaryError, match=expected):
            load_summary(tmp_path)


def test_predict_and_report_share_the_reader_and_reports_stays_light():
    """One reader: neither command parses summary.json itself; the schema module, which
    reports imports, loads no TensorFlow and no heavy compare module."""
    for module in ("compare/predict.py", "reports/loader.py"):
        source = (REPO / module).read_text()
        assert "load_summary" in source and "json.loads" not in source, module
    code = (
        "import sys, compare.summaryfile, reports.loader; "
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras') "
        "or m in ('compare.runner', 'compare.data', 'compare.models')]; print(heavy)"
    )
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_classification_report_is_the_runs_per_class_scores():
    """One implementation: the report's per-digit rows are compare.metrics.per_class."""
    from compare.metrics import per_class
    from reports.stats import classification_report

    rng = np.random.default_rng(0)
    confusion = rng.integers(0, 50, (10, 10))
    confusion[3] = 0  # an empty class: its undefined ratios are 0 in both
    table = classification_report(confusion)
    for scores in per_class(confusion):
        row = table.loc[str(scores.digit)]
        assert (row["precision"], row["recall"], row["f1-score"], row["support"]) == (
            scores.precision, scores.recall, scores.f1, scores.support)  # fmt: skip
    assert table.loc["accuracy", "f1-score"] == np.trace(confusion) / confusion.sum()


def test_pct_never_prints_nan():
    from reports.document import pct

    assert pct(float("nan")) == "—" and pct(0.5) == "50.00%"


# ----- a real run: the report keeps what it had; summary.json after each seed ----------

TINY = ["--models", "scratch", "--limit-train", "1000", "--val-size", "500", "--epochs", "1"]


@pytest.fixture(scope="module")
def reported_run(mnist_dir, tmp_path_factory) -> Path:
    """A complete real run folder with its report (scratch only, 1,000 images, 1 epoch)."""
    out = tmp_path_factory.mktemp("schema") / "run"
    assert main(["run", "--data-dir", str(mnist_dir), *TINY, "--quiet", "--out", str(out)]) == 0
    return out


@pytest.fixture
def run_copy(reported_run, tmp_path) -> Path:
    return Path(shutil.copytree(reported_run, tmp_path / "run"))


def report_files(folder: Path) -> dict[str, bytes]:
    files = [folder / "report.md", folder / "report.html", *(folder / "figures").glob("*.png")]
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(files)}


def sections(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("## ")]


@pytest.mark.mnist
def test_metrics_cut_in_its_header_says_so_in_place_and_keeps_old_figures(run_copy):
    from reports.writing import rendering_id

    before = report_files(run_copy)
    old_sections = sections((run_copy / "report.md").read_text())
    metrics = (run_copy / "metrics.csv").read_bytes()
    (run_copy / "metrics.csv").write_bytes(metrics[: metrics.index(b"train_accuracy") + 5])
    assert main(["report", str(run_copy)]) == 0
    markdown = (run_copy / "report.md").read_text()
    assert sections(markdown) == old_sections  # no section vanished
    for title in ("## Training", "## Timing"):
        after_heading = markdown.split(title, 1)[1].lstrip().splitlines()[0]
        assert "This section is not drawn" in after_heading and "metrics.csv" in after_heading
    # The only copies of the figures drawn from metrics.csv stay; the rest are new.
    for name in ("learning_curves", "timing"):
        path = f"figures/{name}.png"
        assert (run_copy / path).read_bytes() == before[path]
    html = (run_copy / "report.html").read_text()
    assert rendering_id(markdown) == rendering_id(html) is not None
    assert rendering_id(before["report.md"].decode()) != rendering_id(markdown)


@pytest.mark.mnist
def test_a_report_that_cannot_be_built_leaves_the_old_one_whole(run_copy, capsys):
    before = report_files(run_copy)
    summary = json.loads((run_copy / "summary.json").read_text())
    summary["models"]["scratch"]["test_accuracy"] = float("nan")
    (run_copy / "summary.json").write_text(json.dumps(summary))
    assert main(["report", str(run_copy)]) == 2
    assert "models.scratch.test_accuracy is nan" in capsys.readouterr().err
    assert report_files(run_copy) == before


@pytest.mark.mnist
def test_a_damaged_confusion_file_is_named_in_its_sections(run_copy):
    (run_copy / "confusion_scratch.csv").write_text("true,0\n0,oops\n")
    assert main(["report", str(run_copy)]) == 0
    markdown = (run_copy / "report.md").read_text()
    for title in ("## Per-class results", "## Confusion matrices"):
        assert "confusion_scratch.csv" in markdown.split(title, 1)[1].split("## ", 1)[0]
    assert (run_copy / "figures" / "confusion_matrices.png").is_file()  # the previous one


@pytest.mark.mnist
def test_predict_never_prints_nan_for_damaged_weights(run_copy, tmp_path, capsys, mnist):
    import cv2

    from scratch.serialization import load_model, save_model

    config, arrays = load_model(run_copy / "scratch.npz")
    weights = [
        arrays[k]
        for k in sorted((k for k in arrays if k.startswith("w")), key=lambda k: int(k[1:]))
    ]
    weights[0] = np.full_like(weights[0], np.nan)
    save_model(run_copy / "scratch.npz", config, weights)
    image = tmp_path / "digit.png"
    cv2.imwrite(str(image), 255 - mnist.test_images[0])
    code = main(["predict", str(image), "--run", str(run_copy)])
    out, err = capsys.readouterr()
    assert code == 1 and "nan%" not in out + err and out == ""
    assert err.count("\n") == 1 and "scratch gives NaN or inf probabilities" in err, err


@pytest.mark.mnist
def test_a_later_seed_that_crashes_leaves_a_summary_of_the_seeds_before(
    mnist_dir, tmp_path, capsys
):
    """Seed 1 hits a full disk (ENOSPC raised from its real training step): summary.json
    was written after seed 0 (status "running", seen from inside seed 1) and then says
    "failed"; report and predict accept the complete first seed."""
    from compare.runconfig import resolve
    from compare.runfolder import prepare_out_dir
    from compare.runner import execute
    from scratch import Network

    out = prepare_out_dir(tmp_path / "run", overwrite=False)
    seen: dict[str, str] = {}

    class DiskFullInSecondSeed(Network):
        built = 0

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            DiskFullInSecondSeed.built += 1
            self.number = DiskFullInSecondSeed.built

        def train_step(self, x_batch, y_batch):
            if self.number == 2 and self.iterations == 5:
                seen["status"] = load_summary(out)["status"]
                raise OSError(errno.ENOSPC, "No space left on device")
            return super().train_step(x_batch, y_batch)

    data = {"data_dir": str(mnist_dir), "limit_train": 1000, "val_size": 500}
    config = resolve({"epochs": 1, "seeds": 3, "models": ["scratch"], "data": data})
    with pytest.raises(OSError, match="No space left"):
        execute(config, out, quiet=True, factories={"scratch": DiskFullInSecondSeed})
    assert seen["status"] == "running"
    summary = load_summary(out)
    assert summary["status"] == "failed" and "No space left on device" in summary["error"]
    assert (
        summary["multi_seed"]["seeds"] == [0]
        and summary["models"]["scratch"]["test_accuracy"] > 0.3
    )
    assert main(["report", str(out)]) == 0
    assert "RUN FAILED** after 1 of 3 seeds completed" in (out / "report.md").read_text()
    from compare.predict import load_run

    assert list(load_run(out).models) == ["scratch"]
