"""The network's interface: shapes, dtypes, seeds, weights, divergence."""

from __future__ import annotations

import numpy as np
import pytest

from scratch.config import ConfigError, ModelConfig
from scratch.network import Network
from scratch.training import DivergenceError

SMALL = dict(input_size=12, hidden_sizes=(8, 6), output_size=10)


def data(n: int = 40, dtype: str = "float32", seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 12)).astype(dtype), rng.integers(0, 10, size=n)


class Schedule:
    """A compare.BatchSchedule look-alike: the fit loop only needs .epoch(e)."""

    def __init__(self, n: int, batch: int) -> None:
        self.n, self.batch = n, batch

    def epoch(self, epoch: int) -> list[np.ndarray]:
        order = np.random.default_rng((7, epoch)).permutation(self.n)
        return [order[i : i + self.batch] for i in range(0, self.n, self.batch)]


def test_weights_follow_keras_layout():
    weights = Network(ModelConfig(hidden_sizes=(30,)), seed=0).get_weights()
    assert [w.shape for w in weights] == [(784, 30), (30,), (30, 10), (10,)]
    assert all(w.flags.c_contiguous for w in weights)
    assert not weights[1].any() and not weights[3].any()  # biases start at zero


@pytest.mark.parametrize("init", ["glorot_uniform", "he_normal", "normal"])
def test_initializers_have_the_documented_spread(init):
    W = Network(ModelConfig(hidden_sizes=(400,), init=init, dtype="float64"), seed=0).params[0]
    fan_in, fan_out = W.shape
    if init == "glorot_uniform":
        limit = np.sqrt(6 / (fan_in + fan_out))
        assert np.abs(W).max() <= limit and W.std() == pytest.approx(limit / np.sqrt(3), rel=0.01)
    elif init == "he_normal":
        assert np.abs(W).max() <= 2 * np.sqrt(2 / fan_in) / 0.87962566103423978
        assert W.std() == pytest.approx(np.sqrt(2 / fan_in), rel=0.01)
    else:
        assert W.std() == pytest.approx(1 / np.sqrt(fan_in), rel=0.01)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss", ["crossentropy", "mse"])
def test_dtype_is_kept_end_to_end(dtype, loss):
    config = ModelConfig(**SMALL, loss=loss, optimizer="adam", l2=1e-3, dtype=dtype)
    network = Network(config, seed=0)
    x, y = data(dtype=dtype)
    network.fit(x, y, schedule=Schedule(len(y), 16), epochs=1)
    logits = network.forward(x)
    _, grads = network.loss_and_gradients(x, y)
    buffers = [b for layer in network.layers for b in layer.__dict__.get("_buffers", {}).values()]
    kept = [
        getattr(layer, name)
        for layer in network.layers
        for name in ("X", "A")
        if hasattr(layer, name)
    ]
    optimizer = network.optimizer
    arrays = network.params + grads + [logits] + buffers + kept + optimizer.m + optimizer.v
    assert {a.dtype for a in arrays} == {np.dtype(dtype)}
    assert network.predict_proba(x).dtype == np.dtype(dtype)
    assert network.predict(x).dtype == np.int64


def test_float64_inputs_do_not_upcast_a_float32_network():
    network = Network(ModelConfig(**SMALL), seed=0)
    x, y = data(dtype="float64")
    network.train_step(x, y)
    assert all(p.dtype == np.float32 for p in network.params)


