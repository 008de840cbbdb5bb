# ruff: noqa: B905  (a learner's style: zip without strict=)
"""Networks that fail in the learner's own code."""

import numpy as np
from grads_ok import GradNet


class RaisesInStep(GradNet):
    def gradients(self, x, y):
        if not hasattr(self, "calls"):
            self.calls = 0
        self.calls += 1
        if self.calls > 2:
            raise ValueError("shapes (32,16) and (10,16) not aligned")
        return super().gradients(x, y)


class NoTrainStep:
    def __init__(self):
        self.weights = [np.zeros((784, 10)), np.zeros(10)]

    def get_weights(self):
        return self.weights

    def set_weights(self, weights):
        self.weights = weights

    def predict_proba(self, x):
        return np.full((len(x), 10), 0.1)


class RaisesInTrainStep:
    """Project layout whose train_step fails on its third call."""

    def __init__(self, sizes):
        from project_ok import ProjectNet

        self.net = ProjectNet(sizes)
        self.calls = 0

    def get_weights(self):
        return self.net.get_weights()

    def set_weights(self, weights):
        self.net.set_weights(weights)

    def predict_proba(self, x):
        return self.net.predict_proba(x)

    def train_step(self, x, y):
        self.calls += 1
        if self.calls == 3:
            return self.net.weights[0] @ x  # (784, h) @ (n, 784): not aligned
        return self.net.train_step(x, y)
