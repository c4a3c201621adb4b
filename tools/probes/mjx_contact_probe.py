"""Probe: where mujoco-mjx 3.17 (JAX engine) and native MuJoCo 4.0 (C engine) disagree under contact.

What it does (CentipedeFour, the checked-in MJCF, compiled exactly as `MjxPhysics` does):

1. Builds hand-made states in which feet 0 and 1 (`ankleGeom_0`, `ankleGeom_1`, capsules) touch the
   floor plane, inside the contact margin (dist = +0.005; the contact's includemargin is
   0.01 + 0.01 = 0.02, floor margin + foot margin) or slightly penetrating (dist = -0.005), with the
   torso sliding (2, 1.5, 0) m/s so that friction is at the cone's boundary. The states differ in the
   feet's orientation: hips at 0 or turned by 0.3 rad, ankles "steep" (1.2 rad: the capsule's axis
   projected on the floor has length 0.36 < 0.5) or "shallow" (0.8 rad: length 0.70).
2. Runs `mujoco.mj_forward` (float64) and `mjx.forward` (jit; float64 with --x64, the default,
   or float32 with --f32) on each and prints, per contact and per constraint row: dist,
   includemargin, the contact frame's first tangent, efc_pos, efc_margin, imp (efc_KBIP[:,2]),
   efc_D, efc_R = 1/D, efc_aref, efc_force, the contact force in world coordinates, and qacc.
3. Repeats the comparison for model/engine variants (--variants): margin 0 on every geom,
   elliptic friction cone (also with iterations 1000 / ls 100 / tolerance 1e-12), solver
   iterations 1000 / ls 100, and an MJX whose plane-capsule
   collider builds the contact frame with the C engine's rule (see docs/mjx-contact-parity.md).
4. For each variant, steps native MuJoCo 300 substeps from a reset-like state under random
   controls (--rollout N) and reports the max |dqacc| of mjx.forward at the native states
   (all of them, and those with at least one contact).

Runs on the CPU only (JAX_PLATFORMS=cpu, one XLA thread); one model is jitted at a time, no
batching. About 1-2 minutes for all variants.

    .venv/bin/python tools/probes/mjx_contact_probe.py               # float64 JAX, all variants
    .venv/bin/python tools/probes/mjx_contact_probe.py --f32         # float32 JAX (what MjxPhysics runs)
    .venv/bin/python tools/probes/mjx_contact_probe.py --variants baseline c_frame --rollout 0
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

_parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
_parser.add_argument("--f32", action="store_true", help="run MJX in float32 (default: float64, jax_enable_x64)")
_parser.add_argument("--variants", nargs="*", default=None,
                     help="subset of: baseline margin0 elliptic elliptic_tight iters c_frame (default: all)")
_parser.add_argument("--rollout", type=int, default=300, help="native substeps to scan per variant (0: skip)")
_parser.add_argument("--slide", type=float, nargs=3, default=(2.0, 1.5, 0.0),
                     help="torso linear velocity of the hand-made states (default 2 1.5 0: feet slide)")
_parser.add_argument("--quiet", action="store_true", help="only the summary lines, no per-row tables")
ARGS = _parser.parse_args()

import jax  # noqa: E402

if not ARGS.f32:
    jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402
from mujoco import mjx  # noqa: E402
from mujoco.mjx._src import collision_driver, collision_primitive, constraint  # noqa: E402
from mujoco.mjx._src.types import GeomType  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import centipede_models  # noqa: E402
from mjx_mikt.envs import mjx_contact  # noqa: E402

np.set_printoptions(precision=4, suppress=True, linewidth=160)
DTYPE = jnp.float32 if ARGS.f32 else jnp.float64
ROBOT = "CentipedeFour"
SLIDE = tuple(ARGS.slide)
FEET = ("ankleGeom_0", "ankleGeom_1")


# ------------------------------------------------------------------------------------ models
def load_model(margin=None, cone=None, iterations=None, ls_iterations=None, tolerance=None) -> mujoco.MjModel:
    """The robot's MJCF compiled as MjxPhysics does (MjModel.from_xml_string), then options set."""
    m = mujoco.MjModel.from_xml_string(centipede_models.load(ROBOT))
    if margin is not None:
        m.geom_margin[:] = margin
    if cone is not None:
        m.opt.cone = cone
    if iterations is not None:
        m.opt.iterations = iterations
    if ls_iterations is not None:
        m.opt.ls_iterations = ls_iterations
    if tolerance is not None:
        m.opt.tolerance = tolerance
    return m


