"""The detail sections of a report, after the headline: curves, per-class results,
confusion, mistakes, timing, lockstep, seeds and learned weights."""

from __future__ import annotations

import pandas as pd

from reports import figures, figures_cnn, figures_digits
from reports.document import Document, Figure, Heading, Paragraph, Table, fmt, pct
from reports.loader import METRICS_COLUMNS, RunData
from reports.stats import classification_report


def _add_figure(doc: Document, figure: Figure | None) -> None:
    if figure is not None:
        doc.add(figure)


def _begin(run: RunData, doc: Document, heading: Heading, files: list[str], drawable: bool) -> bool:
    """Open a section: its heading when it has something to draw or a file it needs is
    damaged, and then a warning in its place naming the file. Returns `drawable`."""
    damaged = [f"{name} ({run.unreadable[name]})" for name in files if name in run.unreadable]
    if not drawable and not damaged:
        return False  # nothing recorded for it (a run without lockstep, seeds, ...)
    doc.add(heading)
    if damaged:
        what = "is not drawn" if not drawable else "is drawn from the other files only"
        doc.add(
            Paragraph(
                f"**This section {what}**: {'; '.join(damaged)} could not be read. Was it "
                "edited or cut short? Re-run the run to rebuild it. Figures the previous "
                "report drew from it stay in figures/.",
                kind="warning",
            )
        )
    return drawable


def _confusion_files(run: RunData) -> list[str]:
    return [f"confusion_{model}.csv" for model in run.models]


def training(run: RunData, doc: Document) -> None:
    drawable = run.metrics is not None and not run.metrics.empty
    if not _begin(run, doc, Heading("Training", anchor="training"), ["metrics.csv"], drawable):
        return
    doc.add(
        Paragraph(
            "Loss and accuracy per epoch on the training batches (averaged over the epoch, as "
            "Keras's fit() logs them) and on the validation set, which is carved out of the "
            "training images and never overlaps the test set."
        )
    )
    _add_figure(doc, figures.learning_curves(run))
    columns = list(METRICS_COLUMNS)
    rows = [
        [
            str(r["model"]),
            fmt(int(r["epoch"])),
            *(fmt(float(r[c])) for c in columns[2:6]),
            fmt(float(r["seconds"]), 2),
            fmt(int(round(r["samples_per_second"]))),
        ]
        for _, r in run.metrics.iterrows()
        if set(columns) <= set(r.index)
    ]
    doc.add(Table(columns, rows, caption="Per-epoch metrics (metrics.csv).", align_right_from=1))


def per_class(run: RunData, doc: Document) -> dict[str, pd.DataFrame]:
    """Per-digit precision, recall, F1 and support, like scikit-learn's classification_report."""
    reports = {m: classification_report(run.confusion[m]) for m in run.models if m in run.confusion}
    heading = Heading("Per-class results", anchor="per-class")
    if not _begin(run, doc, heading, _confusion_files(run), bool(reports)):
        return reports
    doc.add(
        Paragraph(
            "Precision: of the images a model called digit d, the share that were d. Recall: of "
            "the images of digit d, the share it found. F1: their harmonic mean. Support: test "
            "images of that digit."
        )
    )
    for model, table in reports.items():
        rows = [
            [str(name), *(fmt(float(v)) for v in row[:3]), fmt(int(row["support"]))]
            for name, row in table.iterrows()
        ]
        doc.add(
            Table(
                ["", "precision", "recall", "f1-score", "support"],
                rows,
                caption=f"{run.labels[model]}: classification report.",
            )
        )
    _add_figure(doc, figures.per_class_f1(run, reports))
    return reports


def confusion(run: RunData, doc: Document) -> None:
    figure = figures.confusion_matrices(run)
    heading = Heading("Confusion matrices", anchor="confusion")
    if not _begin(run, doc, heading, _confusion_files(run), figure is not None):
        return
    doc.add(figure)
    _add_figure(doc, figures.confusion_difference(run))


def mistakes(run: RunData, doc: Document) -> None:
    found: list[Figure | None] = []
    if run.predictions is not None and run.examples:
        found = [figures_digits.disagreements(run)]
        found += [figures_digits.confident_mistakes(run, m) for m in run.models]
    title = "Disagreements and mistakes" if run.compares else "Mistakes"
    files = ["predictions.csv", "examples.npz"]
    if not _begin(run, doc, Heading(title, anchor="mistakes"), files, any(found)):
        return
    if run.compares and found[0] is None:
        models = "two" if len(run.models) == 2 else str(len(run.models))
        doc.add(Paragraph(f"The {models} models predicted the same digit for every test image."))
    for figure in found:
        _add_figure(doc, figure)


def timing(run: RunData, doc: Document) -> None:
    figure = figures.timing(run)
    if not _begin(run, doc, Heading("Timing", anchor="timing"), ["metrics.csv"], bool(figure)):
        return
    env = run.summary.get("environment", {}) or {}
    doc.add(Paragraph(timing_sentence(env)))
    doc.add(figure)


def timing_sentence(env: dict) -> str:
    """Where the times were measured, in words, from summary.json's environment."""
    cores = env.get("cpu_count")
    where = f"on {cores} CPU core{'s' if cores != 1 else ''}" if cores else "on this machine"
    blas = env.get("blas") or {}
    library = " ".join(str(blas[k]) for k in ("name", "version") if blas.get(k)) or "its BLAS"
    limit = env.get("blas_threads_limit")
    if limit and env.get("blas_threads_applied"):
        threads = f"limited to {limit} thread{'s' if limit != 1 else ''} while training"
    else:
        threads = "with its default thread count"
    set_vars = {k: v for k, v in (env.get("threads") or {}).items() if v is not None}
    variables = (
        " Thread variables set: " + ", ".join(f"{k}={v}" for k, v in set_vars.items()) + "."
        if set_vars
        else ""
    )
    return (
        f"Wall-clock times {where}. The scratch network's matrix products ran in NumPy's "
        f"{library}, {threads}; TensorFlow used its own thread pools.{variables} The first "
        "Keras epoch includes graph tracing; times vary with machine load."
    )


