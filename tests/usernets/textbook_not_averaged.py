# ruff: noqa: B905  (a learner's style: zip without strict=)
"""Bug: the step uses the summed gradient (eta * nw, not eta / len(mini_batch) * nw)."""

from textbook_ok import Network


class NotAveraged(Network):
    def update_mini_batch(self, mini_batch, eta):
        sums = [self.backprop(x, y) for x, y in mini_batch]
        nabla_b = [sum(parts) for parts in zip(*[s[0] for s in sums])]
        nabla_w = [sum(parts) for parts in zip(*[s[1] for s in sums])]
        self.weights = [w - eta * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - eta * nb for b, nb in zip(self.biases, nabla_b)]
