"""Protocol details that decide whether a comparison is fair: the paper's curve, per-seed
teachers, time limits as baselines treats them (all on the toy env: seconds to compile)."""

from collections import deque

import dataclasses
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_mikt import agents, teachers as teachers_lib
from mjx_mikt.config import Config, MIKTConfig, PPOConfig, RunConfig
from mjx_mikt.losses import compute_gae
from mjx_mikt.train import RECENT_EPISODES, make_train, push_episode_returns, recent_mean
from toy_env import PointMass


def test_episode_return_100_equals_a_deque_reference():
    rng = np.random.default_rng(0)
    buffer, count = jnp.zeros((RECENT_EPISODES,)), jnp.zeros((), jnp.int32)
    push = jax.jit(push_episode_returns)
    reference = deque(maxlen=RECENT_EPISODES)
    # sparse updates, then one with more than 100 finished episodes, then sparse again
    for probability in (0.01, 0.02, 0.0, 0.5, 0.05, 0.9, 0.01):
        returns = rng.normal(100.0, 50.0, size=(64, 8))
        done = rng.random((64, 8)) < probability
        buffer, count = push(buffer, count, jnp.asarray(returns, jnp.float32), jnp.asarray(done, jnp.float32))
        for t in range(64):  # time-major, envs in index order: baselines' Monitor order
            for n in range(8):
                if done[t, n]:
                    reference.append(returns[t, n])
        got = float(recent_mean(buffer, count))
        if reference:
            assert got == pytest.approx(np.mean(reference), rel=1e-5)
        else:
            assert np.isnan(got)
        assert int(count) >= len(reference)


def _toy(bootstrap: bool, episode_length: int = 5):
    ppo = PPOConfig(num_envs=3, rollout_length=12, num_minibatches=2, update_epochs=1,
                    bootstrap_truncation=bootstrap)
    config = Config(run=RunConfig(target="PointMass", method="ppo", source=(), total_timesteps=4 * 36), ppo=ppo)
    env = PointMass(episode_length=episode_length)
    agent = agents.make_agent("ppo", env.observation_size, env.action_size, ppo, config.mikt)
    return make_train(config, env, agent), ppo


def test_without_bootstrap_a_time_limit_is_terminal_as_in_baselines():
    trainer, ppo = _toy(bootstrap=False)
    ts = trainer.init(jax.random.PRNGKey(0))
    _, traj = jax.jit(lambda s: trainer._rollout(s, False))(ts)
    assert float(traj.done.sum()) > 0 and float(jnp.sum(traj.env_metrics["episode_length"] == 5)) > 0
    np.testing.assert_array_equal(np.asarray(traj.termination), np.asarray(traj.done))
    adv, _ = compute_gae(traj.reward, traj.value, traj.next_value, traj.termination, traj.done,
                         ppo.gamma, ppo.gae_lambda)
    # baselines ppo2's loop: V(s_{t+1}) is the next row's value; after a done step nothing is bootstrapped
    r, v, d = (np.asarray(x, np.float64) for x in (traj.reward, traj.value, traj.done))
    last_value = np.asarray(traj.next_value[-1], np.float64)  # only used where the last step is not done
    ref, last = np.zeros_like(r), np.zeros(r.shape[1])
    for t in reversed(range(r.shape[0])):
        next_value = last_value if t == r.shape[0] - 1 else v[t + 1]
        nonterminal = 1.0 - d[t]
        delta = r[t] + ppo.gamma * next_value * nonterminal - v[t]
        last = delta + ppo.gamma * ppo.gae_lambda * nonterminal * last
        ref[t] = last
    np.testing.assert_allclose(np.asarray(adv), ref, rtol=1e-4, atol=1e-4)


def test_with_bootstrap_a_time_limit_is_not_terminal():
    trainer, _ = _toy(bootstrap=True)
    _, traj = jax.jit(lambda s: trainer._rollout(s, False))(trainer.init(jax.random.PRNGKey(0)))
    truncated = np.asarray(traj.done) * (np.asarray(traj.env_metrics["episode_length"]) == 5)
    assert truncated.sum() > 0
    assert float(np.sum(np.asarray(traj.termination) * truncated)) == 0.0


def _teacher(seed: int) -> agents.TeacherSpec:
    env = PointMass()
    teacher_agent = agents.make_agent("ppo", 4, 2, PPOConfig(), MIKTConfig())
    params = jax.tree.map(np.asarray, teacher_agent.init(jax.random.PRNGKey(100 + seed)))
    return agents.TeacherSpec(params=params, observation_size=env.observation_size,
                              action_size=env.action_size, robot="PointMass")


def test_two_students_in_one_program_read_two_different_teachers():
    ppo = PPOConfig(num_envs=2, rollout_length=8, num_minibatches=2, update_epochs=1)
    run = RunConfig(target="PointMass", method="mikt", source=("PointMass",), num_seeds=2, teacher_seeds=2,
                    total_timesteps=10 * 16)
    config = Config(run=run, ppo=ppo, mikt=MIKTConfig(coupling_start=0.0, coupling_end=1.0))
    env = PointMass()
    specs = [[_teacher(0), _teacher(1)]]
    agent = agents.make_agent("mikt", 4, 2, ppo, config.mikt, [specs[0][0]])
    trainer = make_train(config, env, agent)
    assert teachers_lib.per_seed_index(config) == [0, 1]
    same_key = jnp.stack([jax.random.PRNGKey(0)] * 2)  # identical students: only the teachers differ

    def first_update(stacked):
        state = trainer.seed_batched_init()(same_key, stacked)
        after, metrics = jax.jit(jax.vmap(lambda s: trainer.run(s, 1, True)))(state)
        obs = jnp.ones((2, 5, 4))
        mean = jax.vmap(lambda p, o, t: agent.apply(p, o, use_teacher=True, teachers=t))(
            after.params, obs, after.teachers)[0]
        return state, after, mean

    stacked = teachers_lib.TeacherSet(specs).stacked(agent, config)
    before, after, mean = first_update(stacked)
    assert not np.allclose(mean[0], mean[1])  # different teachers -> different students
    # teachers are state that no update touches (zero gradient, not optimised)
    for a, b in zip(jax.tree.leaves(before.teachers), jax.tree.leaves(after.teachers)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # seed 1 reads teacher 1: its teacher state is teacher 1's hidden layers
    np.testing.assert_array_equal(np.asarray(after.teachers[0]["policy"]["hidden_0"]["kernel"][1]),
                                  specs[0][1].params["policy"]["hidden_0"]["kernel"])
    # the same teacher for both seeds -> the same students
    one = dataclasses.replace(config, run=dataclasses.replace(run, teacher_seeds=1))
    _, _, mean_same = first_update(teachers_lib.TeacherSet(specs).stacked(agent, one))
    np.testing.assert_allclose(mean_same[0], mean_same[1], rtol=1e-6, atol=1e-6)
