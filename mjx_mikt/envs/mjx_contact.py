"""MJX's plane-capsule contact with the C engine's contact frame (so MJX matches native MuJoCo).

Found by a probe (`git show 4be1481:tools/probes/mjx_contact_probe.py`; see
docs/mjx-contact-parity.md): both engines take the first friction direction of a capsule-floor
contact from the capsule axis projected onto the floor, but mujoco-mjx 3.17
(`mjx/_src/collision_primitive.py`, `plane_capsule`) replaces it by the world y axis when that
projection is shorter than 0.5, i.e. for a capsule steeper than 60 degrees, which the centipedes'
feet often are (ankles 30-100 degrees). The pyramidal friction cone is then rotated against native
MuJoCo's, and a sliding foot gets different friction forces (max |Δqacc| 6.5 on the probe's states).
With the collider below the two engines agree to 7e-12 over a 300-substep rollout in float64.

`install()` registers it in MJX's collision table (a private table: re-check on every
mujoco-mjx upgrade; `tests/test_envs.py` compares the two engines under contact). `MjxPhysics`
installs it when it is built (mjx_mikt/patches.py: `mjx_contact`); importing this module does not.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco


def plane_capsule_c_frame(plane, cap):
    """MJX's plane_capsule, except the frame: the projected capsule axis unless it is degenerate."""
    from mujoco.mjx._src import collision_primitive
    from mujoco.mjx._src import math as mjx_math

    n, axis = plane.mat[:, 2], cap.mat[:, 2]
    b, b_norm = mjx_math.normalize_with_norm(axis - n * jnp.dot(n, axis))
    y, z = jnp.array([0.0, 1.0, 0.0]), jnp.array([0.0, 0.0, 1.0])
    fallback = jnp.where((-0.5 < n[1]) & (n[1] < 0.5), y, z)
    fallback = mjx_math.normalize(fallback - n * jnp.dot(n, fallback))
    b = jnp.where(b_norm < mujoco.mjMINVAL, fallback, b)  # a vertical capsule: any tangent will do
    frame = jnp.array([[n, b, jnp.cross(n, b)]])
    segment = axis * cap.size[1]
    out = []
    for offset in (segment, -segment):
        dist, pos = collision_primitive._plane_sphere(n, plane.pos, cap.pos + offset, cap.size[0])
        out.append((dist[None], pos[None], frame))
    return jax.tree_util.tree_map(lambda *x: jnp.concatenate(x), *out)


def install() -> bool:
    """Use the C-frame plane-capsule collider in every MJX model traced from now on (idempotent); True."""
    from mujoco.mjx._src import collision_driver, collision_primitive
    from mujoco.mjx._src.types import GeomType

    # collider(ncon=2) is how MJX wraps its own plane_capsule (batching over geom pairs, 2 contacts)
    collision_driver._COLLISION_FUNC[(GeomType.PLANE, GeomType.CAPSULE)] = (
        collision_primitive.collider(ncon=2)(plane_capsule_c_frame))
    return True
