"""The Keras 3 twin of the scratch network, built from the same `scratch.ModelConfig`."""

from keras_baseline.build import build_keras_model, config_from_model
from keras_baseline.files import ModelFileError
from keras_baseline.twin import KerasTwin

__all__ = ["KerasTwin", "ModelFileError", "build_keras_model", "config_from_model"]
