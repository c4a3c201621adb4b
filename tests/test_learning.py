"""PPO really learns: a short Hopper run beats a uniformly random policy by a wide margin."""


import jax
import jax.numpy as jnp
import numpy as np

from mjx_mikt import run_folder
from mjx_mikt.config import Config, PPOConfig, RunConfig

UPDATES = 24
EPISODES = 8


def random_policy_return(env, key):
    """Mean first-episode return of uniform random actions over EPISODES envs."""
    state = jax.vmap(env.reset)(jax.random.split(key, EPISODES))

    def body(carry, k):
        state, total, alive = carry
        action = jax.random.uniform(k, (EPISODES, env.action_size), minval=-1, maxval=1)
        state = jax.vmap(env.step)(state, action)
        total = total + alive * state.reward
        return (state, total, alive * (1 - state.done)), None

    zeros = jnp.zeros(EPISODES)
    (_, total, _), _ = jax.lax.scan(body, (state, zeros, zeros + 1), jax.random.split(key, 1000))
    return total.mean()


def test_short_hopper_run_beats_random_policy():
    ppo = PPOConfig(num_envs=8, rollout_length=128, num_minibatches=16, update_epochs=5)
    run = RunConfig(target="Hopper", method="ppo", source=(), backend="mujoco",
                    total_timesteps=UPDATES * ppo.batch_size, eval_episodes=EPISODES, eval_max_steps=1000)
    config = Config(run=run, ppo=ppo)
    trainer = run_folder.build_trainer(config)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    state, metrics = jax.jit(lambda s: trainer.run(s, UPDATES, False))(state)
    evaluation = jax.jit(trainer.evaluate)(state.params, state.obs_stats, jax.random.PRNGKey(42))
    trained = float(np.mean(evaluation["return"]))
    random = jax.jit(lambda k: random_policy_return(trainer.env, k))(jax.random.PRNGKey(42))
    print(f"random {float(random):.1f} trained {trained:.1f}")
    # measured on the 2-core CPU: random 12.4, trained 249.6 after 24 x 1024 steps (about 30 s)
    assert trained > 2.0 * float(random) and trained > float(random) + 50.0
