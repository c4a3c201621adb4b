"""Gymnasium envs (mjx_mikt.gym_envs): API conformance, parity with the JAX env, the task evaluated in NumPy
against the same task in JAX, an MJCF file as an env (MJCF-v0), rendering, the benches (peers, gym_speed).
The batched vector env: tests/test_gym_vector.py."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium", reason="gymnasium not installed: pip install .[gym]")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from gymnasium.utils.env_checker import check_env  # noqa: E402

from mjx_mikt import envs, gym_envs  # noqa: E402
from mjx_mikt.envs import registry  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
IDS = [gym_envs.env_id(name) for name in envs.names()] + [gym_envs.GENERIC_CENTIPEDE_ID]
# a model nobody here wrote, bundled with gymnasium (its tests skip in one line without it)
CHEETAH = Path(gymnasium.__file__).parent / "envs" / "mujoco" / "assets" / "half_cheetah.xml"
needs_cheetah = pytest.mark.skipif(not CHEETAH.is_file(), reason=f"this gymnasium has no {CHEETAH.name}")
SETTOTALMASS = "ignore:compiler attribute 'settotalmass'"  # half_cheetah.xml's deprecation warning


def test_every_robot_is_registered_with_the_time_limit():
    for gym_id in IDS:
        spec = gymnasium.spec(gym_id)
        assert spec.max_episode_steps == 1000 and spec.entry_point == "mjx_mikt.gym_envs:CentipedeEnv"
        assert spec.vector_entry_point == gym_envs.VECTOR_ENTRY_POINT
    assert gymnasium.spec(gym_envs.MJCF_ID).vector_entry_point == "mjx_mikt.gym_vector:MjcfVectorEnv"


@pytest.mark.filterwarnings("ignore:.*Box observation space m")  # unbounded, as gymnasium's MuJoCo envs
@pytest.mark.parametrize("gym_id", IDS)
def test_check_env_passes(gym_id):
    env = gymnasium.make(gym_id)
    check_env(env.unwrapped, skip_render_check=True)
    name = gym_id.split("/")[1][:-3]
    if name in envs.names():  # the JAX env's sizes (SPEC §1)
        jax_env = envs.make(name, backend="mujoco")
        assert env.observation_space.shape == (jax_env.observation_size,)
        assert env.action_space.shape == (jax_env.action_size,)
    env.close()


def test_any_centipede_through_legs():
    env = gymnasium.make(gym_envs.GENERIC_CENTIPEDE_ID, legs=10, crippled=True)
    assert env.unwrapped.robot == "CpCentipedeTen"
    obs, _ = env.reset(seed=0)
    # 5 torsos: nq = 7 (free joint) + 2 per leg + 2 per torso joint, nbody = world + 5 torsos + 20 leg bodies
    nq, nv, nbody = 7 + 20 + 8, 6 + 20 + 8, 1 + 5 + 20
    assert obs.shape == (nq - 2 + nv + 6 * nbody,)
    assert env.action_space.shape == (20 + 8 - 4,)  # crippled: legs 0 and 1 lose their 4 motors
    assert gymnasium.make(gym_envs.GENERIC_CENTIPEDE_ID, legs=6).unwrapped.robot == "CentipedeSix"
    with pytest.raises(ValueError, match="even number of legs"):
        gymnasium.make(gym_envs.GENERIC_CENTIPEDE_ID, legs=5)
    with pytest.raises(envs.UnknownRobotError, match="known robots"):
        gym_envs.CentipedeEnv("Centipede99")


def test_time_limit_truncates_at_1000_steps_and_not_before():
    env = gymnasium.make(gym_envs.env_id("CentipedeFour"))
    env.reset(seed=0)
    start = env.unwrapped.physics_state
    zero = np.zeros(env.action_space.shape, np.float32)
    for t in range(1, 1001):
        env.unwrapped.set_state(start.qpos, start.qvel)  # keeps it healthy (lying still it falls over)
        _, _, terminated, truncated, info = env.step(zero)
        assert not terminated and truncated == (t == 1000), t
    assert set(info) >= {"forward", "ctrl_cost", "contact_cost", "survive", "physics_failure"}


def _jax_rollout(name, seed, actions):
    """The JAX env (native backend, float32) from reset(PRNGKey(seed)) through `actions`."""
    env = envs.make(name, backend="mujoco")
    state = jax.jit(env.reset)(jax.random.PRNGKey(seed))
    step = jax.jit(env.step)
    out = []
    for action in actions:
        state = step(state, jnp.asarray(action))
        out.append((np.asarray(state.final_obs), float(state.reward),
                    float(state.done) == 1.0 and float(state.truncation) == 0.0))
    return env, out


@pytest.mark.filterwarnings(SETTOTALMASS)
@pytest.mark.parametrize("name", ["CentipedeFour", "CpCentipedeSix", "Ant", "Hopper",
                                  pytest.param(str(CHEETAH), id="half_cheetah.xml", marks=needs_cheetah)])
def test_same_state_same_actions_as_the_jax_env(name):
    rng = np.random.default_rng(0)
    gym_env = gym_envs.CentipedeEnv(name)
    actions = rng.uniform(-1, 1, (20, gym_env.action_space.shape[0])).astype(np.float32)
    jax_env, expected = _jax_rollout(name, 0, actions)
    # the same seed gives the same initial state (the JAX env's key derivation, float32 draws)
    obs, _ = gym_env.reset(seed=0)
    reset = jax.jit(jax_env.reset)(jax.random.PRNGKey(0))
    np.testing.assert_allclose(obs, np.asarray(reset.obs), atol=1e-6, rtol=0)
    # and set_state puts it there explicitly (qpos, qvel, warm start of the JAX state)
    ps = reset.physics
    obs = gym_env.set_state(np.asarray(ps.qpos), np.asarray(ps.qvel), np.asarray(ps.qacc_warmstart))
    np.testing.assert_allclose(obs, np.asarray(reset.obs), atol=1e-6, rtol=0)
    steps = 0
    for action, (obs_j, reward_j, terminated_j) in zip(actions, expected):
        obs, reward, terminated, truncated, info = gym_env.step(action)
        # float64 physics here, float32 state in JAX: the test_envs parity tolerance
        np.testing.assert_allclose(obs, obs_j, atol=1e-3, rtol=1e-3, err_msg=f"step {steps}")
        assert abs(reward - reward_j) < 1e-3, (steps, reward, reward_j)
        assert terminated == terminated_j and not truncated and not info["physics_failure"]
        assert abs(sum(info[k] for k in gym_env.reward_terms) - reward) < 1e-9
        steps += 1
        if terminated:
            break
    assert steps >= 5


@needs_cheetah
@pytest.mark.filterwarnings("ignore:.*Box observation space m", SETTOTALMASS)
def test_an_mjcf_file_is_an_env_through_mjcf_v0():
    """gymnasium.make(MJCF-v0, xml=path): the JAX env of that path (its identity, observation and action
    sizes, reward terms), the 1000-step limit, the checker passes; task_options reach the task and the
    identity, as text or as a dict; a name given to envs.register_mjcf is a robot too."""
    jax_env = envs.make(str(CHEETAH), backend="mujoco")
    env = gymnasium.make(gym_envs.MJCF_ID, xml=str(CHEETAH))
    assert env.spec.max_episode_steps == 1000 and env.unwrapped.robot == jax_env.name
    assert env.unwrapped.robot.startswith("half_cheetah-")
    assert env.observation_space.shape == (jax_env.observation_size,) == (17,)
    assert env.action_space.shape == (jax_env.action_size,)
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    for _ in range(3):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert obs.shape == (jax_env.observation_size,) and np.isfinite(obs).all() and np.isfinite(reward)
    assert set(info) == set(jax_env.reward_terms) | {"physics_failure"}
    assert (env.unwrapped.task.min_height, jax_env.task.min_height) == pytest.approx((0.3 * 0.7, 0.3 * 0.7))
    tall = gymnasium.make(gym_envs.MJCF_ID, xml=CHEETAH, task_options="min_height=0.5").unwrapped
    assert tall.task.min_height == 0.5 and tall.robot != env.unwrapped.robot
    assert gym_envs.CentipedeEnv(xml=str(CHEETAH), task_options={"min_height": 0.5}).robot == tall.robot
    try:
        identity = envs.register_mjcf("MyCheetah", CHEETAH, min_height=0.5)
        assert gym_envs.CentipedeEnv("MyCheetah").robot == identity == "MyCheetah-" + tall.robot[-8:]
    finally:
        registry.MJCF_ROBOTS.pop("MyCheetah", None)


@pytest.mark.filterwarnings(SETTOTALMASS)
def test_mjcf_v0_bad_input_is_one_line(tmp_path):
    with pytest.raises(ValueError, match="needs the robot"):
        gymnasium.make(gym_envs.MJCF_ID)
    with pytest.raises(envs.MjcfError, match="cannot read robot file .*missing.xml"):
        gymnasium.make(gym_envs.MJCF_ID, xml=str(tmp_path / "missing.xml"))
    (tmp_path / "bad.xml").write_text("<mujoco><worldbody><body></mujoco>")
    with pytest.raises(envs.MjcfError, match="does not parse as MJCF"):
        gymnasium.make(gym_envs.MJCF_ID, xml=str(tmp_path / "bad.xml"))
    if CHEETAH.is_file():
        with pytest.raises(envs.MjcfError, match="unknown task option 'speed'"):
            gymnasium.make(gym_envs.MJCF_ID, xml=str(CHEETAH), task_options="speed=2")
    with pytest.raises(ValueError, match="give xml=path"):
        gym_envs.CentipedeEnv("Ant", task_options="min_height=0.5")


def _jax_task(task):
    """The task's observation, reward terms, reward and termination as the JAX env evaluates them (jitted)."""
    def evaluate(before, after, action):
        terms = task.reward(before, after, action)
        return task.observe(after), terms, sum(terms.values()), task.unhealthy(after)

    return jax.jit(evaluate)


