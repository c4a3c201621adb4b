"""Probe: why MJX drifts from native MuJoCo under full-range actions on CentipedeFour.

Setup (the one of tests/test_warp.py::test_warp_matches_native_over_20_steps_under_contact):
native env reset(PRNGKey(0)), 10 zero-action control steps (feet on the floor), then 20
control steps (5 RK4 substeps each) of actions uniform(PRNGKey(3), [-1, 1]) x --scale.

What it prints:

1. Free-running trajectories, per substep: native `mj_step` (float64) vs MJX (float32, or float64
   with --x64), and native started off in qvel by 1e-6 and by 1e-4 * N(0, 1) (sensitivity
   references): max |Δqpos|, |Δqvel| per control step, and the first substep where |Δqvel| > 1e-3.
2. One-substep (local) error: one MJX step vs one `mj_step` from the same state, along the native
   trajectory (2) and along MJX's own trajectory (2b); max |Δqvel| per control step.
3. At the first two substeps of 2b with error > 1e-3 (skipped with --no-fields): field by field,
   native mj_forward vs mjx.forward at that state: qacc, qfrc_actuator, qfrc_passive, qfrc_bias,
   qfrc_smooth, qfrc_constraint, actuator_force, and the constraint rows (type, efc_pos, efc_force).

Finding (docs/mjx-contact-parity.md, "Full-range actions: the drift and its cause"): MuJoCo 4.0's RK4
applies a Runge-Kutta-Munthe-Kaas correction to free/ball-joint orientations that mjx 3.17's
`mjx.rungekutta4` lacks. `--rk4 rkmk` steps MJX with `mjx_mikt/envs/mjx_rk4.py` (what MjxPhysics now
runs); `--rk4 stock` (default) with `mjx.step`. `--env` instead compares env observations of
MjxPhysics (with --rk4 stock: its integrator put back to mjx.rungekutta4) against the mujoco env.

Run (CPU only, one XLA thread; about 30 s per run, 65-75 s with --env, on a loaded 2-core machine):

    nice -n 19 .venv/bin/python tools/probes/mjx_drift_probe.py                      # MJX f32, 4/4, stock RK4
    nice -n 19 .venv/bin/python tools/probes/mjx_drift_probe.py --rk4 rkmk           # ... with the fix
    nice -n 19 .venv/bin/python tools/probes/mjx_drift_probe.py --iterations 100 --ls 50
    nice -n 19 .venv/bin/python tools/probes/mjx_drift_probe.py --x64                # MJX in float64
    nice -n 19 .venv/bin/python tools/probes/mjx_drift_probe.py --x64 --x64-start    # ... start state from a float64 env
    nice -n 19 .venv/bin/python tools/probes/mjx_drift_probe.py --scale 0.3
    nice -n 19 .venv/bin/python tools/probes/mjx_drift_probe.py --env [--rk4 rkmk]   # env observations
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--iterations", type=int, default=4, help="MJX solver iterations (project default 4)")
parser.add_argument("--ls", type=int, default=4, help="MJX line-search iterations (project default 4)")
parser.add_argument("--x64", action="store_true", help="run MJX in float64 (jax_enable_x64)")
parser.add_argument("--scale", type=float, default=1.0, help="action scale (1: full range)")
parser.add_argument("--steps", type=int, default=20, help="control steps")
parser.add_argument("--native-iterations", type=int, default=0, help="native solver iterations (0: model's)")
parser.add_argument("--rk4", choices=("stock", "rkmk"), default="stock",
                    help="MJX integrator: stock mjx.step (mjx.rungekutta4) or forward + mjx_rk4.rungekutta4 "
                         "(native MuJoCo 4.0's Munthe-Kaas orientation update, as MjxPhysics now runs)")
parser.add_argument("--x64-start", action="store_true",
                    help="compute the start state with the env in float64 (default: float32, as the envs run)")
parser.add_argument("--env", action="store_true",
                    help="instead: env-level rollouts (MjxPhysics as shipped vs the mujoco env), observations")
parser.add_argument("--no-fields", action="store_true", help="skip the field-by-field comparison")
args = parser.parse_args()
if args.x64_start and not args.x64:
    parser.error("--x64-start needs --x64 (x64 mode makes the MJX model float64)")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402
from mujoco import mjx  # noqa: E402

import centipede_models  # noqa: E402
from mjx_mikt import envs  # noqa: E402
from mjx_mikt.envs import mjx_contact, mjx_rk4  # noqa: E402
from mjx_mikt.envs.physics import with_force_sensor  # noqa: E402

np.set_printoptions(precision=5, suppress=True, linewidth=160)
NSUB = 5


def start_state():
    native = envs.make("CentipedeFour", backend="mujoco")
    state = jax.jit(native.reset)(jax.random.PRNGKey(0))
    step = jax.jit(native.step)
    for _ in range(10):
        state = step(state, jnp.zeros(native.action_size))
    ps = state.physics
    actions = args.scale * jax.random.uniform(jax.random.PRNGKey(3), (args.steps, native.action_size),
                                              minval=-1, maxval=1)
    return (np.asarray(ps.qpos, np.float64), np.asarray(ps.qvel, np.float64),
            np.asarray(ps.qacc_warmstart, np.float64), np.asarray(actions, np.float64))


def native_traj(model, qpos, qvel, warm, actions):
    """States before every substep and after the last: arrays (N+1, ...)."""
    d = mujoco.MjData(model)
    d.qpos[:], d.qvel[:], d.qacc_warmstart[:] = qpos, qvel, warm
    qs, vs, ws, cs = [d.qpos.copy()], [d.qvel.copy()], [d.qacc_warmstart.copy()], []
    for a in actions:
        for _ in range(NSUB):
            d.ctrl[:] = a
            cs.append(a.copy())
            mujoco.mj_step(model, d)
            qs.append(d.qpos.copy()), vs.append(d.qvel.copy()), ws.append(d.qacc_warmstart.copy())
    return np.array(qs), np.array(vs), np.array(ws), np.array(cs)


def main():
    if args.x64_start:
        jax.config.update("jax_enable_x64", True)
    qpos, qvel, warm, actions = start_state()  # in float32 (as the envs run) unless --x64-start
    global FDT
    if args.x64:
        jax.config.update("jax_enable_x64", True)
    FDT = jnp.float64 if args.x64 else jnp.float32
    if args.env:
        return env_rollouts(qpos, qvel, warm, actions)
    xml = centipede_models.load("CentipedeFour")
    nat = with_force_sensor(xml)
    if args.native_iterations:
        nat.opt.iterations = args.native_iterations
    mjx_contact.install()
    mm = mujoco.MjModel.from_xml_string(xml)
    mm.opt.iterations, mm.opt.ls_iterations = args.iterations, args.ls
    mx = mjx.put_model(mm)
    ang = mjx_rk4.angular_dofs(mm)
    print(f"MJX {'float64' if args.x64 else 'float32'}, iterations {args.iterations}, ls {args.ls}, rk4 {args.rk4}; "
          f"native iterations {nat.opt.iterations}, ls {nat.opt.ls_iterations}; scale {args.scale}")

    nq, nv, nw, ctrls = native_traj(nat, qpos, qvel, warm, actions)
    pq, pv, _, _ = native_traj(nat, qpos, qvel + 1e-6, warm, actions)
    rng = np.random.default_rng(1)
    p4q, p4v, _, _ = native_traj(nat, qpos, qvel + 1e-4 * rng.standard_normal(qvel.shape), warm, actions)

    @jax.jit
    def mstep(q, v, w, c):
        d = mjx.make_data(mx).replace(qpos=q, qvel=v, qacc_warmstart=w, ctrl=c)
        d = mjx.step(mx, d) if args.rk4 == "stock" else mjx_rk4.rungekutta4(mx, mjx.forward(mx, d), ang)
        return d.qpos, d.qvel, d.qacc_warmstart

    # 1. free-running MJX
    q, v, w = (jnp.asarray(x, FDT) for x in (qpos, qvel, warm))
    mq, mv, mw = [np.asarray(q)], [np.asarray(v)], [np.asarray(w)]
    for c in ctrls:
        q, v, w = mstep(q, v, w, jnp.asarray(c, FDT))
        mq.append(np.asarray(q, np.float64)), mv.append(np.asarray(v, np.float64)), mw.append(np.asarray(w, np.float64))
    mq, mv, mw = np.array(mq), np.array(mv), np.array(mw)
    dq, dv = np.abs(mq - nq).max(1), np.abs(mv - nv).max(1)
    pdq, pdv = np.abs(pq - nq).max(1), np.abs(pv - nv).max(1)
    p4dq, p4dv = np.abs(p4q - nq).max(1), np.abs(p4v - nv).max(1)
    print("\n1. free-running, per control step: max|dqpos| max|dqvel|: MJX vs native | native+1e-6 vs native"
          " | native+1e-4*N(0,1) vs native")
    for k in range(args.steps):
        s = (k + 1) * NSUB
        print(f"  step {k + 1:2d}: {dq[s]:.2e} {dv[s]:.2e} | {pdq[s]:.2e} {pdv[s]:.2e} | {p4dq[s]:.2e} {p4dv[s]:.2e}")
    first = int(np.argmax(dv > 1e-3)) if (dv > 1e-3).any() else None
    print(f"  first substep with |dqvel| > 1e-3: {first} (control step {None if first is None else (first - 1) // NSUB + 1})")

    # 2. local error along the native trajectory
    loc = []
    for i in range(len(ctrls)):
        _, v1, _ = mstep(*(jnp.asarray(x, FDT) for x in (nq[i], nv[i], nw[i], ctrls[i])))
        loc.append(np.abs(np.asarray(v1, np.float64) - nv[i + 1]))
    loc = np.array(loc)
    worst = int(loc.max(1).argmax())
    print("\n2. one-substep error from native states, max|dqvel| per control step:")
    print("  ", " ".join(f"{x:.1e}" for x in loc.max(1).reshape(-1, NSUB).max(1)))
    print(f"  largest at substep {worst}: {loc[worst].max():.3e} (dof {loc[worst].argmax()})")
    # 2b. local error along MJX's own trajectory (native mj_step from MJX's state)
    d = mujoco.MjData(nat)
    loc2 = []
    for i in range(len(ctrls)):
        d.qpos[:], d.qvel[:], d.qacc_warmstart[:], d.ctrl[:] = mq[i], mv[i], mw[i], ctrls[i]
        mujoco.mj_step(nat, d)
        loc2.append(np.abs(d.qvel - mv[i + 1]))
    loc2 = np.array(loc2)
    worst2 = int(loc2.max(1).argmax())
    print("\n2b. one-substep error from MJX's own states (native mj_step from there), max|dqvel| per control step:")
    print("  ", " ".join(f"{x:.1e}" for x in loc2.max(1).reshape(-1, NSUB).max(1)))
    print(f"  largest at substep {worst2}: {loc2[worst2].max():.3e} (dof {loc2[worst2].argmax()})")
    big = np.flatnonzero(loc2.max(1) > 1e-3)
    print(f"  substeps with error > 1e-3: {big.tolist()}")
    if args.no_fields:
        return
    for i in sorted({int(x) for x in big[:2]}):
        compare_fields(nat, mx, mm, mq[i], mv[i], mw[i], ctrls[i], i)
    for i in sorted({worst, *( [first - 1] if first else [])}):
        compare_fields(nat, mx, mm, nq[i], nv[i], nw[i], ctrls[i], i)


def compare_fields(nat, mx, mm, qpos, qvel, warm, ctrl, i):
    d = mujoco.MjData(nat)
    d.qpos[:], d.qvel[:], d.qacc_warmstart[:], d.ctrl[:] = qpos, qvel, warm, ctrl
    mujoco.mj_forward(nat, d)

    @jax.jit
    def fwd(q, v, w, c):
        return mjx.forward(mx, mjx.make_data(mx).replace(qpos=q, qvel=v, qacc_warmstart=w, ctrl=c))

    md = fwd(*(jnp.asarray(x, FDT) for x in (qpos, qvel, warm, ctrl)))
    print(f"\n3. substep {i}: mj_forward vs mjx.forward at the native state")
    print(f"  native: ncon {d.ncon}, nefc {d.nefc}, ne {d.ne}, nf {d.nf}, nl {d.nl}, solver iters {d.solver_niter[0]}")
    for f in ("qacc", "qfrc_actuator", "qfrc_passive", "qfrc_bias", "qfrc_smooth", "qfrc_constraint", "actuator_force"):
        a, b = getattr(d, f), np.asarray(getattr(md, f), np.float64)
        print(f"  {f:16s} max|d| {np.abs(a - b).max():.3e}   native {a}")
        if np.abs(a - b).max() > 1e-3:
            print(f"  {'':16s} mjx                 {b}")
    # constraint rows
    impl = md._impl
    efc_type = np.asarray(impl.efc_type)
    efc_force = np.asarray(impl.efc_force, np.float64)
    efc_pos = np.asarray(impl.efc_pos, np.float64)
    efc_J = np.asarray(impl.efc_J, np.float64)
    active = np.abs(efc_J).sum(1) > 0
    names = {int(getattr(mujoco.mjtConstraint, n)): n for n in dir(mujoco.mjtConstraint) if n.startswith("mjCNSTR")}
    print("  native rows:", [(names[int(t)][6:], round(float(p), 4), round(float(f), 3))
                             for t, p, f in zip(d.efc_type, d.efc_pos, d.efc_force)])
    print("  mjx active rows:", [(names.get(int(t), str(t))[6:], round(float(p), 4), round(float(f), 3))
                                 for t, p, f, a in zip(efc_type, efc_pos, efc_force, active) if a])


def env_rollouts(qpos, qvel, warm, actions):
    """The colleague's comparison: MjxPhysics (as shipped) vs NativePhysics, env observations per step."""
    import sys
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2] / "tests"))
    from conftest import physics_rollout

    options = {"solver_iterations": args.iterations, "ls_iterations": args.ls}
    native = envs.make("CentipedeFour", backend="mujoco")
    mjxenv = envs.make("CentipedeFour", backend="mjx", **options)
    if args.rk4 == "stock":  # MjxPhysics as it was before the fix: mjx.rungekutta4 (= mjx.step)
        mjxenv.physics._integrate = mjx.rungekutta4
    acts = jnp.asarray(actions, FDT)
    start = lambda env: env.physics.init(jnp.asarray(qpos, FDT), jnp.asarray(qvel, FDT)).replace(
        qacc_warmstart=jnp.asarray(warm, FDT))
    out = {}
    for name, env in (("native", native), ("mjx", mjxenv)):
        _, obs, rew = jax.jit(physics_rollout(env))(jax.jit(lambda: start(env))(), acts)
        out[name] = (np.asarray(obs, np.float64), np.asarray(rew, np.float64))
    dobs = np.abs(out["mjx"][0] - out["native"][0]) / (1.0 + np.abs(out["native"][0]))
    print(f"env rollouts (MjxPhysics {'float64' if args.x64 else 'float32'}, {args.iterations}/{args.ls} "
          f"iterations, rk4 {args.rk4}, "
          f"scale {args.scale}): max |dobs|/(1+|obs|) per control step")
    print("  ", " ".join(f"{x:.1e}" for x in dobs.max(1)))
    print(f"  max abs |dobs| {np.abs(out['mjx'][0] - out['native'][0]).max():.3e}, "
          f"max |dreward| {np.abs(out['mjx'][1] - out['native'][1]).max():.3e}")


if __name__ == "__main__":
    main()
