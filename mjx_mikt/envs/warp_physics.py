"""Backend "mjx-warp": MJX's MuJoCo-Warp implementation (`impl="warp"`), opt-in (`pip install .[warp]`).

Why a class of its own (docs/mjx-warp.md): MuJoCo Warp may be faster than MJX-JAX on an NVIDIA
GPU (unmeasured); on a CPU it runs, through JAX FFI, but is far slower than MJX-JAX and native
MuJoCo. It keeps `MjxPhysics`' interface and conventions (physics.py's docstring), but differs in:
- Data comes from `make_data(mj_model, impl="warp", naconmax, njmax)`, made once and filled per
  call. `naconmax` counts contacts over ALL worlds of a vmapped call, and the vmap size is not
  visible here, so it is an option: `max_worlds` (the most envs x seeds one call steps) x
  `contacts_per_world`. A step whose world ran out of contact or constraint rows returns NaN
  velocities, so the task ends that episode (physics_failure) instead of silently losing contacts.
- Substeps use `mjx.step` (Warp integrates RK4 itself; `mjx.rungekutta4` rejects Warp data). Warp's
  RK4 re-runs the full forward in every stage, so the cfrc_ext `mjx.step` leaves is the last RK4
  stage's. For the project's convention (cfrc_ext of the last substep's forward, before its
  integration) the last substep is `mjx.forward` (read cfrc_ext) then `mjx.step`: one extra
  forward per control step. cfrc_ext is computed because the model carries
  `with_force_sensor`'s accelerometer (`mjx.rne_postconstraint` also rejects Warp data).
- MuJoCo Warp has MJX-JAX 3.17's 60-degree contact-frame rule, which `mjx_contact.install()` does
  not reach: `install_c_frame()` patches it to native MuJoCo's rule (mjx_mikt/patches.py: `warp_c_frame`).
"""

from __future__ import annotations

import os
from typing import Tuple

import jax
import jax.numpy as jnp
import mujoco
import warp as wp
from mujoco import mjx
from mujoco.mjx.third_party.mujoco_warp._src import collision_primitive as _mjw_collision
from mujoco.mjx.third_party.mujoco_warp._src import warp_util as _mjw_util
from mujoco.mjx.third_party.mujoco_warp._src.collision_primitive_core import mat23f, plane_sphere
from mujoco.mjx.third_party.mujoco_warp._src.math import normalize_with_norm
from mujoco.mjx.third_party.mujoco_warp._src.types import OverflowType

from mjx_mikt.envs.base import PhysicsState
from mjx_mikt.envs.force_sensor import mjx_cfrc_ext, with_force_sensor

# capacity overflows (not the solver's iteration-limit bits, which 4 iterations set routinely)
CAPACITY_OVERFLOW = int(OverflowType.NEFC | OverflowType.NJMAX_NNZ | OverflowType.BROADPHASE
                        | OverflowType.NARROWPHASE)
C_FRAME_CACHE_DIR = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                                 "mjx_mikt", "warp-c-frame")  # Warp appends its version


@wp.func
def plane_capsule_c_frame(
    plane_normal: wp.vec3,
    plane_pos: wp.vec3,
    capsule_pos: wp.vec3,
    capsule_axis: wp.vec3,
    capsule_radius: float,
    capsule_half_length: float,
) -> Tuple[wp.vec2, mat23f, wp.mat33]:
    """MuJoCo Warp's plane_capsule, except the frame: the projected capsule axis unless it is degenerate."""
    n = plane_normal
    b, b_norm = normalize_with_norm(capsule_axis - n * wp.dot(n, capsule_axis))
    if b_norm < 1.0e-6:  # a vertical capsule: any tangent will do
        if -0.5 < n[1] and n[1] < 0.5:
            b = wp.vec3(0.0, 1.0, 0.0)
        else:
            b = wp.vec3(0.0, 0.0, 1.0)
        b = wp.normalize(b - n * wp.dot(n, b))
    c = wp.cross(n, b)
    frame = wp.mat33(n[0], n[1], n[2], b[0], b[1], b[2], c[0], c[1], c[2])
    segment = capsule_axis * capsule_half_length
    dist1, pos1 = plane_sphere(n, plane_pos, capsule_pos + segment, capsule_radius)
    dist2, pos2 = plane_sphere(n, plane_pos, capsule_pos - segment, capsule_radius)
    return wp.vec2(dist1, dist2), mat23f(pos1[0], pos1[1], pos1[2], pos2[0], pos2[1], pos2[2]), frame


