"""Layers for images: Conv2D, MaxPooling2D and Flatten, channels-last as in Keras.

Images are (batch, height, width, channels). Each layer's forward pass sits above
its backward pass, as in layers.py.

    Conv2D         forward:  Z = cols(X) @ W + b
                   backward: dW = cols(X).T @ dZ, db = sum(dZ), dX = col2im(dZ @ W.T)
    MaxPooling2D   forward:  A = the largest value of each window
                   backward: dX = dA at the window's first largest value, 0 elsewhere
    Flatten        forward:  A = X.reshape(batch, -1)
                   backward: dX = dA.reshape(X.shape)

`cols(X)` ("im2col") lays every kernel-sized window of X out as one row, so the
convolution becomes one matrix product with the kernel reshaped to a matrix, and
its backward pass two more. Both copy with a loop over the kernel's offsets
(9 steps for a 3x3 kernel), never over images or pixels. The 2x2 pool's speed
tricks, and their plain forms, are named in conv_speed.py.

Specs: `conv32x3` (32 filters, 3x3, stride 1, 'valid' padding), `conv32x3s2`
(stride 2), `conv32x3same` / `conv32x3s2same` ('same' padding, as Keras pads:
the extra row or column goes at the bottom and right); `pool2` (2x2 windows,
stride 2), `pool3s2` (3x3 windows, stride 2); `flatten`.
"""

from __future__ import annotations

import math
import re

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from scratch import initializers
from scratch.conv_speed import is_pool2x2, pool2x2_backward_fast, pool2x2_forward_fast
from scratch.errors import ConfigError
from scratch.layers import Array, Layer, Shape, register_layer


