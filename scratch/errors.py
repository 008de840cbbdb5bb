"""The error a bad config raises (its own module, so config.py and layers.py can share it),
and the one wording of a range in error messages ("must be a number > 0")."""

from __future__ import annotations

import math


class ConfigError(ValueError):
    """A bad hyperparameter, layer spec or config key; the message is one line that says
    what to do. `key` names the config key at fault, when there is one (a command can
    then name its flag instead: "--lr must be ...")."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key

    def renamed(self, name: str) -> ConfigError:
        """The same error with its leading key replaced by `name` (a flag)."""
        message = str(self)
        if self.key and message.startswith(self.key + " "):
            message = name + message[len(self.key) :]
        return ConfigError(message, key=None)


def must_be(
    kind: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> str:
    """ "must be a whole number >= 1", "must be a number > 0", "must be a number >= 0 and
    < 1", "must be a whole number from 0 to 65535" (`kind`: "a number", "a whole number")."""
    if high is not None and math.isinf(high):
        high = None
    if low is not None and high is not None and not low_open and not high_open:
        return f"must be {kind} from {_number(low)} to {_number(high)}"
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {_number(low)}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {_number(high)}")
    return " ".join([f"must be {kind}", " and ".join(parts)]).rstrip()


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


SENTENCES_LIMIT = 240  # characters of a library's message kept in a one-line error


def first_sentences(text: str) -> str:
    """The first line of `text` for a one-line message, cut only between sentences: the
    sentences that fit in SENTENCES_LIMIT characters (at least the first, whole)."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    kept = ""
    for sentence in line.split(". "):
        candidate = f"{kept}. {sentence}" if kept else sentence
        if kept and len(candidate) > SENTENCES_LIMIT:
            return kept if kept.endswith(".") else f"{kept}."
        kept = candidate
    return kept
