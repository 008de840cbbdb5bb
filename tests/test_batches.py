"""BatchSchedule: seeded, reproducible per epoch, every index once, the last batch as `fit`."""

from __future__ import annotations

import numpy as np
import pytest

from compare.batches import BatchSchedule


def flat(batches: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(batches)


def same(first: list[np.ndarray], second: list[np.ndarray]) -> bool:
    """The same number of batches, each with the same indices in the same order."""
    return len(first) == len(second) and all(
        np.array_equal(x, y) for x, y in zip(first, second, strict=True)
    )


def test_same_seed_same_batches_other_seed_differs():
    a = BatchSchedule(1000, 32, seed=7)
    b = BatchSchedule(1000, 32, seed=7)
    c = BatchSchedule(1000, 32, seed=8)
    for epoch in range(3):
        assert same(a.epoch(epoch), b.epoch(epoch))
        assert not np.array_equal(flat(a.epoch(epoch)), flat(c.epoch(epoch)))


def test_epochs_differ_and_replay_on_their_own():
    schedule = BatchSchedule(500, 50, seed=1)
    first, second = schedule.epoch(0), schedule.epoch(1)
    assert not np.array_equal(flat(first), flat(second))
    replayed = list(schedule.epochs(2, start=1))
    assert len(replayed) == 2
    assert same(replayed[0], second)
    expected = np.random.default_rng((1, 1)).permutation(500)
    assert np.array_equal(flat(second), expected)  # the documented generator


@pytest.mark.parametrize(("n", "size"), [(100, 10), (103, 10), (7, 32), (1, 1)])
def test_every_index_exactly_once_per_epoch(n, size):
    schedule = BatchSchedule(n, size, seed=3)
    for epoch in range(3):
        batches = schedule.epoch(epoch)
        assert len(batches) == schedule.steps_per_epoch
        assert np.array_equal(np.sort(flat(batches)), np.arange(n))
        assert all(b.dtype == np.int64 for b in batches)


def test_last_partial_batch_kept_by_default():
    batches = BatchSchedule(103, 10, seed=0).epoch(0)
    assert [len(b) for b in batches] == [10] * 10 + [3]
    assert BatchSchedule(103, 10).steps_per_epoch == 11


def test_drop_last_drops_the_remainder():
    schedule = BatchSchedule(103, 10, seed=0, drop_last=True)
    batches = schedule.epoch(0)
    assert [len(b) for b in batches] == [10] * 10 and schedule.steps_per_epoch == 10
    kept = BatchSchedule(103, 10, seed=0).epoch(0)
    assert same(batches, kept[:10])
    assert len(np.unique(flat(batches))) == 100
    exact = BatchSchedule(100, 10, drop_last=True)
    assert exact.steps_per_epoch == 10 and len(exact.epoch(0)) == 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_samples": 0, "batch_size": 4}, "n_samples must be a whole number >= 1"),
        ({"n_samples": 10, "batch_size": 0}, "batch_size must be a whole number >= 1"),
        ({"n_samples": 10, "batch_size": 2.0}, "batch_size must be a whole number >= 1"),
        ({"n_samples": 10, "batch_size": True}, "batch_size must be a whole number >= 1"),
        ({"n_samples": 10, "batch_size": 2, "seed": -1}, "seed must be a whole number >= 0"),
        ({"n_samples": 10, "batch_size": 11, "drop_last": True}, "exceeds the 10 samples"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BatchSchedule(**kwargs)


def test_bad_epoch_raises():
    with pytest.raises(ValueError, match="epoch must be a whole number >= 0"):
        BatchSchedule(10, 2).epoch(-1)
    assert len(BatchSchedule(10, 2).epoch(np.int64(3))) == 5  # NumPy integers are fine
