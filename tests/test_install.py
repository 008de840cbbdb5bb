"""The install: every imported package is declared, and each platform's markers resolve.

`pyproject.toml` is the one list of dependencies. The first tests compare it with the
top-level imports of the code (an AST scan, so a lazy import inside a function counts
too); the slow test asks the package index, per platform and Python version, whether
the requirements that platform's markers select exist as wheels.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("scratch", "keras_baseline", "compare", "reports", "benchmarks")
# Import name -> distribution name, where they differ.
DISTRIBUTION_OF = {"PIL": "pillow", "cv2": "opencv-python-headless", "tensorflow": "tensorflow"}
# Declared but never imported by name: alternatives of the same import.
ALTERNATIVES = {"tensorflow-cpu": "tensorflow"}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _requirements(*groups: str) -> list[Requirement]:
    project = _project()
    lines = list(project["dependencies"])
    for group in groups:
        lines += project["optional-dependencies"][group]
    return [Requirement(line) for line in lines]


def _declared(*groups: str) -> set[str]:
    names = {canonicalize_name(r.name) for r in _requirements(*groups)}
    return {ALTERNATIVES.get(name, name) for name in names} - {"mnist-compare"}


def _third_party_imports(folders: tuple[str, ...]) -> dict[str, set[str]]:
    """Top-level module name -> the files importing it (absolute imports only)."""
    own = set(PACKAGES) | {"tests"} | {path.stem for path in (ROOT / "tests").rglob("*.py")}
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in own:
                        found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def _as_distributions(imports: dict[str, set[str]]) -> set[str]:
    return {canonicalize_name(DISTRIBUTION_OF.get(name, name)) for name in imports}


def test_every_import_of_the_code_is_declared_and_every_dependency_used():
    imported = _as_distributions(_third_party_imports(PACKAGES))
    declared = _declared("keras", "sweep")
    assert imported - declared == set(), "imported but not declared in pyproject.toml"
    assert declared - imported == set(), "declared but imported nowhere"


def test_the_core_install_imports_no_tensorflow_outside_the_keras_twin():
    # The core dependencies carry everything except the Keras twin's own framework (and
    # Dask, imported only by `sweep --scheduler`).
    core = _declared()
    imports = _third_party_imports(PACKAGES)
    for name, files in imports.items():
        if canonicalize_name(DISTRIBUTION_OF.get(name, name)) not in core:
            assert name in {"tensorflow", "keras", "dask"}, (name, files)  # dask: `sweep`


def test_every_import_of_the_tests_is_declared_for_dev():
    imported = _as_distributions(_third_party_imports(("tests",)))
    assert imported - _declared("keras", "sweep", "dev") == set()


def test_requires_python_matches_the_supported_range():
    assert _project()["requires-python"] == ">=3.11,<3.14"
    assert "Python 3.11 to 3.13" in (ROOT / "README.md").read_text()


# (pip --platform tags, the marker environment of such a machine, the TensorFlow package
# its markers must pick). pip evaluates markers for the machine it runs on, whatever
# --platform says, so the markers are evaluated here and pip resolves what they select.


def _manylinux(machine: str) -> list[str]:
    # pip 23 takes --platform literally (no older manylinux tags implied): name them.
    return [f"manylinux_2_28_{machine}", f"manylinux_2_17_{machine}", f"manylinux2014_{machine}"]


PLATFORMS = {
    "linux-x86_64": (_manylinux("x86_64"), "linux", "Linux", "x86_64", "posix", "tensorflow-cpu"),
    "linux-aarch64": (_manylinux("aarch64"), "linux", "Linux", "aarch64", "posix", "tensorflow"),
    "macos-arm64": (
        [f"macosx_{v}_0_arm64" for v in (14, 13, 12, 11)],
        "darwin",
        "Darwin",
        "arm64",
        "posix",
        "tensorflow",
    ),
    "windows-amd64": (["win_amd64"], "win32", "Windows", "AMD64", "nt", "tensorflow-cpu"),
}


def _selected(platform: str, python: str) -> list[Requirement]:
    _, sys_platform, system, machine, os_name, _ = PLATFORMS[platform]
    environment = dict(default_environment())
    environment.update(
        sys_platform=sys_platform,
        platform_system=system,
        platform_machine=machine,
        os_name=os_name,
        python_version=python,
        python_full_version=f"{python}.0",
        implementation_name="cpython",
        platform_python_implementation="CPython",
    )
    return [r for r in _requirements("keras") if r.marker is None or r.marker.evaluate(environment)]


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_markers_pick_one_tensorflow_per_platform(platform: str):
    names = [canonicalize_name(r.name) for r in _selected(platform, "3.11")]
    tensorflows = [name for name in names if name.startswith("tensorflow")]
    assert tensorflows == [PLATFORMS[platform][-1]]


@pytest.mark.slow
@pytest.mark.parametrize("python", ["3.13"])  # the newest supported; 3.11 is installed here
@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_the_selected_requirements_resolve_to_wheels(platform: str, python: str, tmp_path):
    """Needs the package index: `pip install --dry-run --only-binary=:all:` per platform."""
    requirements = [str(r).split(";")[0].strip() for r in _selected(platform, python)]
    command = [
        sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
        "--only-binary=:all:", *(f"--platform={tag}" for tag in PLATFORMS[platform][0]),
        "--python-version", python, "--target", str(tmp_path / "target"),
        "--report", str(tmp_path / "report.json"), *requirements,
    ]  # fmt: skip
    # Not under constraints.txt (CI exports PIP_CONSTRAINT): its pins are this machine's
    # Python 3.11 versions, and the question here is what each platform can install.
    env = {key: value for key, value in os.environ.items() if key != "PIP_CONSTRAINT"}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    resolved = {canonicalize_name(item["metadata"]["name"]) for item in report["install"]}
    assert PLATFORMS[platform][-1] in resolved
    assert {"numpy", "keras", "rich", "pillow"} <= resolved
