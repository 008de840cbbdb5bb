"""Save and load the Keras twin as `.keras` files: atomically, and safely.

Keras refuses to save to a name that does not end in `.keras`, so the temporary
file is `.<name>.<random>.keras` (mkstemp) in the target folder, then `os.replace`d onto
the target (atomic on one file system: readers see the old file or the new one,
never half a zip).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras

import scratch.serialization as scratch_serialization
from keras_baseline.build import OPTIMIZER_FLOATX, compile_model, floatx
from keras_baseline.readback import config_from_model
from scratch.errors import first_sentences


class ModelFileError(scratch_serialization.ModelFileError):
    """A `.keras` file that cannot be saved or loaded; the message is one line.

    A subclass of scratch's `ModelFileError`, so one `except` handles both models' files.
    """

    exit_code = 1


def save_model_atomic(model: keras.Model, path: str | Path) -> Path:
    """`model.save` to a temp `.keras` file beside `path`, then rename onto `path`."""
    target = Path(path)
    if target.suffix != ".keras":
        raise ModelFileError(f"{target}: a Keras model file must end in .keras")
    if not target.parent.is_dir():
        raise ModelFileError(f"{target.parent} does not exist; create the folder first")
    with scratch_serialization.atomic_path(target, suffix=".keras") as temp:
        model.save(temp)
    return target


def load_twin_model(path: str | Path) -> keras.Model:
    """Load a twin saved by `save_model_atomic`, with `safe_mode=True`.

    The optimizer's learning-rate Variable is recreated in float32, as when it was
    built (see `keras_baseline.build`), and the model is recompiled with the loss in the
    model's dtype because Keras does not save a loss's dtype.
    """
    source = Path(path)
    if source.suffix != ".keras":
        raise ModelFileError(f"{source}: expected a .keras file written by mnist-compare")
    if not source.is_file():
        raise ModelFileError(f"{source} does not exist; check the path")
    if not zipfile.is_zipfile(source):
        raise ModelFileError(
            f"{source} is not a .keras file (not a zip archive); re-save the model"
        )
    try:
        with floatx(OPTIMIZER_FLOATX):
            model = keras.saving.load_model(source, compile=True, safe_mode=True)
        config = config_from_model(model)
        compile_model(model, config, optimizer=model.optimizer)
    except Exception as error:  # Keras raises many types; the user needs one line.
        reason = first_sentences(str(error)) or type(error).__name__  # never cut mid-sentence
        raise ModelFileError(f"{source}: cannot load the Keras model: {reason}") from None
    return model
