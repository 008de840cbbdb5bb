"""The model config: the single source of truth for both networks.

The scratch network is built from a `ModelConfig`, and so is its Keras twin
(`keras_baseline`), so the two can never silently disagree on layers, loss,
initializer, optimizer settings or dtype. Every field is validated here, up front,
with an error that says what to do.

The layer stack is a list of layer specs (layers.py): `("dense128", "relu",
"dense10")`. The output activation is not in it: it comes with the loss (softmax
for crossentropy, sigmoid for mse). For a multilayer perceptron the shorthand
`hidden_sizes=(128,), activation="relu"` gives exactly that list. `layers`, when
given, is the stack itself, and `hidden_sizes`/`activation` then describe it; a
stack that is such a perceptron is stored in the shorthand form, so one network
has one config.
"""

from __future__ import annotations

import math
import numbers
import sys
from dataclasses import asdict, dataclass, fields
from typing import Any

import scratch.conv  # noqa: F401  (registers the conv, pool and flatten layer specs)
from scratch.errors import ConfigError, must_be
from scratch.layers import ACTIVATION_LAYERS, Dense, make_layer

ACTIVATIONS = ("relu", "sigmoid", "tanh")
# The loss fixes the output layer: crossentropy goes with softmax, mse with sigmoid
# (the textbook "quadratic cost" network).
LOSSES = ("crossentropy", "mse")
OUTPUT_ACTIVATION = {"crossentropy": "softmax", "mse": "sigmoid"}
INITIALIZERS = ("glorot_uniform", "he_normal", "normal")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
# Each optimizer's learning rate when no preset, config file or flag sets one (compare's
# run config uses it; ModelConfig's own default is SGD's).
DEFAULT_LEARNING_RATE = {"sgd": 0.1, "momentum": 0.01, "nesterov": 0.01, "adam": 0.001}
DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and training rule of one multilayer perceptron.

    `momentum` is used only by the `momentum` and `nesterov` optimizers; `beta_1`,
    `beta_2` and `epsilon` only by `adam`. `l2` adds `l2 * sum(W**2)` over every
    kernel (not the biases) to the loss, exactly as `keras.regularizers.L2` does.
    `lr_decay` makes the learning rate at optimizer step t (updates already applied,
    from 0) `learning_rate / (1 + lr_decay * t)`: Keras's
    `InverseTimeDecay(learning_rate, decay_steps=1, decay_rate=lr_decay)`, the classic
    `decay` argument. 0 keeps the learning rate constant.
    """

    input_size: int = 784
    hidden_sizes: tuple[int, ...] = (128,)
    output_size: int = 10
    activation: str = "relu"
    loss: str = "crossentropy"
    init: str = "glorot_uniform"
    optimizer: str = "sgd"
    learning_rate: float = DEFAULT_LEARNING_RATE["sgd"]
    momentum: float = 0.9
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7
    l2: float = 0.0
    dtype: str = "float32"
    lr_decay: float = 0.0
    layers: tuple[str, ...] = ()  # the layer specs; () means: built from hidden_sizes

    def __post_init__(self) -> None:
        # Accept one size or any sequence of sizes (a list from TOML, NumPy integers)
        # but store a tuple of plain ints.
        object.__setattr__(self, "hidden_sizes", _as_sizes(self.hidden_sizes))
        for name in ("input_size", "output_size"):
            value = getattr(self, name)
            if is_integer(value):
                object.__setattr__(self, name, int(value))
        if self.layers:
            self._take_layers()
        self._validate()

    def _take_layers(self) -> None:
        """Check the given stack and set hidden_sizes/activation from it."""
        layers = self.layers
        if isinstance(layers, str) or not hasattr(layers, "__iter__"):
            raise ConfigError(f'layers must be a list of layer specs, e.g. ["dense128", "relu", '
                              f'"dense10"], got {layers!r}')  # fmt: skip
        layers = tuple(layers)
        object.__setattr__(self, "layers", layers)
        built = [make_layer(spec) for spec in layers]
        _require_positive_int("input_size", self.input_size)
        shape = self.input_shape
        for layer in built:
            shape = layer.output_shape(shape)
        if not isinstance(built[-1], Dense) or built[-1].units != self.output_size:
            raise ConfigError(
                f"the last layer must be dense{self.output_size} (one unit per class; the loss "
                f"adds the output activation), got {layers[-1]!r}"
            )
        if len(built) == 1:
            raise ConfigError(
                f"layers {layers[0]} has nothing before the output layer: give at least one, "
                f"e.g. dense128,relu,dense{self.output_size}"
            )
        hidden = tuple(layer.units for layer in built[:-1] if isinstance(layer, Dense))
        kinds = {spec for spec in layers if spec in ACTIVATION_LAYERS}
        activation = next(iter(kinds)) if len(kinds) == 1 else "mixed" if kinds else "none"
        _require_agreement(layers, {"hidden_sizes": hidden, "activation": activation}, self)
        object.__setattr__(self, "hidden_sizes", hidden)
        object.__setattr__(self, "activation", activation)
        if hidden and _mlp_specs(hidden, activation, self.output_size) == layers:
            object.__setattr__(self, "layers", ())  # one network, one form: the shorthand

    def _validate(self) -> None:
        for name in ("input_size", "output_size"):
            _require_positive_int(name, getattr(self, name))
        if not self.layers:
            if not self.hidden_sizes:
                raise ConfigError(
                    "hidden_sizes is empty: give at least one hidden layer, e.g. (128,)"
                )
            for size in self.hidden_sizes:
                _require_positive_int("hidden_sizes", size)
            _require_choice("activation", self.activation, ACTIVATIONS)
        _require_choice("loss", self.loss, LOSSES)
        _require_choice("init", self.init, INITIALIZERS)
        _require_choice("optimizer", self.optimizer, OPTIMIZERS)
        _require_choice("dtype", self.dtype, DTYPES)
        require_number("learning_rate", self.learning_rate, low=0.0, low_open=True)
        require_number("momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        if self.optimizer in ("momentum", "nesterov") and self.momentum == 0:
            raise ConfigError(
                f"optimizer {self.optimizer!r} needs momentum > 0 (with 0 it is plain SGD: "
                "use optimizer 'sgd')"
            )
        require_number("beta_1", self.beta_1, low=0.0, high=1.0, high_open=True)
        require_number("beta_2", self.beta_2, low=0.0, high=1.0, high_open=True)
        require_number("epsilon", self.epsilon, low=0.0, low_open=True)
        require_number("l2", self.l2, low=0.0)
        require_number("lr_decay", self.lr_decay, low=0.0)

    @property
    def layer_specs(self) -> tuple[str, ...]:
        """The layer stack, e.g. ("dense128", "relu", "dense10"): `layers`, or the
        multilayer perceptron that hidden_sizes and activation describe."""
        return self.layers or _mlp_specs(self.hidden_sizes, self.activation, self.output_size)

    @property
    def is_mlp(self) -> bool:
        """True when the stack is Dense layers with one hidden activation between them."""
        mlp = _mlp_specs(self.hidden_sizes, self.activation, self.output_size)
        return (
            bool(self.hidden_sizes) and self.activation in ACTIVATIONS and (mlp == self.layer_specs)
        )

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One sample's shape: (784,) rows, or (28, 28, 1) images when the stack starts
        with a layer that takes images (conv, pool)."""
        first = make_layer(self.layers[0]) if self.layers else None
        side = math.isqrt(self.input_size)
        if first is not None and first.takes_images:
            if side * side != self.input_size:
                raise ConfigError(
                    f"{self.layers[0]} takes square images, but input_size {self.input_size} "
                    "is not a square number of pixels"
                )
            return (side, side, 1)
        return (self.input_size,)

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """The input width, then each Dense layer's width: (784, *hidden_sizes, 10)."""
        return (self.input_size, *self.hidden_sizes, self.output_size)

    def describe(self) -> str:
        """e.g. '784-128-10 relu/crossentropy float32' (a stack that is not a multilayer
        perceptron: '784 dense64,scale,relu,dense10/crossentropy float32')."""
        if self.is_mlp:
            sizes = "-".join(str(size) for size in self.layer_sizes)
            return f"{sizes} {self.activation}/{self.loss} {self.dtype}"
        shape = "x".join(str(n) for n in self.input_shape)
        return f"{shape} {','.join(self.layers)}/{self.loss} {self.dtype}"

    @property
    def output_activation(self) -> str:
        """softmax for crossentropy, sigmoid for mse."""
        return OUTPUT_ACTIVATION[self.loss]

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (lists, not tuples), ready for JSON or TOML."""
        data = asdict(self)
        data["hidden_sizes"] = list(self.hidden_sizes)
        if self.layers:  # the stack says it all; hidden_sizes/activation are derived from it
            data["layers"] = list(self.layers)
            del data["hidden_sizes"], data["activation"]
        else:
            del data["layers"]  # the shorthand says it all (and older readers know no layers)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build from a mapping; an unknown key is an error, not silently ignored."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"unknown model config key(s) {', '.join(unknown)}; "
                f"valid keys are: {', '.join(sorted(known))}"
            )
        return cls(**data)


def _require_agreement(layers: tuple, derived: dict[str, Any], config: ModelConfig) -> None:
    """hidden_sizes and activation, if set to other than their defaults, must be what
    the stack `layers` gives."""
    for name, value in derived.items():
        given = getattr(config, name)
        if given != getattr(ModelConfig, name) and given != value:
            shown = list(given) if isinstance(given, tuple) else given
            raise ConfigError(
                f"{name} {shown} conflicts with layers {','.join(layers)}: give the stack "
                "once, as layers or as hidden_sizes and activation"
            )


def _mlp_specs(hidden_sizes: tuple[int, ...], activation: str, output_size: int) -> tuple:
    """("dense128", "relu", "dense10") from (128,), "relu", 10."""
    specs: list[str] = []
    for units in hidden_sizes:
        specs += [f"dense{units}", activation]
    return (*specs, f"dense{output_size}")


def is_integer(value: Any) -> bool:
    """An int or NumPy integer, but not a bool (True is an int in Python)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _as_sizes(hidden: Any) -> tuple:
    """hidden_sizes as a tuple: ints become plain ints, anything else is left for
    `_validate` to reject with a message that names it."""
    if is_integer(hidden):
        return (int(hidden),)
    if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
        raise ConfigError(
            f"hidden_sizes must be a list of positive integers, e.g. [128] or [256, 128], "
            f"got {hidden!r}"
        )
    return tuple(int(size) if is_integer(size) else size for size in hidden)


def _require_positive_int(name: str, value: Any) -> None:
    if not is_integer(value) or value < 1:
        raise ConfigError(f"{name} {must_be('a whole number', 1)}, got {value!r}", key=name)


def _require_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")


def require_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """A finite number within the bounds, or a one-line ConfigError naming `name`."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > sys.float_info.max:
        digits = len(str(abs(value)))  # too large for a float: math.isfinite would raise
        raise ConfigError(f"{name} must be a finite number, got a {digits}-digit integer", key=name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}", key=name)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        rule = must_be("a number", low, high, low_open=low_open, high_open=high_open)
        raise ConfigError(f"{name} {rule}, got {value!r}", key=name)
