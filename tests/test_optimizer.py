"""The learning-rate rules: the paper's annealing and rsl_rl's KL-adaptive rate."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_mikt import agents
from mjx_mikt.config import Config, ConfigError, PPOConfig, RunConfig, validate
from mjx_mikt.optimizer import KL_RATE_MAX, KL_RATE_MIN, adapt_learning_rate, learning_rate, make_optimizer
from mjx_mikt.train import make_train
from toy_env import PointMass


@pytest.mark.parametrize("kl, expected", [
    (0.05, 1e-3 / 1.5),   # above 2 x 0.01: divided by 1.5
    (0.021, 1e-3 / 1.5),
    (0.019, 1e-3),        # within [0.5, 2] x 0.01: kept
    (0.006, 1e-3),
    (0.004, 1e-3 * 1.5),  # below half: multiplied by 1.5
    (0.0, 1e-3),          # a zero KL (nothing moved yet) leaves it alone, as rsl_rl
])
def test_kl_adaptive_rate_follows_rsl_rl_rule(kl, expected):
    ppo = PPOConfig(learning_rate=1e-3, desired_kl=0.01)
    state = make_optimizer(ppo, 10).init({"w": jnp.zeros((3,))})
    state = adapt_learning_rate(ppo, state, jnp.asarray(kl, jnp.float32))
    np.testing.assert_allclose(float(learning_rate(ppo, 10, state, jnp.asarray(0))), expected, rtol=1e-6)


def test_kl_adaptive_rate_is_clamped():
    ppo = PPOConfig(learning_rate=1e-3, desired_kl=0.01)
    state = make_optimizer(ppo, 10).init({"w": jnp.zeros((3,))})
    for _ in range(40):
        state = adapt_learning_rate(ppo, state, jnp.asarray(1.0))
    assert float(learning_rate(ppo, 10, state, 0)) == pytest.approx(KL_RATE_MIN)
    for _ in range(40):
        state = adapt_learning_rate(ppo, state, jnp.asarray(1e-6))
    assert float(learning_rate(ppo, 10, state, 0)) == pytest.approx(KL_RATE_MAX)


def test_without_desired_kl_the_rule_is_the_paper_annealing_and_adapt_is_a_no_op():
    ppo = PPOConfig(learning_rate=1e-3, num_minibatches=4, update_epochs=2)
    state = make_optimizer(ppo, 10).init({"w": jnp.zeros((3,))})
    assert adapt_learning_rate(ppo, state, jnp.asarray(1.0)) is state
    # update 5 of 10: half the rate
    np.testing.assert_allclose(float(learning_rate(ppo, 10, state, jnp.asarray(5))), 5e-4, rtol=1e-6)


def test_a_trained_run_adapts_its_rate_per_seed_and_uses_it():
    """In the fused program the rate moves between updates and differs between vmapped seeds."""
    ppo = PPOConfig(num_envs=4, rollout_length=16, num_minibatches=2, update_epochs=2, learning_rate=1e-3,
                    desired_kl=1e-4)
    config = Config(run=RunConfig(target="PointMass", method="ppo", source=(), total_timesteps=6 * 64), ppo=ppo)
    env = PointMass()
    trainer = make_train(config, env, agents.make_agent("ppo", env.observation_size, env.action_size, ppo, config.mikt))
    keys = jnp.stack([jax.random.PRNGKey(0), jax.random.PRNGKey(1)])
    _, metrics = jax.jit(jax.vmap(trainer.train))(keys)
    rates = np.asarray(metrics["learning_rate"])  # (seeds, updates)
    assert rates.shape == (2, 6)
    assert len(np.unique(rates[0])) > 1  # it moved
    assert not np.array_equal(rates[0], rates[1])  # per seed
    ratios = rates[0] / 1e-3  # every rate is 1e-3 x 1.5^k for an integer k
    k = np.log(ratios) / np.log(1.5)
    np.testing.assert_allclose(k, np.round(k), atol=1e-3)


def test_negative_desired_kl_is_a_config_error():
    with pytest.raises(ConfigError, match="desired-kl"):
        validate(Config(ppo=PPOConfig(desired_kl=-0.1)))


def test_a_fixed_rate_mask_keeps_its_leaves_on_the_annealed_rule_and_the_rest_on_the_kl_rate():
    """Under --desired-kl, --encoder-fixed-rate's split: after the KL rule cuts the rate, the masked
    leaves still take the annealed rate's first Adam step (about lr x sign(g)), the others the cut one;
    without the mask every leaf takes the cut rate."""
    ppo = PPOConfig(learning_rate=1e-3, desired_kl=0.01, num_minibatches=1, update_epochs=1)
    params = {"policy": jnp.zeros((3,)), "encoder": jnp.zeros((2,))}
    grads = {"policy": jnp.ones((3,)), "encoder": -jnp.ones((2,))}
    mask = lambda p: {"policy": False, "encoder": True}
    for fixed_rate_mask, encoder_step in ((mask, 1e-3), (None, 1e-3 / 1.5)):
        optimizer = make_optimizer(ppo, 10, fixed_rate_mask=fixed_rate_mask)
        state = adapt_learning_rate(ppo, optimizer.init(params), jnp.asarray(0.05))  # above 2 x 0.01: cut
        assert float(learning_rate(ppo, 10, state, 0)) == pytest.approx(1e-3 / 1.5)
        updates, _ = optimizer.update(grads, state, params)
        np.testing.assert_allclose(updates["policy"], -1e-3 / 1.5, rtol=1e-3)
        np.testing.assert_allclose(updates["encoder"], encoder_step, rtol=1e-3)


def test_the_mikt_agent_keeps_its_encoders_and_mi_decoders_on_the_fixed_rate_only_when_asked():
    from test_agents import MIKT, mikt_agent
    from mjx_mikt.agents.mikt import encoder_mask

    assert mikt_agent().fixed_rate_mask() is None
    assert mikt_agent(mikt=dataclasses.replace(MIKT, encoder_fixed_rate=True)).fixed_rate_mask() is encoder_mask
    assert agents.make_agent("ppo", 3, 2, PPOConfig(), None).fixed_rate_mask() is None
    with pytest.raises(ConfigError, match="encoder-fixed-rate.*desired-kl"):
        validate(Config(run=RunConfig(method="mikt", source=("CentipedeFour",)),
                        mikt=dataclasses.replace(Config().mikt, encoder_fixed_rate=True)))
