"""The error a bad config raises (its own module, so config.py and layers.py can share it)."""


class ConfigError(ValueError):
    """A bad hyperparameter, layer spec or config key; the message is one line that says
    what to do."""


def first_sentences(text: str, limit: int = 240) -> str:
    """The first line of `text` for a one-line message, cut only between sentences: the
    sentences that fit in `limit` characters (at least the first, whole)."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    kept = ""
    for sentence in line.split(". "):
        candidate = f"{kept}. {sentence}" if kept else sentence
        if kept and len(candidate) > limit:
            return kept if kept.endswith(".") else f"{kept}."
        kept = candidate
    return kept
