"""The error a bad config raises (its own module, so config.py and layers.py can share it)."""


class ConfigError(ValueError):
    """A bad hyperparameter, layer spec or config key; the message is one line that says
    what to do."""
