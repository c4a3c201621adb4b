"""MJCF for NerveNet's centipedes with any even number of legs (SPEC §1).

A chain of torso spheres 0.5 apart along x, each carrying a left (even id,
y < 0) and a right (odd id) leg; every torso after the first hangs from the
previous one by a yaw hinge `body_k` and a pitch hinge `bodyupdown_k`. The
actuator order is the authors': per leg its hip then its ankle motor, and after
each odd leg i > 1 the `body_{i//2}` and `bodyupdown_{i//2}` motors. The crippled
variant keeps every body but drops the four motors of legs 0 and 1.
"""

from __future__ import annotations

import re
from typing import List, Optional, Tuple

HIP_RANGE = "-40 40"
ANKLE_RANGE = "30 100"
THIGH_Y = 0.28  # hip body offset and thigh capsule length along y
SHIN_Y = 0.6  # ankle capsule length along y
TORSO_SPACING = 0.5

HEADER = """<mujoco model="{model}">
  <compiler angle="degree" coordinate="local" inertiafromgeom="true"/>
  <option integrator="RK4" timestep="0.01"/>
  <default>
    <joint armature="1" damping="1" limited="true"/>
    <geom conaffinity="0" condim="3" density="25.0" friction="1.5 0.1 0.1" margin="0.01" rgba="0.8 0.6 0.4 1"/>
  </default>
  <asset>
    <texture builtin="gradient" height="100" rgb1="1 1 1" rgb2="0 0 0" type="skybox" width="100"/>
    <texture builtin="checker" height="100" name="texplane" rgb1="0 0 0" rgb2="0.8 0.8 0.8" type="2d" width="100"/>
    <material name="MatPlane" reflectance="0.5" shininess="1" specular="1" texrepeat="60 60" texture="texplane"/>
  </asset>
  <worldbody>
    <light cutoff="100" diffuse="1 1 1" dir="0 0 -1.3" directional="true" exponent="1" pos="0 0 1.3" specular=".1 .1 .1"/>
    <geom conaffinity="1" condim="3" material="MatPlane" name="floor" pos="0 0 0" rgba="0.8 0.9 0.8 1" size="40 40 40" type="plane"/>
"""


def _fmt(x: float) -> str:
    return repr(float(x))


def _leg(leg: int, indent: str) -> List[str]:
    side = 1 if leg % 2 else -1  # odd legs are right legs (+y)
    hip = ("righthip" if side > 0 else "lefthip") + f"_{leg}"
    thigh, shin = _fmt(THIGH_Y * side), _fmt(SHIN_Y * side)
    return [
        f'{indent}<body name="legbody_{leg}" pos="0.0 {thigh} 0">',
        f'{indent}  <joint axis="0 0 1" name="{hip}" pos="0.0 0.0 0.0" range="{HIP_RANGE}" type="hinge"/>',
        f'{indent}  <geom fromto="0.0 0.0 0.0 0.0 {thigh} 0.0" name="legGeom_{leg}" rgba=".08 .5 .3 1" size="0.08" type="capsule"/>',
        f'{indent}  <body name="frontFoot_{leg}" pos="0 {thigh} 0">',
        f'{indent}    <joint axis="{_fmt(-side)} 0 0" name="ankle_{leg}" pos="0.0 0.0 0.0" range="{ANKLE_RANGE}" type="hinge"/>',
        f'{indent}    <geom fromto="0.0 0.0 0.0 0 {shin} 0.0" name="ankleGeom_{leg}" rgba=".08 .5 .3 1" size="0.08" type="capsule"/>',
        f"{indent}  </body>",
        f"{indent}</body>",
    ]


