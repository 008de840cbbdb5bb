"""The layers: each one's forward pass, and right under it, its backward pass.

A layer turns its input X into an output; `backward` gets the gradient of the
loss with respect to that output and returns the gradient with respect to X,
after filling the gradients of its own parameters (`dW`, `db`). `Sequential`
(network.py) chains them: forward from first to last, backward from last to first.

    layer      forward                      backward
    Dense      Z = X @ W + b                dW = X.T @ dZ, db = dZ.sum(axis=0), dX = dZ @ W.T
    ReLU       A = max(Z, 0)                dZ = dA * (A > 0)
    Sigmoid    A = 1 / (1 + exp(-Z))        dZ = dA * A * (1 - A)
    Tanh       A = tanh(Z)                  dZ = dA * (1 - A**2)

The output layer's activation (softmax or sigmoid) is paired with the loss in
losses.py, because their backward passes are simplest taken together.

Each layer writes its output into an array it keeps and reuses while the batch
size stays the same (`out=` below), so a training step allocates little. A layer
never writes into its input, which the layer before it still owns; a backward pass
may write into the gradient it was given, which nobody needs afterwards. The
backward formulas follow the order of operations of TensorFlow's gradient
kernels (ReluGrad, SigmoidGrad, TanhGrad), so in float64 they round as Keras does.

A layer is named in a config by a short spec: `dense128`, `relu`, `sigmoid`,
`tanh` (see `LAYER_TYPES` and `register_layer` at the end).
"""

from __future__ import annotations

import math
import re

import numpy as np

from scratch import initializers
from scratch.conv_speed import is_pool2x2
from scratch.errors import ConfigError

Array = np.ndarray
Shape = tuple[int, ...]  # one sample's shape, without the batch axis


class Layer:
    """The base class: no parameters, and the bookkeeping every layer shares.

    A layer with parameters names them in `param_names` (Keras's order) and their
    gradients in `grad_names`; `Sequential` finds them there.
    """

    takes_images = False  # True: its input is (batch, height, width, channels)
    training = False  # True during a training step's forward pass (dropout uses it)
    spec_help = ""  # how its spec is written, e.g. "denseN" (default: its name)
    param_names: tuple[str, ...] = ()  # e.g. ("W", "b")
    grad_names: tuple[str, ...] = ()  # e.g. ("dW", "db")
    regularized_names: tuple[str, ...] = ()  # the kernels an L2 penalty applies to
    speed_tricks = True  # False: the plain forms only (tests compare the two)

    def output_shape(self, input_shape: Shape) -> Shape:
        """The output shape for an input of `input_shape`; ConfigError if it cannot take it."""
        return input_shape

    def build(self, input_shape: Shape, dtype: np.dtype, init: str, rng: np.random.Generator):
        """Create the parameters for inputs of `input_shape`; returns the output shape."""
        return self.output_shape(input_shape)

    def numbers_per_sample(self, input_shape: Shape) -> int:
        """How many numbers per sample the layer keeps in its arrays (its output)."""
        return math.prod(self.output_shape(input_shape))

    def forward(self, X: Array) -> Array:
        """The output for the batch X; kept arrays are reused by the next call."""
        raise NotImplementedError

    def backward(self, dY: Array, need_dX: bool = True) -> Array | None:
        """`dY` is d(loss)/d(output); returns d(loss)/d(X) (None if not `need_dX`)."""
        raise NotImplementedError

    @property
    def params(self) -> list[Array]:
        return [getattr(self, name) for name in self.param_names]

    @property
    def grads(self) -> list[Array]:
        return [getattr(self, name) for name in self.grad_names]

    @property
    def spec(self) -> str:
        """The spec this layer is written as in a config, e.g. `dense128`."""
        return type(self).spec_name

    spec_name = ""  # set by register_layer

    def output_array(self, X: Array) -> Array:
        """The kept array an elementwise layer writes its output into (shaped like X)."""
        return self.buffer("output", X.shape, X.dtype)

    def ones(self, rows: int, dtype: np.dtype) -> Array:
        """Speed trick "batch sum as a product": ones @ dZ is dZ.sum(axis=0) (the plain
        form), computed by BLAS in one call, about 4x faster for a (128, 128) dZ."""
        return self.buffer("ones", (rows,), dtype, fill=1)

    def buffer(self, name: str, shape: Shape, dtype: np.dtype, fill: float | None = None) -> Array:
        """An array of `shape` kept between calls, made anew (and filled with `fill`,
        if given) when the shape changes."""
        buffers = self.__dict__.setdefault("_buffers", {})
        array = buffers.get(name)
        if array is None or array.shape != shape or array.dtype != dtype:
            array = buffers[name] = np.empty(shape, dtype)
            if fill is not None:
                array.fill(fill)
        return array


