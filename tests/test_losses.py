"""GAE and PPO losses against independent numpy computations."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_mikt import losses
from mjx_mikt.agents import Minibatch, PPOAgent, coupling_schedule
from mjx_mikt.config import MIKTConfig, PPOConfig


def gae_by_episodes(rewards, values, next_values, terminations, dones, gamma, lam):
    """Textbook GAE: split each env's stream into episode segments at `dones`, then
    A_t = sum_l (gamma lam)^l delta_{t+l} inside the segment (no recursion)."""
    T, N = rewards.shape
    adv = np.zeros((T, N))
    for n in range(N):
        start = 0
        for t in range(T):
            if dones[t, n] or t == T - 1:
                seg = range(start, t + 1)
                deltas = [rewards[s, n] + gamma * next_values[s, n] * (1 - terminations[s, n]) - values[s, n]
                          for s in seg]
                for i, s in enumerate(seg):
                    adv[s, n] = sum((gamma * lam) ** l * d for l, d in enumerate(deltas[i:]))
                start = t + 1
    return adv, adv + values


def test_gae_scan_matches_episode_loop():
    rng = np.random.default_rng(0)
    T, N = 40, 5
    rewards = rng.normal(size=(T, N))
    values = rng.normal(size=(T, N))
    next_values = rng.normal(size=(T, N))
    dones = (rng.random((T, N)) < 0.15).astype(np.float64)
    truncated = dones * (rng.random((T, N)) < 0.5)
    terminations = dones - truncated
    assert terminations.sum() > 3 and truncated.sum() > 3  # both kinds of episode end are exercised
    adv, ret = losses.compute_gae(*(jnp.asarray(x, jnp.float32) for x in
                                    (rewards, values, next_values, terminations, dones)), 0.99, 0.95)
    ref_adv, ref_ret = gae_by_episodes(rewards, values, next_values, terminations, dones, 0.99, 0.95)
    np.testing.assert_allclose(adv, ref_adv, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ret, ref_ret, rtol=1e-4, atol=1e-4)


def test_gae_truncation_bootstraps_termination_does_not():
    # one step, zero value: advantage = r + gamma * V(next) unless terminated
    ones = jnp.ones((1, 2))
    adv, _ = losses.compute_gae(ones, 0 * ones, 2 * ones, jnp.array([[1.0, 0.0]]), ones, 0.5, 0.9)
    np.testing.assert_allclose(adv, [[1.0, 2.0]])


def _hand_ppo(mean, log_std, value, b, clip, vf_coef, ent_coef):
    std = np.exp(log_std)
    logp = np.sum(-0.5 * ((b["actions"] - mean) / std) ** 2 - log_std - 0.5 * np.log(2 * np.pi), axis=1)
    adv = (b["advantages"] - b["advantages"].mean()) / (b["advantages"].std() + 1e-8)
    ratio = np.exp(logp - b["old_log_prob"])
    pg = np.mean(np.maximum(-adv * ratio, -adv * np.clip(ratio, 1 - clip, 1 + clip)))
    v_clip = b["old_value"] + np.clip(value - b["old_value"], -clip, clip)
    vf = 0.5 * np.mean(np.maximum((value - b["returns"]) ** 2, (v_clip - b["returns"]) ** 2))
    ent = np.sum(log_std + 0.5 * np.log(2 * np.pi * np.e))
    return pg, vf, ent, pg + vf_coef * vf - ent_coef * ent


def test_ppo_losses_match_hand_computation():
    rng = np.random.default_rng(1)
    B, A = 6, 3
    mean = rng.normal(size=(B, A))
    log_std = rng.normal(size=(A,)) * 0.3
    value = rng.normal(size=(B,))
    actions = rng.normal(size=(B, A))
    logp = np.sum(-0.5 * ((actions - mean) / np.exp(log_std)) ** 2 - log_std - 0.5 * np.log(2 * np.pi), axis=1)
    b = dict(obs=np.zeros((B, 4)), actions=actions, old_log_prob=logp + rng.normal(size=(B,)) * 0.3,
             old_value=value + rng.normal(size=(B,)) * 0.5, advantages=rng.normal(size=(B,)) * 3,
             returns=rng.normal(size=(B,)))
    ppo = PPOConfig(ent_coef=0.01)
    batch = Minibatch(**{k: jnp.asarray(v, jnp.float32) for k, v in b.items()})
    total, _, m = losses.ppo_loss(jnp.asarray(mean, jnp.float32), jnp.asarray(log_std, jnp.float32),
                                  jnp.asarray(value, jnp.float32), batch, ppo)
    pg, vf, ent, ref_total = _hand_ppo(mean, log_std, value, b, ppo.clip_eps, ppo.vf_coef, ppo.ent_coef)
    assert 0 < float(m["clip_fraction"]) < 1  # the clip is active for some samples, not all
    np.testing.assert_allclose(m["policy_loss"], pg, rtol=1e-4)
    np.testing.assert_allclose(m["value_loss"], vf, rtol=1e-4)
    np.testing.assert_allclose(m["entropy"], ent, rtol=1e-5)
    np.testing.assert_allclose(total, ref_total, rtol=1e-4)
    # value clipping matters here: the unclipped loss differs
    assert abs(float(losses.clipped_value_loss(value, b["old_value"], b["returns"], 0.2, clip=False)) - vf) > 1e-3


def _numpy_tower(tower, x):
    """A policy or value tower evaluated in float64 NumPy from its params: tanh hidden layers, linear head
    (the network written out independently of flax's modules)."""
    j = 0
    while f"hidden_{j}" in tower:
        x = np.tanh(x @ tower[f"hidden_{j}"]["kernel"] + tower[f"hidden_{j}"]["bias"])
        j += 1
    return x @ tower["head"]["kernel"] + tower["head"]["bias"]


def test_ppo_agent_loss_matches_a_numpy_forward_pass_and_its_gradient():
    """agent.loss against a reference that shares no code with it: both MLPs in float64 NumPy from the
    params, then the hand-written PPO loss; the gradient of every parameter against central differences
    of that reference."""
    ppo = PPOConfig(ent_coef=0.01, hidden_sizes=(16, 8))
    agent = PPOAgent(5, 2, ppo)
    params = agent.init(jax.random.PRNGKey(0))
    params["log_std"] = jnp.asarray([0.2, -0.3])
    rng = np.random.default_rng(2)
    B = 12
    as64 = lambda tree: jax.tree.map(lambda x: np.asarray(x, np.float64), tree)
    obs = rng.normal(size=(B, 5)).astype(np.float32).astype(np.float64)
    p64 = as64(params)
    mean, value = _numpy_tower(p64["policy"], obs), _numpy_tower(p64["value"], obs)[:, 0]
    actions = mean + rng.normal(size=(B, 2)) * 0.5
    logp = np.sum(-0.5 * ((actions - mean) / np.exp(p64["log_std"])) ** 2 - p64["log_std"] - 0.5 * np.log(2 * np.pi),
                  axis=1)
    b = dict(obs=obs, actions=actions, old_log_prob=logp + rng.normal(size=B) * 0.3,
             old_value=value + rng.normal(size=B) * 0.5, advantages=rng.normal(size=B) * 3, returns=rng.normal(size=B))
    b = as64({k: np.asarray(v, np.float32) for k, v in b.items()})  # what the agent sees, exactly
    batch = Minibatch(**{k: jnp.asarray(v, jnp.float32) for k, v in b.items()})

    def reference(p):
        mean, value = _numpy_tower(p["policy"], b["obs"]), _numpy_tower(p["value"], b["obs"])[:, 0]
        return _hand_ppo(mean, p["log_std"], value, b, ppo.clip_eps, ppo.vf_coef, ppo.ent_coef)

    total, metrics = jax.jit(agent.loss)(params, batch)
    pg, vf, ent, ref_total = reference(p64)
    assert 0 < float(metrics["clip_fraction"]) < 1  # the clip is active for some samples, not all
    np.testing.assert_allclose(metrics["policy_loss"], pg, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(metrics["value_loss"], vf, rtol=1e-4)
    np.testing.assert_allclose(metrics["entropy"], ent, rtol=1e-5)
    np.testing.assert_allclose(total, ref_total, rtol=1e-4, atol=1e-6)

    grads, _ = jax.tree.flatten(jax.jit(jax.grad(lambda q: agent.loss(q, batch)[0]))(params))
    leaves, treedef = jax.tree.flatten(p64)
    eps = 1e-5
    for i, (leaf, grad) in enumerate(zip(leaves, grads)):
        direction = rng.normal(size=leaf.shape)
        moved = lambda sign: jax.tree.unflatten(treedef, [x + sign * eps * direction if k == i else x
                                                          for k, x in enumerate(leaves)])
        numeric = (reference(moved(1))[3] - reference(moved(-1))[3]) / (2 * eps)
        np.testing.assert_allclose(np.sum(np.asarray(grad, np.float64) * direction), numeric, rtol=2e-3, atol=1e-5)


def test_gaussian_log_prob_matches_closed_form():
    x = jnp.array([[0.3, -1.0]])
    mu = jnp.array([[0.0, 0.5]])
    ls = jnp.array([0.2, -0.4])
    ref = sum(-0.5 * ((x[0, i] - mu[0, i]) / math.exp(ls[i])) ** 2 - ls[i] - 0.5 * math.log(2 * math.pi)
              for i in range(2))
    np.testing.assert_allclose(losses.gaussian_log_prob(mu, ls, x), [ref], rtol=1e-5)


@pytest.mark.parametrize("fraction,expected", [(0.0, 0.0), (0.44, 0.0), (0.45, 0.0), (0.675, 0.25),
                                               (0.9, 0.5), (0.95, 0.5), (1.0, 0.5)])
def test_coupling_schedule(fraction, expected):
    np.testing.assert_allclose(coupling_schedule(fraction, MIKTConfig()), expected, atol=1e-6)


def test_coupling_schedule_traced():
    f = jax.jit(lambda x: coupling_schedule(x, MIKTConfig(c_ps=1.0)))
    np.testing.assert_allclose(jax.vmap(f)(jnp.array([0.2, 0.5625, 0.99])), [0.0, 0.25, 1.0], atol=1e-6)


def test_coupling_loss_and_mi_nll():
    logits = [jnp.array([-0.1, 0.01]), jnp.array([1.0, 0.0])]
    ps = [1 / (1 + math.exp(0.11)), 1 / (1 + math.exp(-1.0))]
    np.testing.assert_allclose(losses.coupling_loss(logits), -np.mean(np.log(ps)), rtol=1e-5)
    x, mu, ls = jnp.array([[1.0, 2.0]]), jnp.array([[0.0, 1.0]]), jnp.array([0.0, math.log(2.0)])
    ref = np.mean([0 + 0.5, math.log(2.0) + 1 / 8])
    np.testing.assert_allclose(losses.gaussian_nll(x, mu, ls), ref, rtol=1e-5)