def _torso(index: int, indent: str) -> List[str]:
    lines = []
    if index == 0:
        lines.append(f'{indent}<body name="torso_0" pos="0 0 0.75">')
        lines.append(f'{indent}  <geom density="100" name="torsoGeom_0" pos="0 0 0" size="0.25" type="sphere"/>')
        lines.append(f'{indent}  <joint armature="0" damping="0" limited="false" margin="0.01" name="root" pos="0 0 0" type="free"/>')
    else:
        lines.append(f'{indent}<body name="torso_{index}" pos="{TORSO_SPACING:.2f} 0 0">')
        lines.append(f'{indent}  <geom density="100" name="torsoGeom_{index}" pos="0 0 0" size="0.25" type="sphere"/>')
        lines.append(f'{indent}  <joint axis="0 0 1" name="body_{index}" pos="-0.25 0.0 0.0" range="-20 20" type="hinge"/>')
        lines.append(f'{indent}  <joint axis="0 1 0" name="bodyupdown_{index}" pos="-0.25 0.0 0.0" range="-10 30" type="hinge"/>')
    return lines


def actuated_joints(num_legs: int, crippled: bool = False) -> List[tuple]:
    """(joint name, gear) in actuator order."""
    joints = []
    for leg in range(num_legs):
        if not (crippled and leg < 2):
            hip = ("righthip" if leg % 2 else "lefthip") + f"_{leg}"
            joints += [(hip, 150), (f"ankle_{leg}", 150)]
        if leg % 2 == 1 and leg > 1:
            joints += [(f"body_{leg // 2}", 100), (f"bodyupdown_{leg // 2}", 100)]
    return joints


LEG_WORDS = {4: "Four", 6: "Six", 8: "Eight", 10: "Ten", 12: "Twelve", 14: "Fourteen", 16: "Sixteen"}


def model_name(num_legs: int, crippled: bool = False) -> str:
    count = LEG_WORDS.get(num_legs, str(num_legs))
    return f"{'Cp' if crippled else ''}Centipede{count}"


def parse_name(name: str) -> Optional[Tuple[int, bool]]:
    """(legs, crippled) of a centipede name `make_centipede` can build (CentipedeTen, CpCentipede18), else None."""
    match = re.fullmatch(r"(Cp)?Centipede(\w+)", name)
    if not match:
        return None
    count = match.group(2)
    legs = next((n for n, word in LEG_WORDS.items() if word == count), None)
    if legs is None and count.isdigit():
        legs = int(count)
    crippled = bool(match.group(1))
    if legs is None or legs < 4 or legs % 2 or model_name(legs, crippled) != name:
        return None
    return legs, crippled


def make_centipede(num_legs: int, crippled: bool = False) -> str:
    """MJCF text of a centipede with `num_legs` legs (even, >= 4)."""
    if num_legs < 4 or num_legs % 2:
        raise ValueError(f"a centipede needs an even number of legs >= 4, got {num_legs}")
    lines = HEADER.format(model=model_name(num_legs, crippled)).rstrip("\n").split("\n")
    num_torsos = num_legs // 2
    for torso in range(num_torsos):
        indent = "  " * (2 + torso)
        lines += _torso(torso, indent)
        lines += _leg(2 * torso, indent + "  ") + _leg(2 * torso + 1, indent + "  ")
    for torso in reversed(range(num_torsos)):
        lines.append("  " * (2 + torso) + "</body>")
    lines.append("  </worldbody>")
    lines.append("  <actuator>")
    for joint, gear in actuated_joints(num_legs, crippled):
        lines.append(f'    <motor ctrllimited="true" ctrlrange="-1.0 1.0" gear="{gear}" joint="{joint}"/>')
    lines.append("  </actuator>")
    # Carried for fidelity with NerveNet's files; the task resets from qpos0 instead (SPEC §1).
    init = ["0.0", "0.0", "0.55", "1.0", "0.0", "0.0", "0.0"]
    for leg in range(num_legs):
        init += ["0.0", "1.0" if leg % 2 else "-1.0"]
    lines.append("  <custom>")
    lines.append(f'    <numeric data="{" ".join(init)}" name="init_qpos"/>')
    lines.append("  </custom>")
    lines.append("</mujoco>")
    return "\n".join(lines) + "\n"
