"""GAE, PPO's losses (baselines ppo2, SPEC §3) and MIKT's extra terms (SPEC §4).

Everything here is a pure function of arrays; the agents (agents.py, mikt.py)
wire them to networks.
"""

from __future__ import annotations

import math
from typing import Dict, Sequence, Tuple

import jax
import jax.numpy as jnp

Metrics = Dict[str, jax.Array]


def compute_gae(rewards, values, next_values, terminations, dones, gamma, lam) -> Tuple[jax.Array, jax.Array]:
    """Generalised advantage estimation as a reverse lax.scan over time.

    All inputs (T, N), time-major. next_values[t] is V(s_{t+1}) of the same
    episode (for a truncated step the trainer passes V(final_obs)), so it can
    be used whatever happened after t. terminations[t]=1: s_{t+1} is terminal,
    no bootstrap. dones[t]=1 (terminated or truncated): the recursion is cut,
    because the next row belongs to a new episode.

    Returns (advantages, returns), both (T, N); returns = advantages + values.
    """
    not_term = 1.0 - terminations.astype(values.dtype)
    not_done = 1.0 - dones.astype(values.dtype)
    deltas = rewards + gamma * next_values * not_term - values

    def step(next_adv, x):
        delta, cont = x
        adv = delta + gamma * lam * cont * next_adv
        return adv, adv

    _, advantages = jax.lax.scan(step, jnp.zeros_like(values[0]), (deltas, not_done), reverse=True)
    return advantages, advantages + values


def gaussian_log_prob(mean: jax.Array, log_std: jax.Array, action: jax.Array) -> jax.Array:
    """mean, action (..., A); log_std (A,) -> log N(action; mean, exp(log_std)^2) summed over A, (...,)."""
    z = (action - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - 0.5 * math.log(2.0 * math.pi), axis=-1)


def gaussian_entropy(log_std: jax.Array) -> jax.Array:
    """Entropy of a diagonal Gaussian with state-independent log_std (A,) -> ()."""
    return jnp.sum(log_std + 0.5 * math.log(2.0 * math.pi * math.e))


def normalize_advantages(advantages: jax.Array) -> jax.Array:
    """Per-minibatch normalisation, baselines' (adv - mean) / (std + 1e-8)."""
    return (advantages - advantages.mean()) / (advantages.std() + 1e-8)


def clipped_policy_loss(log_prob, old_log_prob, advantages, clip_eps) -> Tuple[jax.Array, Metrics]:
    """PPO's clipped surrogate, (B,) inputs -> (scalar loss, metrics).

    `advantages` are used as given (normalise them before calling).
    approx_kl is baselines' 0.5 * mean((logp - logp_old)^2), the quantity
    MIKT's KL term penalises.
    """
    log_ratio = log_prob - old_log_prob
    ratio = jnp.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    loss = jnp.mean(jnp.maximum(unclipped, clipped))
    metrics = {
        "approx_kl": 0.5 * jnp.mean(log_ratio**2),
        "clip_fraction": jnp.mean((jnp.abs(ratio - 1.0) > clip_eps).astype(jnp.float32)),
    }
    return loss, metrics


def clipped_value_loss(value, old_value, returns, clip_eps, clip: bool = True) -> jax.Array:
    """0.5 * mean(max((v - R)^2, (v_old + clip(v - v_old, ±eps) - R)^2)) over (B,) inputs.

    clip=False gives the plain 0.5 * mean((v - R)^2).
    """
    unclipped = (value - returns) ** 2
    if not clip:
        return 0.5 * jnp.mean(unclipped)
    value_clipped = old_value + jnp.clip(value - old_value, -clip_eps, clip_eps)
    return 0.5 * jnp.mean(jnp.maximum(unclipped, (value_clipped - returns) ** 2))


def ppo_loss(mean, log_std, value, batch, ppo) -> Tuple[jax.Array, jax.Array, Metrics]:
    """L_PPO on one minibatch.

    mean (B, A), log_std (A,), value (B,); batch an agents.Minibatch; ppo a PPOConfig.
    Returns (total loss, log_prob (B,), metrics); log_prob is returned for
    MIKT's KL term.
    """
    log_prob = gaussian_log_prob(mean, log_std, batch.actions)
    advantages = normalize_advantages(batch.advantages)
    policy_loss, metrics = clipped_policy_loss(log_prob, batch.old_log_prob, advantages, ppo.clip_eps)
    value_loss = clipped_value_loss(value, batch.old_value, batch.returns, ppo.clip_eps, ppo.clip_value)
    entropy = gaussian_entropy(log_std)
    total = policy_loss + ppo.vf_coef * value_loss - ppo.ent_coef * entropy
    metrics.update(policy_loss=policy_loss, value_loss=value_loss, entropy=entropy)
    return total, log_prob, metrics


def kl_penalty(log_prob, old_log_prob) -> jax.Array:
    """MIKT's KL term before its coefficient: 0.5 * mean((logπ - logπ_old)^2)."""
    return 0.5 * jnp.mean((log_prob - old_log_prob) ** 2)


def coupling_loss(mix_logits: Sequence[jax.Array]) -> jax.Array:
    """-mean_j log p_s^j over one tower's layers; each mix_logits[j] is (1 + k,), p_s its softmax's first entry."""
    return -jnp.mean(jnp.stack([jax.nn.log_softmax(logits)[0] for logits in mix_logits]))


def gaussian_nll(x: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
    """L_MI = mean(log σ + (x - μ)² / (2σ²)) over batch and dimensions.

    x, mean (..., D); log_std (D,). The constant 0.5 log 2π is left out, as
    the authors did; it changes no gradient.
    """
    return jnp.mean(log_std + 0.5 * ((x - mean) * jnp.exp(-log_std)) ** 2)
