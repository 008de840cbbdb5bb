"""The run config: everything `mnist-compare run` needs, resolved from four layers.

Precedence, lowest first: built-in defaults < preset < TOML config file < command-line
flags. Each layer is a nested dict of *overrides* (`{"epochs": 3, "model": {...}}`);
`resolve` merges them, fills the per-optimizer learning-rate default when no layer
set one, and validates the result into a `RunConfig`. The model part is
`scratch.config.ModelConfig`, the single source of truth for both networks.

`to_toml` writes the fully resolved config; reading it back with `load_toml` and
`resolve` gives an equal `RunConfig` (the run folder's `config.toml` repeats a run).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from compare import models as model_registry
from compare.augment import MAX_ROTATE, MAX_SHIFT, MAX_ZOOM, Distortions
from compare.configcheck import check_kinds, check_model_values, check_seeds, read_config_text
from compare.data import DEFAULT_VAL_SIZE
from scratch.config import DEFAULT_LEARNING_RATE, ConfigError, ModelConfig, require_number
from scratch.errors import must_be

MODES = ("lockstep", "independent")
SCHEDULES = ("in-turn", "parallel")  # how worker processes share the machine (docs/run.md)
MNIST_PIXELS, MNIST_CLASSES = 784, 10  # what every MNIST run feeds the model
MAX_VAL_SIZE = 59_999


@dataclass(frozen=True)
class DataConfig:
    """Where MNIST comes from and how it is split and preprocessed."""

    data_dir: str | None = None  # None: $MNIST_DATA_DIR, then the cache, then download
    verify: bool = True
    val_size: int = DEFAULT_VAL_SIZE
    limit_train: int | None = None  # None: every training image left after validation
    standardize: bool = False
    # random distortions of each training image (compare.augment): up to `shift` pixels
    # down and across, `rotate` degrees, and a scale factor from 1 - zoom to 1 + zoom
    shift: float = 0.0
    rotate: float = 0.0
    zoom: float = 0.0

    def __post_init__(self) -> None:
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            raise ConfigError(f"data.data_dir must be a string path, got {self.data_dir!r}")
        _require_bool("data.verify", self.verify)
        _require_bool("data.standardize", self.standardize)
        _require_int("data.val_size", self.val_size, low=0, high=MAX_VAL_SIZE)
        if self.limit_train is not None:
            _require_int("data.limit_train", self.limit_train, low=1)
        require_number("data.shift", self.shift, low=0.0, high=MAX_SHIFT)
        require_number("data.rotate", self.rotate, low=0.0, high=MAX_ROTATE)
        require_number("data.zoom", self.zoom, low=0.0, high=MAX_ZOOM)
        for name in ("shift", "rotate", "zoom"):  # 2, 2.0 (and -0, 0) are one setting
            object.__setattr__(self, name, float(getattr(self, name)) + 0.0)

    @property
    def distortions(self) -> Distortions:
        return Distortions(self.shift, self.rotate, self.zoom)


@dataclass(frozen=True)
class RunConfig:
    """One `mnist-compare run`: the model, the data, and how training is driven."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    epochs: int = 10
    batch_size: int = 32
    seed: int = 0
    seeds: int = 1  # repeat for seeds seed, seed+1, ..., seed+seeds-1
    mode: str = "lockstep"  # lockstep: every model starts from the first one's weights
    models: tuple[str, ...] = model_registry.DEFAULT_MODELS
    preset: str | None = None  # informational: the preset the config started from
    blas_threads: int = 1  # threads for each model: BLAS, TensorFlow (0: the libraries' default)
    schedule: str = "in-turn"  # models train one after another, or all at once (docs/run.md)

    def __post_init__(self) -> None:
        models = self.models
        if isinstance(models, str):
            models = tuple(m.strip() for m in models.split(",") if m.strip())
        object.__setattr__(self, "models", tuple(models))
        _require_int("epochs", self.epochs, low=1)
        _require_int("batch_size", self.batch_size, low=1)
        _require_int("seed", self.seed, low=0)
        _require_int("seeds", self.seeds, low=1)
        check_seeds(self.seed, self.seeds)
        _require_int("blas_threads", self.blas_threads, low=0)
        if self.schedule not in SCHEDULES:
            raise ConfigError(
                f"unknown schedule {self.schedule!r}; choose one of: {', '.join(SCHEDULES)}"
            )
        if self.mode not in MODES:
            raise ConfigError(f"unknown mode {self.mode!r}; choose one of: {', '.join(MODES)}")
        registered = model_registry.names()
        if not self.models or any(m not in registered for m in self.models):
            given = ",".join(str(m) for m in self.models) or "(none)"
            how_many = "one or both" if len(registered) == 2 else "one or more"
            raise ConfigError(f"models must be {how_many} of {','.join(registered)}; got {given}")
        if len(set(self.models)) != len(self.models):
            raise ConfigError(f"models lists a model twice: {','.join(self.models)}")
        if self.preset is not None and not isinstance(self.preset, str):
            raise ConfigError(f'preset must be a name such as "seed-project", got {self.preset!r}')
        if (self.model.input_size, self.model.output_size) != (MNIST_PIXELS, MNIST_CLASSES):
            raise ConfigError(
                f"model.input_size and model.output_size must be {MNIST_PIXELS} and "
                f"{MNIST_CLASSES} for MNIST (28x28 images, digits 0-9), got "
                f"{self.model.input_size} and {self.model.output_size}; drop them from the config"
            )
        if (
            self.mode == "lockstep"
            and len(self.models) >= 2
            and any(spec.startswith("dropout") for spec in self.model.layer_specs)
        ):
            raise ConfigError(
                "dropout's random masks differ between the models, so they cannot train in "
                "lockstep: add --mode independent"
            )
        # The registry's order: scratch first (lockstep copies its weights to the others).
        object.__setattr__(self, "models", tuple(m for m in registered if m in self.models))

    @property
    def lockstep(self) -> bool:
        """True when the weight differences between the models are tracked."""
        return self.mode == "lockstep" and len(self.models) >= 2

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seed, self.seed + self.seeds))

    def tag(self) -> str:
        """A short name for the output folder, e.g. `784-128-10-relu-sgd-e10`."""
        sizes = "-".join(str(s) for s in self.model.layer_sizes)
        return f"{sizes}-{self.model.activation}-{self.model.optimizer}-e{self.epochs}"

    def to_dict(self) -> dict[str, Any]:
        """Plain types only; None values are dropped (TOML has no null)."""
        top = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("model", "data") and getattr(self, f.name) is not None
        }
        top["models"] = list(self.models)
        data = {
            f.name: getattr(self.data, f.name)
            for f in fields(self.data)
            if getattr(self.data, f.name) is not None
        }
        return {**top, "model": self.model.to_dict(), "data": data}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        """Build from a nested mapping; unknown keys at any level are an error."""
        values = dict(values)
        _reject_unknown("run config:", values, {f.name for f in fields(cls)})
        model = values.pop("model", {})
        data = values.pop("data", {})
        if not isinstance(model, dict) or not isinstance(data, dict):
            raise ConfigError("[model] and [data] must be tables (sections) in the config file")
        _reject_unknown("[data]:", data, {f.name for f in fields(DataConfig)})
        check_kinds("", values, {"mode"})
        check_model_values(model)
        return cls(model=ModelConfig.from_dict(model), data=DataConfig(**data), **values)