_ORIGINAL_PLANE_CAPSULE = collision_driver._COLLISION_FUNC[(GeomType.PLANE, GeomType.CAPSULE)]


# MJX's plane_capsule with the C engine's contact-frame rule: the project's fix (see its docstring)
plane_capsule_c_frame = collision_primitive.collider(ncon=2)(mjx_contact.plane_capsule_c_frame)


def make_mjx_forward(m: mujoco.MjModel, c_frame: bool = False):
    """jit(mjx.forward) for model m; c_frame swaps in the C-rule plane-capsule collider."""
    collision_driver._COLLISION_FUNC[(GeomType.PLANE, GeomType.CAPSULE)] = (
        plane_capsule_c_frame if c_frame else _ORIGINAL_PLANE_CAPSULE)
    mx = mjx.put_model(m)

    @jax.jit
    def fwd(qpos, qvel, ctrl, warmstart):
        d = mjx.make_data(mx).replace(qpos=qpos, qvel=qvel, ctrl=ctrl, qacc_warmstart=warmstart)
        return mjx.forward(mx, d)

    def run(qpos, qvel, ctrl, warmstart):
        args = (jnp.asarray(x, DTYPE) for x in (qpos, qvel, ctrl, warmstart))
        return fwd(*args)

    run.mx = mx
    return run


# ------------------------------------------------------------------------------------ states
def capsule_lowest_z(m, d, g) -> float:
    axis = d.geom_xmat[g].reshape(3, 3)[:, 2]
    c, r, h = d.geom_xpos[g], m.geom_size[g, 0], m.geom_size[g, 1]
    return min(c[2] + h * axis[2], c[2] - h * axis[2]) - r


def foot_state(m, hip: float, ankle: float, dist: float):
    """qpos/qvel with feet 0 and 1 at distance `dist` from the floor, torso sliding.

    hips 0/1 turned by +hip/-hip, ankles 0/1 at `ankle` (rad; > ~1.05 makes the foot capsule
    steeper than 60 deg), feet 2/3 at 0.9 rad (off the floor), torso velocity (0.6, 0.4, 0)
    (--slide, default (2, 1.5, 0)) so that the feet slide: friction at the cone's boundary,
    some pyramid edges inactive. (With all four edges of a contact active the pyramidal cost is
    invariant to the tangent frame's rotation, and the engines agree whatever the frame.)
    """
    d = mujoco.MjData(m)
    q = m.qpos0.copy()
    adr = lambda name: m.jnt_qposadr[m.joint(name).id]
    q[adr("lefthip_0")], q[adr("righthip_1")] = hip, -hip
    q[adr("ankle_0")], q[adr("ankle_1")] = ankle, ankle
    q[adr("ankle_2")], q[adr("ankle_3")] = 0.9, 0.9
    d.qpos[:] = q
    mujoco.mj_kinematics(m, d)
    low = min(capsule_lowest_z(m, d, m.geom(f).id) for f in FEET)
    q[2] += dist - low
    qv = np.zeros(m.nv)
    qv[:3] = SLIDE
    return q, qv


STATES = {
    # name: (hip, ankle, dist)
    "aligned_steep_in_margin": (0.0, 1.2, +0.005),
    "turned_steep_in_margin": (0.3, 1.2, +0.005),
    "turned_steep_penetrating": (0.3, 1.2, -0.005),
    "turned_shallow_in_margin": (0.3, 0.8, +0.005),
}


# ------------------------------------------------------------------------------------ compare
def native_forward(m, qpos, qvel, ctrl=None):
    d = mujoco.MjData(m)
    d.qpos[:], d.qvel[:] = qpos, qvel
    if ctrl is not None:
        d.ctrl[:] = ctrl
    mujoco.mj_forward(m, d)
    return d


def world_contact_force(frame, mu, f_rows, cone):
    """Contact force (world coordinates) from a contact's efc_force rows (condim 3)."""
    frame = np.asarray(frame).reshape(3, 3)
    if cone == mujoco.mjtCone.mjCONE_PYRAMIDAL:
        fn = f_rows.sum()
        ft = [(f_rows[2 * k] - f_rows[2 * k + 1]) * mu[k] for k in range(2)]
    else:
        fn, ft = f_rows[0], f_rows[1:3]
    return fn * frame[0] + ft[0] * frame[1] + ft[1] * frame[2]


