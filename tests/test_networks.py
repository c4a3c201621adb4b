"""Network structure and initialisation (SPEC §3, §4)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_mikt import networks
from mjx_mikt.agents import PPOAgent
from mjx_mikt.config import PPOConfig


def _singular_values(k):
    return np.linalg.svd(np.asarray(k), compute_uv=False)


def test_ppo_params_structure_and_init():
    agent = PPOAgent(97, 10, PPOConfig())
    p = agent.init(jax.random.PRNGKey(0))
    shapes = jax.tree.map(jnp.shape, p)
    assert shapes == {
        "policy": {"hidden_0": {"kernel": (97, 64), "bias": (64,)}, "hidden_1": {"kernel": (64, 64), "bias": (64,)},
                   "head": {"kernel": (64, 10), "bias": (10,)}},
        "value": {"hidden_0": {"kernel": (97, 64), "bias": (64,)}, "hidden_1": {"kernel": (64, 64), "bias": (64,)},
                  "head": {"kernel": (64, 1), "bias": (1,)}},
        "log_std": (10,),
    }
    for path, x in jax.tree_util.tree_flatten_with_path(p)[0]:
        if path[-1].key in ("bias", "log_std"):
            assert not np.any(np.asarray(x)), path  # zero biases, log-std 0
    # orthogonal init: all singular values equal the gain
    np.testing.assert_allclose(_singular_values(p["policy"]["hidden_1"]["kernel"]), math.sqrt(2), rtol=1e-4)
    np.testing.assert_allclose(_singular_values(p["policy"]["hidden_0"]["kernel"]), math.sqrt(2), rtol=1e-4)
    np.testing.assert_allclose(_singular_values(p["policy"]["head"]["kernel"]), 0.01, rtol=1e-4)
    np.testing.assert_allclose(_singular_values(p["value"]["head"]["kernel"]), 1.0, rtol=1e-4)
    # separate towers: different random weights
    assert not np.allclose(p["policy"]["hidden_1"]["kernel"], p["value"]["hidden_1"]["kernel"])


def test_apply_shapes_and_batch_dims():
    agent = PPOAgent(11, 3, PPOConfig(hidden_sizes=(32, 16)))
    p = agent.init(jax.random.PRNGKey(1))
    mean, log_std, value = agent.apply(p, jnp.ones((4, 7, 11)))
    assert mean.shape == (4, 7, 3) and log_std.shape == (3,) and value.shape == (4, 7)
    assert networks.hidden_sizes_of(p["policy"]) == (32, 16)


def test_preactivations_match_tower():
    agent = PPOAgent(6, 2, PPOConfig())
    p = agent.init(jax.random.PRNGKey(2))
    x = jax.random.normal(jax.random.PRNGKey(3), (5, 6))
    z0, z1 = networks.preactivations(p["policy"], x)
    np.testing.assert_allclose(z0, x @ p["policy"]["hidden_0"]["kernel"] + p["policy"]["hidden_0"]["bias"],
                               rtol=1e-5, atol=1e-6)
    head = p["policy"]["head"]
    np.testing.assert_allclose(jnp.tanh(z1) @ head["kernel"] + head["bias"], agent.apply(p, x)[0],
                               rtol=1e-5, atol=1e-6)


def _teacher_z(n_teachers, width=64, batch=3):
    key = jax.random.PRNGKey(9)
    return [[jax.random.normal(jax.random.fold_in(key, 10 * t + j), (batch, width)) for j in range(2)]
            for t in range(n_teachers)]


@pytest.mark.parametrize("mixing", ["code", "paper"])
def test_mixed_layer_formula(mixing):
    net = networks.MixedMLP((64, 64), 4, 0.01, num_teachers=1, mixing=mixing)
    x = jax.random.normal(jax.random.PRNGKey(0), (3, 8))
    zt = _teacher_z(1)
    p = net.init(jax.random.PRNGKey(1), x, zt)["params"]
    assert ("lateral_0_0" in p) == (mixing == "code")
    p_s, p_t = jax.nn.softmax(p["mix_0"])
    np.testing.assert_allclose(p_s, math.exp(-0.1) / (math.exp(-0.1) + math.exp(0.01)), rtol=1e-6)
    own = x @ p["hidden_0"]["kernel"] + p["hidden_0"]["bias"]
    lat = zt[0][0] @ p["lateral_0_0"]["kernel"] if mixing == "code" else zt[0][0]
    h0 = jnp.tanh(p_s * own + p_t * lat)
    own1 = h0 @ p["hidden_1"]["kernel"] + p["hidden_1"]["bias"]
    q_s, q_t = jax.nn.softmax(p["mix_1"])
    lat1 = zt[0][1] @ p["lateral_1_0"]["kernel"] if mixing == "code" else zt[0][1]
    h1 = jnp.tanh(q_s * own1 + q_t * lat1)
    ref = h1 @ p["head"]["kernel"] + p["head"]["bias"]
    np.testing.assert_allclose(net.apply({"params": p}, x, zt), ref, rtol=1e-5, atol=1e-6)
    # without teachers the same params give the plain MLP h = tanh(W h + b)
    plain = jnp.tanh(jnp.tanh(own) @ p["hidden_1"]["kernel"] + p["hidden_1"]["bias"]) @ p["head"]["kernel"]
    np.testing.assert_allclose(net.apply({"params": p}, x), plain + p["head"]["bias"], rtol=1e-5, atol=1e-6)


def test_two_teachers_mixing_weights():
    net = networks.MixedMLP((64, 64), 1, 1.0, num_teachers=2)
    x = jnp.ones((2, 5))
    p = net.init(jax.random.PRNGKey(0), x, _teacher_z(2, batch=2))["params"]
    assert p["mix_1"].shape == (3,)
    assert {"lateral_0_0", "lateral_0_1", "lateral_1_0", "lateral_1_1"} <= set(p)
    w = jax.nn.softmax(p["mix_0"])
    np.testing.assert_allclose(w.sum(), 1.0, rtol=1e-6)
    assert w[0] < w[1] == w[2]


def test_paper_mixing_rejects_width_mismatch():
    net = networks.MixedMLP((64, 64), 1, 1.0, num_teachers=1, mixing="paper")
    with pytest.raises(ValueError, match="mixing='paper'"):
        net.init(jax.random.PRNGKey(0), jnp.ones((2, 5)), _teacher_z(1, width=32, batch=2))


def test_decoder_and_encoder_shapes():
    enc = networks.Encoder((64, 64), 97)
    e, pe = jnp.ones((4, 181)), None
    pe = enc.init(jax.random.PRNGKey(0), e)["params"]
    emb = enc.apply({"params": pe}, e)
    assert emb.shape == (4, 97)
    dec = networks.GaussianDecoder((64, 64), 181)
    pd = dec.init(jax.random.PRNGKey(1), emb)["params"]
    mean, log_std = dec.apply({"params": pd}, emb)
    assert mean.shape == (4, 181) and log_std.shape == (181,) and not np.any(np.asarray(log_std))
