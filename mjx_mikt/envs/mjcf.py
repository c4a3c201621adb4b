"""Any MJCF robot as a locomotion task: `--target path/to/robot.xml`, `envs.register_mjcf(name, xml)`.

The generic task is built from the model alone (every number below is a `TaskOptions` field):

- root: the body of the free joint (a 3D robot), else of a slide joint along world +x whose
  ancestors have no joints (a planar robot; the chain is followed down through bodies without
  geoms that have one child, so dm_control-style dummy bodies are skipped).
- observation: qpos without the root's horizontal position (x, y of the free joint; the x slide
  and a y slide of a planar root), qvel, and for 3D robots cfrc_ext clipped to
  +-contact_force_clip, every body's (nbody x 6), as Ant and the centipedes observe it.
- reward terms: forward (the root body's x velocity over the control step), ctrl_cost
  (-w sum(action^2)), contact_cost (-w sum(clipped cfrc_ext^2); 3D robots), survive (a bonus).
- termination: the root body's height (world z) outside [min_height, max_height]; a non-finite
  state (`LocomotionEnv`).
- control step: round(control_dt / timestep) physics steps (about 0.05 s).
- reset: qpos0 + U(-r, r) and qvel = r N(0, 1), Ant's with r = 0.1.

With Ant's numbers (ctrl_cost_weight=0.5, contact_cost_weight=5e-4, min_height=0.2,
max_height=1.0) on Ant's MJCF it is `tasks.AntTask` exactly (tests/test_mjcf.py).

Task options can also sit in a TOML file beside the MJCF (`robot.toml` next to `robot.xml`: top-level
`key = value` lines, e.g. `min_height = 0.2`); options given in code or with --task-options override
the file's.

A robot's identity is `<name>-<hash8>`: the name (a file's stem) and the first 8 hex digits of
the sha256 of the MJCF text and of the options that differ from their defaults. It is the env's
name and the teacher store's key, so two different files named robot.xml (or one file before and
after an edit) never share teachers. Files the MJCF includes or loads (meshes) are not hashed.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, Tuple, Union

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from mjx_mikt.envs.base import PhysicsState
from mjx_mikt.envs.mjcf_options import (  # noqa: F401 (mjcf.X is the options' public name too)
    CONTACT_COST_WEIGHT, CTRL_COST_AT_FULL_EFFORT, MAX_HEIGHT_FRACTION, MIN_HEIGHT_FRACTION, OPTION_NAMES, MjcfError,
    TaskOptions, non_defaults, parse_task_options, task_options)

Terms = Dict[str, jax.Array]


# ----------------------------------------------------------------------- the root
@dataclass(frozen=True)
class Root:
    """The body the task follows. body: its id; horizontal_qpos: qpos indices of its x (and y) position,
    left out of the observation; free: a 3D (free-joint) robot; vertical: its height can change."""

    body: int
    horizontal_qpos: Tuple[int, ...]
    free: bool
    vertical: bool


def _ancestors(model: mujoco.MjModel, body: int) -> list:
    """[body, its parent, ..., up to but without the world body 0]."""
    chain = []
    while body:
        chain.append(body)
        body = int(model.body_parentid[body])
    return chain


def find_root(model: mujoco.MjModel, label: str = "the model") -> Root:
    """The free-joint body, else the planar root (see the module docstring); MjcfError if neither.

    Only a body that carries actuated joints (itself or below it) can be the root, so a free-floating
    ball or a reacher's target slide is not taken for the robot.
    """
    kinds = model.jnt_type
    joint_driven = (int(mujoco.mjtTrn.mjTRN_JOINT), int(mujoco.mjtTrn.mjTRN_JOINTINPARENT))
    actuated = [int(model.jnt_bodyid[model.actuator_trnid[a, 0]]) for a in range(model.nu)
                if int(model.actuator_trntype[a]) in joint_driven]
    carriers = {b for body in actuated for b in _ancestors(model, body)}
    carries = (lambda body: body in carriers) if actuated else (lambda body: True)
    free = [j for j in range(model.njnt)
            if kinds[j] == mujoco.mjtJoint.mjJNT_FREE and carries(int(model.jnt_bodyid[j]))]
    if free:
        adr = int(model.jnt_qposadr[free[0]])
        return Root(int(model.jnt_bodyid[free[0]]), (adr, adr + 1), free=True, vertical=True)
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)  # joint axes in the world frame at qpos0

    def top_level(body: int) -> bool:  # no joint between the body and the world
        return not any(model.body_jntnum[b] for b in _ancestors(model, body)[1:])

    def slides(joints, axis) -> list:
        return [j for j in joints if kinds[j] == mujoco.mjtJoint.mjJNT_SLIDE
                and np.allclose(data.xaxis[j], axis, atol=1e-6)]

    x = slides([j for j in range(model.njnt) if top_level(int(model.jnt_bodyid[j]))
                and carries(int(model.jnt_bodyid[j]))], (1, 0, 0))
    if not x:
        raise MjcfError(f"{label} has no free joint and no top-level slide joint along +x above its actuated "
                        "joints: no root body to move forward (add <freejoint/> to the walking body, or slide "
                        "joints for a planar robot)")
    chain = [int(model.jnt_bodyid[x[0]])]
    while model.body_geomnum[chain[-1]] == 0:
        children = np.flatnonzero(model.body_parentid == chain[-1])
        if len(children) != 1 or children[0] == chain[-1]:
            break
        chain.append(int(children[0]))
    joints = [j for j in range(model.njnt) if int(model.jnt_bodyid[j]) in chain]
    y = slides(joints, (0, 1, 0))
    horizontal = tuple(int(model.jnt_qposadr[j]) for j in [x[0]] + y[:1])
    return Root(chain[-1], horizontal, free=False, vertical=bool(slides(joints, (0, 0, 1))))


def initial_height(model: mujoco.MjModel, body: int) -> float:
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    return float(data.xpos[body, 2])


# ----------------------------------------------------------------------- the task
@dataclass(frozen=True)
class MjcfTask:
    """The generic locomotion task (module docstring) with every number resolved; pure functions
    of PhysicsState on jax.numpy or numpy (`xp`) with any leading batch axes, as the tasks of tasks.py."""

    qpos0: np.ndarray  # (nq,)
    nv: int
    dt: float  # seconds per control step
    root: int  # body id
    observed_qpos: Tuple[int, ...]  # qpos indices in the observation
    contact_forces: bool
    forward_weight: float
    ctrl_cost_weight: float
    contact_cost_weight: float
    contact_force_clip: float
    velocity_clip: float
    survive_bonus: float
    min_height: float  # -inf: no limit
    max_height: float  # inf: no limit
    reset_noise: float

    @classmethod
    def from_model(cls, model: mujoco.MjModel, dt: float, options: TaskOptions) -> "MjcfTask":
        root = find_root(model)
        contact = root.free if options.contact_forces is None else options.contact_forces
        low, high = -np.inf, np.inf
        height = initial_height(model, root.body)
        if root.vertical and height > 0:
            low, high = MIN_HEIGHT_FRACTION * height, MAX_HEIGHT_FRACTION * height
        pick = lambda given, derived: derived if given is None else given
        return cls(
            qpos0=np.array(model.qpos0), nv=int(model.nv), dt=dt, root=root.body,
            observed_qpos=tuple(i for i in range(model.nq) if i not in root.horizontal_qpos),
            contact_forces=bool(contact), forward_weight=options.forward_weight,
            ctrl_cost_weight=pick(options.ctrl_cost_weight, CTRL_COST_AT_FULL_EFFORT / model.nu),
            contact_cost_weight=pick(options.contact_cost_weight, CONTACT_COST_WEIGHT if contact else 0.0),
            contact_force_clip=options.contact_force_clip, velocity_clip=options.velocity_clip,
            survive_bonus=options.survive_bonus, min_height=pick(options.min_height, low),
            max_height=pick(options.max_height, high), reset_noise=options.reset_noise)

    def sample(self, key) -> Tuple[jax.Array, jax.Array]:
        """(qpos (nq,), qvel (nv,)) of a fresh episode (AntTask.sample's draws for reset_noise 0.1)."""
        k_pos, k_vel = jax.random.split(key)
        r = self.reset_noise
        qpos = jnp.asarray(self.qpos0) + jax.random.uniform(k_pos, self.qpos0.shape, minval=-r, maxval=r)
        return qpos, r * jax.random.normal(k_vel, (self.nv,))

    def _clipped_forces(self, ps: PhysicsState) -> jax.Array:
        return ps.cfrc_ext.clip(-self.contact_force_clip, self.contact_force_clip)

    def observe(self, ps: PhysicsState, xp: ModuleType = jnp) -> jax.Array:
        """(..., len(observed_qpos) + nv [+ nbody * 6])"""
        qvel = ps.qvel.clip(-self.velocity_clip, self.velocity_clip) if self.velocity_clip else ps.qvel
        parts = [ps.qpos[..., np.asarray(self.observed_qpos)], qvel]
        if self.contact_forces:
            forces = self._clipped_forces(ps)
            parts.append(forces.reshape(forces.shape[:-2] + (-1,)))
        return xp.concatenate(parts, axis=-1)

    def reward(self, before: PhysicsState, after: PhysicsState, action, xp: ModuleType = jnp) -> Terms:
        """Terms of shape (...) in AntTask's order (their sum is the reward); contact_cost only with a weight."""
        terms = {
            "forward": self.forward_weight * (after.xpos[..., self.root, 0] - before.xpos[..., self.root, 0]) / self.dt,
            "ctrl_cost": -self.ctrl_cost_weight * xp.square(action).sum(axis=-1),
        }
        if self.contact_cost_weight:
            terms["contact_cost"] = -self.contact_cost_weight * xp.square(self._clipped_forces(after)).sum(
                axis=(-2, -1))
        terms["survive"] = self.survive_bonus * xp.ones(action.shape[:-1])
        return terms

    def unhealthy(self, ps: PhysicsState, xp: ModuleType = jnp) -> jax.Array:
        height = ps.xpos[..., self.root, 2]
        return (height < self.min_height) | (height > self.max_height)


# ----------------------------------------------------------------------- robots
@dataclass(frozen=True)
class MjcfRobot:
    """A validated MJCF robot with its task options: what `registry.make` builds an env from."""

    identity: str  # <name>-<hash8>: the env's name and teacher-store key
    xml: str  # MJCF text
    options: TaskOptions
    n_substeps: int

    def task(self, model: mujoco.MjModel, dt: float) -> MjcfTask:
        return MjcfTask.from_model(model, dt, self.options)


def is_mjcf_path(name: str) -> bool:
    """A robot name ending in .xml is the path of an MJCF file."""
    return str(name).lower().endswith(".xml")


def content_hash(xml: str, options: TaskOptions) -> str:
    """First 8 hex digits of sha256(MJCF text [+ the options that differ from their defaults])."""
    digest = hashlib.sha256(xml.encode("utf-8"))
    changed = non_defaults(options)
    if changed:
        digest.update(b"\0" + json.dumps(changed, sort_keys=True).encode())
    return digest.hexdigest()[:8]


def other_version(identity_a: str, identity_b: str) -> bool:
    """Two identities of one robot name with different hashes (the file or its options changed)."""
    a, b = (re.fullmatch(r"(.+)-([0-9a-f]{8})", x) for x in (identity_a, identity_b))
    return bool(a and b and a.group(1) == b.group(1) and a.group(2) != b.group(2))


def is_mjcf_text(xml: Union[str, Path]) -> bool:
    """MJCF given as text (a string starting with '<') rather than as a path."""
    return isinstance(xml, str) and xml.lstrip().startswith("<")


def read_xml(xml: Union[str, Path]) -> Tuple[str, str]:
    """(MJCF text, label for messages) of a path or of MJCF text (starting with '<')."""
    if is_mjcf_text(xml):
        return xml, "the MJCF text"
    path = Path(xml)
    try:
        return path.read_text(), str(path)
    except (OSError, UnicodeDecodeError) as err:
        raise MjcfError(f"cannot read robot file {path}: {getattr(err, 'strerror', None) or err}") from None


def options_beside(xml: Union[str, Path]) -> Dict[str, Any]:
    """The task options in the TOML file beside an MJCF path (`robot.toml` for `robot.xml`); {} for MJCF
    text or without one. MjcfError, one line, naming the file, for bad TOML or an unknown option."""
    if is_mjcf_text(xml):
        return {}
    path = Path(xml).with_suffix(".toml")
    if not path.is_file():
        return {}
    try:
        values = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise MjcfError(f"task options file {path}: {err}") from None
    try:
        task_options(**values)
    except MjcfError as err:
        raise MjcfError(f"task options file {path}: {err}") from None
    return values


def resolve_options(xml: Union[str, Path], options: Dict[str, Any]) -> TaskOptions:
    """TaskOptions of a robot: the TOML beside its file (`options_beside`), overridden by `options`."""
    return task_options(**{**options_beside(xml), **options})


def load_robot(name: str, xml: Union[str, Path], **options) -> MjcfRobot:
    """Read, compile and check an MJCF robot (MjcfError, one line: no parse, no actuators, no root).
    options: task options, over those of the TOML beside the file."""
    text, label = read_xml(xml)
    resolved = resolve_options(xml, options)
    try:
        model = mujoco.MjModel.from_xml_string(text)
    except Exception as err:  # mujoco's ValueError: the parser's message over lines (line number, element)
        message = re.sub(r"\s*\n\s*", " | ", re.sub(r":\s*\n\s*", ": ", str(err).strip()))
        raise MjcfError(f"{label} does not parse as MJCF: {message or type(err).__name__}") from None
    if model.nu == 0:
        raise MjcfError(f"{label} has no actuators: nothing for a policy to control")
    find_root(model, label)
    n_substeps = resolved.substeps or max(1, round(resolved.control_dt / model.opt.timestep))
    return MjcfRobot(identity(name, text, resolved), text, resolved, n_substeps)


def display_name(name: str) -> str:
    """A robot as a progress line shows it: an MJCF path by its file name, any other name as it is."""
    return Path(name).name if is_mjcf_path(name) else name


def identity(name: str, text: str, options: TaskOptions) -> str:
    """`<name>-<hash8>` (a path's stem for a name ending in .xml): the module docstring's robot identity."""
    stem = Path(name).stem if is_mjcf_path(name) else name
    return f"{stem}-{content_hash(text, options)}"


def file_identity(path: Union[str, Path], **options) -> str:
    """The identity `load_robot(path, path, **options)` gives, from the file's text alone (nothing compiled:
    cheap enough to name folders with). MjcfError, one line, for a file that cannot be read."""
    return identity(str(path), read_xml(Path(path))[0], resolve_options(Path(path), options))
