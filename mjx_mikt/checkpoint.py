"""Checkpoints of the full training state (orbax) and of teachers (flax msgpack).

A run checkpoint holds the seed-batched TrainState (params, optimizer state,
normalisers, env states, RNG, update count) plus a JSON record of the config,
so `--resume RUN_DIR` continues to the same result as an uninterrupted run.

A teacher file is small and self-describing: robot name, observation and
action sizes, the policy/value params and the observation normaliser.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, Optional

import jax
import numpy as np
import orbax.checkpoint as ocp
from flax import serialization


@contextlib.contextmanager
def naming(path: Path):
    """An OSError raised in the block names `path` if it names no file (a write that fails on a full disk
    raises ENOSPC without a file name), so that the one error line can say which file."""
    try:
        yield
    except OSError as err:
        if err.filename is None:
            raise OSError(err.errno, err.strerror or str(err), str(path)) from None
        raise


def write_atomic(path: Path, text: str) -> Path:
    """Write `text` to `path` via a temporary file and a rename: readers see the old or the new file, never half."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with naming(path):
        tmp.write_text(text)
        os.replace(tmp, path)
    return path


def os_error_of(err: BaseException, where: Path) -> Optional[OSError]:
    """The OSError behind an orbax/tensorstore failure (they raise ValueError("... No space left on device
    [os_error_code='28']")), naming the file it reports (else `where`); None if it was no OS error."""
    import errno
    import re

    if isinstance(err, OSError):
        return err if err.filename else OSError(err.errno, err.strerror or str(err), str(where))
    text = str(err)
    code = re.search(r"os_error_code='?(\d+)", text)
    number = int(code.group(1)) if code else (errno.ENOSPC if "No space left on device" in text else None)
    if number is None:
        return None
    name = re.search(r'Failed (?:writing|to open|opening)[^"]*"([^"]+)"', text)
    return OSError(number, os.strerror(number), name.group(1) if name else str(where))


@contextlib.contextmanager
def _held_stderr():
    """Hold back what is written to file descriptor 2 in the block (orbax's threads print a traceback per
    failed write); `held[0]` says whether to show it afterwards (set False to drop it)."""
    held = [True]
    try:
        buffer = os.memfd_create("held-stderr")
        saved = os.dup(2)
    except (AttributeError, OSError):  # no memfd here: nothing is held back
        yield held
        return
    sys.stderr.flush()
    os.dup2(buffer, 2)
    try:
        yield held
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        if held[0]:
            os.lseek(buffer, 0, os.SEEK_SET)
            while chunk := os.read(buffer, 65536):
                os.write(2, chunk)
        os.close(buffer)


