"""Keep what C libraries write straight to file descriptor 2 off the terminal.

TensorFlow's start-up lines (keras_baseline.quiet) and libpng's or OpenCV's complaints
about a damaged image (compare.digits) are written by C code to file descriptor 2, past
Python's `sys.stderr`. `stderr_captured` sends the descriptor to a temporary file for a
block. It lives in scratch, the bottom of the dependency graph, so that both can use
it without importing each other. The descriptor is the process's: output of other
threads during the block is captured too, so keep the block short.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def stderr_captured(*, replay: bool = True) -> Iterator[None]:
    """Send file descriptor 2 to a temporary file; if the block raises and `replay`,
    write what was captured to stderr before the exception goes on."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            if replay:
                capture.seek(0)
                sys.stderr.write(capture.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
