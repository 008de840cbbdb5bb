"""Import TensorFlow without its start-up chatter on the terminal.

`import tensorflow` writes a handful of lines straight to file descriptor 2
("WARNING: All log messages before absl::InitializeLog() is called ...", "oneDNN
custom operations are on ...", CPU-feature notices), and tf.data later logs a
harmless C++ error about an unknown `use_unbounded_threadpool` attribute on every
`model.evaluate`. None of it is about this program, and in a run's output it looks
like something went wrong.

So: TF_CPP_MIN_LOG_LEVEL defaults to 3 (TensorFlow's C++ logging shows nothing
below FATAL; set the variable yourself to see more), and the import itself runs with
file descriptor 2 sent to a temporary file (`scratch.quiet.stderr_captured`). If the
import fails, what it wrote is printed before the exception goes on, so a broken install
still explains itself.
"""

from __future__ import annotations

import os
import sys

from scratch.quiet import stderr_captured


def import_tensorflow_quietly() -> None:
    """Import tensorflow (once per process) with its start-up lines kept off stderr."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    with stderr_captured():
        import tensorflow  # noqa: F401