class Dense(Layer):
    """Every input unit connected to every output unit: Z = X @ W + b."""

    spec_help = "denseN"
    param_names, grad_names, regularized_names = ("W", "b"), ("dW", "db"), ("W",)

    def __init__(self, units: int) -> None:
        self.units = units

    @classmethod
    def from_spec(cls, argument: str) -> Dense:
        if not argument.isdigit() or int(argument) < 1:
            raise ConfigError(
                f"dense needs a positive number of units, e.g. dense128, got 'dense{argument}'"
            )
        return cls(int(argument))

    @property
    def spec(self) -> str:
        return f"dense{self.units}"

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 1:
            raise ConfigError(
                f"{self.spec} needs flat inputs (one row of features per sample), "
                f"got shape {input_shape}"
            )
        return (self.units,)

    def build(
        self, input_shape: Shape, dtype: np.dtype, init: str, rng: np.random.Generator
    ) -> Shape:
        (fan_in,) = input_shape
        W = initializers.draw(init, (fan_in, self.units), fan_in, self.units, rng)
        self.W = np.ascontiguousarray(W, dtype=dtype)  # (fan_in, units)
        self.b = np.zeros(self.units, dtype)  # (units,)
        self.dW = np.zeros_like(self.W)  # (fan_in, units)
        self.db = np.zeros_like(self.b)  # (units,)
        return self.output_shape(input_shape)

    def forward(self, X: Array) -> Array:
        self.X = X  # (batch, fan_in), kept for the backward pass
        Z = np.matmul(X, self.W, out=self.buffer("Z", (len(X), self.units), X.dtype))  # X @ W
        Z += self.b  # (batch, units)
        return Z

    def backward(self, dZ: Array, need_dX: bool = True) -> Array | None:
        np.matmul(self.X.T, dZ, out=self.dW)  # dW = X.T @ dZ   (fan_in, units)
        np.matmul(self.ones(len(dZ), dZ.dtype), dZ, out=self.db)  # db = dZ.sum(axis=0)   (units,)
        if not need_dX:
            return None  # the first layer: nobody needs the gradient of the pixels
        dX = self.buffer("dX", self.X.shape, dZ.dtype)
        return np.matmul(dZ, self.W.T, out=dX)  # dX = dZ @ W.T   (batch, fan_in)


class ReLU(Layer):
    """A = max(Z, 0)."""

    pool_after = None  # a 2x2 pool right after it, which applies its mask (conv_speed.py)

    def forward(self, Z: Array) -> Array:
        self.A = np.maximum(Z, self.zeros(Z), out=self.output_array(Z))  # A = max(Z, 0)
        return self.A

    def backward(self, dA: Array, need_dX: bool = True) -> Array:
        if self.pool_after is not None and is_pool2x2(self.pool_after):  # speed trick:
            return dA  # the 2x2 pool after it applied the mask (conv_speed.py)
        return np.multiply(dA, self.A > 0, out=dA)  # dZ = dA where the unit was active, else 0

    def zeros(self, Z: Array) -> Array:
        """Speed trick "compare with an array": np.maximum(Z, 0) (the plain form) misses
        NumPy's SIMD loop, which runs only when both operands are arrays of one shape;
        against an array of zeros it is about 3x faster."""
        return self.buffer("zeros", Z.shape, Z.dtype, fill=0)


class Sigmoid(Layer):
    """A = 1 / (1 + exp(-Z))."""

    def forward(self, Z: Array) -> Array:
        self.A = sigmoid(Z, out=self.output_array(Z))  # (batch, units)
        return self.A

    def backward(self, dA: Array, need_dX: bool = True) -> Array:
        return sigmoid_backward(dA, self.A, out=dA)  # dZ = dA * A * (1 - A)


