"""What the run ran on: versions, BLAS, CPUs, thread settings, platform, peak memory.

Timings only mean something next to this: the same network is several times faster
with a multi-threaded BLAS, and TensorFlow's thread pools follow the env vars below.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
from typing import Any

import numpy as np

THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)


def environment(include_tensorflow: bool = True) -> dict[str, Any]:
    """A JSON-ready description of the software and hardware of this process."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "tensorflow": None,
        "keras": None,
        "blas": blas_info(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": _affinity(),
        "threads": {name: os.environ.get(name) for name in THREAD_VARS},
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
    if include_tensorflow:
        info["tensorflow"], info["keras"] = tf_versions()
    return info


def blas_info() -> dict[str, Any]:
    """NumPy's BLAS/LAPACK build info (numpy.show_config), or a note when unavailable."""
    config = np.show_config(mode="dicts")  # NumPy >= 1.26 (the project needs 2.0)
    deps = config.get("Build Dependencies", {}) if isinstance(config, dict) else {}
    blas = deps.get("blas", {})
    return {
        "name": blas.get("name"),
        "version": blas.get("version"),
        "lapack": deps.get("lapack", {}).get("name"),
        "openblas_configuration": blas.get("openblas configuration"),
        "simd": config.get("SIMD Extensions") if isinstance(config, dict) else None,
    }


def _affinity() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def tf_versions() -> tuple[str | None, str | None]:
    """Versions of TensorFlow and Keras if they are importable (they are already loaded
    when the Keras twin trained)."""
    versions: list[str | None] = []
    for name in ("tensorflow", "keras"):
        try:
            module = sys.modules.get(name) or __import__(name)
            versions.append(getattr(module, "__version__", None))
        except ImportError:
            versions.append(None)
    return versions[0], versions[1]


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB. It never goes down: it is
    a high-water mark of the whole process.

    On Linux this is VmHWM (/proc/self/status): the peak of this program since it
    started. `ru_maxrss` is the fallback (KiB on Linux, bytes on macOS); on Linux it
    also counts the process this one was forked from before it ran its program, so a
    spawned worker's ru_maxrss would start at its coordinator's size."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024
    return peak * scale / 2**20
