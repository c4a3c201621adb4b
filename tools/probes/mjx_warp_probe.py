"""Probe: does mujoco-mjx 3.17's Warp implementation (`impl="warp"`) run on the CPU, and does it match native MuJoCo under contact?

What it does (CentipedeFour, the checked-in MJCF, compiled as `MjxPhysics` compiles it):

1. Frame rule, at the kernel level: launches a tiny Warp kernel that calls MuJoCo Warp's own
   `plane_capsule` (mujoco/mjx/third_party/mujoco_warp/_src/collision_primitive_core.py) for a
   capsule above a z-up floor at several tilts, and prints the contact frame's first tangent next
   to the capsule axis projected on the floor (native MuJoCo 4.0's tangent, measured in
   docs/mjx-contact-parity.md). This shows whether Warp has MJX-JAX 3.17's 60-degree rule (tangent
   replaced by world y once the projection is shorter than 0.5). `mjx_mikt/envs/mjx_contact.py`
   patches only the JAX implementation.
2. Native episode: `mujoco.mj_step` from the initial pose under random controls in [-1, 1] (held
   for 5 substeps, as a control step), keeping states with `data.ncon > 0`. From those it picks
   up to --states states, half of them (if any) with a "turned steep" foot contact: a
   capsule-floor contact whose projected axis is shorter than 0.5 and not along world y, the
   case where the 60-degree rule rotates the friction pyramid.
3. At each picked state it runs native `mujoco.mj_forward` (float64) and, jitted,
   `mjx.forward(mjx.put_model(m, impl="warp"), d)` (MuJoCo Warp on the Warp CPU device through
   JAX FFI; Warp is float32). Reports: compile time (first call; the Warp kernel cache is cold
   with --fresh-cache), the time of later calls, active contacts (native ncon, Warp nacon), the
   largest angle between matched contacts' first tangents (modulo sign), and
   max_i |Δqacc_i| / (1 + |qacc_i|) against native.
4. --warp-c-frame replaces MuJoCo Warp's `plane_capsule` (module attribute of
   `collision_primitive`, read when Warp generates the collision kernel) by one that keeps the
   projected capsule axis however steep the capsule is (native MuJoCo's rule, as
   `mjx_contact.py` does for JAX): the backend's `warp_physics.install_c_frame`, compiled into its
   own kernel cache dir (so --fresh-cache does not apply to it); if the 60-degree rule
   is the only contact difference, Warp then matches native to float32 precision.
5. --with-jax also runs MJX's JAX implementation in float32 (stock, and with
   `mjx_contact.install()`, which is what `MjxPhysics` runs) on the same states, as a float32
   reference for the numbers in 3.

Runs on the CPU only (JAX_PLATFORMS=cpu, one XLA thread, Warp compiles modules serially).
Needs `warp-lang` (mujoco-mjx 3.17's "warp" extra pins 1.18.0; this was tried with 1.19.0).

    .venv/bin/python tools/probes/mjx_warp_probe.py                       # Warp vs native
    .venv/bin/python tools/probes/mjx_warp_probe.py --fresh-cache          # ... timing a cold kernel cache
    .venv/bin/python tools/probes/mjx_warp_probe.py --warp-c-frame         # Warp with native's frame rule
    .venv/bin/python tools/probes/mjx_warp_probe.py --with-jax             # ... plus MJX-JAX float32
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

_parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
_parser.add_argument("--robot", default="CentipedeFour")
_parser.add_argument("--states", type=int, default=10, help="contact states to compare (default 10)")
_parser.add_argument("--substeps", type=int, default=1500, help="native substeps in the random episode")
_parser.add_argument("--seed", type=int, default=0)
_parser.add_argument("--naconmax", type=int, default=64, help="Warp contact capacity (one world)")
_parser.add_argument("--njmax", type=int, default=256, help="Warp constraint-row capacity per world")
_parser.add_argument("--fresh-cache", action="store_true", help="compile Warp kernels into an empty cache dir")
_parser.add_argument("--with-jax", action="store_true", help="also MJX-JAX float32, stock and C-frame patched")
_parser.add_argument("--skip-frame-kernel", action="store_true", help="skip step 1")
_parser.add_argument("--warp-c-frame", action="store_true",
                     help="patch MuJoCo Warp's plane_capsule to native's frame rule (own kernel cache dir)")
ARGS = _parser.parse_args()

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402
from mujoco import mjx  # noqa: E402

import centipede_models  # noqa: E402

try:
    import warp as wp
    from mujoco.mjx.third_party.mujoco_warp._src.collision_primitive_core import plane_capsule
except Exception as err:  # noqa: BLE001
    print(f"WARP IMPORT FAILED: {type(err).__name__}: {err}")
    print("needs: pip install warp-lang (mujoco-mjx[warp] pins warp-lang==1.18.0)")
    sys.exit(1)

wp.config.load_module_max_workers = 0  # serial module compiles (shared machine)
wp.config.log_level = wp.LOG_WARNING  # no per-module "load took" lines
if ARGS.fresh_cache and not ARGS.warp_c_frame:  # the patched kernels live in the backend's own cache dir
    wp.config.kernel_cache_dir = tempfile.mkdtemp(prefix="warp-cache-")
wp.init()


def one_line(err: BaseException) -> str:
    lines = [s for s in str(err).splitlines() if s.strip()]
    return f"{type(err).__name__}: {lines[0] if lines else ''}"


# --------------------------------------------------------------------------- C-frame patch (optional)
if ARGS.warp_c_frame:
    # the backend's own patch (and its own kernel cache dir, so patched and stock modules never mix)
    from mjx_mikt.envs.warp_physics import install_c_frame  # noqa: E402

    install_c_frame()


# --------------------------------------------------------------------------- 1. frame rule
@wp.kernel
def _plane_capsule_frame(axes: wp.array(dtype=wp.vec3), tangent: wp.array(dtype=wp.vec3)):
    i = wp.tid()
    n = wp.vec3(0.0, 0.0, 1.0)
    dist, pos, frame = plane_capsule(n, wp.vec3(0.0, 0.0, 0.0), wp.vec3(0.0, 0.0, 0.3), axes[i], 0.08, 0.3)
    tangent[i] = wp.vec3(frame[1, 0], frame[1, 1], frame[1, 2])


def frame_rule_check() -> None:
    print("== 1. MuJoCo Warp plane_capsule contact frame (floor normal +z), first tangent ==")
    yaw = 0.3  # capsule turned about z, so its projection is not along world y
    tilts = np.deg2rad([10.0, 45.0, 59.0, 61.0, 70.0, 85.0])
    axes = np.stack([np.array([-np.sin(yaw) * np.cos(t), np.cos(yaw) * np.cos(t), np.sin(t)]) for t in tilts])
    t0 = time.perf_counter()
    a = wp.array(axes.astype(np.float32), dtype=wp.vec3, device="cpu")
    out = wp.zeros(len(axes), dtype=wp.vec3, device="cpu")
    wp.launch(_plane_capsule_frame, dim=len(axes), inputs=[a, out], device="cpu")
    got = out.numpy()
    print(f"   (kernel compiled and ran in {time.perf_counter() - t0:.1f} s)")
    print("   tilt  |proj|  native tangent (projected axis)   Warp tangent               angle")
    for t, ax, g in zip(tilts, axes, got):
        proj = ax - np.array([0.0, 0.0, ax[2]])
        ln = np.linalg.norm(proj)
        ref = proj / ln
        ang = np.degrees(np.arccos(min(1.0, abs(float(ref @ g)))))
        print(f"   {np.degrees(t):4.0f}°  {ln:5.3f}  ({ref[0]:+.4f}, {ref[1]:+.4f}, {ref[2]:+.4f})"
              f"       ({g[0]:+.4f}, {g[1]:+.4f}, {g[2]:+.4f})   {ang:5.2f}°")


# --------------------------------------------------------------------------- 2. native states
def compile_model() -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_string(centipede_models.load(ARGS.robot))  # as MjxPhysics does


def contact_info(m: mujoco.MjModel, d: mujoco.MjData):
    """Per active native contact: geom pair, pos, first tangent, |projected axis| (capsule-plane) or nan."""
    out = []
    for i in range(d.ncon):
        c = d.contact[i]
        g1, g2 = int(c.geom[0]), int(c.geom[1])
        proj = np.nan
        types = (m.geom_type[g1], m.geom_type[g2])
        if types == (mujoco.mjtGeom.mjGEOM_PLANE, mujoco.mjtGeom.mjGEOM_CAPSULE):
            n = c.frame[:3]
            axis = d.geom_xmat[g2].reshape(3, 3)[:, 2]
            proj = float(np.linalg.norm(axis - n * (n @ axis)))
        out.append(dict(geom=(g1, g2), pos=c.pos.copy(), t1=c.frame[3:6].copy(), proj=proj))
    return out


def turned_steep(info) -> bool:
    return any(ci["proj"] < 0.5 and abs(ci["t1"][1]) < 1.0 - 1e-6 for ci in info if np.isfinite(ci["proj"]))


def collect_states(m: mujoco.MjModel):
    rng = np.random.default_rng(ARGS.seed)
    d = mujoco.MjData(m)
    mujoco.mj_resetData(m, d)
    candidates = []
    for step in range(ARGS.substeps):
        if step % 5 == 0:
            d.ctrl[:] = rng.uniform(-1.0, 1.0, m.nu)
        mujoco.mj_step(m, d)
        if step % 5 == 4:  # sample once per control step
            mujoco.mj_forward(m, d)
            if d.ncon > 0:
                info = contact_info(m, d)
                candidates.append(dict(step=step + 1, qpos=d.qpos.copy(), qvel=d.qvel.copy(), ctrl=d.ctrl.copy(),
                                       act=d.act.copy(), warm=d.qacc_warmstart.copy(), steep=turned_steep(info)))
    steep = [c for c in candidates if c["steep"]]
    other = [c for c in candidates if not c["steep"]]
    k_steep = min(len(steep), ARGS.states // 2)
    pick = lambda lst, k: [lst[i] for i in np.linspace(0, len(lst) - 1, k).round().astype(int)] if k else []
    chosen = pick(steep, k_steep) + pick(other, min(len(other), ARGS.states - k_steep))
    print(f"== 2. native episode: {ARGS.substeps} substeps, {len(candidates)} sampled states with contacts "
          f"({len(steep)} with a turned steep foot); comparing {len(chosen)} ==")
    return sorted(chosen, key=lambda c: c["step"])


def native_forward(m, s):
    d = mujoco.MjData(m)
    d.qpos[:], d.qvel[:], d.ctrl[:], d.act[:], d.qacc_warmstart[:] = s["qpos"], s["qvel"], s["ctrl"], s["act"], s["warm"]
    mujoco.mj_forward(m, d)
    return d


# --------------------------------------------------------------------------- 3. engines
def rel_err(q, ref) -> float:
    return float(np.max(np.abs(np.asarray(q, np.float64) - ref) / (1.0 + np.abs(ref))))


def tangent_angle(native_info, geoms, poss, t1s) -> float:
    """Largest angle (deg, modulo sign) between the first tangents of matched contacts (same pair, nearest pos)."""
    worst = 0.0
    for ci in native_info:
        idx = [j for j in range(len(geoms)) if tuple(geoms[j]) == ci["geom"]]
        if not idx:
            continue
        j = min(idx, key=lambda j: np.linalg.norm(poss[j] - ci["pos"]))
        cosang = abs(float(ci["t1"] @ t1s[j])) / max(1e-12, float(np.linalg.norm(t1s[j])))
        worst = max(worst, float(np.degrees(np.arccos(min(1.0, cosang)))))
    return worst


def run_warp(m, states, natives):
    print(f"== 3. MJX impl='warp' (MuJoCo Warp, Warp CPU device, float32){' with the C frame patch' if ARGS.warp_c_frame else ''}"
          " vs native mj_forward (float64) ==")
    try:
        t0 = time.perf_counter()
        mx = mjx.put_model(m, impl="warp")
        dx0 = mjx.make_data(m, impl="warp", naconmax=ARGS.naconmax, njmax=ARGS.njmax)
        print(f"   put_model/make_data: {time.perf_counter() - t0:.1f} s; device {jax.devices()[0]}, "
              f"graph_mode {mx.opt._impl.graph_mode if hasattr(mx.opt, '_impl') else 'n/a'}")
    except Exception as err:  # noqa: BLE001
        print(f"   WARP put_model/make_data FAILED: {one_line(err)}")
        return None

    @jax.jit
    def fwd(qpos, qvel, ctrl, act, warm):
        d = dx0.replace(qpos=qpos, qvel=qvel, ctrl=ctrl, act=act, qacc_warmstart=warm)
        d = mjx.forward(mx, d)
        c = d._impl
        return d.qacc, c.nacon, c.contact__geom, c.contact__pos, c.contact__frame, c.contact__dist

    return run_engine("warp+c_frame" if ARGS.warp_c_frame else "warp", fwd, states, natives, warp_contacts=True)


def run_jax(m, states, natives, patched: bool):
    name = "jax-f32+c_frame" if patched else "jax-f32"
    if patched:
        from mjx_mikt.envs import mjx_contact
        mjx_contact.install()
    mx = mjx.put_model(m)  # impl='jax' on CPU
    dx0 = mjx.make_data(mx)

    @jax.jit
    def fwd(qpos, qvel, ctrl, act, warm):
        d = mjx.forward(mx, dx0.replace(qpos=qpos, qvel=qvel, ctrl=ctrl, act=act, qacc_warmstart=warm))
        c = d._impl.contact
        return d.qacc, c.geom, c.pos, c.frame, c.dist, d._impl.contact.includemargin

    return run_engine(name, fwd, states, natives, warp_contacts=False)


def run_engine(name, fwd, states, natives, warp_contacts: bool):
    f32 = lambda x: jnp.asarray(x, jnp.float32)
    times, rows = [], []
    for k, (s, dn) in enumerate(zip(states, natives)):
        args = [f32(s[key]) for key in ("qpos", "qvel", "ctrl", "act", "warm")]
        t0 = time.perf_counter()
        try:
            out = jax.block_until_ready(fwd(*args))
        except Exception as err:  # noqa: BLE001
            print(f"   {name} forward FAILED: {one_line(err)}")
            return None
        times.append(time.perf_counter() - t0)
        if k == 0:  # time a second call on the same state (cache hit, no compile)
            t0 = time.perf_counter()
            jax.block_until_ready(fwd(*args))
            steady = time.perf_counter() - t0
        qacc = np.asarray(out[0])
        if warp_contacts:
            nacon = int(np.asarray(out[1]).reshape(-1)[0])
            geoms, poss = np.asarray(out[2])[:nacon], np.asarray(out[3])[:nacon]
            frames = np.asarray(out[4])[:nacon].reshape(nacon, 3, 3)
            n_active = nacon
        else:
            dist, margin = np.asarray(out[4]), np.asarray(out[5])
            active = dist < margin  # MJX-JAX keeps fixed slots; active = within margin
            geoms, poss = np.asarray(out[1])[active], np.asarray(out[2])[active]
            frames = np.asarray(out[3])[active].reshape(-1, 3, 3)
            n_active = int(active.sum())
        info = contact_info(MODEL, dn)
        ang = tangent_angle(info, geoms, poss, frames[:, 1, :])
        err = rel_err(qacc, dn.qacc)
        finite = bool(np.isfinite(qacc).all())
        rows.append(dict(step=s["step"], ncon=dn.ncon, n=n_active, ang=ang, err=err, steep=s["steep"],
                         finite=finite, qmax=float(np.abs(dn.qacc).max())))
    print(f"   [{name}] first call (trace + compile + run): {times[0]:.1f} s; "
          f"second call same state: {steady * 1e3:.1f} ms; later states: "
          f"{1e3 * np.median(times[1:]) if len(times) > 1 else float('nan'):.1f} ms median")
    print("    step  steep  ncon(native/engine)  max tangent angle  max|qacc|native  max|Δqacc|/(1+|qacc|)")
    for r in rows:
        print(f"   {r['step']:5d}  {'yes' if r['steep'] else ' no'}    {r['ncon']:3d} / {r['n']:3d}"
              f"            {r['ang']:6.2f}°          {r['qmax']:9.2f}        {r['err']:.3e}"
              f"{'' if r['finite'] else '  (NaN)'}")
    errs = [r["err"] for r in rows]
    steep_e = [r["err"] for r in rows if r["steep"]] or [float("nan")]
    flat_e = [r["err"] for r in rows if not r["steep"]] or [float("nan")]
    print(f"   [{name}] SUMMARY max rel |Δqacc| = {max(errs):.3e} (turned-steep states {max(steep_e):.3e}, "
          f"others {max(flat_e):.3e}); max tangent angle {max(r['ang'] for r in rows):.2f}°")
    return rows


MODEL = None


def main() -> None:
    global MODEL
    print(f"mujoco {mujoco.__version__}, mujoco-mjx (package), jax {jax.__version__}, warp {wp.__version__}, "
          f"warp devices {[str(d) for d in wp.get_devices()]}, kernel cache {wp.config.kernel_cache_dir}")
    if not ARGS.skip_frame_kernel:
        try:
            frame_rule_check()
        except Exception as err:  # noqa: BLE001
            print(f"   frame kernel FAILED: {one_line(err)}")
    m = MODEL = compile_model()
    print(f"model {ARGS.robot}: nq {m.nq} nv {m.nv} nu {m.nu} ngeom {m.ngeom}, cone {m.opt.cone}, "
          f"solver {m.opt.solver} iters {m.opt.iterations}/{m.opt.ls_iterations}, integrator {m.opt.integrator}")
    states = collect_states(m)
    if not states:
        print("no contact states collected")
        return
    natives = [native_forward(m, s) for s in states]
    run_warp(m, states, natives)
    if ARGS.with_jax:
        print("== 4. MJX impl='jax' float32 on the same states (reference) ==")
        run_jax(m, states, natives, patched=False)
        run_jax(m, states, natives, patched=True)


if __name__ == "__main__":
    main()
