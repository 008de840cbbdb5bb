"""The model registry and interface (compare/models.py), and the layering it allows:
compare's core never imports reports, reports imports only compare.metrics from compare,
and building a scratch-only run never imports TensorFlow."""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from compare import models
from compare.runconfig import RunConfig
from scratch import Network
from scratch.config import ConfigError, ModelConfig

REPO_ROOT = Path(__file__).resolve().parents[1]


def float64_network(config: ModelConfig, seed: int = 0) -> Network:
    return Network(dataclasses.replace(config, dtype="float64"), seed=seed)


@pytest.fixture
def scratch64():
    spec = models.register(
        "scratch64", float64_network, suffix=".npz", label="Scratch float64", color="#2ca02c",
        loader=Network.load,
    )  # fmt: skip
    yield spec
    models.unregister("scratch64")


def test_built_in_models_and_their_files():
    assert models.names()[:2] == ("scratch", "keras") == models.DEFAULT_MODELS
    scratch, keras = models.spec("scratch"), models.spec("keras")
    assert (scratch.file_name, scratch.weights_file_name) == ("scratch.npz", "scratch.npz")
    assert (keras.file_name, keras.weights_file_name) == ("keras.keras", "keras_weights.npz")
    assert scratch.describe() == {"label": "Scratch (NumPy)", "color": "#1f77b4",
                                  "file": "scratch.npz"}  # fmt: skip


def test_a_registered_model_builds_saves_loads_and_satisfies_the_interface(scratch64, tmp_path):
    assert models.names()[-1] == "scratch64"
    network = scratch64.build(ModelConfig(hidden_sizes=(8,)), seed=3)
    assert isinstance(network, models.Model) and network.dtype == np.float64
    network.save(tmp_path / scratch64.file_name)
    loaded = scratch64.load(tmp_path / "scratch64.npz")
    for a, b in zip(network.get_weights(), loaded.get_weights(), strict=True):
        assert (a == b).all()
    built_in = models.spec("scratch").build(ModelConfig(hidden_sizes=(8,)), seed=3)
    assert isinstance(built_in, models.Model) and built_in.dtype == np.float32


def test_run_config_validates_models_against_the_registry(scratch64):
    config = RunConfig(models="scratch64,keras,scratch")
    assert config.models == ("scratch", "keras", "scratch64")  # registration order
    assert config.lockstep and RunConfig(models=("scratch", "scratch64")).lockstep
    with pytest.raises(ConfigError, match="one or more of scratch,keras,scratch64; got torch"):
        RunConfig(models=("torch",))
    models.unregister("scratch64")
    with pytest.raises(ConfigError, match="models must be one or both of scratch,keras"):
        RunConfig(models=("scratch64",))


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("scratch", {}, "must be a new identifier"),
        ("two words", {}, "must be a new identifier"),
        ("other", {"suffix": ".h5"}, "suffix must be one of"),
        ("other", {"factory": float64_network}, "give a loader"),
    ],
)
def test_register_rejects_bad_models(name, options, message):
    kwargs = {"factory": "scratch:Network", "suffix": ".npz", "label": "x", "color": "red"}
    with pytest.raises(ValueError, match=message):
        models.register(name, **{**kwargs, **options})
    assert name not in models.names() or name == "scratch"


def test_unknown_model_is_a_one_line_config_error():
    with pytest.raises(ConfigError, match="unknown model 'torch'; registered models: scratch"):
        models.spec("torch")
    with pytest.raises(ValueError, match="built in"):
        models.unregister("keras")


def test_scratch_only_models_never_import_tensorflow():
    code = (
        "import sys\n"
        "from compare import models\n"
        "from compare.runner import execute\n"
        "from scratch.config import ModelConfig\n"
        "models.spec('scratch').build(ModelConfig(), 0)\n"
        "models.spec('keras')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_dependencies_point_one_way():
    """compare's core never imports reports (only the CLI layer, compare/commands, does);
    reports imports nothing from compare but compare.metrics, the summary.json reader
    compare.summaryfile and compare.augment (the distortions' own words), all light: no
    TensorFlow, no data pipeline; training has its own error."""
    for path in sorted((REPO_ROOT / "compare").glob("*.py")):
        assert not any(m.split(".")[0] == "reports" for m in _imports(path)), path.name
    for path in sorted((REPO_ROOT / "reports").glob("*.py")):
        from_compare = {m for m in _imports(path) if m.split(".")[0] == "compare"}
        light = {"compare.metrics", "compare.summaryfile", "compare.augment"}
        assert from_compare <= light, (path.name, from_compare)
    assert "compare.cli" not in _imports(REPO_ROOT / "compare" / "training.py")
