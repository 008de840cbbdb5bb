# ruff: noqa: B905  (a learner's style: zip without strict=)
"""Buggy variants of project_ok.ProjectNet, one bug each."""

import numpy as np
from project_ok import MomentumNet, ProjectNet


class DampenedMomentum(MomentumNet):
    def apply(self, grads):  # v = 0.9 v + 0.1 g: an average, not Keras's momentum
        for v, g in zip(self.velocity, grads):
            v *= self.momentum
            v += (1 - self.momentum) * g
        self.weights = [w - self.learning_rate * v for w, v in zip(self.weights, self.velocity)]


class LearningRateTwice(ProjectNet):
    def apply(self, grads):
        step = self.learning_rate * self.learning_rate
        self.weights = [w - step * g for w, g in zip(self.weights, grads)]


class StaleWeights(ProjectNet):
    def train_step(self, x, y):
        activations, zs, P = self.forward(x)
        dZ = (P - np.eye(10)[y]) / len(x)
        for layer in range(len(zs) - 1, -1, -1):
            W, b = self.weights[2 * layer], self.weights[2 * layer + 1]
            W -= self.learning_rate * (activations[layer].T @ dZ)  # updated before its use below
            b -= self.learning_rate * dZ.sum(axis=0)
            if layer:
                dZ = (dZ @ W.T) * (zs[layer - 1] > 0)
        return 0.0


class HiddenState(ProjectNet):
    def __init__(self, sizes):
        super().__init__(sizes)
        self.sizes = sizes
        self.built = False

    def forward(self, x):
        if not self.built:  # lazily draws the weights it really uses
            super().__init__(self.sizes)
            rng = np.random.default_rng(99)
            self.weights = [w + rng.normal(0, 0.01, w.shape) for w in self.weights]
            self.built = True
        return super().forward(x)


class AdamNoBiasCorrection(ProjectNet):
    learning_rate = 0.001
    beta_1, beta_2, epsilon = 0.9, 0.999, 1e-7

    def apply(self, grads):  # fresh moments every batch, no bias correction
        m = [(1 - self.beta_1) * g for g in grads]
        v = [(1 - self.beta_2) * g * g for g in grads]
        step = [self.learning_rate * mi / (np.sqrt(vi) + self.epsilon) for mi, vi in zip(m, v)]
        self.weights = [w - s for w, s in zip(self.weights, step)]
