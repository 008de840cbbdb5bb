"""Where Keras rounds through float32, even in a float64 model: the rules in one place.

None of this changes the math; it decides the last bits. It matters in float64,
where the twin is compared to 1e-10 (and agrees to about 1e-15 because of it).
Read from keras/src/optimizers/*.py and keras/src/regularizers and checked against
TensorFlow:

- `ops.cast(python_float, "float64")` is `tf.cast`, which first makes a float32
  tensor from the Python float: the value becomes float64(float32(x)). This hits
  SGD's `momentum`, Adam's `beta_1`/`beta_2` in the bias-correction powers, and the
  L2 factor of `keras.regularizers.L2`. `keras_cast` does the same.
- The learning rate lives in a Variable of dtype `keras.config.floatx()`, which is
  "float32" unless the process changes it globally. The twin sets float64 per layer
  and per loss and builds its optimizer under floatx float32 (the `OPTIMIZER_FLOATX`
  pin in keras_baseline/build.py), so lr -> float64(float32(lr)): `keras_learning_rate`.
- Python floats combined with a tensor (`1 - beta_1`, `1 - beta_2`, `epsilon`) are
  "weak" and take the tensor's dtype directly: no float32 detour. So Adam's epsilon
  is added to sqrt(v) in the model's dtype, outside the square root.
- A decaying learning rate is Keras's `InverseTimeDecay` schedule, evaluated at
  `iterations` (updates already applied) before each update. The schedule makes the
  Python float lr a float32 tensor whatever floatx is, casts `decay_rate`,
  `decay_steps` and the int64 step to float32 and computes `lr / (1 + decay_rate *
  (step / decay_steps))` in float32; `update_step` then casts the result to the
  variable dtype: `keras_decayed_learning_rate`.
- The iteration counter is int64; Adam's step t = iterations + 1 is cast to the
  variable dtype, exactly (t < 2**24 even in float32 for any real run).
"""

from __future__ import annotations

import numpy as np

KERAS_FLOATX = np.float32  # dtype of Keras's learning-rate Variable (floatx default)


def keras_cast(value: float, dtype: np.dtype) -> np.floating:
    """What `keras.ops.cast(value, dtype)` gives for a Python float with TensorFlow."""
    return dtype.type(np.float32(value))


def keras_learning_rate(value: float, dtype: np.dtype) -> np.floating:
    """The learning-rate Variable (floatx) cast to the variable dtype in `update_step`."""
    return dtype.type(KERAS_FLOATX(value))


def keras_decayed_learning_rate(
    learning_rate: float, lr_decay: float, iterations: int, dtype: np.dtype
) -> np.floating:
    """`InverseTimeDecay(learning_rate, 1, lr_decay)(iterations)` as Keras computes it:
    every operand and every operation in float32 (each NumPy float32 scalar operation
    rounds to float32, as TensorFlow's do), then cast to the variable dtype."""
    f32 = np.float32
    step = f32(iterations) / f32(1)  # global_step / decay_steps (exact for t < 2**24)
    denom = f32(1) + f32(lr_decay) * step  # (1 + decay_rate * p), float32
    return dtype.type(f32(learning_rate) / denom)
