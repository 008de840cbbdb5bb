"""scratch/ is NumPy and the standard library only: no deep-learning framework sneaks in."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SCRATCH = Path(__file__).resolve().parents[1] / "scratch"
FRAMEWORKS = ("tensorflow", "keras", "torch", "jax", "jaxlib", "flax", "scipy", "sklearn")


def test_importing_and_training_loads_no_framework():
    code = (
        "import sys, numpy as np\n"
        "import scratch, scratch.gradcheck, scratch.serialization\n"
        "from scratch.network import Network\n"
        "from scratch.config import ModelConfig\n"
        "n = Network(ModelConfig(hidden_sizes=(4,)))\n"
        "n.train_step(np.zeros((2, 784), np.float32), np.array([1, 2]))\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FRAMEWORKS!r})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=SCRATCH.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"frameworks imported: {result.stdout.strip()}"


def test_source_imports_only_numpy_stdlib_and_itself():
    allowed = set(sys.stdlib_module_names) | {"numpy", "scratch"}
    for path in sorted(SCRATCH.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_package_exports_the_interface():
    import scratch

    for name in ("ModelConfig", "ConfigError", "Network", "DivergenceError", "ModelFileError"):
        assert hasattr(scratch, name), name
