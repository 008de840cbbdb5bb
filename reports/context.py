"""The explaining sections: what Keras did for you, how the comparison was matched,
and where the run came from (data, config, environment, command to reproduce)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from compare.augment import Distortions
from reports.document import Code, Document, Heading, Paragraph, Table, fmt
from reports.loader import RunData
from reports.teaching import teaching_pairs


def run_config(run: RunData) -> dict[str, Any]:
    config = run.summary.get("config", {})
    return config if isinstance(config, dict) else {}


def model_config(run: RunData) -> dict[str, Any]:
    model = run_config(run).get("model", {})
    return model if isinstance(model, dict) else {}


def is_lockstep(run: RunData) -> bool:
    return run.compares and (
        run_config(run).get("mode") == "lockstep" or bool(run.summary.get("lockstep"))
    )


def keras_did(run: RunData, doc: Document) -> None:
    doc.add(Heading("What Keras did for you", anchor="keras-did"))
    doc.add(
        Paragraph(
            "Each step of training, as the scratch network implements it (excerpted from its "
            "source when this report was rendered) beside the Keras code that replaces it, with "
            "this run's settings filled in. Line counts exclude blank lines, comments and "
            "docstrings."
        )
    )
    pairs = teaching_pairs(model_config(run), run_config(run))
    doc.add(*pairs)
    total = sum(_count(pair.left.caption) for pair in pairs)
    keras = sum(_count(pair.right.caption) for pair in pairs)
    doc.add(
        Paragraph(
            f"In total: about {total} lines of scratch code shown above against {keras} lines of "
            "Keras. Shared helpers (activations, initializers, the optimizer state) are counted "
            "where they appear."
        )
    )


def _count(caption: str) -> int:
    """The number before 'line' in a caption like 'scratch: x.y — 12 lines of code'."""
    words = caption.replace("—", " ").split()
    for before, word in zip(words, words[1:], strict=False):
        if word.startswith("line") and before.isdigit():
            return int(before)
    return 0


def matching(run: RunData, doc: Document) -> None:
    """Where a 'matched' comparison could silently differ, and what this run did."""
    config, model, data = run_config(run), model_config(run), run.summary.get("data", {}) or {}
    splits = data.get("splits", {}) or {}
    l2 = float(model.get("l2", 0.0) or 0.0)
    first = run.labels[run.models[0]] if run.models else ""
    if not run.compares:
        init = "Only one model was trained, so there was nothing to match."
    elif is_lockstep(run):
        init = (
            f"lockstep: every other model was given {first}'s initial weights, so all "
            "started from identical numbers."
        )
    else:
        init = (
            f"independent: each drew from the same scheme ({model.get('init', '?')}, zero "
            "biases) but with different random draws, so single-run differences include "
            "luck; use --seeds to measure it."
        )
    rows = [
        [
            "Data split",
            f"one shared pipeline; train {fmt(splits.get('train'))}, validation "
            f"{fmt(splits.get('val'))}, test {fmt(splits.get('test'))} images; every model "
            "got the same arrays and the same mini-batches "
            f"(batch size {config.get('batch_size', '?')})",
        ],
        [
            "Validation set",
            "carved from the 60,000 training images with a seeded permutation; "
            "the test set was never used for any choice during training",
        ],
        ["Weight and bias initialization", init],
        [
            "L2 penalty",
            f"`l2 = {l2:g}`. Keras adds `l2 * sum(W**2)` over kernels (not biases) to "
            "the loss; the scratch network does the same. Textbooks often write "
            "`lambda/(2n) * sum(W**2)`: the same penalty only if `l2 = lambda/(2n)`.",
        ],
        [
            "Loss reduction",
            "the mean over the batch (Keras's default 'sum_over_batch_size'); "
            "a sum would scale the gradients, and so the effective learning rate, "
            "by the batch size",
        ],
        [
            "Preprocessing",
            "pixels scaled to [0, 1]"
            + (
                ", then standardized with the training split's mean and std"
                if data.get("standardized")
                else ""
            )
            + _distortion_words(config, run.compares),
        ],
        ["Numeric type", f"{model.get('dtype', '?')}: the run config's, and the data's"],
    ]
    doc.add(Heading("How the comparison was matched", anchor="matching"))
    doc.add(
        Paragraph(
            "Two implementations of 'the same' network can differ silently. These are the usual "
            "suspects, and how this run pinned each one down:"
        )
    )
    doc.add(Table(["What could differ", "In this run"], rows, align_right_from=99))


def _distortion_words(config: dict[str, Any], compares: bool) -> str:
    """The random distortions of the training images, in words ('' without them)."""
    data = config.get("data", {})
    data = data if isinstance(data, dict) else {}
    amounts = {f.name: data.get(f.name, 0.0) for f in fields(Distortions)}
    words = Distortions(**amounts).describe()
    if not words:
        return ""
    shared = ", so every model trained on the same distorted images" if compares else ""
    return (
        f"; {words}, once per batch in the shared pipeline{shared} (validation and test "
        "images are not distorted)"
    )


def provenance(run: RunData, doc: Document) -> None:
    summary = run.summary
    data = summary.get("data", {}) or {}
    doc.add(Heading("Reproduce this run", anchor="reproduce"))
    command = summary.get("command")
    doc.add(
        Code(
            str(command) if command else "# summary.json has no command",
            language="shell",
            caption="The exact command (also: mnist-compare run --config RUN/config.toml).",
        )
    )
    verified = (
        "verified (SHA-256 of every file matches MNIST)"
        if data.get("verified")
        else ("NOT VERIFIED against MNIST's digests")
    )
    doc.add(
        Paragraph(
            f"Data: {data.get('source', 'unknown source')}, {verified}. Run status: "
            f"**{summary.get('status', 'unknown')}**, started {summary.get('started_at', '?')}, "
            f"finished {summary.get('finished_at', '?')}."
        )
    )
    doc.add(
        Table(
            ["Setting", "Value"],
            [[k, v] for k, v in _flatten(run_config(run))],
            caption="The full run config.",
            align_right_from=99,
        )
    )
    env = summary.get("environment", {}) or {}
    doc.add(
        Table(
            ["Environment", "Value"],
            [[k, v] for k, v in _flatten(env)],
            caption="Where it ran.",
            align_right_from=99,
        )
    )


def _flatten(values: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(_flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            rows.append((name, ", ".join(str(v) for v in value) or "(empty)"))
        else:
            rows.append((name, "null" if value is None else str(value)))
    return rows
