"""Any MJCF robot (envs/mjcf.py): with Ant's numbers the generic task is the Ant task exactly;
gymnasium's bundled models step; a robot's identity is its file's content hash."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import centipede_models
from mjx_mikt import envs
from mjx_mikt.envs import registry

pytestmark = pytest.mark.filterwarnings("ignore:compiler attribute 'settotalmass'")  # half_cheetah.xml's
ANT_NUMBERS = dict(ctrl_cost_weight=0.5, contact_cost_weight=5e-4, min_height=0.2, max_height=1.0)


def gymnasium_asset(name: str) -> Path:
    """A model bundled with the installed gymnasium (the test skips, one line, without it)."""
    gymnasium = pytest.importorskip("gymnasium", reason="gymnasium is not installed")
    path = Path(gymnasium.__file__).parent / "envs" / "mujoco" / "assets" / name
    if not path.is_file():
        pytest.skip(f"this gymnasium has no {name}")
    return path


@pytest.fixture(autouse=True)
def clean_registry():
    """register_mjcf is process-wide: every test leaves the registry as it found it."""
    before = dict(registry.MJCF_ROBOTS)
    yield
    registry.MJCF_ROBOTS.clear()
    registry.MJCF_ROBOTS.update(before)


# ------------------------------------------------------------------ Ant's numbers give the Ant task
def test_generic_task_with_ants_numbers_is_the_ant_task_over_random_episodes():
    """Observation, every reward term, reward, termination and resets equal bit for bit (native backend),
    over 4 envs x 150 random steps with 60-step episodes (auto-resets included)."""
    ant = envs.make("Ant", backend="mujoco", episode_length=60)
    identity = envs.register_mjcf("GenericAnt", centipede_models.load("Ant"), **ANT_NUMBERS)
    generic = envs.make("GenericAnt", backend="mujoco", episode_length=60)
    assert generic.name == identity and identity.startswith("GenericAnt-")
    assert (generic.observation_size, generic.action_size, generic.n_substeps) == (
        ant.observation_size, ant.action_size, ant.n_substeps)
    assert generic.reward_terms == ant.reward_terms

    def rollout(env):
        def body(state, key):
            action = jax.random.uniform(key, (4, env.action_size), minval=-1.0, maxval=1.0)
            state = jax.vmap(env.step)(state, action)
            return state, state

        keys = jax.random.split(jax.random.PRNGKey(3), 150)
        first = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(7), 4))
        return first, jax.lax.scan(body, first, keys)[1]

    (ant_first, ant_steps), (gen_first, gen_steps) = jax.jit(lambda: rollout(ant))(), jax.jit(
        lambda: rollout(generic))()
    for a, b in ((ant_first, gen_first), (ant_steps, gen_steps)):
        for name in ("obs", "reward", "done", "truncation", "final_obs"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        assert set(a.metrics) == set(b.metrics)
        for name in a.metrics:
            np.testing.assert_array_equal(a.metrics[name], b.metrics[name], err_msg=name)
        np.testing.assert_array_equal(a.physics.qpos, b.physics.qpos)
    assert float(ant_steps.done.sum()) >= 4  # episodes did end and restart
    # the root height the generic task reads (xpos) is Ant's (qpos[2]) in every state
    np.testing.assert_array_equal(gen_steps.physics.xpos[..., 1, 2], gen_steps.physics.qpos[..., 2])


def test_generic_termination_is_ants_at_every_height():
    ant = envs.make("Ant", backend="mujoco")
    envs.register_mjcf("GenericAnt", centipede_models.load("Ant"), **ANT_NUMBERS)
    generic = envs.make("GenericAnt", backend="mujoco")
    state = ant.reset(jax.random.PRNGKey(0)).physics
    for height in np.concatenate([np.linspace(0.0, 1.3, 27), [0.2, 1.0, np.nextafter(np.float32(0.2), 0)]]):
        h = jnp.float32(height)
        ps = state.replace(qpos=state.qpos.at[2].set(h), xpos=state.xpos.at[1, 2].set(h))
        assert bool(ant.task.unhealthy(ps)) == bool(generic.task.unhealthy(ps)), height


# ------------------------------------------------------------------ models nobody here wrote
@pytest.mark.parametrize("name, obs_size, action_size, terms", [
    ("half_cheetah.xml", 17, 6, ("ctrl_cost", "forward", "survive")),
    ("walker2d.xml", 17, 6, ("ctrl_cost", "forward", "survive")),
    ("swimmer.xml", 8, 2, ("ctrl_cost", "forward", "survive")),
])
def test_gymnasium_models_build_and_step(name, obs_size, action_size, terms):
    """Planar robots: qpos without the root's x (and the swimmer's y) + qvel: gymnasium's own sizes."""
    env = envs.make(str(gymnasium_asset(name)), backend="mujoco")
    assert env.name.startswith(Path(name).stem + "-")
    assert (env.observation_size, env.action_size, env.reward_terms) == (obs_size, action_size, terms)
    assert abs(env.n_substeps * env.physics.model.opt.timestep - 0.05) < 1e-9

    def body(state, key):
        state = jax.vmap(env.step)(state, jax.random.uniform(key, (2, env.action_size), minval=-1.0, maxval=1.0))
        return state, (state.obs, state.reward)

    start = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), 2))
    _, (obs, rewards) = jax.jit(lambda s: jax.lax.scan(body, s, jax.random.split(jax.random.PRNGKey(1), 20)))(start)
    assert obs.shape == (20, 2, obs_size) and np.isfinite(obs).all() and np.isfinite(rewards).all()


