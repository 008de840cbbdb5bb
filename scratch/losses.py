"""The output layer and its loss, taken together, and the L2 penalty.

An output-and-loss pair turns the last Dense layer's Z into per-sample losses, and
its backward pass returns dZ, the gradient of the *batch mean* loss with respect to Z:

    SoftmaxCrossEntropy   forward:  P = softmax(Z),  loss = -log P[y]
                          backward: dZ = (P - Y) / batch
    SigmoidMSE            forward:  P = sigmoid(Z),  loss = mean over k outputs of (P - Y)**2
                          backward: dZ = 2 (P - Y) / k / batch * P (1 - P)

Y is the one-hot form of the integer labels y. It is never built: subtracting 1 at
[rows, y] is the same subtraction, exactly.

Why pairs: softmax's own Jacobian is a (k, k) matrix per sample, but multiplied by
cross-entropy's gradient it collapses to P - Y. Keras does the same: for a softmax
output it computes the loss from the logits with
`tf.nn.softmax_cross_entropy_with_logits`, so there is no clip to [1e-7, 1 - 1e-7].
"""

from __future__ import annotations

import numpy as np

from scratch.layers import sigmoid, sigmoid_backward

Array = np.ndarray


class SoftmaxCrossEntropy:
    """Softmax outputs with categorical cross-entropy."""

    output_activation = "softmax"

    def forward(self, Z: Array, y: Array) -> Array:
        """Per-sample losses (batch,); P = softmax(Z) is kept, in Z's own array."""
        S = np.subtract(Z, row_max(Z), out=Z)  # (batch, k) shifted: exp cannot overflow
        S_true = S[np.arange(len(y)), y]  # (batch,) shifted logit of the true class
        P = np.exp(S, out=S)  # (batch, k), not yet normalised
        sum_exp = row_sum(P)  # (batch, 1)
        P /= sum_exp  # P = softmax(Z)
        losses = np.log(sum_exp[:, 0])  # (batch,)
        losses -= S_true  # loss = logsumexp(Z) - Z[y] = -log P[y]
        self.P, self.y = P, y
        return losses

    def backward(self) -> Array:
        """dZ = (P - Y) / batch, in P's array (batch, k)."""
        P, y = self.P, self.y
        batch = len(y)
        P[np.arange(batch), y] -= 1  # P - Y
        P *= P.dtype.type(1) / P.dtype.type(batch)  # Keras: d(sum / batch) = 1 / batch
        return P

    @staticmethod
    def probabilities(Z: Array, out: Array | None = None) -> Array:
        """softmax(Z) row by row, the same operations as `forward`."""
        out = np.subtract(Z, row_max(Z), out=out)
        np.exp(out, out=out)
        out /= row_sum(out)
        return out


class SigmoidMSE:
    """Sigmoid outputs with the mean squared error (the textbook "quadratic cost")."""

    output_activation = "sigmoid"

    def forward(self, Z: Array, y: Array) -> Array:
        """Per-sample losses (batch,): mean over the k outputs of (P - Y)**2."""
        P = sigmoid(Z, out=Z)  # (batch, k)
        D = P.copy()
        D[np.arange(len(y)), y] -= 1  # P - Y
        self.P, self.y = P, y
        return np.mean(D * D, axis=1)

    def backward(self) -> Array:
        """dZ = dP * P * (1 - P), dP = (P - Y) * 2 / k / batch; in P's array.

        The scale is built as TensorFlow builds it: (1 / batch) from the batch mean,
        then / k from the mean over outputs, then * 2 from the square."""
        P, y = self.P, self.y
        batch, k = P.shape
        one = P.dtype.type(1)
        scale = 2 * (one / P.dtype.type(batch) / P.dtype.type(k))
        dP = P.copy()  # (batch, k)
        dP[np.arange(batch), y] -= 1  # P - Y
        dP *= scale
        return sigmoid_backward(dP, P, out=P)

    @staticmethod
    def probabilities(Z: Array, out: Array | None = None) -> Array:
        return sigmoid(Z, out=out)


OUTPUT_LOSSES = {"crossentropy": SoftmaxCrossEntropy, "mse": SigmoidMSE}


def batch_mean(losses: Array) -> np.floating:
    """Keras's "sum_over_batch_size" reduction: sum, then divide by the batch size."""
    return np.add.reduce(losses) / losses.dtype.type(len(losses))


# ----- L2 weight decay: loss += l2 * sum(W**2) for each kernel ---------------------------


def l2_penalty(W: Array, l2: np.floating) -> np.floating:
    """l2 * sum(W**2), as `keras.regularizers.L2` adds it to the loss."""
    return l2 * np.vdot(W, W)


def add_l2_gradient(dW: Array, W: Array, l2: np.floating) -> None:
    """dW += 2 * l2 * W, in place: the penalty's gradient."""
    dW += W * (2 * l2)


# ----- row reductions (a speed trick, with its plain form) -------------------------------


def row_max(M: Array) -> Array:
    """M.max(axis=1, keepdims=True), for M (batch, k): see `row_reduce`."""
    return row_reduce(np.maximum, M)


def row_sum(M: Array) -> Array:
    """M.sum(axis=1, keepdims=True), for M (batch, k): see `row_reduce`."""
    return row_reduce(np.add, M)


def row_reduce(ufunc: np.ufunc, M: Array) -> Array:
    """Speed trick "reduce the transposed copy": `ufunc.reduce(M, axis=1, keepdims=True)`.

    For k = 10 columns this is 2-3x faster: NumPy reduces one short row per inner
    call, while reducing the transposed copy over axis 0 runs down the whole batch
    in SIMD. Maxima are exact either way; a sum may differ in the last bit, since
    NumPy picks the order of additions (tests/test_scratch_layers.py compares the two).
    """
    return ufunc.reduce(np.ascontiguousarray(M.T), axis=0)[:, np.newaxis]  # (batch, 1)
