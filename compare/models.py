"""The models compare/ trains side by side: their interface and the registry of them.

`Model` is the interface (a `typing.Protocol`) that the runner, the training loop,
`predict` and the run folder rely on; `scratch.Network` and `keras_baseline.KerasTwin`
both satisfy it. The registry maps a model name to how to build and load it, the
suffix of its saved file, a human label and a colour for the report.

Registered here: `scratch` and `keras`, each named by an import path ("module:attr")
resolved on first use, so TensorFlow is imported only when the Keras twin is built or
loaded. `register` adds another model (the tests add a float64 scratch network).
This module imports only scratch.config (never the networks or TensorFlow); `reports`
never imports it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from scratch.config import ConfigError, ModelConfig


@runtime_checkable
class Model(Protocol):
    """What every compared model offers (docs/architecture.md, "One interface, N models")."""

    config: ModelConfig
    last_batch_correct: int  # right predictions of the last train_step's forward pass

    def train_step(self, x_batch: np.ndarray, y_batch: np.ndarray) -> float: ...

    def loss_and_gradients(
        self, x: np.ndarray, y: np.ndarray
    ) -> tuple[float, list[np.ndarray]]: ...

    def predict_proba(self, x: np.ndarray) -> np.ndarray: ...

    def predict(self, x: np.ndarray) -> np.ndarray: ...

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]: ...

    def get_weights(self) -> list[np.ndarray]: ...

    def set_weights(self, weights: Sequence[np.ndarray]) -> None: ...

    def save(self, path: str | Path) -> Any: ...


# (ModelConfig, seed=...) -> a Model; a model class itself is one.
ModelFactory = Callable[..., Model]
ModelLoader = Callable[[Path], Model]


def resolve_factory(target: str) -> Any:
    """ "package.module:attribute" -> the attribute (imports the module now, not before)."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class ModelSpec:
    """One registered model: how to build and load it, and how it is shown."""

    name: str
    factory: ModelFactory | str  # a factory, or "module:Class" imported on first use
    suffix: str  # of the saved model file: ".npz" or ".keras"
    label: str  # for people: "Scratch (NumPy)"
    color: str  # for figures: "#1f77b4"
    loader: ModelLoader | str | None = None  # None: the factory's own `load` classmethod

    @property
    def file_name(self) -> str:
        """The saved model in a run folder: `scratch.npz`, `keras.keras`."""
        return f"{self.name}{self.suffix}"

    @property
    def weights_file_name(self) -> str:
        """The NumPy copy of the weights (`keras_weights.npz`) for a model whose own file
        is not .npz, so reports can draw its weights without its framework."""
        return self.file_name if self.suffix == ".npz" else f"{self.name}_weights.npz"

    def build(self, config: ModelConfig, seed: int) -> Model:
        return self.model_factory()(config, seed=seed)

    def model_factory(self) -> ModelFactory:
        """The factory itself (imported here when it is given as "module:name")."""
        return resolve_factory(self.factory) if isinstance(self.factory, str) else self.factory

    def load(self, path: Path) -> Model:
        loader = self.loader
        if loader is None:
            loader = self.model_factory().load
        elif isinstance(loader, str):
            loader = resolve_factory(loader)
        return loader(path)

    def describe(self) -> dict[str, str]:
        """What summary.json records about the model (reports read labels and colours here)."""
        return {"label": self.label, "color": self.color, "file": self.file_name}


BUILT_IN = (
    ModelSpec("scratch", "scratch:Network", ".npz", "Scratch (NumPy)", "#1f77b4"),
    ModelSpec("keras", "keras_baseline:KerasTwin", ".keras", "Keras", "#d62728"),
)
DEFAULT_MODELS = tuple(spec.name for spec in BUILT_IN)  # what `run` trains by default
_REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in BUILT_IN}
SUFFIXES = (".npz", ".keras")


def register(
    name: str, factory: ModelFactory | str, *, suffix: str, label: str, color: str,
    loader: ModelLoader | str | None = None,
) -> ModelSpec:  # fmt: skip
    """Add a model under `name` (after the ones already registered); returns its spec.

    `factory(config, seed=...)` builds it; `loader(path)` loads its saved file (default:
    the factory's `load` classmethod, so a plain function factory needs a loader).
    """
    if not name.isidentifier() or name in _REGISTRY:
        raise ValueError(f"model name {name!r} must be a new identifier (taken: {names()})")
    if suffix not in SUFFIXES:
        raise ValueError(f"model file suffix must be one of {', '.join(SUFFIXES)}, got {suffix!r}")
    if loader is None and not isinstance(factory, str) and not hasattr(factory, "load"):
        raise ValueError(f"model {name!r}: give a loader; the factory has no load method")
    spec = ModelSpec(name, factory, suffix, label, color, loader)
    _REGISTRY[name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a model added with `register` (the built-in ones stay)."""
    if name in DEFAULT_MODELS:
        raise ValueError(f"{name} is built in and cannot be unregistered")
    _REGISTRY.pop(name, None)


def names() -> tuple[str, ...]:
    """Registered model names, in registration order (the canonical order of a run)."""
    return tuple(_REGISTRY)


def spec(name: str) -> ModelSpec:
    """The registered model `name`; an unknown name is a one-line `ConfigError`."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown model {name!r}; registered models: {', '.join(_REGISTRY)}"
        ) from None