@contextlib.contextmanager
def locked(directory: Path):
    """An exclusive advisory lock on `directory` (a `.lock` file in it) for the duration of the block."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class CheckpointError(ValueError):
    """A checkpoint or teacher file that cannot be used; the message is one line."""


def _manager(directory: Path, max_to_keep: Optional[int] = 3) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True)
    return ocp.CheckpointManager(directory.absolute(), options=options)


def save_checkpoint(directory: Path, step: int, state: Any, meta: Dict[str, Any]) -> None:
    """Save `state` (any pytree of arrays) and `meta` (JSON-able) as checkpoint `step`.

    A save that fails for lack of space (or another OS error) raises one OSError naming the file, and the
    tracebacks orbax's threads print meanwhile are dropped.
    """
    with _held_stderr() as held:
        try:
            with _manager(directory) as manager:
                if step in manager.all_steps():  # the same update is the same state: nothing to add
                    return
                manager.save(
                    step,
                    args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)),
                    force=True,
                )
                manager.wait_until_finished()
        except Exception as err:
            os_error = os_error_of(err, Path(directory) / str(step))
            if os_error is None:
                raise
            held[0] = False
            raise os_error from None


def latest_step(directory: Path) -> Optional[int]:
    if not directory.is_dir():
        return None
    with _manager(directory, max_to_keep=None) as manager:
        return manager.latest_step()


def all_steps(directory: Path) -> list:
    if not directory.is_dir():
        return []
    with _manager(directory, max_to_keep=None) as manager:
        return sorted(manager.all_steps())


def restore_latest_readable(directory: Path, abstract_state: Any):
    """Restore the newest checkpoint that can be read, newest first -> (state, meta, step).

    A corrupt or partial newest checkpoint (a crash while writing it, a damaged disk) costs one
    warning line and the updates since the previous one, not the run.
    """
    steps = all_steps(directory)
    if not steps:
        raise CheckpointError(f"no checkpoint found in {directory}")
    errors = []
    for step in reversed(steps):
        try:
            state, meta = restore_checkpoint(directory, abstract_state, step)
        except CheckpointError as err:
            errors.append(str(err))
            print(f"warning: {err}; trying the previous checkpoint", file=sys.stderr, flush=True)
            continue
        return state, meta, step
    raise CheckpointError(f"no readable checkpoint in {directory} ({len(errors)} tried)")


def restore_checkpoint(directory: Path, abstract_state: Any, step: Optional[int] = None):
    """Restore (state, meta); `abstract_state` gives the tree structure, shapes and dtypes."""
    step = latest_step(directory) if step is None else step
    if step is None:
        raise CheckpointError(f"no checkpoint found in {directory}")
    try:
        with _manager(directory, max_to_keep=None) as manager:
            restored = manager.restore(
                step,
                args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(abstract_state), meta=ocp.args.JsonRestore()
                ),
            )
    except Exception as err:  # orbax raises many types; the user needs one line
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"cannot restore checkpoint {step} in {directory}: {first}") from None
    return restored.state, restored.meta


# ----------------------------------------------------------------- teachers
TEACHER_FILE = "teacher.msgpack"
TEACHER_META = "teacher.json"


def save_teacher(directory: Path, robot: str, observation_size: int, action_size: int,
                 params: Any, obs_mean: np.ndarray, obs_var: np.ndarray, info: Dict[str, Any]) -> Path:
    """Write a teacher (atomically: a crash leaves the previous teacher in place)."""
    directory.mkdir(parents=True, exist_ok=True)
    payload = {
        "params": jax.tree.map(np.asarray, params),
        "obs_mean": np.asarray(obs_mean),
        "obs_var": np.asarray(obs_var),
    }
    meta = dict(info, robot=robot, observation_size=int(observation_size), action_size=int(action_size))
    tmp = directory / f".{TEACHER_FILE}.{os.getpid()}.tmp"
    tmp.write_bytes(serialization.msgpack_serialize(payload))
    os.replace(tmp, directory / TEACHER_FILE)
    write_atomic(directory / TEACHER_META, json.dumps(meta, indent=2))
    return directory


def load_teacher(path: Path) -> Dict[str, Any]:
    """Load a teacher directory (or its teacher.msgpack). Returns meta + arrays.

    Raises CheckpointError with a one-line reason for a missing, corrupt or
    incomplete teacher.
    """
    path = Path(path)
    directory = path.parent if path.is_file() else path
    data_file, meta_file = directory / TEACHER_FILE, directory / TEACHER_META
    if not data_file.is_file() or not meta_file.is_file():
        raise CheckpointError(f"{directory} is not a teacher (needs {TEACHER_FILE} and {TEACHER_META})")
    try:
        meta = json.loads(meta_file.read_text())
        payload = serialization.msgpack_restore(data_file.read_bytes())
        params, obs_mean, obs_var = payload["params"], payload["obs_mean"], payload["obs_var"]
        robot, obs_size, act_size = meta["robot"], int(meta["observation_size"]), int(meta["action_size"])
    except Exception as err:
        raise CheckpointError(f"teacher {directory} is corrupt or incomplete ({type(err).__name__}: {err})") from None
    if np.shape(obs_mean) != (obs_size,):
        raise CheckpointError(
            f"teacher {directory} is inconsistent: normaliser has shape {np.shape(obs_mean)}, "
            f"expected ({obs_size},)"
        )
    return dict(meta, params=params, obs_mean=obs_mean, obs_var=obs_var)
