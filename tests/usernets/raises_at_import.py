# ruff: noqa: B905  (a learner's style: zip without strict=)
"""A file whose import fails (a typo in a module-level name)."""

import numpy as np

LEARNING_RATE = np.flaot64(0.1)


class Network:
    pass