ROBOTS = ["CentipedeFour", "CpCentipedeSix", "Ant", "Hopper",
          pytest.param(str(CHEETAH), id="half_cheetah.xml", marks=needs_cheetah)]


@pytest.mark.filterwarnings(SETTOTALMASS)
@pytest.mark.parametrize("name", ROBOTS)
def test_the_numpy_task_is_the_jax_task_over_whole_episodes(name):
    """The single env evaluates the task in NumPy (xp=numpy, no JAX per step); the same task functions
    jitted in JAX under float64 give the same observations, reward terms, rewards and terminations on
    every step of several episodes (time limit and termination), and the same first observation and
    a healthy state at every reset."""
    env = gymnasium.wrappers.TimeLimit(gym_envs.CentipedeEnv(name), max_episode_steps=25)
    inner = env.unwrapped
    jax_task = _jax_task(inner.task)
    tol = dict(rtol=1e-12, atol=1e-12)
    actions = np.random.default_rng(0).uniform(-1, 1, (150, inner.model.nu)).astype(np.float32)
    ends = {"terminated": 0, "truncated": 0}
    obs, _ = env.reset(seed=1)
    with jax.enable_x64(True):
        for t, action in enumerate(actions):
            if t == 0 or terminated or truncated:
                if t:
                    obs, _ = env.reset()
                start = inner.physics_state
                np.testing.assert_allclose(obs, np.asarray(inner.task.observe(start)), **tol)
                assert not bool(jax.jit(inner.task.unhealthy)(start))
            before = inner.physics_state
            obs, reward, terminated, truncated, info = env.step(action)
            obs_j, terms_j, reward_j, unhealthy_j = jax_task(before, inner.physics_state, action.astype(np.float64))
            np.testing.assert_allclose(obs, np.asarray(obs_j), err_msg=f"step {t}", **tol)
            assert reward == pytest.approx(float(reward_j), rel=1e-12, abs=1e-12), t
            assert {k: info[k] for k in terms_j} == pytest.approx({k: float(v) for k, v in terms_j.items()},
                                                                 rel=1e-12, abs=1e-12)
            assert terminated == bool(unhealthy_j) and not info["physics_failure"], t
            ends["terminated"] += terminated
            ends["truncated"] += truncated and not terminated
    assert sum(ends.values()) >= 3, ends


