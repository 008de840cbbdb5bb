"""Checks of a run config that no single field can make on its own (issue 16).

Run on the merged override dict before `RunConfig` and `ModelConfig` are built, so a
value of the wrong kind or size is one line (ConfigError), never a traceback:

- every string-valued key holds a string (`optimizer = ["sgd"]` is refused by one
  rule that covers every such key, taken from the dataclasses' string defaults);
- every float hyperparameter fits the chosen dtype (`--lr 1e308` in float32);
- seeds fit the 32 bits every model accepts, `seed + seeds - 1` included;
- a config file is read up to `MAX_CONFIG_BYTES` (`--config /dev/zero` ends).

`estimate_memory` is the rough size of one run's parameters, optimizer state and
batch buffers, compared with the memory available before training.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import MISSING, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from scratch.config import ConfigError, ModelConfig

if TYPE_CHECKING:
    from compare.runconfig import RunConfig

MAX_CONFIG_BYTES = 1 << 20  # a run config is a few hundred bytes
SEED_LIMIT = 2**32  # NumPy's legacy seeding and Keras/TensorFlow take 32-bit seeds
OPTIMIZER_SLOTS = {"sgd": 0, "momentum": 1, "nesterov": 1, "adam": 2}


def string_keys(cls: type) -> set[str]:
    """The fields of dataclass `cls` whose default is a string."""
    return {f.name for f in fields(cls) if f.default is not MISSING and isinstance(f.default, str)}


def float_keys(cls: type) -> set[str]:
    return {f.name for f in fields(cls) if isinstance(f.default, float)}


def check_kinds(where: str, values: dict[str, Any], keys: set[str]) -> None:
    """Each of `keys` present in `values` holds a string."""
    for key in sorted(keys & set(values)):
        if not isinstance(values[key], str):
            raise ConfigError(f"{where}{key} must be a string, got {values[key]!r}")


def check_model_values(model: dict[str, Any]) -> None:
    """String keys hold strings; float hyperparameters are finite and fit the dtype."""
    check_kinds("model.", model, string_keys(ModelConfig))
    dtype = model.get("dtype", ModelConfig.dtype)
    if dtype not in ("float32", "float64"):
        return  # ModelConfig names the valid dtypes
    largest = float(np.finfo(dtype).max)
    for key in sorted(float_keys(ModelConfig) & set(model)):
        value = model[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key} must be a number, got {value!r}", key=key)
        if not math.isfinite(value):
            raise ConfigError(f"{key} must be a finite number, got {value!r}", key=key)
        if abs(value) > largest:
            raise ConfigError(
                f"{key} = {value!r} does not fit {dtype} (largest finite value "
                f"{largest:.3g}); choose a smaller value",
                key=key,
            )


def check_seeds(seed: Any, seeds: Any) -> None:
    """seed .. seed + seeds - 1 must all be 32-bit seeds (ints are checked elsewhere)."""
    if isinstance(seed, int) and isinstance(seeds, int) and seed + max(seeds, 1) > SEED_LIMIT:
        raise ConfigError(
            f"seed {seed} with seeds {seeds} reaches {seed + seeds - 1}; every seed must be "
            f"below 2**32 = {SEED_LIMIT} (the models take 32-bit seeds)"
        )


def read_config_text(path: Path) -> bytes:
    """At most MAX_CONFIG_BYTES of `path` (a longer or endless file is an error)."""
    with path.open("rb") as handle:
        data = handle.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"config file {path} is larger than {MAX_CONFIG_BYTES // 1024} KiB; "
            "a run config is a few lines: pass a TOML file such as RUN/config.toml"
        )
    return data


def estimate_memory(model: ModelConfig, batch_size: int, n_models: int) -> int:
    """Bytes one run needs at least: per model, weights, gradients and optimizer slots,
    plus one batch's activations and their gradients."""
    itemsize = np.dtype(model.dtype).itemsize
    params, values = _stack_sizes(model)
    per_model = params * itemsize * (2 + OPTIMIZER_SLOTS.get(model.optimizer, 2))
    batch = batch_size * values * itemsize * 4
    return n_models * (per_model + batch)


def _stack_sizes(model: ModelConfig) -> tuple[int, int]:
    """(parameters, numbers per sample the layers keep: outputs, and a conv layer's
    im2col rows) of the stack, from its shapes alone (nothing is allocated)."""
    from scratch.conv import Conv2D
    from scratch.layers import Dense, make_layer

    shape = model.input_shape
    params, values = 0, math.prod(shape)
    for spec in model.layer_specs:
        layer = make_layer(spec)
        if isinstance(layer, Dense):
            params += (shape[0] + 1) * layer.units
        elif isinstance(layer, Conv2D):
            params += (layer.kernel**2 * shape[2] + 1) * layer.filters
        values += layer.numbers_per_sample(shape)  # its output (and a conv's im2col rows)
        shape = layer.output_shape(shape)
    return params, values


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo in bytes, or None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def settle_resources(config: RunConfig, *, force: bool, mode_given: bool = False) -> RunConfig:
    """Refuse a network too big for the available memory (unless `force`); cap BLAS threads
    at the core count; say when a given --mode lockstep falls back to one model (stderr)."""
    from compare.cli import CliError

    need = estimate_memory(config.model, config.batch_size, len(config.models))
    have = available_memory()
    if have is not None and need > have and not force:
        raise CliError(
            f"this network needs at least {need / 2**30:.1f} GiB (parameters, optimizer state, "
            f"one batch), more than the {have / 2**30:.1f} GiB available; use smaller layers, "
            "or pass --force to try anyway"
        )
    cores = os.cpu_count() or 1
    if config.blas_threads > cores:
        print(f"mnist-compare: note: --blas-threads {config.blas_threads} capped at the "
              f"{cores} cores of this machine", file=sys.stderr)  # fmt: skip
        config = replace(config, blas_threads=cores)
    if mode_given and config.mode == "lockstep" and len(config.models) < 2:
        print(f"mnist-compare: note: lockstep needs two or more models; training "
              f"{config.models[0]} alone", file=sys.stderr)  # fmt: skip
    return config


def parameter_count(model: ModelConfig) -> int:
    """The number of trainable parameters of the stack (from its shapes alone)."""
    return _stack_sizes(model)[0]