def test_same_seed_gives_bit_identical_training():
    x, y = data(64)
    results = []
    for seed in (5, 5, np.random.default_rng(5), 6):
        network = Network(ModelConfig(**SMALL, optimizer="nesterov"), seed=seed)
        network.fit(x, y, schedule=Schedule(64, 10), epochs=2)
        results.append(network.get_weights())
    for a, b in zip(results[0], results[1], strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(results[0], results[2], strict=True):
        np.testing.assert_array_equal(a, b)  # an int seed is default_rng(seed)
    assert not np.array_equal(results[0][0], results[3][0])


def test_predict_and_evaluate_agree():
    network = Network(ModelConfig(**SMALL), seed=0)
    x, y = data(50)
    proba = network.predict_proba(x)
    assert proba.shape == (50, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    loss, accuracy = network.evaluate(x, y)
    assert accuracy == np.mean(network.predict(x) == y)
    assert loss == pytest.approx(network.loss_and_gradients(x, y)[0], rel=1e-5)


def test_fit_learns_and_reports_epoch_losses():
    x, y = data(200)
    y = (x[:, 0] > x[:, 1]).astype(np.int64)  # a learnable rule
    network = Network(ModelConfig(**SMALL, optimizer="adam", learning_rate=0.01), seed=0)
    history = network.fit(x, y, schedule=Schedule(200, 20), epochs=15)
    assert len(history) == 15 and history[-1] < 0.3 * history[0]


def test_divergence_raises_with_epoch_and_step_and_keeps_last_weights():
    x, y = data(64)
    network = Network(ModelConfig(**SMALL, learning_rate=1e12), seed=0)
    with pytest.raises(DivergenceError) as caught:
        network.fit(x * 100, y, schedule=Schedule(64, 8), epochs=5)
    error = caught.value
    assert error.epoch is not None and error.batch is not None and error.step >= 1
    message = str(error)
    assert f"epoch {error.epoch}, batch {error.batch} (optimizer step {error.step})" in message
    assert "smaller learning rate" in message and "\n" not in message
    assert network.iterations == error.step - 1  # the bad step was not applied


def test_train_step_divergence_leaves_weights_untouched():
    network = Network(ModelConfig(**SMALL, learning_rate=1e12), seed=0)
    x, y = data(8)
    for _ in range(100):
        before = network.get_weights()
        try:
            network.train_step(x * 100, y)
        except DivergenceError as error:
            assert error.epoch is None and "step" in str(error)
            for a, b in zip(before, network.get_weights(), strict=True):
                np.testing.assert_array_equal(a, b)
            return
    pytest.fail("a learning rate of 1e12 never diverged")


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (lambda w: w[:3], "got 3 arrays"),
        (lambda w: [w[0][:5], *w[1:]], "array 0 has shape"),
        (lambda w: [w[0], w[1], w[2], w[3], w[4], w[5].reshape(1, 10)], "array 5 has shape"),
        (lambda w: [w[0].astype(complex), *w[1:]], "cannot become"),
    ],
)
def test_set_weights_rejects_bad_input(weights, message):
    network = Network(ModelConfig(**SMALL), seed=0)
    with pytest.raises(ValueError, match=message) as caught:
        network.set_weights(weights(network.get_weights()))
    assert "\n" not in str(caught.value)


def test_set_weights_casts_and_copies():
    source = Network(ModelConfig(**SMALL, dtype="float64"), seed=1).get_weights()
    network = Network(ModelConfig(**SMALL), seed=0)
    network.set_weights(source)
    assert all(p.dtype == np.float32 for p in network.params)
    np.testing.assert_array_equal(network.params[0], source[0].astype(np.float32))
    source[0][:] = 0  # the network holds its own copy
    assert network.params[0].any()


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (np.zeros((4, 5)), np.zeros(4, int), r"x must have shape \(n, 12\)"),
        (np.zeros((4, 12)), np.zeros(3, int), "integer labels"),
        (np.zeros((4, 12)), np.zeros(4), "integer labels"),
        (np.zeros((4, 12)), np.array([0, 1, 2, 10]), r"labels must be in 0\.\.9"),
        (np.zeros((4, 12)), np.array([0, -1, 2, 3]), r"labels must be in 0\.\.9"),
    ],
)
def test_bad_data_is_a_one_line_error(x, y, message):
    with pytest.raises(ValueError, match=message):
        Network(ModelConfig(**SMALL), seed=0).train_step(x, y)


def test_bad_seed_and_config():
    with pytest.raises(ConfigError, match="seed"):
        Network(ModelConfig(), seed=-1)
    with pytest.raises(ConfigError, match="ModelConfig"):
        Network({"hidden_sizes": [10]})


def test_parameters_are_views_of_one_flat_vector():
    network = Network(ModelConfig(**SMALL, optimizer="momentum"), seed=0)
    sizes = [p.size for p in network.params]
    assert network.flat_params.size == sum(sizes) == network.flat_grads.size
    for param, grad in zip(network.params, network.grads, strict=True):
        assert np.shares_memory(param, network.flat_params) and param.flags.c_contiguous
        assert np.shares_memory(grad, network.flat_grads)
    x, y = data()
    before = network.get_weights()
    network.train_step(x, y)
    after = network.get_weights()
    assert all((a != b).any() for a, b in zip(after, before, strict=True))  # every array moved
    assert not any(np.shares_memory(w, network.flat_params) for w in after)  # copies
    np.testing.assert_array_equal(np.concatenate([w.ravel() for w in after]), network.flat_params)


