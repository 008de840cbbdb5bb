"""The speed targets of `mnist-compare bench` and `bench --cnn`, and `--check`.

A target is a ratio of two measured times (`top / bottom`) that must be at most or at
least a number. `evaluate` turns the measurements into outcomes, `print_outcomes` prints
them as the bench's last table, and `exit_code` is 1 under `--check` when a measured
target is not met (plain `bench` only informs: exit code 0). A target whose two times
were not both measured (`--no-keras`) is left out, and does not fail `--check`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """`top / bottom` (two measurement names) must be `sense` (<= or >=) `limit`;
    `sense` None: the ratio is printed for information only."""

    label: str
    top: str
    bottom: str
    sense: str | None = None
    limit: float | None = None
    note: str = ""  # printed after the verdict, e.g. "(goal <= 1.0)"


@dataclass(frozen=True)
class Outcome:
    target: Target
    ratio: float
    met: bool | None  # None: for information, no target

    def verdict(self) -> str:
        if self.met is None:
            return "(for information)"
        words = f"{self.target.sense} {self.target.limit}  {'met' if self.met else 'NOT met'}"
        return f"{words} {self.target.note}".rstrip()


def evaluate(targets: Iterable[Target], seconds: Mapping[str, float]) -> list[Outcome]:
    """Each target whose two measurements are in `seconds` (name -> seconds), judged."""
    outcomes = []
    for target in targets:
        if target.top not in seconds or target.bottom not in seconds:
            continue
        ratio = seconds[target.top] / seconds[target.bottom]
        met = None
        if target.sense == "<=":
            met = ratio <= target.limit
        elif target.sense == ">=":
            met = ratio >= target.limit
        outcomes.append(Outcome(target, ratio, met))
    return outcomes


def print_outcomes(outcomes: Iterable[Outcome], width: int = 40) -> None:
    print(f"{'ratio':{width}s} {'value':>9s}  target")
    for outcome in outcomes:
        print(f"{outcome.target.label:{width}s} {outcome.ratio:9.2f}  {outcome.verdict()}")


def exit_code(outcomes: Iterable[Outcome], check: bool) -> int:
    """1 under `--check` when a target was not met (saying which), else 0."""
    missed = [o.target.label for o in outcomes if o.met is False]
    if not check:
        return 0
    if missed:
        print(f"bench --check: target not met: {'; '.join(missed)}")
        return 1
    print("bench --check: every measured target met")
    return 0