class Conv2D(Layer):
    """Z[n, i, j, f] = sum over (di, dj, c) of X[n, s*i + di, s*j + dj, c] * W[di, dj, c, f]
    + b[f]: each filter f slides over the image with stride s."""

    takes_images, spec_help = True, "convFxK[sS][same]"
    param_names, grad_names, regularized_names = ("W", "b"), ("dW", "db"), ("W",)

    def __init__(self, filters: int, kernel: int, stride: int = 1, padding: str = "valid"):
        self.filters, self.kernel, self.stride, self.padding = filters, kernel, stride, padding

    @classmethod
    def from_spec(cls, argument: str) -> Conv2D:
        match = re.fullmatch(r"(\d+)x(\d+)(?:s(\d+))?(same|valid)?", argument)
        numbers = [int(n) for n in match.groups()[:3] if n] if match else []
        if not match or min(numbers) < 1:
            raise ConfigError(
                f"conv needs FILTERSxKERNEL[sSTRIDE][same], e.g. conv32x3 or conv64x3s2same, "
                f"got 'conv{argument}'"
            )
        filters, kernel, stride = int(match[1]), int(match[2]), int(match[3] or 1)
        return cls(filters, kernel, stride, match[4] or "valid")

    @property
    def spec(self) -> str:
        stride = f"s{self.stride}" if self.stride != 1 else ""
        return f"conv{self.filters}x{self.kernel}{stride}{'same' if self.padding == 'same' else ''}"

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise ConfigError(
                f"{self.spec} needs images (height, width, channels), got {input_shape}"
            )
        height, width, _ = input_shape
        out = [_conv_size(size, self.kernel, self.stride, self.padding) for size in (height, width)]
        if min(out) < 1:
            raise ConfigError(
                f"{self.spec}: a {self.kernel}x{self.kernel} kernel does not fit in its "
                f"{height}x{width} input; use a smaller kernel or 'same' padding"
            )
        return (out[0], out[1], self.filters)

    def numbers_per_sample(self, input_shape: Shape) -> int:
        """Its output, and its im2col rows: Ho * Wo windows of k * k * C numbers."""
        Ho, Wo, F = self.output_shape(input_shape)
        return Ho * Wo * (F + self.kernel**2 * input_shape[2])

    def build(self, input_shape: Shape, dtype: np.dtype, init: str, rng: np.random.Generator):
        k, channels, filters = self.kernel, input_shape[2], self.filters
        fan_in, fan_out = k * k * channels, k * k * filters  # as Keras counts a conv kernel's fans
        W = initializers.draw(init, (k, k, channels, filters), fan_in, fan_out, rng)
        self.W = np.ascontiguousarray(W, dtype=dtype)  # (k, k, channels, filters)
        self.b = np.zeros(filters, dtype)  # (filters,)
        self.dW, self.db = np.zeros_like(self.W), np.zeros_like(self.b)
        self.input_shape = input_shape
        return self.output_shape(input_shape)

    def forward(self, X: Array) -> Array:
        batch, (Ho, Wo, F) = len(X), self.output_shape(X.shape[1:])
        Xp = self.padded(X)  # (batch, Hp, Wp, C)
        cols = self.buffer("cols", (batch, Ho, Wo, self.kernel, self.kernel, X.shape[3]), X.dtype)
        im2col(Xp, self.kernel, self.stride, out=cols)  # (batch, Ho, Wo, k, k, C)
        self.cols = cols.reshape(batch * Ho * Wo, -1)  # one row per output pixel
        Z = self.buffer("Z", (batch * Ho * Wo, F), X.dtype)
        np.matmul(self.cols, self.W.reshape(-1, F), out=Z)  # cols @ W
        Z += self.b
        return Z.reshape(batch, Ho, Wo, F)  # (batch, Ho, Wo, filters)

    def backward(self, dZ: Array, need_dX: bool = True) -> Array | None:
        F = self.filters
        dZ_rows = dZ.reshape(-1, F)  # (batch * Ho * Wo, filters)
        np.matmul(self.cols.T, dZ_rows, out=self.dW.reshape(-1, F))  # dW = cols.T @ dZ
        np.matmul(self.ones(len(dZ_rows), dZ.dtype), dZ_rows, out=self.db)  # db = dZ_rows.sum(0)
        if not need_dX:
            return None
        batch, Ho, Wo, _ = dZ.shape
        dXp = self.buffer("dXp", self.padded_shape(batch), dZ.dtype)  # (batch, Hp, Wp, C)
        share = self.buffer("share", (batch, Ho, Wo, self.input_shape[2]), dZ.dtype)
        col2im(dZ_rows, self.W, self.stride, out=dXp, share=share)  # dX = col2im(dZ @ W.T)
        top, left = self.pads()[0][0], self.pads()[1][0]
        height, width, _ = self.input_shape
        return dXp[:, top : top + height, left : left + width, :]  # (batch, H, W, C)

    def pads(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(top, bottom), (left, right) zero rows and columns: none for 'valid'; for
        'same' as TensorFlow pads, the odd one at the bottom or right."""
        height, width, _ = self.input_shape
        return tuple(
            _same_pads(size, self.kernel, self.stride, self.padding) for size in (height, width)
        )

    def padded_shape(self, batch: int) -> Shape:
        (top, bottom), (left, right) = self.pads()
        height, width, channels = self.input_shape
        return (batch, top + height + bottom, left + width + right, channels)

    def padded(self, X: Array) -> Array:
        (top, bottom), (left, right) = self.pads()
        if top == bottom == left == right == 0:
            return X
        Xp = self.buffer("Xp", self.padded_shape(len(X)), X.dtype, fill=0)
        Xp[:, top : top + X.shape[1], left : left + X.shape[2], :] = X  # the border stays 0
        return Xp


def im2col(Xp: Array, k: int, s: int, out: Array) -> Array:
    """out[n, i, j, di, dj, c] = Xp[n, s*i + di, s*j + dj, c]: every k x k window of the
    padded images as one row of k*k*C numbers, in the kernel's (di, dj, c) order."""
    windows = sliding_window_view(Xp, (k, k), axis=(1, 2))[:, ::s, ::s]  # (N, Ho, Wo, C, k, k)
    np.copyto(out, windows.transpose(0, 1, 2, 4, 5, 3))  # a view until this one copy
    return out


def col2im(dZ_rows: Array, W: Array, s: int, out: Array, share: Array) -> Array:
    """dXp, the gradient of the padded input: each window's share, dZ @ W.T, added back
    where the window came from (windows overlap, so a pixel collects from each window
    it is in). Speed trick "one kernel offset at a time": dZ @ W[di, dj].T is
    (N * Ho * Wo, C), so the plain form's (N * Ho * Wo, k * k * C) array dZ @ W.T is
    never made (the same sums; tests/test_scratch_conv.py compares the two)."""
    N, Ho, Wo = share.shape[:3]
    k = W.shape[0]
    out.fill(0)
    for di in range(k):
        for dj in range(k):
            np.matmul(dZ_rows, W[di, dj].T, out=share.reshape(N * Ho * Wo, -1))
            out[:, di : di + s * Ho : s, dj : dj + s * Wo : s, :] += share  # (N, Ho, Wo, C)
    return out


class MaxPooling2D(Layer):
    """A[n, i, j, c] = the largest X[n, s*i + di, s*j + dj, c] over the pool's window."""

    takes_images, spec_help = True, "poolP[sS]"

    def __init__(self, pool: int, stride: int | None = None) -> None:
        self.pool, self.stride = pool, stride or pool
        self.relu_before = False  # True: it applies the mask of the ReLU before it (conv_speed)

    @classmethod
    def from_spec(cls, argument: str) -> MaxPooling2D:
        match = re.fullmatch(r"(\d+)(?:s(\d+))?", argument)
        if not match or int(match[1]) < 1 or (match[2] and int(match[2]) < 1):
            raise ConfigError(
                f"pool needs POOL[sSTRIDE], e.g. pool2 or pool3s2, got 'pool{argument}'"
            )
        return cls(int(match[1]), int(match[2]) if match[2] else None)

    @property
    def spec(self) -> str:
        return f"pool{self.pool}" + (f"s{self.stride}" if self.stride != self.pool else "")

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise ConfigError(
                f"{self.spec} needs images (height, width, channels), got {input_shape}"
            )
        height, width, channels = input_shape
        out = [_conv_size(size, self.pool, self.stride, "valid") for size in (height, width)]
        if min(out) < 1:
            raise ConfigError(
                f"{self.spec}: a {self.pool}x{self.pool} pool leaves nothing of its "
                f"{height}x{width} input; remove it or pool less"
            )
        return (out[0], out[1], channels)

    def forward(self, X: Array) -> Array:
        self.X = X  # (batch, H, W, C)
        if is_pool2x2(self):  # speed trick: the same numbers (conv_speed.py)
            self.A = pool2x2_forward_fast(self, X)
            return self.A
        Ho, Wo, _ = self.output_shape(X.shape[1:])
        A = self.buffer("A", (len(X), Ho, Wo, X.shape[3]), X.dtype)
        first, *others = self.window_views(X, Ho, Wo)
        np.copyto(A, first)
        for window in others:  # A = the max over the window's positions
            np.maximum(A, window, out=A)
        self.A = A
        return A  # (batch, Ho, Wo, C)

    def backward(self, dA: Array, need_dX: bool = True) -> Array:
        """Each window's gradient goes to the position that holds its max; where several
        hold it, to the first in row-major order, as TensorFlow's MaxPoolGrad does."""
        if is_pool2x2(self):  # speed trick: the same numbers (conv_speed.py)
            return pool2x2_backward_fast(self, dA)
        dX = self.buffer("dX", self.X.shape, dA.dtype)
        dX.fill(0)
        Ho, Wo = dA.shape[1:3]
        taken = self.buffer("taken", dA.shape, np.bool_)  # windows already routed
        taken.fill(False)
        first_max = self.buffer("first_max", dA.shape, np.bool_)
        share = self.buffer("share", dA.shape, dA.dtype)
        X_windows, dX_windows = self.window_views(self.X, Ho, Wo), self.window_views(dX, Ho, Wo)
        for X_window, dX_window in zip(X_windows, dX_windows, strict=True):
            np.equal(X_window, self.A, out=first_max)  # this position holds the max ...
            np.greater(first_max, taken, out=first_max)  # ... and no earlier one did
            taken |= first_max
            dX_window += np.multiply(dA, first_max, out=share)  # (windows may overlap: +=)
        return dX  # (batch, H, W, C)

    def window_views(self, X: Array, Ho: int, Wo: int) -> list[Array]:
        """For each position (di, dj) of a window, row by row: the (batch, Ho, Wo, C) view
        of X holding that position of every window."""
        s = self.stride
        return [X[:, di : di + s * Ho : s, dj : dj + s * Wo : s, :] for di, dj in self.offsets()]

    def offsets(self) -> list[tuple[int, int]]:
        """The positions of a window, row by row."""
        return [(di, dj) for di in range(self.pool) for dj in range(self.pool)]


class Flatten(Layer):
    """A = X.reshape(batch, -1): each image as one row, in channels-last order (as Keras)."""

    def output_shape(self, input_shape: Shape) -> Shape:
        return (math.prod(input_shape),)

    def forward(self, X: Array) -> Array:
        self.input_shape = X.shape
        return X.reshape(len(X), -1)  # (batch, H * W * C); a view when X is contiguous

    def backward(self, dA: Array, need_dX: bool = True) -> Array:
        return dA.reshape(self.input_shape)  # (batch, H, W, C)


def _conv_size(size: int, kernel: int, stride: int, padding: str) -> int:
    """Output length along one axis: 'same' gives ceil(size / stride) (zero-padded);
    'valid' gives floor((size - kernel) / stride) + 1, or 0 if the kernel does not fit."""
    if padding == "same":
        return -(-size // stride)
    return (size - kernel) // stride + 1 if size >= kernel else 0


def _same_pads(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int]:
    if padding != "same":
        return (0, 0)
    total = max((_conv_size(size, kernel, stride, "same") - 1) * stride + kernel - size, 0)
    return (total // 2, total - total // 2)


register_layer("conv", Conv2D)
register_layer("pool", MaxPooling2D)
register_layer("flatten", Flatten)