def test_default_height_range_comes_from_the_initial_height():
    cheetah = envs.make(str(gymnasium_asset("half_cheetah.xml")), backend="mujoco").task
    assert (cheetah.min_height, cheetah.max_height) == pytest.approx((0.3 * 0.7, 2.0 * 0.7))
    swimmer = envs.make(str(gymnasium_asset("swimmer.xml")), backend="mujoco").task
    assert (swimmer.min_height, swimmer.max_height) == (-np.inf, np.inf)  # no vertical freedom: no limit
    envs.register_mjcf("Tall", gymnasium_asset("half_cheetah.xml"), min_height=0.5, max_height="none")
    tall = envs.make("Tall", backend="mujoco").task
    assert (tall.min_height, tall.max_height) == pytest.approx((0.5, 1.4))


def test_generated_centipede_names_are_robots():
    env = envs.make("CentipedeTen", backend="mujoco")
    assert (env.name, env.action_size) == ("CentipedeTen", 10 * 2 + 2 * 4)
    assert envs.robot_id("CpCentipede18") == "CpCentipede18"
    for bad in ("CentipedeNine", "Centipede9", "Centipede2"):
        with pytest.raises(envs.UnknownRobotError, match="unknown robot"):
            envs.robot_id(bad)


# ------------------------------------------------------------------ identity: the content hash
def test_identity_is_the_stem_and_the_hash_of_content_and_changed_options(tmp_path):
    text = gymnasium_asset("half_cheetah.xml").read_text()
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "robot.xml").write_text(text)
    (tmp_path / "robot.xml").write_text(text)
    same = envs.robot_id(str(tmp_path / "a" / "robot.xml"))
    assert same == envs.robot_id(str(tmp_path / "robot.xml")) and same.startswith("robot-")
    assert envs.register_mjcf("x.xml", tmp_path / "robot.xml", forward_weight=1.0) == "x-" + same[-8:]  # a default
    assert envs.register_mjcf("x.xml", tmp_path / "robot.xml", forward_weight=2.0) != "x-" + same[-8:]
    (tmp_path / "robot.xml").write_text(text.replace('timestep="0.01"', 'timestep="0.005"'))
    assert envs.robot_id(str(tmp_path / "robot.xml")) != same