def compare(m, d, dx, label: str, verbose: bool) -> float:
    """Print the field-by-field table for the contacts of native d and MJX dx; return max |dqacc|."""
    im, C = dx._impl, dx._impl.contact
    cd, cpos, cgeom = (np.asarray(x) for x in (C.dist, C.pos, C.geom))
    cframe, cmargin, caddr = np.asarray(C.frame), np.asarray(C.includemargin), np.asarray(C.efc_address)
    active_mjx = int((cd < cmargin).sum())
    nrow = 4 if m.opt.cone == mujoco.mjtCone.mjCONE_PYRAMIDAL else 3
    dqacc = float(np.abs(np.asarray(dx.qacc) - d.qacc).max())
    print(f"\n== {label}: native ncon {d.ncon} nefc {d.nefc} (nl {d.nl}) | mjx contacts in margin "
          f"{active_mjx} of {len(cd)} slots, efc rows {np.asarray(im.efc_pos).shape[0]} (fixed size) "
          f"| cone {mujoco.mjtCone(m.opt.cone).name} | max|dqacc| {dqacc:.3e}")
    if not verbose:
        return dqacc
    # MJX's imp from its own _kbi (MJX does not store imp or R)
    kbi = jax.vmap(lambda sr, si, p: constraint._kbi(run_mx, sr, si, p))
    for i in range(d.ncon):
        c = d.contact[i]
        cand = [j for j in range(len(cd)) if tuple(cgeom[j]) == tuple(c.geom)]
        j = min(cand, key=lambda k: np.linalg.norm(cpos[k] - c.pos))
        rn = slice(c.efc_address, c.efc_address + nrow)
        rj = slice(int(caddr[j]), int(caddr[j]) + nrow)
        nat_t1, mjx_t1 = c.frame[3:6], cframe[j][1]
        angle = np.degrees(np.arccos(np.clip(abs(nat_t1 @ mjx_t1), 0, 1)))
        _, _, imp_j = kbi(jnp.asarray(np.asarray(C.solref)[[j]]), jnp.asarray(np.asarray(C.solimp)[[j]]),
                          jnp.asarray(cd[[j]] - cmargin[[j]]))
        name = mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_GEOM, c.geom[1])
        print(f"  contact {name}: dist {c.dist:+.6f} / {cd[j]:+.6f}   includemargin {c.includemargin:.3f} / "
              f"{cmargin[j]:.3f}   tangent1 native {nat_t1} mjx {mjx_t1} (angle {angle:.2f} deg)")
        rows = [
            ("efc_pos", d.efc_pos[rn], np.asarray(im.efc_pos)[rj]),
            ("efc_margin", d.efc_margin[rn], np.asarray(im.efc_margin)[rj]),
            ("imp", d.efc_KBIP[rn, 2], np.repeat(np.asarray(imp_j), nrow)),
            ("efc_D", d.efc_D[rn], np.asarray(im.efc_D)[rj]),
            ("efc_R", d.efc_R[rn], 1.0 / np.asarray(im.efc_D)[rj]),
            ("efc_aref", d.efc_aref[rn], np.asarray(im.efc_aref)[rj]),
            ("efc_force", d.efc_force[rn], np.asarray(im.efc_force)[rj]),
        ]
        for fname, a, b in rows:
            print(f"    {fname:10s} native {np.array2string(np.asarray(a), precision=5)}  "
                  f"mjx {np.array2string(np.asarray(b), precision=5)}")
        fw_n = world_contact_force(c.frame, c.friction, d.efc_force[rn], m.opt.cone)
        fw_j = world_contact_force(cframe[j], np.asarray(C.friction)[j], np.asarray(im.efc_force)[rj],
                                   m.opt.cone)
        print(f"    force(world) native {fw_n}  mjx {fw_j}")
    print(f"  qacc native {d.qacc}\n  qacc mjx    {np.asarray(dx.qacc)}")
    return dqacc


