"""`mnist-compare run`'s flags as the top layer of the run config.

`FLAG_KEYS` names the config key each flag sets (`--lr` -> `model.learning_rate`);
`flag_layer` turns the flags actually given into an override layer, and
`resolve_args` resolves the four layers, later ones winning: built-in defaults <
`--preset` < `--config FILE.toml` < flags. A bad value given as a flag is reported
under the flag's name (`--lr must be ...`), one given in a file under its key. The
flags themselves are defined in `compare/commands/run.py` (`configure`).
"""

from __future__ import annotations

import argparse
from typing import Any

from compare.runconfig import RunConfig, load_toml, parse_hidden, resolve
from scratch.config import ConfigError

# flag dest -> (section, key) in the run config; section "" is the top level.
FLAG_KEYS: dict[str, tuple[str, str]] = {
    "hidden": ("model", "hidden_sizes"),
    "layers": ("model", "layers"),
    "activation": ("model", "activation"),
    "loss": ("model", "loss"),
    "init": ("model", "init"),
    "optimizer": ("model", "optimizer"),
    "lr": ("model", "learning_rate"),
    "lr_decay": ("model", "lr_decay"),
    "momentum": ("model", "momentum"),
    "l2": ("model", "l2"),
    "dtype": ("model", "dtype"),
    "batch_size": ("", "batch_size"),
    "epochs": ("", "epochs"),
    "seed": ("", "seed"),
    "seeds": ("", "seeds"),
    "mode": ("", "mode"),
    "models": ("", "models"),
    "preset": ("", "preset"),
    "blas_threads": ("", "blas_threads"),
    "schedule": ("", "schedule"),
    "data_dir": ("data", "data_dir"),
    "val_size": ("data", "val_size"),
    "limit_train": ("data", "limit_train"),
    "shift": ("data", "shift"),
    "rotate": ("data", "rotate"),
    "zoom": ("data", "zoom"),
}


def flag_layer(args: argparse.Namespace) -> dict[str, Any]:
    """The override layer of the flags actually given."""
    layer: dict[str, Any] = {"model": {}, "data": {}}
    for dest, (section, key) in FLAG_KEYS.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        if dest == "hidden":
            value = parse_hidden(value)
        if dest == "layers":
            value = [spec.strip() for spec in value.split(",")]
        (layer[section] if section else layer)[key] = value
    if args.no_verify:
        layer["data"]["verify"] = False
    if args.standardize:
        layer["data"]["standardize"] = True
    return layer


def resolve_args(args: argparse.Namespace) -> RunConfig:
    """defaults < preset (flag, else the config file's `preset`) < config file < flags."""
    from compare.presets import preset_layer

    file_layer = load_toml(args.config) if args.config else {}
    flags = flag_layer(args)
    preset = flags.get("preset") or file_layer.get("preset")
    layers = [preset_layer(preset)] if preset else []
    try:
        return resolve(*layers, file_layer, flags)
    except ConfigError as error:  # a bad value given as a flag: name the flag
        flag = _flag_of(error.key, flags)
        if flag is None:
            raise
        raise error.renamed(flag) from None


def _flag_of(key: str | None, flags: dict[str, Any]) -> str | None:
    """The flag that set config key `key` ("learning_rate", "data.val_size") in the flag
    layer `flags`, e.g. "--lr"; None if no flag set it."""
    for dest, (section, name) in FLAG_KEYS.items():
        dotted = f"data.{name}" if section == "data" else name
        given = name in (flags.get(section, {}) if section else flags)
        if dotted == key and given:
            return "--" + dest.replace("_", "-")
    return None
