"""Backend mjx-warp (envs/warp_physics.py): its error without warp-lang, the contact frame, parity
with native MuJoCo under contact, and vmapped stepping. All but the first need `pip install .[warp]`."""

import sys

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from mjx_mikt import envs
from mjx_mikt.config import ConfigError


def test_mjx_warp_without_warp_fails_in_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "warp", None)  # `import warp` now raises ImportError
    for call in (lambda: envs.resolve_backend("mjx-warp"), lambda: envs.make("CentipedeFour", backend="mjx-warp")):
        with pytest.raises(ImportError, match=r"pip install \.\[warp\]") as err:
            call()
        assert isinstance(err.value, ConfigError) and "\n" not in str(err.value)  # the CLI: one line, exit 2
    assert envs.resolve_backend("auto") in ("mjx", "mujoco")  # auto never picks the opt-in backend


@pytest.fixture(scope="module")
def warp_four():
    pytest.importorskip("warp")
    return envs.make("CentipedeFour", backend="mjx-warp", max_worlds=4)


def test_warp_collider_keeps_the_projected_capsule_axis(warp_four):
    import warp as wp
    from mujoco.mjx.third_party.mujoco_warp._src import collision_primitive

    from mjx_mikt.envs.warp_physics import plane_capsule_c_frame

    assert collision_primitive.plane_capsule is plane_capsule_c_frame  # the patch is in place

    @wp.kernel
    def first_tangent(axes: wp.array(dtype=wp.vec3), out: wp.array(dtype=wp.vec3)):
        i = wp.tid()
        dist, pos, frame = collision_primitive.plane_capsule(
            wp.vec3(0.0, 0.0, 1.0), wp.vec3(0.0, 0.0, 0.0), wp.vec3(0.0, 0.0, 0.2), axes[i], 0.08, 0.16)
        out[i] = wp.vec3(frame[1, 0], frame[1, 1], frame[1, 2])

    angle = np.deg2rad(75.0)  # steeper than 60 degrees: stock MuJoCo Warp would use the world y axis
    axes = wp.array(np.array([[np.cos(angle), 0.0, np.sin(angle)]], np.float32), dtype=wp.vec3, device="cpu")
    out = wp.zeros(1, dtype=wp.vec3, device="cpu")
    wp.launch(first_tangent, dim=1, inputs=[axes, out], device="cpu")
    np.testing.assert_allclose(out.numpy()[0], [1.0, 0.0, 0.0], atol=1e-6)  # along the axis's shadow


def _rollout_with_cfrc(env):
    def rollout(physics, actions):
        def body(ps, action):
            after = env.physics.step(ps, action)
            reward = sum(env.task.reward(ps, after, action).values())
            return after, (env.task.observe(after), reward, after.cfrc_ext)

        return jax.lax.scan(body, physics, actions)[1]

    return jax.jit(rollout)


def test_warp_matches_native_over_20_steps_under_contact(native_envs, warp_four):
    """From a state with feet on the floor, 20 control steps (5 RK4 substeps each) on both engines.

    Tolerances: float32 Warp vs float64 MuJoCo; measured max |Δobs| 4.1e-3, |Δreward| 1.8e-4, cfrc_ext
    1.1e-3 (relative to 1 + that step's largest entry). cfrc_ext as a plain `mjx.step` leaves it
    (the last RK4 stage's) was off by 95 on the same relative scale.
    """
    native = native_envs["CentipedeFour"]
    state = jax.jit(native.reset)(jax.random.PRNGKey(0))
    step = jax.jit(native.step)
    for _ in range(10):  # lands within ~6 steps
        state = step(state, jnp.zeros(native.action_size))
    qpos, qvel = state.physics.qpos, state.physics.qvel
    # actions scaled by 0.3: the feet stay on the floor (19 of 20 steps with contact forces). With
    # full-range actions the float32 engines (MJX-JAX and Warp alike, within 2e-4 of each other)
    # drift from native by O(1) in 20 steps; see docs/mjx-warp.md.
    actions = 0.3 * jax.random.uniform(jax.random.PRNGKey(3), (20, native.action_size), minval=-1, maxval=1)
    obs_n, rew_n, cfrc_n = map(np.asarray, _rollout_with_cfrc(native)(native.physics.init(qpos, qvel), actions))
    obs_w, rew_w, cfrc_w = map(np.asarray, _rollout_with_cfrc(warp_four)(
        jax.jit(warp_four.physics.init)(qpos, qvel), actions))
    assert (np.abs(cfrc_n).sum(axis=(1, 2)) > 0).sum() >= 15  # really under contact
    np.testing.assert_allclose(obs_w, obs_n, atol=2e-2, rtol=2e-2)
    np.testing.assert_allclose(rew_w, rew_n, atol=2e-3)
    cfrc_err = np.abs(cfrc_w - cfrc_n).max(axis=(1, 2)) / (1.0 + np.abs(cfrc_n).max(axis=(1, 2)))
    assert cfrc_err.max() < 1e-2, cfrc_err


