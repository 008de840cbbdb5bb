"""Seeded mini-batches: the exact index arrays both networks train on.

Epoch `e` is a fresh permutation drawn from `numpy.random.default_rng((seed, e))`,
cut into batches of `batch_size`. Because each epoch has its own generator, any
epoch can be reproduced on its own (resuming, or the Keras twin replaying the
scratch network's batches) and two epochs never share a permutation by accident.

The last batch of an epoch holds the remainder (`n_samples % batch_size` items)
unless `drop_last=True`; this is what `keras.Model.fit` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from scratch.config import is_integer
from scratch.errors import must_be


@dataclass(frozen=True)
class BatchSchedule:
    """Which training indices go into which mini-batch, epoch by epoch."""

    n_samples: int
    batch_size: int
    seed: int = 0
    drop_last: bool = False

    def __post_init__(self) -> None:
        for field, value in (("n_samples", self.n_samples), ("batch_size", self.batch_size)):
            if not is_integer(value) or value < 1:
                raise ValueError(f"{field} {must_be('a whole number', 1)}, got {value!r}")
        if not is_integer(self.seed) or self.seed < 0:
            raise ValueError(f"seed {must_be('a whole number', 0)}, got {self.seed!r}")
        if self.drop_last and self.batch_size > self.n_samples:
            raise ValueError(
                f"batch_size {self.batch_size} exceeds the {self.n_samples} samples with drop_last"
            )

    @property
    def steps_per_epoch(self) -> int:
        full, rest = divmod(self.n_samples, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def epoch(self, epoch: int) -> list[np.ndarray]:
        """The index arrays of epoch `epoch` (0-based), each (batch_size,) int64."""
        if not is_integer(epoch) or epoch < 0:
            raise ValueError(f"epoch {must_be('a whole number', 0)}, got {epoch!r}")
        order = np.random.default_rng((self.seed, epoch)).permutation(self.n_samples)
        stops = range(self.batch_size, self.n_samples + self.batch_size, self.batch_size)
        batches = [order[stop - self.batch_size : stop] for stop in stops]
        if self.drop_last and len(batches[-1]) < self.batch_size:
            batches.pop()
        return batches

    def epochs(self, n_epochs: int, start: int = 0) -> Iterator[list[np.ndarray]]:
        """Each epoch's batches in turn, for epochs `start` .. `start + n_epochs - 1`."""
        for epoch in range(start, start + n_epochs):
            yield self.epoch(epoch)
