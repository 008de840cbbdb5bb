"""The top of the report: warnings first, then who won on what, by how much, and
whether the accuracy difference is statistically significant."""

from __future__ import annotations

from typing import Any

from reports.document import Document, Heading, Paragraph, Table, fmt, pct
from reports.loader import MODEL_LABELS, RunData
from reports.stats import agreement_from_predictions, format_p, verdict


def warnings(run: RunData, doc: Document) -> None:
    """Interrupted runs, unverified data and damaged files, loudly, before anything else."""
    summary = run.summary
    if summary.get("status") != "complete":
        status = summary.get("status", "unknown")
        doc.add(
            Paragraph(
                f"**RUN {str(status).upper()}**: this run did not finish. The per-epoch figures "
                "cover the epochs that completed; the test results describe the models as they "
                "were when it stopped (possibly mid-epoch), not the configured run.",
                kind="warning",
            )
        )
    data = summary.get("data", {}) or {}
    if not data.get("verified", False):
        doc.add(
            Paragraph(
                f"**DATA NOT VERIFIED**: the images from {data.get('source', 'an unknown source')} "
                "were not checked against MNIST's SHA-256 digests; they may not be MNIST.",
                kind="warning",
            )
        )
    if not run.models:
        doc.add(Paragraph("**NO MODEL RESULTS**: summary.json lists no trained model.", "warning"))
    for problem in run.problems:
        doc.add(Paragraph(f"**Unreadable file** (section left out): {problem}", kind="warning"))


def agreement(run: RunData) -> dict[str, Any] | None:
    """The summary's agreement block, or recomputed from predictions.csv if absent."""
    if not run.both:
        return None
    block = run.summary.get("agreement")
    if isinstance(block, dict) and "mcnemar_p_value" in block:
        return block
    if run.predictions is not None and {"scratch_pred", "keras_pred"} <= set(run.predictions):
        return agreement_from_predictions(run.predictions)
    return None


def _ratio_sentence(what: str, values: dict[str, float], higher_is_better: bool) -> str | None:
    if any(v is None or v <= 0 for v in values.values()):
        return None
    ordered = sorted(values, key=values.get, reverse=higher_is_better)
    best, other = ordered
    ratio = values[best] / values[other] if higher_is_better else values[other] / values[best]
    return f"{MODEL_LABELS[best]} was {ratio:.2f}× {what}"


def headline(run: RunData, doc: Document) -> None:
    """Summary table, plain-words verdicts, and the agreement table."""
    doc.add(Heading("Headline", anchor="headline"))
    stats = {m: run.model_summary(m) for m in run.models}
    block = agreement(run)
    if run.both:
        accuracy = {m: float(stats[m].get("test_accuracy", 0.0)) for m in run.models}
        p = None if block is None else float(block["mcnemar_p_value"])
        doc.add(Paragraph(verdict(accuracy, p).sentence(MODEL_LABELS), kind="verdict"))
        speed = [
            _ratio_sentence(
                "faster to train", {m: stats[m].get("train_seconds") for m in run.models}, False
            ),
            _ratio_sentence(
                "faster to predict", {m: stats[m].get("predict_seconds") for m in run.models}, False
            ),
        ]
        words = "; ".join(s for s in speed if s)
        if words:
            doc.add(Paragraph(f"Speed: {words} (wall-clock time on this machine).", kind="verdict"))
    elif run.models:
        only = run.models[0]
        doc.add(
            Paragraph(
                f"Only {MODEL_LABELS[only]} was trained in this run, so there is no comparison: "
                f"its test accuracy is {pct(stats[only].get('test_accuracy'))}.",
                kind="verdict",
            )
        )
    doc.add(_summary_table(run, stats))
    if block is not None:
        doc.add(_agreement_table(block))


