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
