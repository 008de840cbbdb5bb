"""Save and load a network as a plain `.npz` file (no pickle, ever).

The file holds `format_version` (int), `config` (the ModelConfig as JSON text)
and `w0, w1, ...` (the weights in get_weights() order, in the model's dtype,
so a round trip is bit-exact). Version 2 may hold a `layers` list in its config;
version 1 files (written before the layer library, always a multilayer perceptron
with the same weight layout) load as they are. Optimizer state (momentum, Adam moments, the
step counter) is not saved: a loaded network predicts and evaluates exactly
like the saved one, and training it again starts the optimizer afresh.

The file is written to a temporary file in the same folder and moved into place
with `os.replace`, so a crash never leaves a half-written model behind. Any
problem reading a file is a `ModelFileError` (a ValueError) with a one-line message.

`atomic_path` is the project's one atomic writer (run folders, reports, downloads
use it too). It lives here because scratch sits at the bottom of the dependency
graph and must save its own models safely without importing anything above it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from scratch.config import ConfigError, ModelConfig

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)  # 1: before the layer library; the same weight layout


class ModelFileError(ValueError):
    """A model file that is missing, corrupt, of another format version or architecture."""


def _default_file_mode() -> int:
    """0o666 minus the umask: what a plain open() gives (mkstemp gives 0o600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _default_file_mode()


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temp path beside `path` for the block to write; renamed onto `path` when the
    block succeeds, removed when it fails. A reader never sees a half-written file.

    The whole project writes files through this (models, run folders, reports,
    downloads); `suffix` keeps an ending a writer insists on (e.g. ".keras").
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
        os.chmod(temp, FILE_MODE)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def save_model(path: str | Path, config: ModelConfig, weights: list[np.ndarray]) -> None:
    """Write `config` and `weights` to `path` atomically (the name is used as given)."""
    arrays = {f"w{i}": w for i, w in enumerate(weights)}
    arrays["format_version"] = np.array(FORMAT_VERSION, dtype=np.int64)
    arrays["config"] = np.array(json.dumps(config.to_dict(), sort_keys=True))
    with atomic_path(path) as temp, temp.open("wb") as handle:
        np.savez(handle, **arrays)  # a file object: np.savez must not append ".npz"


def load_model(
    path: str | Path, expect: ModelConfig | None = None
) -> tuple[ModelConfig, dict[str, np.ndarray]]:
    """(config, the file's arrays by name) from a file written by `save_model`; the
    weights are checked against the built network by `check_weights`."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file; pass the .npz written by Network.save")
    if not zipfile.is_zipfile(path):  # else NumPy's reason is its advice to unpickle it
        raise ModelFileError(
            f"{path}: not a readable scratch model .npz (not a zip archive); "
            "re-save it with Network.save"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            contents = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelFileError(
            f"{path}: not a readable scratch model .npz ({reason}); re-save it with Network.save"
        ) from None
    if "format_version" not in contents or "config" not in contents:
        raise ModelFileError(f"{path}: not a scratch model file (no format_version/config)")
    version = int(contents["format_version"])
    if version not in READABLE_VERSIONS:
        readable = " and ".join(str(v) for v in READABLE_VERSIONS)
        raise ModelFileError(
            f"{path}: model format version {version}, this code reads versions {readable}"
        )
    config = _parse_config(path, contents["config"])
    if expect is not None and expect.describe() != config.describe():
        raise ModelFileError(
            f"{path}: saved for {config.describe()}, expected {expect.describe()}; "
            "load the file that matches this config"
        )
    return config, contents


def _parse_config(path: Path, text: np.ndarray) -> ModelConfig:
    try:
        return ModelConfig.from_dict(json.loads(str(text)))
    except (json.JSONDecodeError, TypeError, ConfigError) as error:
        raise ModelFileError(f"{path}: bad model config in file ({error})") from None


def check_weights(
    path: str | Path, contents: dict[str, np.ndarray], params: list[np.ndarray], described: str
) -> list[np.ndarray]:
    """The arrays w0, w1, ... of a model file, each checked against the shape and dtype
    of the network parameter it will fill."""
    weights = []
    for i, param in enumerate(params):
        w = contents.get(f"w{i}")
        if w is None or w.shape != param.shape or w.dtype != param.dtype:
            found = "missing" if w is None else f"{w.dtype} {w.shape}"
            raise ModelFileError(
                f"{path}: weight w{i} is {found}, expected {param.dtype} {param.shape} "
                f"for {described}"
            )
        weights.append(w)
    if f"w{len(params)}" in contents:
        raise ModelFileError(f"{path}: more weight arrays than layers in {described}")
    return weights
