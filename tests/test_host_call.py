"""host_call: pure_callback's broadcast_all semantics, NumPy in and out, and the pure_callback fallback."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_mikt import envs
from mjx_mikt.envs import host_call as host_call_module
from mjx_mikt.envs.host_call import host_call

SEEN_TYPES = []


def affine(x, y, scale):
    """Host function: rows of x and y (any leading axes), scale broadcast like them."""
    SEEN_TYPES.extend(type(a) for a in (x, y, scale))
    return (x * scale[..., None] + y).astype(np.float32), (x.sum(axis=-1) > 0).astype(np.int32)


def call(x, y, scale):
    shapes = (jax.ShapeDtypeStruct(x.shape, jnp.float32), jax.ShapeDtypeStruct((), jnp.int32))
    return host_call(affine, shapes, x, y, scale)


def reference(x, y, scale):
    shapes = (jax.ShapeDtypeStruct(x.shape, jnp.float32), jax.ShapeDtypeStruct((), jnp.int32))
    return jax.pure_callback(affine, shapes, x, y, scale, vmap_method="broadcast_all")


@pytest.mark.parametrize("fast", [True, False])
def test_equals_pure_callback_under_nested_vmap_with_an_unbatched_argument(fast, monkeypatch):
    if fast and not host_call_module.FAST_PATH:
        pytest.skip("this JAX lacks the private names host_call's fast path uses")
    monkeypatch.setattr(host_call_module, "FAST_PATH", fast)
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 3, 5))
    y = jax.random.normal(jax.random.PRNGKey(1), (5,))  # the same for every row: broadcast
    scale = jnp.arange(3.0) - 1.0  # batched over the inner axis only, at axis 0 of the outer vmap's rows
    batched = lambda f: jax.jit(jax.vmap(jax.vmap(f, in_axes=(0, None, 0)), in_axes=(0, None, None)))
    got, want = batched(call)(x, y, scale), batched(reference)(x, y, scale)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)
    eager = call(x[0, 0], y, scale[0])  # outside jit and vmap too
    np.testing.assert_array_equal(eager[0], got[0][0, 0])


def test_the_host_function_gets_numpy_arrays():
    if not host_call_module.FAST_PATH:
        pytest.skip("fallback: pure_callback hands over jax Arrays, host_call converts them")
    SEEN_TYPES.clear()
    jax.jit(jax.vmap(call, in_axes=(0, None, None)))(jnp.ones((4, 2)), jnp.zeros(2), jnp.float32(2.0))
    assert SEEN_TYPES and all(t is np.ndarray for t in SEEN_TYPES)


def test_a_reset_call_with_no_finished_episode_skips_mujoco():
    physics = envs.make("CentipedeFour", backend="mujoco").physics
    m = physics.model
    rows = lambda k: np.zeros((3, 4, k), np.float32)
    out = physics.host_step(rows(m.nq), rows(m.nv), rows(m.nv), rows(m.nu), np.zeros((3, 4), bool), stepping=False)
    assert physics._batches == {}  # no native batch was built or run
    assert [x.shape for x in out] == [(3, 4, m.nq), (3, 4, m.nv), (3, 4, m.nv), (3, 4, m.nbody, 3), (3, 4, m.nbody, 6)]
    assert all(x.dtype == np.float32 and not x.any() for x in out)
