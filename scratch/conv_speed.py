"""Speed tricks of the image layers (conv.py), each named, its plain form named beside it.

A trick stays only while `mnist-compare bench --cnn` shows it is needed
(docs/cnn.md, "Speed"). Each gives the same numbers as its plain form, ties included
(a pixel that gets no gradient may hold -0.0 where the plain pool leaves +0.0), and a
network's loss, gradients and weights come out the same bit for bit:
tests/test_scratch_conv_speed.py runs both. A layer whose `speed_tricks` is False
uses the plain forms of the tricks below. (Conv2D's bias gradient is one product with
a row of ones, as Dense's is, its plain `dZ.sum(axis=0)` in the comment beside it and
in test_conv_bias_gradient_trick_equals_the_plain_sum; it is not switched.)

    trick                      plain form                     what it saves
    pool2x2_forward_fast       MaxPooling2D.forward           3 of 4 strided passes
    pool2x2_backward_fast      MaxPooling2D.backward          8 strided passes, the zeroing
    relu_mask_in_pool          ReLU.backward                  a pass over the ReLU's output

Why strided passes are slow: a 2x2 window's four positions are interleaved in
memory at a granularity of C channels (32 floats), so a NumPy call on one position
of every window runs its inner loop 32 numbers at a time, and pays its per-loop
cost B * Ho * Wo times. Whole rows of the image are contiguous (W * C numbers), so
the tricks work row by row, on the pool's input with its output repeated along
each row.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def is_pool2x2(pool) -> bool:
    """A 2x2 pool with stride 2, the windows that the tricks below take."""
    return pool.pool == 2 and pool.stride == 2 and pool.speed_tricks


def pool2x2_forward_fast(pool, X: Array) -> Array:
    """MaxPooling2D.forward for 2x2 windows with stride 2: the larger of each pair of
    rows first (whole rows at a time), then the larger of each pair of columns. The
    maximum of a window is the maximum of its rows' maxima, so A is the same."""
    B, Ho, Wo, C = len(X), X.shape[1] // 2, X.shape[2] // 2, X.shape[3]
    rows = pool.buffer("rows", (B, Ho, 2 * Wo, C), X.dtype)  # (batch, Ho, 2 Wo, C)
    np.maximum(X[:, 0 : 2 * Ho : 2, : 2 * Wo], X[:, 1 : 2 * Ho : 2, : 2 * Wo], out=rows)
    A = pool.buffer("A", (B, Ho, Wo, C), X.dtype)
    np.maximum(rows[:, :, 0::2], rows[:, :, 1::2], out=A)  # (batch, Ho, Wo, C)
    return A


def pool2x2_backward_fast(pool, dA: Array) -> Array:
    """MaxPooling2D.backward for 2x2 windows with stride 2, the same routing: each
    window's gradient to the first of its positions (0,0), (0,1), (1,0), (1,1) that
    holds its maximum A. With `pool.relu_before`, dA is first masked by A > 0
    (`relu_mask_in_pool`).

    Row by row: `up` is A (then dA) repeated along each row, once per column of a
    window, so the window's top rows X[2i] and bottom rows X[2i+1] compare with it as
    whole rows. A position is its window's first maximum when it holds the maximum,
    its left neighbour in the window does not, and, in the bottom row, the top row
    does not."""
    X, A = pool.X, pool.A  # (batch, H, W, C), (batch, Ho, Wo, C)
    B, Ho, Wo, C = dA.shape
    H2, W2 = 2 * Ho, 2 * Wo  # the rows and columns that some window covers
    if pool.relu_before:
        dA = np.multiply(dA, A > 0, out=pool.buffer("dA", dA.shape, dA.dtype))
    up = pool.buffer("up", (B, Ho, Wo, 2, C), A.dtype)  # two columns for each window
    rows = up.reshape(B, Ho, W2, C)
    np.copyto(up, A[:, :, :, np.newaxis, :])  # rows: A repeated along each row
    E = [pool.buffer(f"E{r}", (B, Ho, W2 * C), np.bool_) for r in (0, 1)]  # flat rows
    for r in (0, 1):  # E[r]: the top (0) or bottom (1) row of a window holds the max
        np.equal(X[:, r:H2:2, :W2], rows, out=E[r].reshape(B, Ho, W2, C))
    left, right, top = (pool.buffer(name, E[0].shape, np.bool_) for name in ("l", "r", "t"))
    _from_neighbour(E[0], C, "left", out=left)
    _from_neighbour(E[0], C, "right", out=right)
    np.logical_or(E[0], left, out=top)
    top |= right  # the window's top row holds its max
    np.greater(E[0], left, out=E[0])  # first in the top row: its left neighbour is not
    _from_neighbour(E[1], C, "left", out=left)
    np.greater(E[1], left, out=E[1])
    np.greater(E[1], top, out=E[1])  # first in the bottom row: nor the top row
    np.copyto(up, dA[:, :, :, np.newaxis, :])  # rows: dA repeated along each row
    dX = pool.buffer("dX", X.shape, dA.dtype)
    for r in (0, 1):
        np.multiply(rows, E[r].reshape(B, Ho, W2, C), out=dX[:, r:H2:2, :W2])  # once each
    dX[:, H2:] = 0  # a row or a column that no window covers (an odd height or width)
    dX[:, :, W2:] = 0
    return dX


def _from_neighbour(E: Array, C: int, side: str, out: Array) -> Array:
    """For flat rows E (batch, Ho, W2 * C) of pixels of C channels, paired into windows
    (columns 2j, 2j+1): out = E of the pixel's left (or right) neighbour in its window,
    False where it has none."""
    right_column = (np.arange(E.shape[-1]) // C) % 2 == 1  # (W2 * C,)
    if side == "left":  # the right column's left neighbour is C numbers before it
        out[..., :C] = False
        np.logical_and(E[..., :-C], right_column[C:], out=out[..., C:])
    else:  # the left column's right neighbour is C numbers after it
        out[..., -C:] = False
        np.logical_and(E[..., C:], ~right_column[:-C], out=out[..., :-C])
    return out


def relu_mask_in_pool(layers: list) -> None:
    """Speed trick for a ReLU followed by a 2x2 pool (`relu,pool2`): the ReLU's backward
    pass, dZ = dA * (A > 0) over its whole output, is left to the pool, which masks its
    own, four times smaller, gradient with its output instead (A > 0 there). The pool
    routes each window's gradient to a position holding the window's maximum, which is
    that position's ReLU output, so the masks agree wherever the gradient is not 0: the
    same numbers (the plain form: `ReLU.backward` on the pool's dX)."""
    for relu, pool in zip(layers[:-1], layers[1:], strict=True):
        if relu.spec == "relu" and pool.spec == "pool2" and is_pool2x2(pool):
            relu.pool_after, pool.relu_before = pool, True