def rollout_scan(m, fwd, steps: int, seed: int = 1):
    """Step native MuJoCo from a reset-like state under random controls; mjx.forward at each state."""
    rng = np.random.default_rng(seed)
    d = mujoco.MjData(m)
    d.qpos[:] = m.qpos0 + rng.uniform(-0.1, 0.1, m.nq)
    d.qvel[:] = 0.1 * rng.standard_normal(m.nv)
    worst_all = worst_con = 0.0
    n_con = n_bad = 0
    for t in range(steps):
        if t % 5 == 0:
            d.ctrl[:] = rng.uniform(-1, 1, m.nu)
        mujoco.mj_forward(m, d)
        dx = fwd(d.qpos, d.qvel, d.ctrl, d.qacc_warmstart)
        err = float(np.abs(np.asarray(dx.qacc) - d.qacc).max())
        worst_all = max(worst_all, err)
        if d.ncon:
            n_con += 1
            worst_con = max(worst_con, err)
            n_bad += err > (1e-2 if ARGS.f32 else 1e-6)
        mujoco.mj_step(m, d)
    return worst_all, worst_con, n_con, n_bad


VARIANTS = {
    # name: (load_model kwargs, c_frame)
    "baseline": ({}, False),
    "margin0": ({"margin": 0.0}, False),
    "elliptic": ({"cone": mujoco.mjtCone.mjCONE_ELLIPTIC}, False),
    "elliptic_tight": ({"cone": mujoco.mjtCone.mjCONE_ELLIPTIC, "iterations": 1000, "ls_iterations": 100,
                        "tolerance": 1e-12}, False),
    "iters": ({"iterations": 1000, "ls_iterations": 100}, False),
    "c_frame": ({}, True),
}


def main():
    global run_mx
    names = ARGS.variants or list(VARIANTS)
    print(f"mujoco {mujoco.__version__}, mujoco-mjx (JAX impl), jax {jax.__version__}, "
          f"MJX dtype {np.dtype(DTYPE).name}, device {jax.devices()[0]}")
    try:
        import warp  # noqa: F401
        print("warp-lang: importable")
    except Exception as err:  # noqa: BLE001
        print(f"warp-lang: NOT importable ({type(err).__name__}: {err}) -> mjx.put_model(impl='warp') unavailable")
    summary = []
    for name in names:
        kwargs, c_frame = VARIANTS[name]
        m = load_model(**kwargs)
        fwd = make_mjx_forward(m, c_frame=c_frame)
        run_mx = fwd.mx
        print(f"\n######## variant {name}: geom_margin {m.geom_margin[0]}, cone "
              f"{mujoco.mjtCone(m.opt.cone).name}, impratio {m.opt.impratio}, solver "
              f"{mujoco.mjtSolver(m.opt.solver).name} it {m.opt.iterations}/{m.opt.ls_iterations} tol {m.opt.tolerance:g}, "
              f"MJX plane-capsule frame: {'C rule' if c_frame else 'MJX 3.17'}")
        row = [name]
        for sname, (hip, ankle, dist) in STATES.items():
            qpos, qvel = foot_state(m, hip, ankle, dist)
            d = native_forward(m, qpos, qvel)
            dx = fwd(qpos, qvel, np.zeros(m.nu), np.zeros(m.nv))
            row.append(compare(m, d, dx, f"{name} / {sname} (hip {hip}, ankle {ankle}, dist {dist:+})",
                               verbose=not ARGS.quiet))
        if ARGS.rollout:
            w_all, w_con, n_con, n_bad = rollout_scan(m, fwd, ARGS.rollout)
            print(f"\n  rollout {ARGS.rollout} substeps: {n_con} states with contacts, {n_bad} of them with "
                  f"|dqacc| > {'1e-2' if ARGS.f32 else '1e-6'}; max |dqacc| with contact {w_con:.3e}, overall {w_all:.3e}")
            row += [w_con, n_con, n_bad]
        summary.append(row)
        collision_driver._COLLISION_FUNC[(GeomType.PLANE, GeomType.CAPSULE)] = _ORIGINAL_PLANE_CAPSULE

    print(f"\n==== summary: max |dqacc| (MJX {np.dtype(DTYPE).name} vs native float64)")
    head = ["variant"] + list(STATES) + (["rollout(contact)", "n_contact_states", "n_differing"] if ARGS.rollout else [])
    print(" | ".join(head))
    for row in summary:
        print(" | ".join([row[0]] + [f"{x:.2e}" if isinstance(x, float) else str(x) for x in row[1:]]))


run_mx = None

if __name__ == "__main__":
    main()