def test_the_single_env_steps_as_the_native_backend():
    """The single env's MuJoCo step (mj_step + mj_kinematics on its MjData) is the native backend's host
    step (NativePhysics.host_step, a batch of one), bit for bit: reset state and 30 control steps."""
    import centipede_models
    from mjx_mikt.envs.physics import NativePhysics

    env = gym_envs.CentipedeEnv("CentipedeFour")
    env.reset(seed=0)
    native = NativePhysics(centipede_models.load("CentipedeFour"), env.n_substeps, nthread=1)
    ps = env.physics_state
    zeros = np.zeros((1, env.model.nv))
    init = native.host_step(ps.qpos[None], ps.qvel[None], zeros, np.zeros((1, env.model.nu)), None, stepping=False)
    for got, want in zip((ps.qpos, ps.qvel, ps.xpos, ps.cfrc_ext), init[:2] + init[3:]):
        np.testing.assert_array_equal(got, want[0])
    for action in np.random.default_rng(0).uniform(-1, 1, (30, env.model.nu)):
        want = native.host_step(*(x[None] for x in (ps.qpos, ps.qvel, ps.qacc_warmstart, action)), None,
                                stepping=True)
        env.step(action)
        ps = env.physics_state
        for got, expected in zip(jax.tree.leaves(ps), want):
            np.testing.assert_array_equal(got, expected[0])