def _summary_table(run: RunData, stats: dict[str, dict[str, Any]]) -> Table:
    rows_spec = [
        ("Test accuracy", lambda s: pct(s.get("test_accuracy"))),
        ("Test loss", lambda s: fmt(s.get("test_loss"))),
        ("Training time (s)", lambda s: fmt(s.get("train_seconds"), 2)),
        ("Training samples / s", lambda s: fmt(_round(s.get("samples_per_second")))),
        ("Prediction time, whole test set (s)", lambda s: fmt(s.get("predict_seconds"), 3)),
        ("Epochs completed", lambda s: fmt(s.get("epochs_completed"))),
        # Both models train in one process, so this is one figure, shown in both columns.
        ("Peak memory of the whole process (MB)", lambda s: fmt(s.get("peak_memory_mb"), 1)),
    ]
    columns = ["Metric", *(MODEL_LABELS[m] for m in run.models)]
    rows = [[name, *(get(stats[m]) for m in run.models)] for name, get in rows_spec]
    if run.both:
        columns += ["Difference (scratch − Keras)", "Better"]
        for row, (name, _) in zip(rows, rows_spec, strict=True):
            row += [_difference(name, stats), _better(name, stats)]
    return Table(
        columns, rows, caption="Results on the test set (10,000 images, never trained on)."
    )


# Headline metric -> (summary key, higher is better, decimals shown). Values equal at
# the shown precision are a tie (lockstep twins differ only by float rounding).
BETTER = {
    "Test accuracy": ("test_accuracy", True, 4),
    "Test loss": ("test_loss", False, 4),
    "Training time (s)": ("train_seconds", False, 2),
    "Training samples / s": ("samples_per_second", True, 0),
    "Prediction time, whole test set (s)": ("predict_seconds", False, 3),
}


def _better(name: str, stats: dict[str, dict[str, Any]]) -> str:
    """Which model did better on this metric (a tie says so)."""
    if name not in BETTER:
        return ""
    key, higher, decimals = BETTER[name]
    a, b = stats["scratch"].get(key), stats["keras"].get(key)
    if a is None or b is None:
        return "—"
    a, b = round(float(a), decimals), round(float(b), decimals)
    if a == b:
        return "tie"
    return MODEL_LABELS["scratch" if (a > b) == higher else "keras"]


def _difference(name: str, stats: dict[str, dict[str, Any]]) -> str:
    keys = {
        "Test accuracy": ("test_accuracy", 100.0, " points", 2),
        "Test loss": ("test_loss", 1.0, "", 4),
        "Training time (s)": ("train_seconds", 1.0, " s", 2),
        "Training samples / s": ("samples_per_second", 1.0, "", 0),
        "Prediction time, whole test set (s)": ("predict_seconds", 1.0, " s", 3),
    }
    if name not in keys:
        return ""
    key, scale, unit, digits = keys[name]
    a, b = stats["scratch"].get(key), stats["keras"].get(key)
    if a is None or b is None:
        return "—"
    return f"{(a - b) * scale:+,.{digits}f}{unit}"


def _agreement_table(block: dict[str, Any]) -> Table:
    p = float(block["mcnemar_p_value"])
    word = "is" if p < 0.05 else "is not"
    rows = [
        ["Same prediction on", pct(block.get("prediction_agreement"))],
        ["Both correct", fmt(block.get("both_correct"))],
        ["Only scratch correct", fmt(block.get("only_scratch_correct"))],
        ["Only Keras correct", fmt(block.get("only_keras_correct"))],
        ["Both wrong", fmt(block.get("both_wrong"))],
        ["McNemar p-value (exact, two-sided)", format_p(p)],
        ["Verdict", f"the difference {word} statistically significant at 5%"],
    ]
    caption = (
        "Agreement on the test images. McNemar's test looks only at the images exactly one "
        "model got right; a small p-value means one model is genuinely more accurate."
    )
    return Table(["Agreement", "Value"], rows, caption=caption)


def _round(value: float | None) -> int | None:
    return None if value is None else int(round(value))
