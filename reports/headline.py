"""The top of the report: warnings first, then who won on what, by how much, and
whether each pair's accuracy difference is statistically significant."""

from __future__ import annotations

from typing import Any

from compare.metrics import model_pairs
from reports.better import CAPTION, best, epoch_time_noise
from reports.document import Document, Heading, Paragraph, Table, fmt, pct
from reports.loader import RunData
from reports.stats import format_p, pair_agreements, verdict


def warnings(run: RunData, doc: Document) -> None:
    """Interrupted runs, unverified data and damaged files, loudly, before anything else."""
    summary = run.summary
    if summary.get("status") != "complete":
        doc.add(Paragraph(_status_warning(summary), kind="warning"))
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
        doc.add(Paragraph(f"**Unreadable file** (its section says so): {problem}", "warning"))


def _status_warning(summary: dict[str, Any]) -> str:
    """The banner of a run that did not complete, saying how far it got."""
    status = str(summary.get("status", "unknown"))
    done = len((summary.get("multi_seed") or {}).get("seeds") or [0])
    asked = (summary.get("config") or {}).get("seeds", 1)
    if status == "running":
        return (
            f"**RUN NOT FINISHED**: summary.json was last written after seed {done} of "
            f"{asked} completed. If no run is writing this folder now, the run stopped "
            "without finishing (killed, or a full disk); the results below are those of the "
            "completed seeds."
        )
    error = f" The error: {summary['error']}" if summary.get("error") else ""
    if status in ("failed", "diverged") and summary.get("models"):  # after a complete seed
        return (
            f"**RUN {status.upper()}** after {done} of {asked} seeds completed: the results "
            f"below are those of the completed seeds, which are whole.{error}"
        )
    return (
        f"**RUN {status.upper()}**: this run did not finish. The per-epoch figures cover the "
        "epochs that completed; the test results describe the models as they were when it "
        f"stopped (possibly mid-epoch), not the configured run.{error}"
    )


def agreements(run: RunData) -> list[dict[str, Any]]:
    """One agreement block per pair of trained models (empty for a single model)."""
    return pair_agreements(run.summary, run.models, run.predictions)


def _ratio_sentence(
    what: str, values: dict[str, float | None], labels: dict[str, str]
) -> str | None:
    """The quickest model against the slowest: "Scratch (NumPy) was 2.94× faster ..."."""
    if any(v is None or v <= 0 for v in values.values()):
        return None
    ordered = sorted(values, key=values.get)
    best, slowest = ordered[0], ordered[-1]
    return f"{labels[best]} was {values[slowest] / values[best]:.2f}× {what} than {labels[slowest]}"


def headline(run: RunData, doc: Document) -> None:
    """Summary table, plain-words verdicts (one per pair), and the agreement tables."""
    doc.add(Heading("Headline", anchor="headline"))
    stats = {m: run.model_summary(m) for m in run.models}
    labels = run.labels
    blocks = agreements(run)
    if run.compares:
        accuracy = {m: float(stats[m].get("test_accuracy", 0.0)) for m in run.models}
        pair_p = {tuple(b["models"]): float(b["mcnemar_p_value"]) for b in blocks}
        for a, b in model_pairs(run.models):
            sentence = verdict({a: accuracy[a], b: accuracy[b]}, pair_p.get((a, b)))
            which = f"**{labels[a]} vs {labels[b]}**: " if len(run.models) > 2 else ""
            doc.add(Paragraph(which + sentence.sentence(labels), kind="verdict"))
        speed = [
            _ratio_sentence(
                "faster to train", {m: stats[m].get("train_seconds") for m in run.models}, labels
            ),
            _ratio_sentence(
                "faster to predict",
                {m: stats[m].get("predict_seconds") for m in run.models},
                labels,
            ),
        ]
        words = "; ".join(s for s in speed if s)
        if words:
            doc.add(Paragraph(f"Speed: {words} (wall-clock time on this machine).", kind="verdict"))
    elif run.models:
        only = run.models[0]
        doc.add(
            Paragraph(
                f"Only {labels[only]} was trained in this run, so there is no comparison: "
                f"its test accuracy is {pct(stats[only].get('test_accuracy'))}.",
                kind="verdict",
            )
        )
    p_values = {tuple(b["models"]): float(b["mcnemar_p_value"]) for b in blocks}
    doc.add(_summary_table(run, stats, p_values))
    for block in blocks:
        doc.add(_agreement_table(block, labels))


def _summary_table(
    run: RunData, stats: dict[str, dict[str, Any]], p_values: dict[tuple[str, str], float]
) -> Table:
    rows_spec = [
        ("Test accuracy", lambda s: pct(s.get("test_accuracy"))),
        ("Test loss", lambda s: fmt(s.get("test_loss"))),
        ("Training time (s)", lambda s: fmt(s.get("train_seconds"), 2)),
        ("Training samples / s", lambda s: fmt(_round(s.get("samples_per_second")))),
        ("Prediction time, whole test set (s)", lambda s: fmt(s.get("predict_seconds"), 3)),
        ("Epochs completed", lambda s: fmt(s.get("epochs_completed"))),
        # Each model's own process (its worker) when several models train (docs/run.md).
        ("Peak memory of its process (MB)", lambda s: fmt(s.get("peak_memory_mb"), 1)),
    ]
    labels = run.labels
    columns = ["Metric", *(labels[m] for m in run.models)]
    rows = [[name, *(get(stats[m]) for m in run.models)] for name, get in rows_spec]
    if len(run.models) == 2:
        a, b = run.models
        columns.append(f"Difference ({a} − {b})")
        for row, (name, _) in zip(rows, rows_spec, strict=True):
            row.append(_difference(name, stats[a], stats[b]))
    caption = "Results on the test set (10,000 images, never trained on)."
    if run.compares:
        columns.append("Better" if len(run.models) == 2 else "Best")
        noise = epoch_time_noise(run.metrics)
        for row, (name, _) in zip(rows, rows_spec, strict=True):
            row.append(best(name, stats, labels, p_values, noise))
        rule = CAPTION if len(run.models) == 2 else CAPTION.replace("Better", "Best")
        caption += " " + rule
    return Table(columns, rows, caption=caption)


def _difference(name: str, stats_a: dict[str, Any], stats_b: dict[str, Any]) -> str:
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
    a, b = stats_a.get(key), stats_b.get(key)
    if a is None or b is None:
        return "—"
    return f"{(a - b) * scale:+,.{digits}f}{unit}"


def _agreement_table(block: dict[str, Any], labels: dict[str, str]) -> Table:
    a, b = block["models"]
    p = float(block["mcnemar_p_value"])
    word = "is" if p < 0.05 else "is not"
    rows = [
        ["Same prediction on", pct(block.get("prediction_agreement"))],
        ["Both correct", fmt(block.get("both_correct"))],
        [f"Only {labels.get(a, a)} correct", fmt(block.get("only_a_correct"))],
        [f"Only {labels.get(b, b)} correct", fmt(block.get("only_b_correct"))],
        ["Both wrong", fmt(block.get("both_wrong"))],
        ["McNemar p-value (exact, two-sided)", format_p(p)],
        ["Verdict", f"the difference {word} statistically significant at 5%"],
    ]
    caption = (
        f"Agreement of {labels.get(a, a)} and {labels.get(b, b)} on the test images. McNemar's "
        "test looks only at the images exactly one model got right; a small p-value means one "
        "model is genuinely more accurate."
    )
    return Table(["Agreement", "Value"], rows, caption=caption)


def _round(value: float | None) -> int | None:
    return None if value is None else int(round(value))
