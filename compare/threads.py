"""Run NumPy's BLAS with a given number of threads for a while (restored afterwards).

The scratch network's products are small (a batch of 32 by 784 by 128): split over
threads they gain nothing and, on a busy or shared machine, OpenBLAS's spinning
threads make them many times slower (docs/run.md, "Threads and schedule", has the
measurements). So the runner, the check and the benchmark give the scratch network
one BLAS thread unless told otherwise. Thread count does not
change results: OpenBLAS splits a product over output blocks, not over the
summed dimension.

`OPENBLAS_NUM_THREADS` at start-up does the same for a whole process; this
exists because by the time a subcommand runs, NumPy is already loaded.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from threadpoolctl import threadpool_limits


@contextlib.contextmanager
def blas_threads(count: int | None = 1) -> Iterator[bool]:
    """Limit the BLAS libraries NumPy loaded to `count` threads inside the block.

    `None` or 0 leaves them as they are. Yields whether a limit is in force.
    """
    if not count:
        yield False
        return
    with threadpool_limits(limits=count, user_api="blas") as limiter:
        yield bool(limiter.get_original_num_threads())


# What pinning a process sets: variables that native libraries read when they start,
# for those not loaded yet and for child processes.
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
TF_THREAD_VARS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def pin_threads(count: int, *, tensorflow: bool = False) -> dict[str, Any]:
    """For a whole process (a run's model worker, a sweep's worker, a benchmark's side):
    `count` BLAS threads and `count` TensorFlow intra- and inter-op threads, so that N
    processes on N cores do not oversubscribe them. `count` 0 leaves every default.

    Sets the environment variables first (for libraries that start later and for child
    processes), limits the OpenBLAS already loaded (threadpoolctl, until the process
    ends), then, when `tensorflow` is asked or TensorFlow is already loaded, imports it
    and sets its thread pools before it runs an op. Returns the counts in force, for
    summary.json: TensorFlow's differ from `count` when its pools had already started
    with other counts (they cannot change then; 0 is TensorFlow's default)."""
    if not count:
        return {"blas": None, "tf_intra_op": None, "tf_inter_op": None}
    for name in (*BLAS_THREAD_VARS, *TF_THREAD_VARS):
        os.environ[name] = str(count)
    threadpool_limits(limits=count, user_api="blas")
    pinned = {"blas": count, "tf_intra_op": count, "tf_inter_op": count}
    if tensorflow or "tensorflow" in sys.modules:
        pinned["tf_intra_op"], pinned["tf_inter_op"] = _pin_tensorflow(count)
    return pinned


def _pin_tensorflow(count: int) -> tuple[int, int]:
    """Import TensorFlow (quietly) and give it `count` intra- and inter-op threads if its
    pools have not started; the counts in force afterwards."""
    from keras_baseline.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import tensorflow as tf

    threading = tf.config.threading
    started = (
        threading.get_intra_op_parallelism_threads(),
        threading.get_inter_op_parallelism_threads(),
    )
    if started == (count, count):
        return started
    try:
        threading.set_intra_op_parallelism_threads(count)
        threading.set_inter_op_parallelism_threads(count)
    except RuntimeError:  # the pools run already: their counts (0 is TensorFlow's default)
        return started
    return count, count


@contextlib.contextmanager
def tf_threads(count: int | None) -> Iterator[bool]:
    """`count` TensorFlow intra- and inter-op threads for a model trained in this process,
    through the variables TensorFlow reads when it starts (restored after the block).
    Yields whether they apply: not when TensorFlow is already running here."""
    if not count or "tensorflow" in sys.modules:
        yield False
        return
    saved = {name: os.environ.get(name) for name in TF_THREAD_VARS}
    os.environ.update({name: str(count) for name in TF_THREAD_VARS})
    try:
        yield True
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
