"""Running mean/variance (parallel-update form), as baselines' RunningMeanStd.

Used for observation normalisation (clip ±10) and for reward scaling by the
running std of the discounted return. The statistics are part of the training
state: they are checkpointed, saved with a teacher and used at evaluation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

EPSILON = 1e-8


@struct.dataclass
class RunningStats:
    """mean, var: (...,) per-feature statistics; count: () samples seen (float)."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @classmethod
    def create(cls, shape=(), dtype=jnp.float32) -> "RunningStats":
        # count starts at a tiny epsilon, as baselines does, so the first update
        # takes the batch's statistics almost exactly.
        return cls(jnp.zeros(shape, dtype), jnp.ones(shape, dtype), jnp.asarray(1e-4, dtype))

    def update(self, batch: jax.Array) -> "RunningStats":
        """batch: (B, ...) samples with the stats' trailing shape."""
        batch_mean = jnp.mean(batch, axis=0)
        batch_var = jnp.var(batch, axis=0)
        batch_count = jnp.asarray(batch.shape[0], self.count.dtype)
        delta = batch_mean - self.mean
        total = self.count + batch_count
        mean = self.mean + delta * batch_count / total
        m2 = self.var * self.count + batch_var * batch_count + delta**2 * self.count * batch_count / total
        return RunningStats(mean, m2 / total, total)


def normalize(stats: RunningStats, x: jax.Array, clip: float) -> jax.Array:
    return jnp.clip((x - stats.mean) / jnp.sqrt(stats.var + EPSILON), -clip, clip)


def scale_reward(stats: RunningStats, reward: jax.Array, clip: float) -> jax.Array:
    """Divide by the running std of the discounted return (no centring), clip."""
    return jnp.clip(reward / jnp.sqrt(stats.var + EPSILON), -clip, clip)
