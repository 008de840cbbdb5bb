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


# What a sweep worker pins (compare/sweeprun.py): environment variables that native
# libraries read when they start, for the ones not loaded yet.
WORKER_THREAD_VARS = (
    "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
)  # fmt: skip


def pin_worker_threads(count: int = 1, *, tensorflow: bool = False) -> bool:
    """Give this process `count` BLAS threads and, when `tensorflow` (a model of the run
    needs it) or TensorFlow is already loaded, `count` TensorFlow intra- and inter-op
    threads: N workers on N cores then do not oversubscribe them, and results do not
    depend on how many threads a product was split over.

    Sets the environment variables first (for libraries that start later and for child
    processes), limits the OpenBLAS already loaded (threadpoolctl), then imports
    TensorFlow if asked and sets its thread pools before it runs any op. Returns False
    when TensorFlow had already started its pools with other counts (they cannot change
    then: results may differ from a pinned worker's), else True.
    """
    for name in WORKER_THREAD_VARS:
        os.environ[name] = str(count)
    threadpool_limits(limits=count, user_api="blas")
    if not tensorflow and "tensorflow" not in sys.modules:
        return True
    from keras_baseline.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import tensorflow as tf

    threading = tf.config.threading
    pools = (
        threading.get_intra_op_parallelism_threads(),
        threading.get_inter_op_parallelism_threads(),
    )
    if pools == (count, count):
        return True
    try:
        threading.set_intra_op_parallelism_threads(count)
        threading.set_inter_op_parallelism_threads(count)
    except RuntimeError:  # the pools exist already
        return False
    return True
