# ruff: noqa: B905  (a learner's style: zip without strict=)
"""Bug: the update goes up the gradient (w + step * nw)."""

from textbook_ok import Network


class SignFlipped(Network):
    def update_mini_batch(self, mini_batch, eta):
        nabla_b = [0 * b for b in self.biases]
        nabla_w = [0 * w for w in self.weights]
        for x, y in mini_batch:
            delta_b, delta_w = self.backprop(x, y)
            nabla_b = [nb + d for nb, d in zip(nabla_b, delta_b)]
            nabla_w = [nw + d for nw, d in zip(nabla_w, delta_w)]
        step = eta / len(mini_batch)
        self.weights = [w + step * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b + step * nb for b, nb in zip(self.biases, nabla_b)]
