# ruff: noqa: B905  (a learner's style: zip without strict=)
"""A correct network in this project's layout: Keras-layout weights, train_step, predict_proba,
loss_and_gradients; relu hidden layers, softmax + cross-entropy, SGD or momentum."""

import numpy as np


class ProjectNet:
    learning_rate = 0.1
    momentum = 0.9

    def __init__(self, sizes):
        rng = np.random.default_rng(2)
        self.weights = []
        for m, n in zip(sizes[:-1], sizes[1:]):
            self.weights += [rng.normal(0, 1 / np.sqrt(m), (m, n)), rng.normal(0, 0.1, n)]
        self.velocity = [np.zeros_like(w) for w in self.weights]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w, dtype=float) for w in weights]

    def forward(self, x):
        activations, zs = [x], []
        for W, b in zip(self.weights[0::2], self.weights[1::2]):
            zs.append(activations[-1] @ W + b)
            activations.append(np.maximum(zs[-1], 0))
        e = np.exp(zs[-1] - zs[-1].max(axis=1, keepdims=True))
        return activations, zs, e / e.sum(axis=1, keepdims=True)

    def predict_proba(self, x):
        return self.forward(x)[2]

    def loss_and_gradients(self, x, y):
        activations, zs, P = self.forward(x)
        loss = -np.mean(np.log(P[np.arange(len(y)), y]))
        dZ = (P - np.eye(10)[y]) / len(x)
        grads = []
        for layer in range(len(zs) - 1, -1, -1):
            W = self.weights[2 * layer]
            grads = [activations[layer].T @ dZ, dZ.sum(axis=0), *grads]
            if layer:
                dZ = (dZ @ W.T) * (zs[layer - 1] > 0)
        return loss, grads

    def apply(self, grads):
        self.weights = [w - self.learning_rate * g for w, g in zip(self.weights, grads)]

    def train_step(self, x, y):
        loss, grads = self.loss_and_gradients(x, y)
        self.apply(grads)
        return loss


class MomentumNet(ProjectNet):
    def apply(self, grads):
        for v, g in zip(self.velocity, grads):
            v *= self.momentum
            v -= self.learning_rate * g
        self.weights = [w + v for w, v in zip(self.weights, self.velocity)]
