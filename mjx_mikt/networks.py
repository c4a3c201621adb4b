"""Flax modules for PPO and MIKT (SPEC §3, §4).

One tower module, `MixedMLP`, serves every network that has a policy/value
shape: with no teachers it is the plain PPO MLP, with teachers its hidden
layers mix in the teachers' pre-activations (MIKT's lateral connections).
Using one module for both keeps a plain PPO agent's params and a MIKT
student's params under the same names, which is what lets a trained PPO agent
serve as a teacher and lets MLPP copy from it.

Param names of a tower (a Flax params dict):

    hidden_j     {'kernel': (in, H_j), 'bias': (H_j,)}     W_j, b_j
    head         {'kernel': (H_last, out), 'bias': (out,)}
    mix_j        (1 + k,)        MIKT only: logits [a, b_1..b_k]; softmax -> [p_s, p_t1..p_tk]
    lateral_j_t  {'kernel': (H^t_j, H_j)}   MIKT with mixing='code' only: U_j for teacher t
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

HIDDEN_GAIN = math.sqrt(2.0)
POLICY_HEAD_GAIN = 0.01
VALUE_HEAD_GAIN = 1.0
# baselines' `fc` default (init_scale=1.0): norm-preserving, so a lateral map
# starts out passing the teacher's pre-activations on at their own scale.
LATERAL_GAIN = 1.0
LINEAR_GAIN = 1.0

# (k teachers) x (hidden layers) of pre-activations, each (..., H^t_j)
TeacherPreacts = Sequence[Sequence[jax.Array]]


def orthogonal(gain: float = 1.0, iterations: int = 80):
    """Orthogonal initializer (Haar-distributed, as QR-based ones) without LAPACK.

    The polar factor of a Gaussian matrix, by Newton-Schulz iterations: pure
    matmuls. Flax's QR-based initializer calls a LAPACK custom call that, when
    vmapped over seeds, waits on XLA:CPU's intra-op thread pool; two of them
    running at once on a 2-core machine deadlocked the pool (seen with
    jaxlib 0.10.2 when initialising several seeds in one program). It is the
    deadlock of docs/mjx-cpu-hang.md; this initializer predates envs/cpu_linalg.py
    and stays, since replacing it would change every committed run's weights.
    """

    def init(key, shape, dtype=jnp.float32):
        rows, cols = shape[0], int(math.prod(shape[1:]))
        tall = rows >= cols
        g = jax.random.normal(key, (rows, cols) if tall else (cols, rows), jnp.float32)
        x = g / jnp.linalg.norm(g)  # every singular value <= 1: the iteration converges

        def newton_schulz(_, x):
            return 1.5 * x - 0.5 * x @ (x.T @ x)

        q = jax.lax.fori_loop(0, iterations, newton_schulz, x)
        q = q if tall else q.T
        return (gain * q).reshape(shape).astype(dtype)

    return init


def _dense(features: int, gain: float, name: str, use_bias: bool = True) -> nn.Dense:
    return nn.Dense(
        features,
        use_bias=use_bias,
        kernel_init=orthogonal(gain),
        bias_init=nn.initializers.zeros,
        name=name,
    )


class MixedMLP(nn.Module):
    """Policy or value tower: tanh hidden layers, linear head.

    __call__(x (..., in), teacher_preacts) -> (..., out_size)

    teacher_preacts=None: h_j = tanh(W_j h_{j-1} + b_j) (plain MLP; also the
    MIKT student after it dropped its teachers). Otherwise teacher_preacts[t][j]
    is teacher t's pre-activation z_j (..., H^t_j) and

        h_j = tanh(p_s (W_j h_{j-1} + b_j) + sum_t p_t (U_jt z^t_j))

    with [p_s, p_t1..] = softmax(mix_j); mixing='paper' has no U (U = identity,
    so H^t_j must equal H_j). The module must be *initialised* with the teacher
    path for the MIKT params (mix_j, lateral_j_t) to exist.
    """

    hidden_sizes: Tuple[int, ...]
    out_size: int
    head_gain: float
    num_teachers: int = 0
    mixing: str = "code"
    init_student_logit: float = -0.1
    init_teacher_logit: float = 0.01

    @nn.compact
    def __call__(self, x: jax.Array, teacher_preacts: Optional[TeacherPreacts] = None) -> jax.Array:
        for j, size in enumerate(self.hidden_sizes):
            z = _dense(size, HIDDEN_GAIN, f"hidden_{j}")(x)
            if teacher_preacts is not None:
                z = self._mix(j, size, z, teacher_preacts)
            x = jnp.tanh(z)
        return _dense(self.out_size, self.head_gain, "head")(x)

    def _mix(self, j: int, size: int, z: jax.Array, teacher_preacts: TeacherPreacts) -> jax.Array:
        if len(teacher_preacts) != self.num_teachers:
            raise ValueError(f"tower built for {self.num_teachers} teachers got {len(teacher_preacts)}")
        init = jnp.array([self.init_student_logit] + [self.init_teacher_logit] * self.num_teachers)
        p = jax.nn.softmax(self.param(f"mix_{j}", lambda _: init))
        mixed = p[0] * z
        for t, preacts in enumerate(teacher_preacts):
            zt = preacts[j]
            if self.mixing == "code":
                zt = _dense(size, LATERAL_GAIN, f"lateral_{j}_{t}", use_bias=False)(zt)
            elif zt.shape[-1] != size:
                raise ValueError(
                    f"mixing='paper' adds teacher pre-activations unmapped: teacher layer {j} has "
                    f"{zt.shape[-1]} units, the student {size}; use mixing='code'"
                )
            mixed = mixed + p[t + 1] * zt
        return mixed


class Encoder(nn.Module):
    """φ: target observation (..., obs) -> embedding in the teacher's observation space (..., out_size)."""

    hidden_sizes: Tuple[int, ...]
    out_size: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for j, size in enumerate(self.hidden_sizes):
            x = jnp.tanh(_dense(size, HIDDEN_GAIN, f"hidden_{j}")(x))
        return _dense(self.out_size, LINEAR_GAIN, "head")(x)


