"""MJX's RK4 with native MuJoCo 4.0's orientation update (Runge-Kutta-Munthe-Kaas), so MJX matches native.

Found by a probe (`git show 4be1481:tools/probes/mjx_drift_probe.py`; see
docs/mjx-contact-parity.md, "Full-range actions: the drift and its cause"). MuJoCo 4.0 changed its
RK4 integrator (changelog 4.0.0, item "The RK4 integrator is now fourth-order accurate for the
orientations of ball and free joints", commit 9a7f240f0): the angular velocity of a free or ball
joint at each Runge-Kutta stage is mapped through the inverse derivative of the exponential map,
dexp^-1_u(w) = w + u x w / 2 + c(|u|) u x (u x w), with c(t) = (1 - (t/2) cot(t/2)) / t^2 and u the
stage's rotation vector, before it is used. mujoco-mjx 3.17's `mjx.rungekutta4` combines the plain
stage velocities (the scheme of MuJoCo < 4.0). The centipede torso is a free joint; its orientation
at the second and later stages then differs by O(h^2 |w|^2) (2.6e-5 in a quaternion at one measured
state), which is enough to change stiff contact and joint-limit forces at those stages: one
substep's qvel differed by up to 1.0e-3 in float64.

`rungekutta4(m, d, ang)` below is mjx's `rungekutta4` with that map applied to the rows `ang` of the
velocities; it matches native `mj_step` to round-off (the closed-form c(t), as native uses; a
4-term series below |u| = 0.1). It uses MJX private helpers (`forward._advance`,
`forward._integrate_pos`, `scan.flat`): re-check on every mujoco-mjx upgrade (tests/test_envs.py
compares the engines).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np


def angular_dofs(model: mujoco.MjModel) -> np.ndarray:
    """(k, 3) dof indices of the rotational velocities of free and ball joints (k may be 0)."""
    rows = []
    for j in range(model.njnt):
        adr = int(model.jnt_dofadr[j])
        if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE:
            rows.append([adr + 3, adr + 4, adr + 5])
        elif model.jnt_type[j] == mujoco.mjtJoint.mjJNT_BALL:
            rows.append([adr, adr + 1, adr + 2])
    return np.asarray(rows, np.int32).reshape(-1, 3)


def stage_unroll(platform: str) -> int:
    """Stages compiled in line: 1 on a CPU, mjx's 3 elsewhere.

    Measured on the 2-core CPU (CentipedeFour, 2 envs, one compiled control step, 2026-11-30): one
    stage body instead of three cut the compile from 107 s to 74 s of CPU time and the step from
    48.5 to 35.0 ms. Accelerators keep MJX's own choice, which was not measured against it here.
    """
    return 1 if platform == "cpu" else 3


def dexp_inv(u: jax.Array, w: jax.Array) -> jax.Array:
    """dexp^-1_u(w) on so(3) for rows of rotation vectors u and (body-frame) angular velocities w."""
    c1 = jnp.cross(u, w)
    c2 = jnp.cross(u, c1)
    t2 = jnp.sum(u * u, axis=-1, keepdims=True)
    small = t2 < 1e-2  # |u| < 0.1: series 1/12 + t^2/720 + t^4/30240 + t^6/1209600 (next term < 3e-17)
    t = jnp.sqrt(jnp.where(small, 1.0, t2))
    exact = (1.0 - 0.5 * t / jnp.tan(0.5 * t)) / (t * t)
    series = 1.0 / 12.0 + t2 * (1.0 / 720.0 + t2 * (1.0 / 30240.0 + t2 / 1209600.0))
    return w + 0.5 * c1 + jnp.where(small, series, exact) * c2


def rungekutta4(m, d, ang: np.ndarray, unroll: int = 3):
    """mjx.rungekutta4 with MuJoCo 4.0's Munthe-Kaas correction on the rows `ang` (see the module doc).

    d must hold mjx.forward's result at the step's start (as for mjx.rungekutta4). `unroll`: how many
    of the three stage forwards XLA compiles in line (mjx.rungekutta4 unrolls all 3; see stage_unroll).
    """
    from mujoco.mjx._src import forward as mjx_forward
    from mujoco.mjx._src import scan

    h = m.opt.timestep
    a_diag, b = (0.5, 0.5, 1.0), (1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0)
    d0 = d
    integrate_fn = lambda *args: mjx_forward._integrate_pos(*args, dt=h)

    def corrected(qvel, u):  # stage velocity with the angular rows mapped through dexp^-1_u
        if not len(ang):
            return qvel
        return qvel.at[ang].set(dexp_inv(u, qvel[ang]))

    u0 = jnp.zeros(ang.shape, d.qvel.dtype)
    sums = (b[0] * d.qvel, b[0] * d.qacc, b[0] * d.act_dot)

    def stage(carry, x):
        (qvel_sum, qacc_sum, act_dot_sum), kqvel, u, d = carry
        a, bb, t = x
        dq = a * corrected(kqvel, u)  # stage rotation vector u_i = h * a * dexp^-1_{u_{i-1}}(w_{i-1})
        kqpos = scan.flat(m, integrate_fn, 'jqv', 'q', m.jnt_type, d0.qpos, dq)
        kqvel = d0.qvel + a * d.qacc * h
        kact = d0.act + a * d.act_dot * h
        d = mjx_forward.forward(m, d.replace(qpos=kqpos, qvel=kqvel, act=kact, time=t))
        u = h * dq[ang] if len(ang) else u
        sums = (qvel_sum + bb * corrected(kqvel, u), qacc_sum + bb * d.qacc, act_dot_sum + bb * d.act_dot)
        return (sums, kqvel, u, d), None

    times = d.time + jnp.asarray((0.5, 0.5, 1.0), d.qvel.dtype) * h
    xs = (jnp.asarray(a_diag, d.qvel.dtype), jnp.asarray(b[1:], d.qvel.dtype), times)
    (sums, _, _, d1), _ = jax.lax.scan(stage, (sums, d.qvel, u0, d), xs, unroll=unroll)
    qvel_sum, qacc_sum, act_dot_sum = sums
    d = d1.replace(qpos=d0.qpos, qvel=d0.qvel, act=d0.act, time=d0.time)
    return mjx_forward._advance(m, d, act_dot_sum, qacc_sum, qvel_sum)
