"""The Keras twin: float64 all the way, one step = Keras's own `fit` step = one scratch
step, weight transfer, save/load, bad files. Tiny synthetic data: fast."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from scratch.config import OPTIMIZERS, ConfigError, ModelConfig

pytestmark = pytest.mark.keras

keras = pytest.importorskip("keras")
from keras_baseline.build import build_keras_model, floatx  # noqa: E402
from keras_baseline.files import ModelFileError  # noqa: E402
from keras_baseline.readback import config_from_model  # noqa: E402
from keras_baseline.twin import KerasTwin  # noqa: E402
from scratch.network import Network  # noqa: E402
from scratch.serialization import ModelFileError as ScratchModelFileError  # noqa: E402


def small_config(**changes) -> ModelConfig:
    values = {"hidden_sizes": (16,), "dtype": "float64", "learning_rate": 0.05} | changes
    return ModelConfig(**values)


def batch(n: int = 24, dtype: str = "float64", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, 784)).astype(dtype), rng.integers(0, 10, n).astype(np.int64)


def max_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b, strict=True))


def test_float64_twin_is_float64_throughout():
    twin = KerasTwin(small_config(l2=1e-3, optimizer="adam"))
    x, y = batch()
    loss, gradients = twin.loss_and_gradients(x, y)
    assert {v.dtype for v in twin.model.trainable_variables} == {"float64"}
    assert {
        v.dtype for v in twin.model.optimizer.variables[1:] if "learning_rate" not in v.path
    } == {"float64"}
    assert twin.predict_proba(x).dtype == np.float64
    assert [g.dtype for g in gradients] == [np.float64] * 4
    assert twin.model.loss.dtype == "float64"
    # A float32 loss or float32 data would show up as a float32-sized error here.
    network = Network(small_config(l2=1e-3, optimizer="adam"))
    twin.set_weights(network.get_weights())
    assert abs(twin.loss_and_gradients(x, y)[0] - network.loss_and_gradients(x, y)[0]) < 1e-14


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_train_step_is_exactly_a_keras_fit_step(optimizer):
    config = small_config(optimizer=optimizer, l2=1e-3)
    twin, reference = KerasTwin(config), KerasTwin(config, seed=1)
    reference.set_weights(twin.get_weights())
    x, y = batch()
    loss = twin.train_step(x, y)
    # fit casts float data to floatx: run it under float64 so both see the same inputs.
    with floatx("float64"):
        history = reference.model.fit(x, np.eye(10)[y], batch_size=len(x), shuffle=False, verbose=0)
    assert loss == history.history["loss"][0]
    assert max_diff(twin.get_weights(), reference.get_weights()) == 0.0


def test_partial_batches_do_not_retrace():
    twin = KerasTwin(small_config(dtype="float32"))
    x, y = batch(dtype="float32")
    for size in (24, 7, 24, 5):
        twin.train_step(x[:size], y[:size])
    assert twin._train_fn.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_weights_round_trip_scratch_keras_scratch_bit_exact(dtype):
    config = small_config(dtype=dtype, hidden_sizes=(16, 8))
    network = Network(config, seed=3)
    twin = KerasTwin(config, seed=5)
    original = network.get_weights()
    twin.set_weights(original)
    back = Network(config, seed=9)
    back.set_weights(twin.get_weights())
    for a, b in zip(original, back.get_weights(), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b)


def test_set_weights_rejects_wrong_shapes():
    twin = KerasTwin(small_config())
    weights = twin.get_weights()
    with pytest.raises(ValueError, match="shape"):
        twin.set_weights([weights[0].T, *weights[1:]])
    with pytest.raises(ValueError, match="expected 4"):
        twin.set_weights(weights[:2])


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_one_keras_step_equals_one_scratch_step(optimizer):
    config = small_config(optimizer=optimizer, l2=1e-3, activation="tanh")
    network = Network(config, seed=0)
    twin = KerasTwin(config)
    twin.set_weights(network.get_weights())
    x, y = batch()
    loss_s = network.train_step(x, y)
    loss_k = twin.train_step(x, y)
    # Adam divides each gradient entry by its own magnitude, so an entry that is a
    # near-cancelling sum (|g| ~ 1e-7, relative rounding error ~ 1e-10) moves its
    # weight by lr * (1 +- 1e-10): the bound scales with lr, not with |g|.
    limit = 1e-12 if optimizer == "adam" else 1e-15
    assert abs(loss_s - loss_k) < 1e-14
    assert max_diff(network.get_weights(), twin.get_weights()) < limit
    # And a second step, where momentum and Adam's moments come into play.
    network.train_step(x[:7], y[:7])
    twin.train_step(x[:7], y[:7])
    assert max_diff(network.get_weights(), twin.get_weights()) < 10 * limit


@pytest.mark.parametrize("init", ["glorot_uniform", "he_normal", "normal"])
def test_config_read_back_from_the_model(init):
    config = small_config(init=init, optimizer="nesterov", momentum=0.8, l2=1e-4, loss="mse")
    assert config_from_model(build_keras_model(config)) == config


def test_same_seed_same_initial_weights():
    config = small_config()
    assert (
        max_diff(KerasTwin(config, seed=4).get_weights(), KerasTwin(config, seed=4).get_weights())
        == 0
    )
    assert (
        max_diff(KerasTwin(config, seed=4).get_weights(), KerasTwin(config, seed=5).get_weights())
        > 0
    )


def test_save_and_load_predict_identically_and_keep_optimizer_state(tmp_path):
    config = small_config(optimizer="adam", l2=1e-3, dtype="float32")
    twin = KerasTwin(config)
    x, y = batch(dtype="float32")
    twin.train_step(x, y)
    path = twin.save(tmp_path / "model.keras")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]  # no temp file left
    loaded = KerasTwin.load(path)
    assert loaded.config == config
    assert np.array_equal(loaded.predict_proba(x), twin.predict_proba(x))
    assert int(loaded.model.optimizer.iterations.numpy()) == 1
    # Adam's moments came along: the next step is the same in both.
    twin.train_step(x, y)
    loaded.train_step(x, y)
    assert max_diff(twin.get_weights(), loaded.get_weights()) == 0.0


def test_evaluate_equals_scratch_evaluate_in_float64():
    config = small_config(l2=1e-3, activation="sigmoid")
    network = Network(config, seed=2)
    twin = KerasTwin(config)
    twin.set_weights(network.get_weights())
    x, y = batch(50)
    loss, accuracy = twin.evaluate(x, y)
    scratch_loss, scratch_accuracy = network.evaluate(x, y)
    assert accuracy == float(np.mean(twin.predict(x) == y)) == scratch_accuracy
    assert abs(loss - scratch_loss) < 1e-13  # a float32 detour would show as ~1e-7


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("model.keras", b"not a zip at all", "not a .keras file"),
        ("model.h5", b"", "expected a .keras file"),
        ("missing.keras", None, "does not exist"),
        ("other.keras", "zip", "cannot load the Keras model"),
    ],
)
def test_bad_keras_file_gives_one_line_error(tmp_path, name, content, message):
    path = tmp_path / name
    if content == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("hello.txt", "not a model")
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message) as error:
        KerasTwin.load(path)
    assert "\n" not in str(error.value)
    assert isinstance(error.value, ScratchModelFileError)  # one except for both file kinds


def test_save_needs_keras_suffix(tmp_path):
    with pytest.raises(ModelFileError, match="must end in .keras"):
        KerasTwin(small_config()).save(tmp_path / "model.h5")


@pytest.mark.keras
def test_twin_rejects_labels_out_of_range_as_scratch_does():
    from keras_baseline import KerasTwin

    twin = KerasTwin(ModelConfig(input_size=12, hidden_sizes=(8,), output_size=10), seed=0)
    x = np.zeros((4, 12), np.float32)
    for bad in (np.array([0, 1, 2, 10]), np.array([0, -1, 2, 3])):
        with pytest.raises(ValueError, match=r"labels must be in 0\.\.9"):
            twin.train_step(x, bad)
        with pytest.raises(ValueError, match=r"labels must be in 0\.\.9"):
            twin.evaluate(x, bad)
    with pytest.raises(ValueError, match="integer labels"):
        twin.train_step(x, np.zeros(4))


def test_momentum_optimizers_need_momentum():
    with pytest.raises(ConfigError, match="needs momentum > 0"):
        ModelConfig(optimizer="nesterov", momentum=0.0)
    assert ModelConfig(optimizer="sgd", momentum=0.0).momentum == 0.0


@pytest.mark.parametrize("change", ["activation", "clipnorm", "label_smoothing"])
def test_a_keras_file_that_is_not_a_twin_is_refused(tmp_path, change):
    import keras

    config = small_config(dtype="float32")
    model = KerasTwin(config).model
    if change == "activation":  # logits out, where the twin has softmax
        model.layers[-1].activation = keras.activations.get("linear")
    if change == "clipnorm":
        model.compile(
            optimizer=keras.optimizers.SGD(0.1, clipnorm=1.0), loss=model.loss, jit_compile=False
        )
    if change == "label_smoothing":
        model.compile(
            optimizer=model.optimizer,
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
            jit_compile=False,
        )
    path = tmp_path / "foreign.keras"
    model.save(path)
    with pytest.raises(ModelFileError, match="not an mnist-compare Keras twin") as error:
        KerasTwin.load(path)
    assert "\n" not in str(error.value)


def test_a_stack_with_two_activations_is_twinned_stepped_and_read_back(tmp_path):
    """Built from the layer specs through KERAS_LAYERS: each activation folded into the
    Dense layer before it, equal to scratch step by step, and read back from its file."""
    stack = ("dense9", "tanh", "dense7", "sigmoid", "dense10")
    config = ModelConfig(layers=stack, l2=1e-3, dtype="float64", learning_rate=0.05)
    assert config.activation == "mixed" and config.hidden_sizes == (9, 7)
    network, twin = Network(config, seed=0), KerasTwin(config)
    dense = [layer for layer in twin.model.layers if hasattr(layer, "units")]
    assert [layer.activation.__name__ for layer in dense] == ["tanh", "sigmoid", "softmax"]
    twin.set_weights(network.get_weights())
    x, y = batch()
    for _ in range(3):
        assert abs(network.train_step(x, y) - twin.train_step(x, y)) < 1e-14
    assert max_diff(network.get_weights(), twin.get_weights()) < 1e-14
    assert config_from_model(twin.model) == config
    twin.save(tmp_path / "mixed.keras")
    assert KerasTwin.load(tmp_path / "mixed.keras").config == config


def test_a_stack_with_a_standalone_activation_saves_and_loads(tmp_path):
    """Two activations in a row: the second is a keras Activation layer, read back too."""
    stack = ("dense9", "sigmoid", "tanh", "dense10")
    config = ModelConfig(layers=stack, dtype="float64", learning_rate=0.05)
    network, twin = Network(config, seed=0), KerasTwin(config)
    assert [type(layer).__name__ for layer in twin.model.layers[1:]] == [
        "Dense", "Activation", "Dense",
    ]  # fmt: skip
    twin.set_weights(network.get_weights())
    x, y = batch()
    for _ in range(3):
        assert abs(network.train_step(x, y) - twin.train_step(x, y)) < 1e-14
    assert max_diff(network.get_weights(), twin.get_weights()) < 1e-14
    twin.save(tmp_path / "stacked.keras")
    loaded = KerasTwin.load(tmp_path / "stacked.keras")
    assert loaded.config == config
    np.testing.assert_array_equal(loaded.predict_proba(x), twin.predict_proba(x))
