"""SWEEP.toml: a base run config, a grid and/or variants of it, and a number of seeds.

The base is exactly what `run --config` takes (top-level keys, `[model]`, `[data]`,
`preset`), except that `seeds = N` counts the sweep's seeds: each cell x seed is one
ordinary run folder with `seeds = 1` and `seed = seed + i`. `[grid]` maps dotted run
config keys ("model.optimizer", "epochs") to lists, and the sweep takes their cartesian
product; `[[variants]]` is an explicit list of such key = value tables; with both, each
variant is combined with each grid point. Every cell is resolved with the run config's
own merge rule and validation (`compare.runconfig.resolve`) before anything runs, so a
mistake is one line (`ConfigError`) and not a failure an hour in.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from compare.configcheck import check_seeds, read_config_text
from compare.runconfig import DataConfig, RunConfig, load_toml, resolve
from scratch.config import ConfigError, ModelConfig

SWEEP_ONLY = ("grid", "variants")
NOT_SWEPT = {"seed": "set the first seed in the base", "seeds": "the sweep's `seeds = N`",
             "preset": "use [[variants]] with the preset's settings"}  # fmt: skip
MAX_RUNS = 10_000


@dataclass(frozen=True)
class Cell:
    """One setting of the swept keys (dotted path -> value) and its folder-safe name."""

    name: str
    params: dict[str, Any]


@dataclass(frozen=True)
class RunTask:
    """One run of the sweep: a cell at one seed, written to runs/<folder>."""

    cell: str
    seed: int
    folder: str
    config: RunConfig


@dataclass(frozen=True)
class Sweep:
    source: Path
    keys: list[str]  # the swept dotted keys, in order of first appearance
    cells: list[Cell]
    seeds: list[int]
    runs: list[RunTask]
    text: str  # SWEEP.toml as given (kept in the sweep folder)

    def to_dict(self) -> dict[str, Any]:
        return {
            "keys": self.keys,
            "cells": [{"name": c.name, "params": c.params} for c in self.cells],
            "seeds": self.seeds,
            "models": list(self.runs[0].config.models),
        }


def known_keys() -> set[str]:
    """Every dotted key a grid or variant may name."""
    top = {f.name for f in fields(RunConfig)} - {"model", "data"} - set(NOT_SWEPT)
    model = {f"model.{f.name}" for f in fields(ModelConfig)}
    return top | model | {f"data.{f.name}" for f in fields(DataConfig)}


def flatten(where: str, table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"model": {"optimizer": [...]}} and {"model.optimizer": [...]} both give the second;
    unknown keys are one line."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path in ("model", "data"):
            flat.update(flatten(where, value, f"{path}."))
            continue
        if path in NOT_SWEPT:
            raise ConfigError(f"{where}: {path} cannot be swept ({NOT_SWEPT[path]})")
        if path not in known_keys():
            valid = ", ".join(sorted(known_keys()))
            raise ConfigError(f"{where}: unknown key {path!r}; valid keys are: {valid}")
        flat[path] = value
    return flat


def nest(params: dict[str, Any]) -> dict[str, Any]:
    """{"model.optimizer": "sgd", "epochs": 2} -> {"model": {"optimizer": "sgd"}, "epochs": 2}."""
    layer: dict[str, Any] = {}
    for path, value in params.items():
        *tables, key = path.split(".")
        target = layer
        for table in tables:
            target = target.setdefault(table, {})
        target[key] = value
    return layer


def grid_points(where: str, grid: Any) -> list[dict[str, Any]]:
    if not isinstance(grid, dict):
        raise ConfigError(f"{where}: grid must be a [grid] table of key = [values]")
    flat = flatten(f"{where} [grid]", grid)
    for key, values in flat.items():
        if not isinstance(values, list):
            raise ConfigError(f"{where} [grid]: {key} must be a list of values, got {values!r}")
        if not values:
            raise ConfigError(f"{where} [grid]: {key} is an empty list; give one value or more")
    size = math.prod(len(values) for values in flat.values())
    if size > MAX_RUNS:  # before the product is built: it could fill the memory
        raise ConfigError(f"{where} [grid]: {size} cells is more than {MAX_RUNS} runs")
    return [dict(zip(flat, combo, strict=True)) for combo in itertools.product(*flat.values())]


def variant_points(where: str, variants: Any) -> list[dict[str, Any]]:
    if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
        raise ConfigError(f"{where}: variants must be [[variants]] tables of key = value")
    if not variants:
        raise ConfigError(f"{where}: [[variants]] is empty; give one variant or more")
    return [flatten(f"{where} [[variants]] #{i + 1}", v) for i, v in enumerate(variants)]


def _value_text(value: Any) -> str:
    if isinstance(value, list):
        return "x".join(_value_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def cell_name(params: dict[str, Any]) -> str:
    """A folder-safe name from the swept values, e.g. `optimizer-adam_learning_rate-0.01`."""
    if not params:
        return "base"
    last = [path.split(".")[-1] for path in params]
    parts = []
    for (path, value), short in zip(params.items(), last, strict=True):
        label = short if last.count(short) == 1 else path
        parts.append(f"{label}-{_value_text(value)}")
    return re.sub(r"[^A-Za-z0-9.=+-]+", "_", "_".join(parts))[:150]


def load_sweep(path: str | Path, overrides: dict[str, Any] | None = None) -> Sweep:
    """Read and validate SWEEP.toml whole; `overrides` (e.g. {"data": {"data_dir": ...}})
    win over the base and the cells. Every cell is resolved before this returns."""
    path = Path(path)
    base = load_toml_with_sweep_keys(path)
    where = f"sweep {path}"
    grid = grid_points(where, base.pop("grid")) if "grid" in base else [{}]
    variants = variant_points(where, base.pop("variants")) if "variants" in base else [{}]
    both = sorted({key for variant in variants for key in variant if key in grid[0]})
    if both:
        raise ConfigError(
            f"{where}: {', '.join(both)} in both [grid] and [[variants]]; give it once"
        )
    if len(variants) * len(grid) > MAX_RUNS:
        raise ConfigError(
            f"{where}: {len(variants) * len(grid)} cells is more than {MAX_RUNS} runs"
        )
    points = [{**v, **g} for v in variants for g in grid]
    keys = list(dict.fromkeys(k for point in points for k in point))
    seeds = base.pop("seeds", 1)
    first_seed = base.get("seed", 0)
    check_seeds(first_seed, seeds)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"{where}: seeds must be a whole number >= 1, got {seeds!r}")
    if len(points) * seeds > MAX_RUNS:
        raise ConfigError(f"{where}: {len(points) * seeds} runs is more than {MAX_RUNS}")
    cells = [Cell(cell_name(p), p) for p in points]
    _check_unique(where, cells)
    seed_list = list(range(first_seed, first_seed + seeds))
    runs = [
        RunTask(cell.name, seed, f"{cell.name}_seed-{seed}",
                _resolve_cell(where, base, cell, seed, overrides or {}))
        for cell in cells for seed in seed_list
    ]  # fmt: skip
    _check_distinct(where, [run for run in runs if run.seed == first_seed])
    text = read_config_text(path).decode("utf-8")
    return Sweep(path, keys, cells, seed_list, runs, text)


def load_toml_with_sweep_keys(path: Path) -> dict[str, Any]:
    """The file as a dict, read by `run --config`'s own reader (unknown keys are one line),
    which also accepts `grid` and `variants`."""
    if path.is_dir():
        raise ConfigError(f"sweep file {path} is a folder; give the path of a SWEEP.toml")
    if path.exists() and not path.is_file():
        raise ConfigError(f"sweep file {path} is not a regular file; give a SWEEP.toml")
    if not path.is_file():
        raise ConfigError(f"sweep file {path} not found; give the path of a SWEEP.toml")
    return load_toml(path, extra_keys=SWEEP_ONLY)


def _check_unique(where: str, cells: list[Cell]) -> None:
    names = [cell.name for cell in cells]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ConfigError(f"{where}: the cells {', '.join(twice)} appear more than once")


def _check_distinct(where: str, runs: list[RunTask]) -> None:
    """Two cells whose values differ only in form (0 and 0.0) are one setting."""
    first: dict[RunConfig, str] = {}
    for run in runs:
        if run.config in first:
            raise ConfigError(f"{where}: the cells {first[run.config]} and {run.cell} are the "
                              "same setting; give it once")  # fmt: skip
        first[run.config] = run.cell


def _resolve_cell(
    where: str, base: dict[str, Any], cell: Cell, seed: int, overrides: dict[str, Any]
) -> RunConfig:
    from compare.presets import preset_layer

    layers = [preset_layer(base["preset"])] if base.get("preset") else []
    cell_layer = {**nest(cell.params), "seed": seed, "seeds": 1}
    try:
        return resolve(*layers, base, cell_layer, overrides)
    except ConfigError as error:
        raise ConfigError(f"{where}: cell {cell.name}: {error}") from None
