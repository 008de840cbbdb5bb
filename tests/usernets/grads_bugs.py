# ruff: noqa: B905  (a learner's style: zip without strict=)
"""Buggy variants of grads_ok.GradNet, one bug each."""

import numpy as np
from grads_ok import GradNet


class AveragedTwice(GradNet):
    def gradients(self, x, y):
        return [g / len(x) for g in super().gradients(x, y)]  # already a batch mean


class Transposed(GradNet):
    def gradients(self, x, y):
        activations, zs, P = self.forward(x)
        dZ = (P - np.eye(10)[y]) / len(x)
        grads = []
        for layer in range(len(zs) - 1, -1, -1):
            W = self.params[2 * layer]
            grads = [dZ.T @ activations[layer], dZ.sum(axis=0), *grads]  # (out, in)
            if layer:
                dZ = (dZ @ W.T) * (zs[layer - 1] > 0)
        return grads


class BiasWrongAxis(GradNet):
    def gradients(self, x, y):
        activations, zs, P = self.forward(x)
        dZ = (P - np.eye(10)[y]) / len(x)
        grads = []
        for layer in range(len(zs) - 1, -1, -1):
            W = self.params[2 * layer]
            grads = [activations[layer].T @ dZ, dZ.sum(axis=1), *grads]  # sums the units
            if layer:
                dZ = (dZ @ W.T) * (zs[layer - 1] > 0)
        return grads


class ExtraSoftmaxDerivative(GradNet):
    def gradients(self, x, y):
        activations, zs, P = self.forward(x)
        dZ = (P - np.eye(10)[y]) / len(x) * P * (1 - P)  # softmax'(z) applied again
        grads = []
        for layer in range(len(zs) - 1, -1, -1):
            W = self.params[2 * layer]
            grads = [activations[layer].T @ dZ, dZ.sum(axis=0), *grads]
            if layer:
                dZ = (dZ @ W.T) * (zs[layer - 1] > 0)
        return grads


class L2OnBiases(GradNet):
    l2 = 1e-3

    def gradients(self, x, y):
        grads = super().gradients(x, y)
        return [g + 2 * self.l2 * p if g.ndim == 1 else g for g, p in zip(grads, self.params)]


class HalfFirstLayer(GradNet):
    def gradients(self, x, y):  # a bug no rule knows: the first kernel's gradient halved
        grads = super().gradients(x, y)
        return [grads[0] * 0.5, *grads[1:]]