def test_the_plain_bench_env_is_the_same_task():
    """bench/plain_env.py (the yardstick of bench.gym_speed) gives the single env's observations, rewards,
    reward terms and terminations from the same state."""
    from bench.plain_env import PlainCentipedeEnv

    ours, plain = gym_envs.CentipedeEnv("CentipedeSix"), PlainCentipedeEnv("CentipedeSix")
    assert plain.observation_space == ours.observation_space and plain.action_space == ours.action_space
    ours.reset(seed=0)
    plain.reset(seed=0)
    ps = ours.physics_state
    plain.data.qpos[:], plain.data.qvel[:] = ps.qpos, ps.qvel
    import mujoco

    mujoco.mj_forward(plain.model, plain.data)
    steps = 0
    for action in np.random.default_rng(0).uniform(-1, 1, (200, ours.model.nu)).astype(np.float32):
        obs, reward, terminated, _, info = ours.step(action)
        obs_p, reward_p, terminated_p, _, info_p = plain.step(action)
        np.testing.assert_allclose(obs_p, obs, rtol=1e-12, atol=1e-12)
        assert reward_p == pytest.approx(reward, rel=1e-12, abs=1e-12) and terminated_p == terminated
        assert info_p == pytest.approx({k: info[k] for k in ours.reward_terms}, rel=1e-12, abs=1e-12)
        steps += 1
        if terminated:
            break
    assert steps >= 5


