# ruff: noqa: B905  (a learner's style: zip without strict=)
"""Bugs: sigmoid's derivative taken at the activation a instead of z (DerivativeAtActivation),
or applied twice (DerivativeTwice)."""

from textbook_ok import Network, sigmoid, sigmoid_prime


class DerivativeAtActivation(Network):
    def backprop(self, x, y):
        activation, activations = x, [x]
        for b, w in zip(self.biases, self.weights):
            activation = sigmoid(w @ activation + b)
            activations.append(activation)
        delta = (activations[-1] - y) * sigmoid_prime(activations[-1])
        nabla_b, nabla_w = [delta], [delta @ activations[-2].T]
        for layer in range(2, len(self.sizes)):
            a = activations[-layer]
            delta = (self.weights[-layer + 1].T @ delta) * sigmoid_prime(a)
            nabla_b.insert(0, delta)
            nabla_w.insert(0, delta @ activations[-layer - 1].T)
        return nabla_b, nabla_w


class DerivativeTwice(Network):
    def backprop(self, x, y):
        activation, activations, zs = x, [x], []
        for b, w in zip(self.biases, self.weights):
            zs.append(w @ activation + b)
            activation = sigmoid(zs[-1])
            activations.append(activation)
        delta = (activations[-1] - y) * sigmoid_prime(zs[-1])
        nabla_b, nabla_w = [delta], [delta @ activations[-2].T]
        for layer in range(2, len(self.sizes)):
            delta = (self.weights[-layer + 1].T @ delta) * sigmoid_prime(zs[-layer])
            delta = delta * sigmoid_prime(zs[-layer])
            nabla_b.insert(0, delta)
            nabla_w.insert(0, delta @ activations[-layer - 1].T)
        return nabla_b, nabla_w