def install_c_frame() -> None:
    """Native MuJoCo's plane-capsule contact frame in MuJoCo Warp, for every kernel built from now on.

    PRIVATE API of the MuJoCo Warp copy bundled in mujoco-mjx 3.17 (re-check on every mujoco-mjx
    upgrade; tests/test_warp.py checks the frame and the parity with native): `plane_capsule_wrapper`
    looks `plane_capsule` up in its module's globals when Warp generates the narrowphase kernel,
    so replacing that module attribute before the first build changes the collider. Patched
    kernels go to a kernel cache directory of their own, so they never mix with stock ones
    (Warp's module hash also covers the called function's name and source). Idempotent.
    """
    if _mjw_collision.plane_capsule is plane_capsule_c_frame:
        return
    if any(key[-1] == hash("_primitive_narrowphase") for key in _mjw_util._KERNEL_CACHE):
        raise RuntimeError("stock MuJoCo Warp collision kernels were already built in this process; "
                           "build the mjx-warp backend before any other impl='warp' use")
    from warp._src import build as wp_build, context as wp_context  # private too: init_kernel_cache

    if wp_context.runtime is None:  # Warp not initialized yet: wp.init() reads the config
        wp.config.kernel_cache_dir = C_FRAME_CACHE_DIR
    else:
        wp_build.init_kernel_cache(C_FRAME_CACHE_DIR)
    _mjw_collision.plane_capsule = plane_capsule_c_frame


def quiet_iteration_limits(mjx_model):
    """No "solver/linesearch iterations limit reached" line per step: this project's MJX settings
    (4/4 iterations, measured for parity in docs/mjx-contact-parity.md) reach the limits by design.
    Capacity overflows still warn (and return NaN, see the module docstring)."""
    impl = mjx_model.opt._impl  # PRIVATE (mujoco-mjx 3.17's warp OptionWarp): re-check on upgrade
    mask = int(impl.warn_overflow) & ~int(OverflowType.ITERATIONS | OverflowType.LS_ITERATIONS)
    return mjx_model.replace(opt=mjx_model.opt.replace(_impl=impl.replace(warn_overflow=mask)))


class WarpPhysics:
    """MJX `impl="warp"` (see the module docstring); the interface of `MjxPhysics`."""

    name = "mjx-warp"

    def __init__(self, xml: str, n_substeps: int, max_worlds: int = 256, contacts_per_world: int = 0,
                 solver_iterations=None, ls_iterations=None):
        install_c_frame()
        wp.config.log_level = wp.LOG_WARNING  # no per-module "load took" lines
        model = with_force_sensor(xml)
        if solver_iterations is not None:
            model.opt.iterations = solver_iterations
        if ls_iterations is not None:
            model.opt.ls_iterations = ls_iterations
        # a capsule on the floor makes 2 contacts; 4 per geom leaves room for geom-geom contacts
        self.contacts_per_world = contacts_per_world or 4 * model.ngeom
        rows_per_contact = 2 * (int(model.geom_condim.max()) - 1) if model.opt.cone == 0 else int(model.geom_condim.max())
        self.njmax = rows_per_contact * self.contacts_per_world + model.njnt + model.neq
        self.naconmax = max_worlds * self.contacts_per_world
        self.model = model
        self.n_substeps = n_substeps
        self.mjx_model = quiet_iteration_limits(mjx.put_model(model, impl="warp"))
        self._template = mjx.make_data(model, impl="warp", naconmax=self.naconmax, njmax=self.njmax)

    def _data(self, qpos, qvel, warmstart, ctrl):
        f32 = lambda x: jnp.asarray(x, self._template.qpos.dtype)
        return self._template.replace(qpos=f32(qpos), qvel=f32(qvel), qacc_warmstart=f32(warmstart),
                                      ctrl=f32(ctrl))

    def init(self, qpos, qvel, active=None) -> PhysicsState:
        del active  # vmapped: every row is computed anyway
        m, dtype = self.model, qpos.dtype
        d = mjx.forward(self.mjx_model, self._data(qpos, qvel, jnp.zeros(m.nv), jnp.zeros(m.nu)))
        return PhysicsState(qpos, qvel, jnp.zeros_like(qvel), d.xpos.astype(dtype), mjx_cfrc_ext(d).astype(dtype))

    def step(self, state: PhysicsState, ctrl) -> PhysicsState:
        m, dtype = self.mjx_model, state.qpos.dtype
        d = self._data(state.qpos, state.qvel, state.qacc_warmstart, ctrl)
        d = jax.lax.fori_loop(0, self.n_substeps - 1, lambda _, d: mjx.step(m, d), d)
        cfrc_ext = mjx_cfrc_ext(mjx.forward(m, d))  # the last substep's forward, before integration
        d = mjx.step(m, d)  # forward again (same result) + Warp's RK4
        xpos = mjx.kinematics(m, d).xpos
        overflow = (d._impl.overflow & CAPACITY_OVERFLOW) != 0
        qvel = jnp.where(overflow, jnp.nan, d.qvel)
        return PhysicsState(*(x.astype(dtype) for x in (d.qpos, qvel, d.qacc_warmstart, xpos, cfrc_ext)))
