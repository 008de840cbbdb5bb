"""Run NumPy's BLAS with a given number of threads for a while (restored afterwards).

Measured on this 2-core machine (784-128-10, batch 32, float32, one scratch
`train_step`): 0.7-1.0 ms with one OpenBLAS thread, 4-23 ms with OpenBLAS's
default two threads while other processes load the machine, and up to 105 ms
with two threads once TensorFlow is loaded in the same process (its thread pools
and OpenBLAS's spinning threads fight over the two cores). Products this small
gain nothing from threads, so the runner, the check and the benchmark give the
scratch network one BLAS thread unless told otherwise. Thread count does not
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


TF_THREAD_VARS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def pin_threads(count: int) -> dict[str, Any]:
    """For a whole fresh process (a run's worker, a benchmark's side): `count` BLAS threads
    and `count` TensorFlow intra- and inter-op threads. TensorFlow reads its two variables
    when it starts; if it is already loaded, `tf.config.threading` is asked instead.
    `count` 0 leaves every default. Returns what was set, for summary.json."""
    if not count:
        return {"blas": None, "tf_intra_op": None, "tf_inter_op": None}
    threadpool_limits(limits=count, user_api="blas")  # not a `with`: until the process ends
    for name in TF_THREAD_VARS:
        os.environ[name] = str(count)
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(count)
        tf.config.threading.set_inter_op_parallelism_threads(count)
    return {"blas": count, "tf_intra_op": count, "tf_inter_op": count}


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