class Tanh(Layer):
    """A = tanh(Z)."""

    def forward(self, Z: Array) -> Array:
        self.A = np.tanh(Z, out=self.output_array(Z))  # (batch, units)
        return self.A

    def backward(self, dA: Array, need_dX: bool = True) -> Array:
        one_minus_A2 = 1 - self.A * self.A  # (batch, units)
        return np.multiply(dA, one_minus_A2, out=dA)  # dZ = dA * (1 - A**2)


class Dropout(Layer):
    """While training: A = X * mask / (1 - rate), each mask entry 0 with probability
    `rate` (a new mask every step); otherwise A = X. Its random masks cannot be matched
    between two models, so a stack with dropout trains in independent mode only."""

    spec_help = "dropoutR"

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.training = False  # Sequential sets it for the forward pass of a training step

    @classmethod
    def from_spec(cls, argument: str) -> Dropout:
        try:
            rate = float(argument)
        except ValueError:
            rate = -1.0
        if not 0 < rate < 1:
            raise ConfigError(
                f"dropout needs a rate in (0, 1), e.g. dropout0.5, got 'dropout{argument}'"
            )
        return cls(rate)

    @property
    def spec(self) -> str:
        return f"dropout{self.rate:g}"

    def build(self, input_shape: Shape, dtype: np.dtype, init: str, rng: np.random.Generator):
        self.rng = np.random.default_rng(rng.integers(2**63))  # its own stream of masks
        return self.output_shape(input_shape)

    def forward(self, X: Array) -> Array:
        if not self.training:
            self.mask = None
            return X
        keep = self.rng.random(X.shape) >= self.rate  # (batch, ...) True: kept
        self.mask = keep * X.dtype.type(1 / (1 - self.rate))  # 0 or 1 / (1 - rate)
        return np.multiply(X, self.mask, out=self.output_array(X))

    def backward(self, dA: Array, need_dX: bool = True) -> Array:
        return dA if self.mask is None else dA * self.mask  # dX = dA * mask / (1 - rate)


def sigmoid(Z: Array, out: Array | None = None) -> Array:
    """1 / (1 + exp(-Z)); exp may overflow to inf for very negative Z, giving 0."""
    out = np.negative(Z, out=out)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)


def sigmoid_backward(dA: Array, A: Array, out: Array | None = None) -> Array:
    """dA * A * (1 - A), in TensorFlow's SigmoidGrad order; `out` may be A itself."""
    one_minus_A = 1 - A  # first, because `out` may be A
    out = np.multiply(dA, A, out=out)
    out *= one_minus_A
    return out


# ----- layer specs: how a config names a layer ------------------------------------------

LAYER_TYPES: dict[str, type[Layer]] = {}


def register_layer(name: str, layer_type: type[Layer]) -> type[Layer]:
    """Make `layer_type` available in configs as `name` (letters only) followed by its
    argument, which `layer_type.from_spec(argument)` parses (no argument: `layer_type()`)."""
    if not re.fullmatch(r"[a-z_]+", name):
        raise ValueError(f"a layer name is lowercase letters, got {name!r}")
    layer_type.spec_name = name
    LAYER_TYPES[name] = layer_type
    return layer_type


for _name, _type in (
    ("dense", Dense), ("relu", ReLU), ("sigmoid", Sigmoid), ("tanh", Tanh), ("dropout", Dropout),
):  # fmt: skip
    register_layer(_name, _type)
ACTIVATION_LAYERS = ("relu", "sigmoid", "tanh")


def make_layer(spec: str) -> Layer:
    """The layer a spec names: `dense128` -> Dense(128), `relu` -> ReLU()."""
    match = re.fullmatch(r"([a-z_]+)(.*)", spec) if isinstance(spec, str) else None
    layer_type = LAYER_TYPES.get(match.group(1)) if match else None
    if layer_type is None:
        known = ", ".join(kind.spec_help or name for name, kind in LAYER_TYPES.items())
        raise ConfigError(f"unknown layer {spec!r}; layers are: {known}")
    argument = match.group(2)
    if hasattr(layer_type, "from_spec"):
        return layer_type.from_spec(argument)
    if argument:
        raise ConfigError(f"layer {match.group(1)} takes no argument, got {spec!r}")
    return layer_type()
