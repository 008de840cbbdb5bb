"""The header (JSON and title lines) and the notes of `check --model` (compare/usercheck.py)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from compare.environment import environment

if TYPE_CHECKING:
    from compare.diagnose import Diagnosis
    from compare.usercheck import Setup


def header(options, setup: Setup, splits, schedule, found: dict, diagnosis) -> dict:
    """What the JSON and the table's title lines say about this check."""
    config = setup.config
    return {
        "command": options.command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment(),
        "data": {"source": str(splits.source), "verified": splits.verified, **splits.sizes()},
        "options": asdict(options) | {"config": config.to_dict()},
        "subject": f"your network {options.model} ({setup.layout} layout)",
        "model": {"target": options.model, "built": setup.built, "layout": setup.layout,
                  "conversions": setup.adapter.conversions, "arrays": setup.adapter.array_names},
        "activation": config.activation, "loss": config.loss, "dtype": config.dtype,
        "hidden_sizes": list(config.hidden_sizes), "batch_size": options.batch_size,
        "gradient_batch": options.batch_size, "steps": max(found["steps_run"], 1),
        "steps_per_epoch": schedule.steps_per_epoch,
        "first_departure": _departure_json(found),
        "diagnosis": diagnosis.to_json() if diagnosis else None,
    }  # fmt: skip


def _departure_json(found: dict) -> dict | None:
    departure = found.get("departure")
    return {"step": departure[0], "array": departure[1]} if departure else None


def notes(
    setup: Setup, found: dict, diagnosis: Diagnosis | None, passed: bool, tol: float
) -> list[str]:
    """Layout, conversions, where the weights part, the diagnosis, the verdict."""
    lines = [f"detected the {setup.layout} layout; built {setup.built}; Keras twin "
             f"{setup.config.describe()}, {setup.config.optimizer} lr "
             f"{setup.config.learning_rate:g}"]  # fmt: skip
    lines += [f"conversion: {text}" for text in setup.adapter.conversions]
    if found.get("stopped"):
        lines.append(f"lockstep {found['stopped']}")
    departure = found.get("departure")
    if departure:
        lines.append(f"the weights first part beyond rounding at step {departure[0]}, "
                     f"array {departure[1]}")  # fmt: skip
    if diagnosis is not None:
        where = f" (look at {diagnosis.array})" if diagnosis.array else ""
        lines.append(f"diagnosis: {diagnosis.name}{where}: {diagnosis.hint} [{diagnosis.evidence}]")
    lines.append(verdict(found, diagnosis, passed, tol))
    return lines


def verdict(found: dict, diagnosis: Diagnosis | None, passed: bool, tol: float) -> str:
    """One or two sentences: equal, or different and why (if a rule knows)."""
    if passed:
        return (f"verdict: your network computes what Keras computes: outputs, gradients and "
                f"{found['steps_run']} training steps agree to {tol:g}.")  # fmt: skip
    if diagnosis is None or diagnosis.name == "unrecognised":
        return (
            "verdict: your network differs from Keras and no known bug pattern fits; "
            "start from the first failing row above."
        )
    return (
        f"verdict: your network differs from Keras; the likely bug is "
        f"{diagnosis.name.replace('_', ' ')}."
    )
