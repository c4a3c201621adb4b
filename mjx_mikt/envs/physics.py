"""Two physics backends behind one interface: `init(qpos, qvel)` and `step(state, ctrl)`.

Both return a `PhysicsState` (qpos, qvel, qacc_warmstart, xpos, cfrc_ext), so the
tasks' observation, reward and termination are one set of JAX functions.

Convention for the derived fields, the same on both backends:
- cfrc_ext is the one computed in the forward pass of the LAST substep of a
  control step, before that substep's integration: what the authors observed
  with MuJoCo 1.50 after `sim.step()`. It is computed by `mj_rnePostConstraint`
  (native: triggered by an accelerometer sensor added to the model; MJX:
  `mjx.rne_postconstraint`).
- xpos is the body positions at the state AFTER the control step (kinematics
  of the returned qpos), so the forward reward is the true displacement over
  the control step. (With RK4, what `mj_step` leaves in xpos is the position
  of its last Runge-Kutta stage, which is neither the old nor the new state.)
After `init` both are computed at the given state.

- `MjxPhysics` (backend "mjx"): MuJoCo MJX, pure JAX; the accelerator path.
- `WarpPhysics` (backend "mjx-warp", opt-in, `pip install .[warp]`): MJX's MuJoCo-Warp
  implementation; in `warp_physics.py`, imported only when chosen (see there).
- `NativePhysics` (backend "mujoco"): native MuJoCo stepping the whole env
  batch on host threads (`mujoco.batch.Batch`), called from inside jit through
  `host_call` (pure_callback's `broadcast_all` without its per-call copies; host_call.py):
  any number of vmaps (envs, seeds) becomes one callback per control step. MuJoCo computes in
  float64; results are cast to the caller's dtype. A step whose input is not
  finite, or that MuJoCo had to reset for instability (it silently resets such
  a simulation; `STEP_CLOCK_S` tells), returns NaN velocities so the task can end that episode.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
import time
from typing import Dict

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import batch as mj_batch

from mjx_mikt import patches
from mjx_mikt.config import ConfigError
from mjx_mikt.envs.base import PhysicsState
from mjx_mikt.envs.force_sensor import mjx_cfrc_ext, with_force_sensor
from mjx_mikt.envs.host_call import host_call

# Each step starts every simulation's clock here. MuJoCo resets a simulation it finds unstable
# (bad qpos, qvel or qacc) to time 0, so a clock below this after the step is such a reset.
# `Batch.warning` would say so too, but in mujoco 4.0.0 it stays zero when that happens (checked
# 2026-12-04: MjData's own counter rises, the batch's does not). Nothing in a task reads the time.
STEP_CLOCK_S = 1000.0


class NativePhysics:
    """Native MuJoCo through a host callback from inside jit (see the module docstring)."""

    name = "mujoco"

    def __init__(self, xml: str, n_substeps: int, nthread: int = 0):
        self.model = with_force_sensor(xml)
        self.n_substeps = n_substeps
        self.nthread = nthread or os.cpu_count() or 1
        self._batches: Dict[int, tuple] = {}
        self._idle: Dict[tuple, tuple] = {}
        self._lock = threading.Lock()
        # seconds spent inside MuJoCo's step/forward since construction: what a benchmark
        # divides by the jitted step's wall time to get the share the glue leaves to physics
        self.mujoco_seconds = 0.0
        m = self.model
        self.sizes = {"qpos": m.nq, "qvel": m.nv, "qacc_warmstart": m.nv, "ctrl": m.nu}

    # ------------------------------------------------------------- host side
    def _batch(self, n: int):
        if n not in self._batches:
            b = mj_batch.Batch(self.model, n, nthread=min(self.nthread, n))
            fields = {k: b.bind(k) for k in ("qpos", "qvel", "qacc_warmstart", "ctrl", "xpos", "cfrc_ext", "time")}
            self._batches[n] = (b, fields)
        return self._batches[n]

    def host_step(self, qpos, qvel, warmstart, ctrl, active, stepping: bool, finite=None):
        """MuJoCo's step (or forward) of the whole batch; inputs have leading batch axes `lead`.

        qpos, qvel, warmstart, ctrl: (*lead, size) float;
        active: None or (*lead,) bool, the envs to compute (the others' results are meaningless);
        finite: None, or (*lead,) bool from a caller that has already zeroed the non-finite inputs
          (the JAX side, where that is one fused kernel): False where an env's inputs were not finite.
        Returns qpos, qvel, qacc_warmstart, xpos, cfrc_ext with the inputs' dtype; qvel is NaN for
        an env whose input was not finite or that MuJoCo reset as unstable.
        """
        lead = qpos.shape[:-1]
        n = int(np.prod(lead, dtype=np.int64))
        if finite is None:
            inputs = (qpos, qvel, warmstart, ctrl)
            finite = np.all([np.isfinite(x).reshape(n, -1).all(axis=1) for x in inputs], axis=0)
            qpos, qvel, warmstart, ctrl = (np.where(np.isfinite(x), x, 0.0).astype(x.dtype) for x in inputs)
        out_dtype = qpos.dtype
        ids = None if active is None else np.flatnonzero(np.asarray(active).reshape(n))
        if not stepping and ids is not None and not len(ids):
            return self._idle_outputs(lead, out_dtype)  # no episode ended: nothing to reset
        with self._lock:
            b, f = self._batch(n)
            for name, value in zip(("qpos", "qvel", "qacc_warmstart", "ctrl"), (qpos, qvel, warmstart, ctrl)):
                f[name][:] = value.reshape(n, -1)  # copied and widened to float64 in one pass
            f["time"][:] = STEP_CLOCK_S
            crashed = np.zeros(n, bool)
            started = time.perf_counter()
            try:
                if stepping:  # stage POS: kinematics (xpos) of the new state
                    b.step(ids, nstep=self.n_substeps, stage=mujoco.mjtStage.mjSTAGE_POS.value)
                else:
                    b.forward(ids)
            except mj_batch.SimulationError as err:
                crashed[err.ids] = True
            self.mujoco_seconds += time.perf_counter() - started
            unstable = f["time"] < STEP_CLOCK_S if stepping else False  # forward() does not check
            failed = ~np.asarray(finite).reshape(n) | unstable | crashed
            # np.array, not asarray: a copy even for float64 callers, never a view MuJoCo's next call overwrites
            outputs = [np.array(f[name], out_dtype) for name in ("qpos", "qvel", "qacc_warmstart", "xpos", "cfrc_ext")]
            if failed.any():
                outputs[1] = np.where(failed[:, None], np.nan, outputs[1]).astype(out_dtype)
            return tuple(x.reshape(lead + x.shape[1:]) for x in outputs)

    def _idle_outputs(self, lead: tuple, dtype) -> tuple:
        """Zeros of host_step's output shapes: the (meaningless) result of a reset call with no
        active env, which happens on most control steps. Cached: XLA copies results out."""
        key = (lead, np.dtype(dtype))
        if key not in self._idle:
            self._idle[key] = tuple(np.zeros(lead + shape, dtype) for shape in self._output_shapes())
        return self._idle[key]

    def _output_shapes(self) -> tuple:
        """Per-env shapes of host_step's results: qpos, qvel, qacc_warmstart, xpos, cfrc_ext."""
        m = self.model
        return (m.nq,), (m.nv,), (m.nv,), (m.nbody, 3), (m.nbody, 6)

    # -------------------------------------------------------------- jax side
    def _call(self, qpos, qvel, warmstart, ctrl, stepping: bool, active=None) -> PhysicsState:
        dtype = qpos.dtype
        shapes = tuple(jax.ShapeDtypeStruct(shape, dtype) for shape in self._output_shapes())
        inputs = (qpos, qvel, warmstart, ctrl.astype(dtype))
        finite = jnp.all(jnp.array([jnp.all(jnp.isfinite(x)) for x in inputs]))
        inputs = tuple(jnp.where(jnp.isfinite(x), x, 0.0) for x in inputs)  # MuJoCo never sees a NaN
        if active is None:
            host = lambda q, v, w, c, f: self.host_step(q, v, w, c, None, stepping=stepping, finite=f)
            args = inputs + (finite,)
        else:
            host = lambda q, v, w, c, f, a: self.host_step(q, v, w, c, a, stepping=stepping, finite=f)
            args = inputs + (finite, jnp.asarray(active, bool))
        out = host_call(host, shapes, *args)
        return PhysicsState(*out)

    def init(self, qpos: jax.Array, qvel: jax.Array, active=None) -> PhysicsState:
        """Forward at (qpos, qvel): derived fields of that state, zero warm start.

        active: optional () bool; where False the host skips the work and the
        result is meaningless (auto-reset computes resets only for finished envs).
        """
        zeros = jnp.zeros((self.model.nv,), qpos.dtype)
        state = self._call(qpos, qvel, zeros, jnp.zeros((self.model.nu,), qpos.dtype), stepping=False,
                           active=active)
        return state.replace(qacc_warmstart=zeros)

    def step(self, state: PhysicsState, ctrl: jax.Array) -> PhysicsState:
        """n_substeps physics steps with ctrl held (MuJoCo clamps it to ctrlrange)."""
        return self._call(state.qpos, state.qvel, state.qacc_warmstart, ctrl, stepping=True)


def import_mjx():
    """`mujoco.mjx`, without the "Failed to import warp" lines its first import prints when
    warp-lang is absent: MJX's JAX implementation needs no Warp, and to a user of `--backend mjx`
    those lines read like an error (the `mjx-warp` backend checks for Warp itself)."""
    if "mujoco.mjx" not in sys.modules:
        with contextlib.redirect_stdout(io.StringIO()):
            import mujoco.mjx  # noqa: F401
    return sys.modules["mujoco.mjx"]


class MjxPhysics:
    """MuJoCo MJX (pure JAX). `solver_iterations` etc. override the model's options."""

    name = "mjx"

    def __init__(self, xml: str, n_substeps: int, **options):
        mjx = import_mjx()
        from mjx_mikt.envs import mjx_rk4

        # the fixes MJX needs (mjx_mikt/patches.py), before any of its programs is lowered: on a CPU no
        # LAPACK Cholesky (it deadlocks XLA's pool), and native MuJoCo's contact frame for capsules
        patches.install("cpu_linalg", "mjx_contact")
        self._mjx = mjx
        model = mujoco.MjModel.from_xml_string(xml)
        for key, value in options.items():
            if value is None:
                continue
            setattr(model.opt, {"solver_iterations": "iterations",
                                "ls_iterations": "ls_iterations"}.get(key, key), value)
        self.model = model
        self.mjx_model = mjx.put_model(model)
        self.n_substeps = n_substeps
        if model.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4:
            # native MuJoCo 4.0's RK4 (Munthe-Kaas correction for free/ball orientations; see mjx_rk4.py)
            ang = mjx_rk4.angular_dofs(model)
            unroll = mjx_rk4.stage_unroll(jax.default_backend())
            self._integrate = lambda m, d: mjx_rk4.rungekutta4(m, d, ang, unroll)
        else:
            self._integrate = mjx.euler

    def _data(self, qpos, qvel, warmstart, ctrl):
        d = self._mjx.make_data(self.mjx_model)
        return d.replace(qpos=qpos, qvel=qvel, qacc_warmstart=warmstart, ctrl=ctrl)

    def _derived(self, d) -> tuple:
        mjx = self._mjx
        d = mjx.forward(self.mjx_model, d)
        d = mjx.rne_postconstraint(self.mjx_model, d)
        return d, d.xpos, mjx_cfrc_ext(d)

    def init(self, qpos, qvel, active=None) -> PhysicsState:
        del active  # vmapped JAX computes every row anyway
        m = self.model
        d = self._data(qpos, qvel, jnp.zeros((m.nv,), qpos.dtype), jnp.zeros((m.nu,), qpos.dtype))
        d, xpos, cfrc_ext = self._derived(d)
        return PhysicsState(qpos, qvel, jnp.zeros_like(qvel), xpos, cfrc_ext)

    def step(self, state: PhysicsState, ctrl) -> PhysicsState:
        """n_substeps of forward + integrate; cfrc_ext from the last substep's forward pass.

        Every substep runs rne_postconstraint and the loop keeps the last cfrc_ext: one loop body, so
        XLA compiles the forward pass once rather than once more for a separate last substep. On the
        2-core CPU (CentipedeFour, 2 envs, 2026-11-30) that cut the compile from 167 s to 107 s of CPU
        time, with bit-identical results and no slower steps (48.5 against 52.8 ms).
        """
        mjx, m = self._mjx, self.mjx_model
        d = self._data(state.qpos, state.qvel, state.qacc_warmstart, ctrl.astype(state.qpos.dtype))

        def substep(_, carry):
            d, _ = carry
            d, _, cfrc_ext = self._derived(d)
            return self._integrate(m, d), cfrc_ext

        d, cfrc_ext = jax.lax.fori_loop(0, self.n_substeps, substep, (d, jnp.zeros_like(state.cfrc_ext)))
        xpos = mjx.kinematics(m, d).xpos
        return PhysicsState(d.qpos, d.qvel, d.qacc_warmstart, xpos, cfrc_ext)


class WarpMissingError(ConfigError, ImportError):
    """Backend mjx-warp chosen without warp-lang; a ConfigError, so the CLI prints it and exits 2."""


def require_warp() -> None:
    """Raise WarpMissingError, one line naming `pip install .[warp]`, if Warp cannot be imported."""
    try:
        import warp  # noqa: F401
    except ImportError:
        raise WarpMissingError("backend mjx-warp needs warp-lang, which is not installed: "
                               "pip install .[warp]") from None


def make_physics(xml: str, n_substeps: int, backend: str, **options):
    if backend == "mujoco":
        return NativePhysics(xml, n_substeps, nthread=options.get("nthread", 0))
    if backend in ("mjx", "mjx-warp"):
        options.pop("nthread", None)
    if backend == "mjx":
        return MjxPhysics(xml, n_substeps, **options)
    if backend == "mjx-warp":
        require_warp()
        from mjx_mikt.envs.warp_physics import WarpPhysics

        return WarpPhysics(xml, n_substeps, **options)
    raise ValueError(f"unknown backend {backend!r}; choose mjx, mujoco, mjx-warp or auto")
