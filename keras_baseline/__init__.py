"""The Keras 3 twin of the scratch network, built from the same `scratch.ModelConfig`."""

from keras_baseline.quiet import import_tensorflow_quietly

import_tensorflow_quietly()  # before keras, which imports tensorflow

from keras_baseline.build import build_keras_model  # noqa: E402
from keras_baseline.files import ModelFileError  # noqa: E402
from keras_baseline.readback import config_from_model  # noqa: E402
from keras_baseline.twin import KerasTwin  # noqa: E402

__all__ = ["KerasTwin", "ModelFileError", "build_keras_model", "config_from_model"]