def lockstep(run: RunData, doc: Document) -> None:
    figure = figures.lockstep_drift(run)
    heading = Heading("Lockstep: do the weights stay equal?", anchor="lockstep")
    if not _begin(run, doc, heading, ["lockstep.csv"], figure is not None):
        return
    labels, drift = run.labels, []
    groups = list(run.lockstep.groupby(["model_a", "model_b"], sort=False))
    for (a, b), rows in groups:
        first, last = rows.iloc[0], rows.iloc[-1]
        which = f"{labels.get(a, a)} and {labels.get(b, b)}: " if len(groups) > 1 else ""
        drift.append(
            f"{which}{float(first['max_abs_weight_diff']):.2g} after step "
            f"{int(first['step']):,} and {float(last['max_abs_weight_diff']):.2g} after step "
            f"{int(last['step']):,}"
        )
    doc.add(
        Paragraph(
            f"Every model started from {labels[run.models[0]]}'s initial weights and saw the "
            "same batches in the same order. The largest absolute difference between any two "
            f"corresponding weights was {'; '.join(drift)}. "
            "Small values that grow slowly are floating-point rounding compounding over the "
            "steps: the two implementations compute the same thing. A jump towards the size "
            "of the weights themselves (around 0.1) would mean they do not. The relative "
            "difference divides by each weight's own size, so weights near zero make it larger."
        )
    )
    doc.add(figure)


def seeds(run: RunData, doc: Document) -> None:
    frame = run.seeds
    drawable = frame is not None and not frame.empty
    if not _begin(run, doc, Heading("Several seeds", anchor="seeds"), ["seeds.csv"], drawable):
        return
    rows = []
    for model, group in frame.groupby("model", sort=False):
        acc = group["test_accuracy"]
        rows.append(
            [
                run.labels.get(str(model), str(model)),
                fmt(len(group)),
                pct(acc.mean()),
                pct(acc.std(ddof=1) if len(acc) > 1 else 0.0),
                pct(acc.min()),
                pct(acc.max()),
                fmt(float(group["train_seconds"].mean()), 2),
            ]
        )
    columns = ["model", "seeds", "mean accuracy", "std", "min", "max", "mean train s"]
    doc.add(Table(columns, rows, caption="Test accuracy over seeds (seeds.csv); std: sample."))
    for paired in seed_pairs(run.summary.get("multi_seed") or {}, run.models):
        doc.add(Paragraph(paired_sentence(paired, run.labels)))
    _add_figure(doc, figures.seed_spread(run))


def seed_pairs(multi: dict, models: list[str]) -> list[dict]:
    """summary.json's multi_seed `pairs`; for an older folder its `paired` block, which
    compared the first two models with counts named `<model>_better`."""
    if multi.get("pairs"):
        return list(multi["pairs"])
    paired = multi.get("paired")
    if not paired or len(models) < 2:
        return []
    a, b = models[0], models[1]
    return [{**paired, "models": [a, b], "a_better": paired.get(f"{a}_better", 0),
             "b_better": paired.get(f"{b}_better", 0)}]  # fmt: skip


def paired_sentence(paired: dict, labels: dict[str, str]) -> str:
    """One pair's comparison over seeds (summary.json multi_seed.pairs) in words."""
    n, mean, std = paired["n"], paired["mean_difference"], paired["std_difference"]
    a, b = (labels.get(m, m) for m in paired["models"])
    text = (
        f"Paired over {n} seeds, {a} minus {b} test accuracy is "
        f"{mean * 100:+.2f} points on average (standard deviation {std * 100:.2f}); "
        f"{a} was better on {_seeds(paired['a_better'])}, {b} on "
        f"{_seeds(paired['b_better'])}, with {_seeds(paired['ties'])} tied. "
    )
    t, p_value = paired.get("t_statistic"), paired.get("p_value")
    if t is None or p_value is None:
        return text + "A paired t test needs at least two seeds that do not all differ equally."
    verdict = "statistically significant" if p_value < 0.05 else "not significant"
    return text + (
        f"Paired t test: t = {t:.2f} with {paired['degrees_of_freedom']} degrees of freedom, "
        f"two-sided p = {p_value:.3g}: {verdict} at the 5% level"
        + (" (with few seeds, confirm it with more)." if p_value < 0.05 and n < 10 else ".")
    )


def _seeds(count: int) -> str:
    return f"{count} seed" if count == 1 else f"{count} seeds"


def weights(run: RunData, doc: Document) -> None:
    figures = [figures_digits.first_layer_weights(run), figures_cnn.filters(run)]
    figures += [figures_cnn.feature_maps(run)]
    counts = figures_cnn.parameter_counts(run)
    heading = Heading("What the first layer learned", anchor="weights")
    files = [run.weights_file(model) for model in run.models]
    if not _begin(run, doc, heading, files, any(figures) or bool(counts)):
        return
    if counts:
        parts = [f"{run.labels.get(m, m)} {n:,}" for m, n in counts.items()]
        doc.add(Paragraph(f"Trainable parameters: {'; '.join(parts)}."))
    for figure in figures:
        _add_figure(doc, figure)
