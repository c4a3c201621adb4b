"""The generic MJCF task's options (`TaskOptions`): their fields with help text, defaults derived from the
model (None), and their parsing from keywords, `--task-options KEY=VALUE,...` text or a TOML file's values
(mjcf.options_beside reads that file). The task that uses them is `mjcf.MjcfTask`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, Optional, Union, get_args, get_origin, get_type_hints

from mjx_mikt.config import ConfigError, option

CTRL_COST_AT_FULL_EFFORT = 4.0  # default ctrl_cost_weight = this / actuators: Ant's 0.5 for its 8
CONTACT_COST_WEIGHT = 5e-4  # Ant's
MIN_HEIGHT_FRACTION, MAX_HEIGHT_FRACTION = 0.3, 2.0  # of the initial root height


class MjcfError(ConfigError):
    """An MJCF file or task option that cannot make a locomotion task; one line (the CLI exits 2)."""


@dataclass(frozen=True)
class TaskOptions:
    """The generic task's numbers; None means derived from the model, as each help line says."""

    forward_weight: float = option(1.0, "weight of the root's forward (+x) velocity in the reward")
    ctrl_cost_weight: Optional[float] = option(
        None, f"w of the -w sum(action^2) term (default {CTRL_COST_AT_FULL_EFFORT:g} / actuators: Ant's 0.5)")
    contact_cost_weight: Optional[float] = option(
        None, f"w of the -w sum(clipped cfrc_ext^2) term (default {CONTACT_COST_WEIGHT:g} where contact "
              "forces are observed, else 0: no term)")
    contact_force_clip: float = option(1.0, "cfrc_ext is clipped to +-this in the observation and the cost")
    contact_forces: Optional[bool] = option(None, "observe clipped cfrc_ext (default: on for a free root, "
                                                  "off for a planar one)")
    velocity_clip: float = option(0.0, "clip observed qvel to +-this (0: no clip)")
    survive_bonus: float = option(1.0, "reward of every step the robot is healthy")
    min_height: Optional[float] = option(
        None, f"end the episode below this root height (default {MIN_HEIGHT_FRACTION:g} x the initial "
              "height where the root moves vertically, else no limit)")
    max_height: Optional[float] = option(
        None, f"end the episode above this root height (default {MAX_HEIGHT_FRACTION:g} x the initial height)")
    control_dt: float = option(0.05, "seconds per control step; substeps = round(control_dt / timestep)")
    substeps: int = option(0, "physics steps per control step (0: from control_dt)")
    reset_noise: float = option(0.1, "reset: qpos0 + U(-r, r), qvel = r N(0, 1)")


OPTION_NAMES = tuple(f.name for f in dataclasses.fields(TaskOptions))


def _convert(name: str, value: Any) -> Any:
    """A task option's value of its field's type; text (from --task-options) is parsed."""
    kind = get_type_hints(TaskOptions)[name]
    if get_origin(kind) is Union:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "default")):
            return None
        kind = next(a for a in get_args(kind) if a is not type(None))
    if isinstance(value, str):
        text = value.strip().lower()
        if kind is bool:
            if text not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise MjcfError(f"task option {name}: expected true or false, got {value!r}")
            return text in ("true", "1", "yes", "on")
        try:
            return kind(float(text)) if kind is int and float(text).is_integer() else kind(text)
        except ValueError:
            raise MjcfError(f"task option {name}: expected a {kind.__name__}, got {value!r}") from None
    if kind is bool and not isinstance(value, bool):
        raise MjcfError(f"task option {name}: expected true or false, got {value!r}")
    return kind(value)


def task_options(**values) -> TaskOptions:
    """TaskOptions from keyword values (text or typed); an unknown key lists the known ones."""
    unknown = sorted(set(values) - set(OPTION_NAMES))
    if unknown:
        raise MjcfError(f"unknown task option {unknown[0]!r}; task options: {', '.join(OPTION_NAMES)}")
    options = TaskOptions(**{k: _convert(k, v) for k, v in values.items()})
    if options.control_dt <= 0 or options.substeps < 0 or options.reset_noise < 0:
        raise MjcfError("task options: control_dt must be > 0, substeps >= 0, reset_noise >= 0")
    if None not in (options.min_height, options.max_height) and options.min_height >= options.max_height:
        raise MjcfError(f"task options: min_height {options.min_height} is not below max_height "
                        f"{options.max_height}")
    return options


def parse_task_options(text: str) -> Dict[str, str]:
    """'KEY=VALUE,KEY=VALUE' (--task-options) -> {KEY: VALUE}; checked by `task_options`."""
    values = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise MjcfError(f"--task-options: expected KEY=VALUE, got {item!r}")
        values[key.strip()] = value.strip()
    task_options(**values)  # fail now, on the whole text
    return values


def non_defaults(options: TaskOptions) -> Dict[str, Any]:
    return {f.name: getattr(options, f.name) for f in dataclasses.fields(TaskOptions)
            if getattr(options, f.name) != f.default}