def test_warp_qacc_matches_native_on_contact_states(warp_four):
    """tests/test_envs.py's MJX check (random-episode contact states, sliding feet), on Warp."""
    from mujoco import mjx

    from mjx_mikt.envs.parity import native_contact_states, worst_qacc_error

    physics = warp_four.physics
    states = native_contact_states(physics.model)
    assert len(states) >= 10

    @jax.jit
    def qacc(qpos, qvel, ctrl, warmstart):
        return mjx.forward(physics.mjx_model, physics._data(qpos, qvel, warmstart, ctrl)).qacc

    worst = worst_qacc_error(physics.model, states, qacc)
    assert worst < 2e-2, worst  # the MJX test's bound; stock MuJoCo Warp's frame rule gave 0.54


def test_vmapped_warp_steps_match_single_world_steps(warp_four, capfd):
    """3 worlds in one call share the contact buffer (naconmax): each must step as if alone. No step
    prints MuJoCo Warp's "iterations limit reached" (4/4 iterations reach it by design)."""
    import ctypes

    env = warp_four
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    state = jax.jit(jax.vmap(env.reset))(keys)
    step = jax.jit(jax.vmap(env.step))
    for _ in range(10):  # with zero torques they land within ~6 steps
        state = step(state, jnp.zeros((3, env.action_size)))
    actions = jax.random.uniform(jax.random.PRNGKey(2), (1, 3, env.action_size), minval=-1, maxval=1)
    assert float(state.metrics["physics_failure"].sum()) == 0 and np.isfinite(np.asarray(state.obs)).all()
    assert (np.abs(np.asarray(state.physics.cfrc_ext)).sum(axis=(1, 2)) > 0).all()
    batched = jax.jit(jax.vmap(env.physics.step))(state.physics, actions[0])
    one = jax.jit(env.physics.step)
    for i in range(3):
        alone = one(jax.tree.map(lambda x: x[i], state.physics), actions[0][i])
        for name in ("qpos", "qvel", "xpos", "cfrc_ext"):
            np.testing.assert_allclose(np.asarray(getattr(batched, name)[i]), np.asarray(getattr(alone, name)),
                                       atol=1e-4, rtol=1e-4, err_msg=name)
    ctypes.CDLL(None).fflush(None)  # Warp kernels print through C stdio, buffered when not a terminal
    assert "iterations limit" not in capfd.readouterr().out


def test_contact_overflow_ends_the_episode_instead_of_dropping_contacts(native_envs):
    pytest.importorskip("warp")
    env = envs.make("CentipedeFour", backend="mjx-warp", max_worlds=1, contacts_per_world=1)
    native = native_envs["CentipedeFour"]
    state = jax.jit(native.reset)(jax.random.PRNGKey(0))
    for _ in range(10):  # feet on the floor: more than one contact
        state = jax.jit(native.step)(state, jnp.zeros(native.action_size))
    after = jax.jit(env.physics.step)(state.physics, jnp.zeros(env.action_size))
    assert not np.isfinite(np.asarray(after.qvel)).any()
