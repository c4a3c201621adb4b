"""Sweep: MJX solver iterations vs parity with native MuJoCo under contact (CentipedeFour).

MJX's constraint-solver iteration count is its main speed knob on accelerators, whereas native
MuJoCo (the reference) keeps the model's default solver (Newton, 100 iterations, 50 line-search
iterations, tolerance 1e-8). This script measures how far float32 MJX, with the contact fix of
`mjx_mikt/envs/mjx_contact.py` installed (it is, whenever an MJX env is built), drifts from native
MuJoCo as the iterations are cut:

1. States: a random-control native episode from qpos0 (the procedure of
   tests/test_envs.py::test_mjx_matches_native_under_contact: 400 substeps, ctrl ~ U(-1, 1) redrawn
   every substep, seed 0; a state is kept every 8 substeps when it has contacts), evenly
   subsampled to --n-states (20). Native MuJoCo (default solver) runs mj_forward at each state.
2. For each (solver_iterations, ls_iterations) combination (--combos; default 8):
   `envs.make("CentipedeFour", backend="mjx", solver_iterations=i, ls_iterations=l)`, one jit of
   `mjx.forward`, and per state the error  max_dof |qacc_mjx - qacc_native| / (1 + |qacc_native|).
   "warm": MJX starts its solver from native's qacc_warmstart of that state (what a rollout gives
   it: the previous substep's acceleration); "cold": from qacc_warmstart = 0 (after a reset).
   Reported: max and median over the states.
3. Rollout (unless --no-rollout): from one contact state (--rollout-state, index into the
   states; default the first state with the most contacts), 20 control steps of 5 substeps each under random actions (PRNGKey(3), as the
   parity test uses): MJX through `env.physics.step` (one more jit per combination) and native
   MuJoCo through the native env (backend="mujoco", `physics.step`), both scoring the task's
   reward as tests/conftest.py::physics_rollout does. Both start from the same PhysicsState
   (native `init` at the state, with the episode's qacc_warmstart). Reported: max |dqpos| and
   max |dqvel| of the final states and the difference of the summed rewards.

CPU only (JAX_PLATFORMS=cpu, one XLA thread), float32 JAX, one model jitted at a time, no
batching. Each combination costs one jit of mjx.forward and, with the rollout, one jit of
physics.step (the compiled functions go to the repo's .jax_cache, as the tests' do).

    .venv/bin/python tools/probes/mjx_solver_sweep.py
    .venv/bin/python tools/probes/mjx_solver_sweep.py --combos 4/4 100/50 --no-rollout
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, REPO)

DEFAULT_COMBOS = ("1/4", "2/4", "4/4", "8/4", "100/4", "1/50", "4/50", "100/50")

_parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
_parser.add_argument("--combos", nargs="*", default=list(DEFAULT_COMBOS),
                     help="solver_iterations/ls_iterations pairs (default: %(default)s)")
_parser.add_argument("--n-states", type=int, default=20, help="contact states to compare (default 20)")
_parser.add_argument("--no-rollout", action="store_true", help="skip the 20-control-step rollout")
_parser.add_argument("--rollout-state", type=int, default=None,
                     help="index of the rollout's start state among the states (default: the first with the most contacts)")
_parser.add_argument("--no-cache", action="store_true", help="do not use the persistent compilation cache")
ARGS = _parser.parse_args()

import jax  # noqa: E402

if not ARGS.no_cache:
    jax.config.update("jax_compilation_cache_dir", os.path.join(REPO, ".jax_cache"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)

import jax.numpy as jnp  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402
from mujoco import mjx  # noqa: E402

from mjx_mikt import envs  # noqa: E402
from mjx_mikt.envs.parity import native_contact_states  # noqa: E402

ROBOT = "CentipedeFour"
N_CONTROL_STEPS = 20


def physics_rollout_step(env):
    """One control step with the task's reward (tests/conftest.py::physics_rollout's body)."""

    def body(ps, action):
        after = env.physics.step(ps, action)
        return after, sum(env.task.reward(ps, after, action).values())

    return body


def collect_states(model: mujoco.MjModel, n_states: int):
    """Native contact states of a random-control episode (the under-contact parity test's)."""
    states = native_contact_states(model)
    pick = np.unique(np.linspace(0, len(states) - 1, min(n_states, len(states))).round().astype(int))
    return [states[i] for i in pick], len(states)


def native_reference(model, states):
    """mj_forward (default solver) at each state: qacc, ncon, Newton iterations used (warm, cold)."""
    data = mujoco.MjData(model)
    out = []
    for qpos, qvel, ctrl, warm in states:
        data.qpos[:], data.qvel[:], data.ctrl[:], data.qacc_warmstart[:] = qpos, qvel, ctrl, 0.0
        mujoco.mj_forward(model, data)
        niter_cold = int(data.solver_niter[0])
        data.qacc_warmstart[:] = warm
        mujoco.mj_forward(model, data)
        out.append((data.qacc.copy(), int(data.ncon), int(data.solver_niter[0]), niter_cold))
    return out


def rel_err(got, ref) -> float:
    return float(np.max(np.abs(np.asarray(got, np.float64) - ref) / (1.0 + np.abs(ref))))


def native_rollout(native_env, start, actions):
    step = jax.jit(physics_rollout_step(native_env))
    ps, total = start, 0.0
    for a in actions:
        ps, r = step(ps, a)
        total += float(r)
    return ps, total


def main():
    combos = [tuple(int(x) for x in c.split("/")) for c in ARGS.combos]
    native_env = envs.make(ROBOT, backend="mujoco", nthread=1)
    nmodel = native_env.physics.model  # default options (the accelerometer only adds a sensor)
    o = nmodel.opt
    print(f"mujoco {mujoco.__version__}, jax {jax.__version__} ({jax.devices()[0]}), MJX float32; native solver "
          f"{mujoco.mjtSolver(o.solver).name} {o.iterations}/{o.ls_iterations} tol {o.tolerance:g}, cone "
          f"{mujoco.mjtCone(o.cone).name}, integrator {mujoco.mjtIntegrator(o.integrator).name}, "
          f"timestep {o.timestep}")

    states, n_all = collect_states(nmodel, ARGS.n_states)
    ref = native_reference(nmodel, states)
    ncon = [r[1] for r in ref]
    niter, niter_cold = [r[2] for r in ref], [r[3] for r in ref]
    print(f"{len(states)} of {n_all} contact states; contacts per state {min(ncon)}-{max(ncon)} "
          f"(median {np.median(ncon):g}); native Newton iterations used: warm-started median "
          f"{np.median(niter):g}, max {max(niter)}; from qacc_warmstart = 0 median {np.median(niter_cold):g}, "
          f"max {max(niter_cold)}")

    if not ARGS.no_rollout:
        k = int(np.argmax(ncon)) if ARGS.rollout_state is None else ARGS.rollout_state
        qpos, qvel, _, warm = states[k]
        start = jax.jit(native_env.physics.init)(jnp.asarray(qpos, jnp.float32), jnp.asarray(qvel, jnp.float32))
        start = start.replace(qacc_warmstart=jnp.asarray(warm, jnp.float32))
        actions = jax.random.uniform(jax.random.PRNGKey(3), (N_CONTROL_STEPS, native_env.action_size),
                                     minval=-1, maxval=1)
        final_n, reward_n = native_rollout(native_env, start, actions)
        print(f"rollout from state {k} ({ref[k][1]} contacts): native summed reward {reward_n:.4f}, "
              f"final torso x {float(final_n.qpos[0]):.4f} z {float(final_n.qpos[2]):.4f}")

    rows = []
    for it, ls in combos:
        env = envs.make(ROBOT, backend="mjx", solver_iterations=it, ls_iterations=ls)
        mx = env.physics.mjx_model

        @jax.jit
        def qacc(qpos, qvel, ctrl, warmstart):
            d = mjx.make_data(mx).replace(qpos=qpos, qvel=qvel, ctrl=ctrl, qacc_warmstart=warmstart)
            return mjx.forward(mx, d).qacc

        t0 = time.time()
        warm_err, cold_err = [], []
        for (qpos, qvel, ctrl, warm), (qacc_n, *_) in zip(states, ref):
            args = [jnp.asarray(x, jnp.float32) for x in (qpos, qvel, ctrl, warm)]
            warm_err.append(rel_err(qacc(*args), qacc_n))
            cold_err.append(rel_err(qacc(*args[:3], jnp.zeros_like(args[3])), qacc_n))
        row = {"it": it, "ls": ls, "warm_max": max(warm_err), "warm_med": float(np.median(warm_err)),
               "cold_max": max(cold_err), "cold_med": float(np.median(cold_err)), "t_fwd": time.time() - t0}

        if not ARGS.no_rollout:
            step = jax.jit(physics_rollout_step(env))
            t0 = time.time()
            ps, total = start, 0.0
            for a in actions:
                ps, r = step(ps, a)
                total += float(r)
            row.update(dqpos=float(jnp.abs(ps.qpos - final_n.qpos).max()),
                       dqvel=float(jnp.abs(ps.qvel - final_n.qvel).max()),
                       reward=total, dreward=total - reward_n, t_roll=time.time() - t0,
                       finite=bool(jnp.isfinite(ps.qvel).all()))
        rows.append(row)
        msg = (f"iterations {it:3d} / ls {ls:2d}: rel |dqacc| warm max {row['warm_max']:.2e} median "
               f"{row['warm_med']:.2e} | cold max {row['cold_max']:.2e} median {row['cold_med']:.2e} "
               f"[{row['t_fwd']:.0f} s incl. jit]")
        if not ARGS.no_rollout:
            msg += (f" | rollout: max|dqpos| {row['dqpos']:.2e} max|dqvel| {row['dqvel']:.2e} summed reward "
                    f"{row['reward']:.4f} (d {row['dreward']:+.4f}) [{row['t_roll']:.0f} s incl. jit]")
        print(msg, flush=True)

    print("\n| iterations / ls | rel. dqacc max (warm) | median (warm) | max (cold) | median (cold)"
          + ("" if ARGS.no_rollout else " | rollout max dqpos | max dqvel | d summed reward") + " |")
    print("|---|---|---|---|---" + ("" if ARGS.no_rollout else "|---|---|---") + "|")
    for r in rows:
        line = (f"| {r['it']} / {r['ls']} | {r['warm_max']:.2e} | {r['warm_med']:.2e} | {r['cold_max']:.2e} | "
                f"{r['cold_med']:.2e}")
        if not ARGS.no_rollout:
            line += f" | {r['dqpos']:.2e} | {r['dqvel']:.2e} | {r['dreward']:+.4f}"
        print(line + " |")


if __name__ == "__main__":
    main()