def test_gym_speed_bench_runs(tmp_path, capsys):
    """`python -m bench.gym_speed` on a tiny budget: both comparisons print and land in the JSON."""
    from bench import gym_speed

    out = tmp_path / "gym-speed.json"
    assert gym_speed.main(["--batches", "2", "--steps", "3", "--single-steps", "20", "--repeats", "1",
                           "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "of native" in text and "plain MuJoCo-Python" in text
    report = json.loads(out.read_text())
    (row,) = report["vector"]
    assert row["batch"] == 2 and row["vector_env_steps_per_s"] > 0 and row["of_native"] > 0
    assert report["single"]["single_us_per_step"] > 0 and report["single"]["ratio"] > 0


def test_seeding_is_deterministic_and_unseeded_resets_differ():
    env = gym_envs.CentipedeEnv("CentipedeSix")
    first, _ = env.reset(seed=3)
    again, _ = env.reset(seed=3)
    following, _ = env.reset()
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, following)


def test_non_finite_state_ends_the_episode_like_the_jax_env():
    env = gym_envs.CentipedeEnv("CentipedeFour")
    env.reset(seed=0)
    ps = env.physics_state
    env.set_state(ps.qpos, np.full_like(ps.qvel, np.nan))
    obs, reward, terminated, truncated, info = env.step(np.zeros(10))
    assert terminated and not truncated and info["physics_failure"]
    assert reward == 0.0 and not obs.any()


RENDER = """
import json, os, sys
import gymnasium, mjx_mikt.gym_envs  # the package sets MUJOCO_GL=egl before mujoco is imported
from mjx_mikt.render import rendering_available
available, why = rendering_available()
if not available:  # no OpenGL here: a skip; any other failure below fails the test
    print(json.dumps(["unavailable", why]))
    sys.exit(0)
env = gymnasium.make("mjx_mikt/CentipedeFour-v0", render_mode="rgb_array", width=96, height=64)
env.reset(seed=0)
img = env.render()
print(json.dumps([os.environ["MUJOCO_GL"], list(img.shape), str(img.dtype), float(img.std())]))
"""


def test_rgb_array_rendering():
    environ = {k: v for k, v in os.environ.items() if k != "MUJOCO_GL"}
    out = subprocess.run([sys.executable, "-c", RENDER], capture_output=True, text=True, cwd=REPO,
                         env=environ, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result[0] == "unavailable":
        pytest.skip(f"offscreen rendering unavailable here: {result[1]}")
    gl, shape, dtype, std = result
    assert gl == "egl" and shape == [64, 96, 3] and dtype == "uint8"
    assert std > 1.0  # not a blank image


def test_peer_bench(tmp_path, capsys):
    from bench import peers

    if not _has("stable_baselines3") or not _has("torch"):
        assert peers.main(["-o", str(tmp_path)]) == 0
        assert capsys.readouterr().out.strip() == peers.MISSING
        pytest.skip(peers.MISSING)
    assert peers.resolve_setup("auto", 1) == "dummy" and peers.resolve_setup("auto", 8) == "vector"
    # a tiny budget: 256 samples per update, 1 update, 2 envs (one trainer to compile); SB3 on the fastest
    # set-up (auto: the batched vector env) and on SyncVectorEnv
    assert peers.main(["--robot", "CentipedeFour", "--steps", "256", "--batch", "256", "--envs", "2",
                       "--sb3-env", "auto,sync", "-o", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "| 2 x 128 | gymnasium.make_vec(mjx_mikt/CentipedeFour-v0, 2): batched vector env, via Sb3VecEnv |" in table
    assert "| 2 x 128 | SyncVectorEnv of 2 x gymnasium.make(mjx_mikt/CentipedeFour-v0), via Sb3VecEnv |" in table
    assert "mjx_mikt / SB3" in table and "the jitted JAX env on native MuJoCo" in table
    (report_path,) = tmp_path.glob("peers-*.json")
    report = json.loads(report_path.read_text())
    assert set(report["versions"]) >= {"stable-baselines3", "torch", "gymnasium", "jax", "mujoco"}
    (row,) = report["rows"]
    assert {r["setup"] for r in row["sb3_setups"]} == {"vector", "sync"}
    assert row["sb3"] == max(row["sb3_setups"], key=lambda r: r["env_steps_per_s"])  # the row: the fastest
    for sb3 in row["sb3_setups"]:
        assert sb3["env_steps"] >= 256 and sb3["env_steps_per_s"] > 0 and sb3["vec_env"] == "Sb3VecEnv"
    assert row["mjx_mikt"]["env_steps_per_s"] > 0 and row["ratio"] > 0 and row["mjx_mikt"]["env"]


def _has(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None