def test_set_weights_keeps_the_views_and_the_training_identical():
    x, y = data(64)
    reference = Network(ModelConfig(**SMALL), seed=3)
    loaded = Network(ModelConfig(**SMALL), seed=4)
    loaded.set_weights(reference.get_weights())
    assert all(np.shares_memory(p, loaded.flat_params) for p in loaded.params)
    for network in (reference, loaded):
        network.fit(x, y, schedule=Schedule(64, 16), epochs=2)
    for a, b in zip(reference.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_fit_checks_labels_before_the_first_step():
    network = Network(ModelConfig(**SMALL), seed=0)
    x, y = data()
    y[-1] = 10  # only in the last batch
    before = network.get_weights()
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.9"):
        network.fit(x, y, schedule=Schedule(len(y), 8), epochs=1)
    assert network.iterations == 0
    for a, b in zip(before, network.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_divergence_says_when_the_last_update_already_overflowed(recwarn):
    # Adam at an absurd rate: a step with a finite loss squares gradients of ~1e19
    # into inf, so the weights are NaN before any loss is.
    network = Network(ModelConfig(**SMALL, optimizer="adam", learning_rate=1e9), seed=0)
    x, y = data(16)
    with pytest.raises(DivergenceError) as caught:
        network.fit(x, y, schedule=Schedule(16, 4), epochs=5)
    error = caught.value
    assert error.weights_finite is False
    assert "previous update already overflowed the weights" in str(error)
    assert not np.isfinite(network.flat_params).all()
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]  # no noise


def test_fit_rejects_a_schedule_without_batches():
    class Empty:
        def epoch(self, epoch):
            return []

    with pytest.raises(ValueError, match="no batches for epoch 0"):
        Network(ModelConfig(**SMALL), seed=0).fit(*data(), schedule=Empty(), epochs=1)


@pytest.mark.parametrize("hidden", [None, 128.0, "128", [[128]], [0], [True], []])
def test_bad_hidden_sizes_are_config_errors(hidden):
    with pytest.raises(ConfigError, match="hidden"):
        ModelConfig(hidden_sizes=hidden)


def test_numpy_integer_sizes_become_plain_ints():
    config = ModelConfig(input_size=np.int64(12), hidden_sizes=[np.int32(8), 6])
    assert config.hidden_sizes == (8, 6) and type(config.input_size) is int
    assert all(type(size) is int for size in config.hidden_sizes)


def test_layers_and_the_hidden_sizes_shorthand_build_the_same_network():
    short = ModelConfig(hidden_sizes=(16, 8), activation="tanh")
    stack = ModelConfig(layers=("dense16", "tanh", "dense8", "tanh", "dense10"))
    assert short.layer_specs == stack.layer_specs
    assert (stack.hidden_sizes, stack.activation) == ((16, 8), "tanh")
    assert short.describe() == stack.describe() == "784-16-8-10 tanh/crossentropy float32"
    assert short == stack and stack.layers == () and "layers" not in stack.to_dict()
    other = ModelConfig(layers=("dense16", "tanh", "dense8", "relu", "dense10"))
    assert other.to_dict()["layers"] == list(other.layers) and other.activation == "mixed"
    assert ModelConfig.from_dict(other.to_dict()) == other
    assert other.describe() == "784 dense16,tanh,dense8,relu,dense10/crossentropy float32"
    x, y = data()
    a, b = Network(short, seed=4), Network(stack, seed=4)
    for w, v in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(w, v)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"layers": ("dense16", "swish", "dense10")}, "unknown layer 'swish'"),
        ({"layers": ("dense16", "relu")}, "the last layer must be dense10"),
        ({"layers": ("dense16", "relu", "dense7")}, "the last layer must be dense10"),
        ({"layers": "dense16,relu,dense10"}, "layers must be a list of layer specs"),
        (
            {"layers": ("dense16", "relu", "dense10"), "hidden_sizes": (32,)},
            r"hidden_sizes \[32\] conflicts with layers dense16,relu,dense10",
        ),
        (
            {"layers": ("dense16", "relu", "dense10"), "activation": "tanh"},
            "activation tanh conflicts with layers",
        ),
        ({"layers": ("dense10",)}, "layers dense10 has nothing before the output layer"),
        (
            {"layers": ("conv8x30", "flatten", "dense10")},
            "a 30x30 kernel does not fit in its 28x28",
        ),
        (
            {"layers": ("conv8x3", *["pool2"] * 5, "flatten", "dense10")},
            "pool2: a 2x2 pool leaves nothing of its 1x1 input",
        ),
        (
            {"layers": ("conv8x3", "relu", "dense10")},
            r"dense10 needs flat inputs .*got shape \(26, 26, 8\)",
        ),
        (
            {"layers": ("dense16", "conv8x3", "flatten", "dense10")},
            r"conv8x3 needs images .*got \(16,\)",
        ),
    ],
)
def test_bad_layer_stacks_are_one_line_errors(fields, message):
    with pytest.raises(ConfigError, match=message) as error:
        ModelConfig(**fields)
    assert "\n" not in str(error.value)