class GaussianDecoder(nn.Module):
    """q_ω(s|e): embedding (..., E) -> (mean (..., obs_size), log_std (obs_size,)).

    The log-std is state independent (a learned vector), as in the authors' code.
    """

    hidden_sizes: Tuple[int, ...]
    out_size: int

    @nn.compact
    def __call__(self, e: jax.Array) -> Tuple[jax.Array, jax.Array]:
        x = e
        for j, size in enumerate(self.hidden_sizes):
            x = jnp.tanh(_dense(size, HIDDEN_GAIN, f"hidden_{j}")(x))
        mean = _dense(self.out_size, LINEAR_GAIN, "head")(x)
        log_std = self.param("log_std", nn.initializers.zeros, (self.out_size,))
        return mean, log_std


def hidden_sizes_of(tower_params) -> Tuple[int, ...]:
    """Hidden widths of a tower's params dict (hidden_0, hidden_1, ...)."""
    sizes = []
    while f"hidden_{len(sizes)}" in tower_params:
        sizes.append(tower_params[f"hidden_{len(sizes)}"]["bias"].shape[-1])
    return tuple(sizes)


def preactivations(tower_params, x: jax.Array) -> Tuple[jax.Array, ...]:
    """A plain (teacher) tower's hidden pre-activations z_j (..., H_j); its head is never computed.

    Written on the params dict rather than through MixedMLP so that the
    teacher's output layer, which MIKT does not use, is not in the program.
    """
    zs = []
    for j in range(len(hidden_sizes_of(tower_params))):
        layer = tower_params[f"hidden_{j}"]
        z = x @ layer["kernel"] + layer["bias"]
        zs.append(z)
        x = jnp.tanh(z)
    return tuple(zs)
