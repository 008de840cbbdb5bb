"""Reports: the numbers they derive, their robustness to odd run folders, and the
real report rendered from a real run folder (the `quick_run` fixture)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from compare.cli import main
from reports import ReportError, render_report
from reports.stats import classification_report, mcnemar_exact_p, verdict
from reports.teaching import STEPS, Step, code_line_count, placeholders, resolve, scratch_code

REPO_ROOT = Path(__file__).resolve().parents[1]

# ----- derived numbers (fast, synthetic) -------------------------------------------------


def test_classification_report_matches_hand_computation():
    C = np.zeros((10, 10), dtype=np.int64)
    C[0, 0], C[0, 1] = 8, 2  # 10 zeros: 8 right, 2 called "1"
    C[1, 1] = 5  # 5 ones, all right
    report = classification_report(C)
    assert report.loc["0", "precision"] == pytest.approx(1.0)
    assert report.loc["0", "recall"] == pytest.approx(0.8)
    assert report.loc["1", "precision"] == pytest.approx(5 / 7)
    assert report.loc["1", "f1-score"] == pytest.approx(2 * (5 / 7) / (5 / 7 + 1))
    assert report.loc["accuracy", "f1-score"] == pytest.approx(13 / 15)
    assert report.loc["weighted avg", "recall"] == pytest.approx(13 / 15)
    assert report.loc["2", "precision"] == 0.0  # empty class: 0, not NaN
    assert int(report.loc["macro avg", "support"]) == 15


def test_mcnemar_exact_p_known_values():
    assert mcnemar_exact_p(10, 0) == pytest.approx(2 / 2**10)
    assert mcnemar_exact_p(0, 0) == 1.0
    assert mcnemar_exact_p(5, 5) == 1.0  # perfectly balanced discordant pairs
    assert mcnemar_exact_p(3, 7) == pytest.approx(mcnemar_exact_p(7, 3))


def test_verdict_words():
    labels = {"scratch": "Scratch", "keras": "Keras"}
    strong = verdict({"scratch": 0.95, "keras": 0.93}, 0.001).sentence(labels)
    assert strong.startswith("Scratch was more accurate")
    assert "2.00 percentage points" in strong
    assert "the difference is statistically significant at 5%" in strong
    weak = verdict({"scratch": 0.90, "keras": 0.91}, 0.4).sentence(labels)
    assert weak.startswith("Keras") and "is not statistically significant" in weak


# ----- "What Keras did for you" excerpts --------------------------------------------------


def test_code_line_count_skips_docstrings_comments_and_blanks():
    source = 'def f(x):\n    """Doc\n    string."""\n    # comment\n\n    y = x + 1\n    return y\n'
    assert code_line_count(source) == 3


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("loss", ["crossentropy", "mse"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("init", ["glorot_uniform", "he_normal", "normal"])
def test_every_option_finds_its_scratch_source(activation, loss, optimizer, init):
    model = {"activation": activation, "loss": loss, "optimizer": optimizer, "init": init}
    names = placeholders(model)
    for step in STEPS:
        code = scratch_code(step, names)
        assert "not found" not in code.caption, code.caption


def test_a_stack_shows_each_layer_it_uses_and_no_other():
    mixed = placeholders({"layers": ["dense64", "relu", "dense32", "tanh", "dense10"]})
    step = next(step for step in STEPS if step.title == "Forward pass")
    code = scratch_code(step, mixed).text
    assert "ReLU.forward" in code and "Tanh.forward" in code and "Sigmoid" not in code
    linear = placeholders({"layers": ["dense64", "dense32", "dense10"]})
    assert (
        linear["layer"] == ["scratch.layers.Dense"]
        and "ReLU" not in scratch_code(step, linear).text
    )


def test_a_cnn_shows_its_conv_and_pool_code_beside_keras_layers():
    from compare.presets import PRESETS
    from reports.keras_code import keras_lines

    model = PRESETS["convnet"]["model"]
    names = placeholders(model)
    for title, needles in {
        "Initialization": ["scratch.conv.Conv2D.build", "scratch.layers.Dense.build"],
        "Forward pass": ["Conv2D.forward", "MaxPooling2D.forward", "Flatten.forward", "im2col"],
        "Gradients (backpropagation)": ["Conv2D.backward", "MaxPooling2D.backward"],
    }.items():
        code = scratch_code(next(s for s in STEPS if s.title == title), names)
        assert "not found" not in code.caption
        assert all(needle in code.text for needle in needles), (title, needles)
    forward = keras_lines(model, {})["Forward pass"]
    assert "keras.Input((28, 28, 1))" in forward and 'Conv2D(32, 3, activation="relu")' in forward
    assert "MaxPooling2D(2)" in forward and "Flatten()" in forward


def test_keras_code_is_valid_python_for_mse():
    from reports.keras_code import keras_lines

    loss = keras_lines({"loss": "mse"}, {})["Loss"]
    assert loss.startswith('model.compile(loss="mean_squared_error", ...)  #')


def test_keras_code_names_the_initializer_the_twin_uses():
    """scratch's "normal" is N(0, 1/fan_in); Keras's "normal" alias is RandomNormal(0.05)."""
    from reports.keras_code import keras_lines

    code = keras_lines({"init": "normal"}, {})["Initialization"]
    assert '"normal"' not in code
    assert (
        'VarianceScaling(\n        scale=1.0, mode="fan_in", distribution="untruncated_normal")'
        in code
    )
    forward = keras_lines({"layers": ["dense64", "tanh", "dense32", "relu", "dense10"],
                           "loss": "mse"}, {})["Forward pass"]  # fmt: skip
    assert 'Dense(64, activation="tanh")' in forward and 'Dense(32, activation="relu")' in forward
    assert 'Dense(10, activation="sigmoid")' in forward


def test_every_teaching_step_finds_its_scratch_source():
    names = placeholders({})
    for step in STEPS:
        code = scratch_code(step, names)
        assert "not found" not in code.caption, code.caption
        assert "def " in code.text
        if step.title == "One training step":  # the body, not only the input checks
            assert "self.backward()" in code.text and "optimizer.step" in code.text
        if step.title.startswith("Gradients"):  # the chain rule itself is shown
            assert "layer.backward(dY)" in code.text and "dW = X.T @ dZ" in code.text
            assert "dX = dZ @ W.T" in code.text and "dZ = dA where the unit was active" in code.text


def test_missing_scratch_symbol_is_reported_not_raised():
    assert resolve("scratch.network.Network.no_such_method") is None
    assert resolve("scratch.no_such_module.f") is None
    step = Step("Ghost", (("scratch.nowhere.ghost",),), "absent on purpose")
    code = scratch_code(step, placeholders({}))
    assert "not found" in code.caption and "scratch.nowhere.ghost" in code.text


# ----- bad input ---------------------------------------------------------------------------


def _one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("mnist-compare: error:")
    return err


def test_missing_folder_is_one_line_exit_2(tmp_path, capsys):
    assert "does not exist" in _one_line_error(capsys, ["report", str(tmp_path / "nope")])


def test_folder_without_summary_is_one_line_exit_2(tmp_path, capsys):
    assert "not a run folder" in _one_line_error(capsys, ["report", str(tmp_path)])


def test_corrupt_summary_is_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "summary.json").write_text('{"format_version": 1, "models": {', encoding="utf-8")
    assert "corrupt" in _one_line_error(capsys, ["report", str(tmp_path)])
    with pytest.raises(ReportError):
        render_report(tmp_path)


# ----- a real report from a real run ------------------------------------------------------


@pytest.fixture
def run_copy(quick_run, tmp_path) -> Path:
    """A private copy of the shared run folder, free to modify."""
    return Path(shutil.copytree(quick_run, tmp_path / "run"))


@pytest.mark.mnist
@pytest.mark.slow
@pytest.mark.keras
def test_report_from_real_run(run_copy):
    written = render_report(run_copy)
    summary = json.loads((run_copy / "summary.json").read_text())
    html = written["html"].read_text(encoding="utf-8")
    markdown = written["markdown"].read_text(encoding="utf-8")
    predictions = pd.read_csv(run_copy / "predictions.csv")
    differ = bool((predictions["scratch_pred"] != predictions["keras_pred"]).any())
    names = ["learning_curves", "confusion_matrices", "confusion_difference", "per_class_f1",
             "timing", "mistakes_scratch", "mistakes_keras", "first_layer_weights"]  # fmt: skip
    assert (run_copy / "figures" / "disagreements.png").exists() == differ
    if not differ:
        assert "predicted the same digit for every test image" in markdown
    for name in names:
        png = run_copy / "figures" / f"{name}.png"
        assert png.is_file() and png.stat().st_size > 5_000, name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if summary["config"].get("mode") == "lockstep":
        assert (run_copy / "figures" / "lockstep_drift.png").stat().st_size > 5_000
    # Self-contained: every image is a data URI, nothing points at the network.
    assert not re.search(r"https?://|url\(|@import", html, re.IGNORECASE)
    sources = re.findall(r'<img src="([^"]{0,30})', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<script" not in html and "<link" not in html
    # The headline comes first and carries the real numbers and the verdict.
    for model in ("scratch", "keras"):
        accuracy = f"{100 * summary['models'][model]['test_accuracy']:.2f}%"
        assert accuracy in html[: html.index('id="training"')]
    p = summary["agreement"]["mcnemar_p_value"]
    word = "is" if p < 0.05 else "is not"
    assert f"the difference {word} statistically significant at 5%" in html
    assert summary["command"] in markdown
    assert "What Keras did for you" in markdown and "lines of code" in markdown
    assert "| macro avg |" in markdown and "weighted avg" in markdown
    assert html.index('id="headline"') < html.index('id="training"') < html.index('id="keras-did"')
    assert "could not be drawn" not in markdown  # every section rendered from a real run


@pytest.mark.mnist
@pytest.mark.slow
@pytest.mark.keras
def test_damaged_files_cost_their_section_not_the_report(run_copy):
    (run_copy / "lockstep.csv").write_text("nonsense,columns\n1,2\n")
    (run_copy / "keras_weights.npz").write_bytes(b"not an archive")
    markdown = render_report(run_copy)["markdown"].read_text(encoding="utf-8")
    assert markdown.count("could not be drawn from this folder's files") >= 1  # lockstep
    weights = markdown.split("## What the first layer learned", 1)[1].split("\n## ", 1)[0]
    assert "keras_weights.npz" in weights and "drawn from the other files only" in weights
    assert "## Training" in markdown and "What Keras did for you" in markdown
    # A string where a number belongs in summary.json: the shared schema check refuses it.
    summary = json.loads((run_copy / "summary.json").read_text())
    summary["models"]["keras"]["test_accuracy"] = "x"
    (run_copy / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(ReportError, match='models.keras.test_accuracy is "x"'):
        render_report(run_copy)


@pytest.mark.mnist
@pytest.mark.slow
@pytest.mark.keras
def test_report_command_never_imports_tensorflow(run_copy):
    code = (
        "import sys\n"
        "from compare.cli import main\n"
        f"status = main(['report', {str(run_copy)!r}])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
        "print('LOADED', loaded)\n"
        "sys.exit(status)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout, done.stdout
    assert (run_copy / "report.html").stat().st_size > 50_000


@pytest.mark.mnist
@pytest.mark.slow
@pytest.mark.keras
def test_interrupted_single_model_run_renders_without_agreement(run_copy):
    """`--models scratch` and an interrupted status: no agreement section, a loud banner."""
    summary = json.loads((run_copy / "summary.json").read_text())
    summary["status"] = "interrupted"
    summary["models"].pop("keras")
    summary.pop("agreement", None)
    summary.pop("lockstep", None)
    (run_copy / "summary.json").write_text(json.dumps(summary))
    for name in ("confusion_keras.csv", "keras_weights.npz", "keras.keras", "lockstep.csv"):
        (run_copy / name).unlink(missing_ok=True)
    predictions = pd.read_csv(run_copy / "predictions.csv")
    predictions.drop(columns=["keras_pred", "keras_confidence"]).to_csv(
        run_copy / "predictions.csv", index=False
    )
    metrics = pd.read_csv(run_copy / "metrics.csv")
    metrics[metrics["model"] == "scratch"].to_csv(run_copy / "metrics.csv", index=False)
    shutil.rmtree(run_copy / "figures", ignore_errors=True)

    written = render_report(run_copy)
    html = written["html"].read_text(encoding="utf-8")
    assert "RUN INTERRUPTED" in html
    assert "McNemar" not in html and "disagree" not in html
    assert "Only Scratch (NumPy) was trained" in html
    assert not (run_copy / "figures" / "confusion_difference.png").exists()
    assert (run_copy / "figures" / "mistakes_scratch.png").stat().st_size > 5_000


def test_paired_sentence_states_the_test_and_its_verdict():
    from reports.sections import paired_sentence

    paired = {"models": ["scratch", "keras"], "n": 5, "mean_difference": 0.0012,
              "std_difference": 0.0008, "t_statistic": 3.354, "degrees_of_freedom": 4,
              "p_value": 0.0285, "a_better": 5, "b_better": 0, "ties": 0}  # fmt: skip
    labels = {"scratch": "scratch", "keras": "Keras"}
    text = paired_sentence(paired, labels)
    assert "scratch minus Keras test accuracy" in text
    assert "+0.12 points" in text and "t = 3.35 with 4 degrees of freedom" in text
    assert "p = 0.0285: statistically significant at the 5% level (with few seeds" in text
    assert "better on 5 seeds, Keras on 0 seeds, with 0 seeds tied" in text
    one_seed = {**paired, "n": 1, "t_statistic": None, "p_value": None}
    assert "needs at least two seeds" in paired_sentence(one_seed, labels)


def test_an_old_paired_block_reads_as_the_first_pair():
    from reports.sections import seed_pairs

    old = {"paired": {"n": 2, "scratch_better": 2, "keras_better": 0, "ties": 0}}
    (pair,) = seed_pairs(old, ["scratch", "keras"])
    assert pair["models"] == ["scratch", "keras"] and (pair["a_better"], pair["b_better"]) == (2, 0)
    assert seed_pairs({}, ["scratch", "keras"]) == []


def test_timing_sentence_is_readable_not_a_dict_dump():
    from reports.sections import timing_sentence

    env = {"cpu_count": 2, "blas": {"name": "scipy-openblas", "version": "0.3.31"},
           "blas_threads_limit": 1, "blas_threads_applied": True,
           "threads": {"OMP_NUM_THREADS": None, "OPENBLAS_NUM_THREADS": "1"}}  # fmt: skip
    text = timing_sentence(env)
    assert text.startswith("Wall-clock times on 2 CPU cores.")
    assert "scipy-openblas 0.3.31, limited to 1 thread while training" in text
    assert "Thread variables set: OPENBLAS_NUM_THREADS=1." in text
    assert "{" not in text and "None" not in text
    assert "on this machine" in timing_sentence({})


def test_html_inline_keeps_double_stars_inside_code():
    from reports.html import inline

    assert inline("adds `l2 * sum(W**2)` and **bold** <x>") == (
        "adds <code>l2 * sum(W**2)</code> and <strong>bold</strong> &lt;x&gt;"
    )
    assert inline("`a**b` then `c**d`") == "<code>a**b</code> then <code>c**d</code>"