def merge(*layers: dict[str, Any]) -> dict[str, Any]:
    """Merge override dicts left to right; nested `model`/`data` tables merge key by key."""
    merged: dict[str, Any] = {"model": {}, "data": {}}
    for layer in layers:
        for key, value in layer.items():
            if key in ("model", "data") and isinstance(value, dict):
                if key == "model":
                    _drop_other_stack_form(merged["model"], value)
                merged[key].update(value)
            else:
                merged[key] = value
    return merged


STACK_SHORTHAND = ("hidden_sizes", "activation")


def _drop_other_stack_form(model: dict[str, Any], override: dict[str, Any]) -> None:
    """A later layer that gives the stack as `layers` replaces an earlier hidden_sizes /
    activation (`--preset textbook --layers ...` is the preset's loss and optimizer
    with these layers), and a later hidden_sizes replaces earlier `layers`."""
    if "layers" in override:
        both = [key for key in STACK_SHORTHAND if key in override]
        if both:
            raise ConfigError(
                f"layers and {' and '.join(both)} given together: give the stack once, as "
                "layers (--layers) or as hidden_sizes and activation (--hidden, --activation)"
            )
        for key in STACK_SHORTHAND:
            model.pop(key, None)
    elif "hidden_sizes" in override:
        model.pop("layers", None)


def resolve(*layers: dict[str, Any]) -> RunConfig:
    """Defaults < layers (in order) -> a validated RunConfig.

    When no layer sets `model.learning_rate`, the optimizer's default from
    `DEFAULT_LEARNING_RATE` is used.
    """
    merged = merge(*layers)
    model = merged["model"]
    if "learning_rate" not in model:
        optimizer = model.get("optimizer", ModelConfig.optimizer)
        if isinstance(optimizer, str) and optimizer in DEFAULT_LEARNING_RATE:
            model["learning_rate"] = DEFAULT_LEARNING_RATE[optimizer]
    return RunConfig.from_dict(merged)


def load_toml(path: str | Path, extra_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """Read a TOML config file as an override layer; errors are one line. `extra_keys` are
    accepted at the top level too (a sweep file's `grid` and `variants`)."""
    path = Path(path)
    try:
        values = tomllib.loads(read_config_text(path).decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found; check the --config path") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read config file {path}: {error}") from None
    except (tomllib.TOMLDecodeError, ValueError) as error:  # ValueError: a 4,301-digit int
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    known = {f.name for f in fields(RunConfig)} | set(extra_keys)
    _reject_unknown(f"config file {path}:", values, known)
    for table, known in (("model", ModelConfig), ("data", DataConfig)):
        section = values.get(table, {})
        if not isinstance(section, dict):
            raise ConfigError(f"config file {path}: {table} must be a [{table}] table")
        _reject_unknown(f"config file {path}: [{table}]", section, {f.name for f in fields(known)})
    return values


def to_toml(config: RunConfig, header: str = "") -> str:
    """The config as TOML text (top-level keys, then [model] and [data])."""
    values = config.to_dict()
    lines = [f"# {line}" for line in header.splitlines()]
    tables = {key: values.pop(key) for key in ("model", "data")}
    lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    for name, table in tables.items():
        lines += ["", f"[{name}]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # shortest repr that round-trips; 'inf'/'nan' rejected upstream
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def _reject_unknown(where: str, values: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(set(values) - known)
    if unknown:
        valid = ", ".join(sorted(known))
        raise ConfigError(f"{where} unknown key(s) {', '.join(unknown)}; valid keys are: {valid}")


def parse_hidden(text: str) -> list[int]:
    """--hidden's '256,128' -> [256, 128] (for `run` and `check`); anything else is a
    one-line ConfigError."""
    parts = [part.strip() for part in text.split(",")]
    if not parts or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise ConfigError(
            f"--hidden must be whole numbers >= 1 separated by commas, e.g. 256,128; got {text!r}"
        )
    return [int(part) for part in parts]


def _require_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}", key=name)


def _require_int(name: str, value: Any, *, low: int, high: float = math.inf) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name} {must_be('a whole number', low, high)}, got {value!r}", key=name)
