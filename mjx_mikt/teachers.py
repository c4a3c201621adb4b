"""Teachers: the store, teacher sets, per-seed assignment, a run's own copies.

A *teacher* is a folder with `teacher.msgpack` + `teacher.json` (see
`checkpoint.save_teacher`). A *teacher set* is a folder holding one teacher
per training seed, `seed_<s>/`; a single teacher folder is a set of one.

    <teacher_store>/<Robot>/seed_<s>/     every seed of every finished `ppo` run on <Robot>
                                          (an MJCF file's: <stem>-<hash8>, envs.robot_id)
    <run_dir>/teachers/<Robot>/seed_<k>/  the copies a transfer run reads (and resumes from)

A transfer run with `teacher_seeds = K` reads seeds 0..K-1 of each source
robot; student seed i reads teacher i mod K (no "best seed" anywhere). The
chosen teachers are copied into the run folder with their provenance, so a
later `ppo` run that re-registers the store cannot change what a run (or its
resume) uses.

The repository commits teachers (results/<preset>-<budget>/teachers): a transfer whose default
store lacks a source robot's teachers reads the committed ones of its preset and teacher budget
(else the paper preset's) rather than training them (`with_committed`), and the line that starts
a transfer names every teacher it reads, with a note for one far below the committed ones.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import jax
import numpy as np

from mjx_mikt import agents as agents_lib
from mjx_mikt import checkpoint, envs
from mjx_mikt.checkpoint import TEACHER_FILE, TEACHER_META, CheckpointError
from mjx_mikt.config import Config, ConfigError
from mjx_mikt.envs.mjcf import other_version
from mjx_mikt.train import recent_means_per_seed

RUN_TEACHERS = "teachers"  # folder of a run's own teacher copies


def seed_folder(root: Path, seed: int) -> Path:
    return Path(root) / f"seed_{seed}"


def is_teacher(path: Path) -> bool:
    return (Path(path) / TEACHER_FILE).is_file() and (Path(path) / TEACHER_META).is_file()


def set_members(path: Path) -> List[Path]:
    """The teachers of a set folder in seed order ([path] for a single teacher folder)."""
    path = Path(path)
    if is_teacher(path):
        return [path]
    if not path.is_dir():
        return []
    members = [p for p in path.glob("seed_*") if is_teacher(p) and p.name[5:].isdigit()]
    return sorted(members, key=lambda p: int(p.name[5:]))


def store_path(config: Config, robot: str) -> Path:
    """<store>/<robot id>: an MJCF file's teachers are keyed by its content hash (envs.robot_id)."""
    return Path(config.run.teacher_store) / envs.robot_id(robot)


def run_copy_path(run_dir: Path, robot: str) -> Path:
    return Path(run_dir) / RUN_TEACHERS / envs.robot_id(robot)


def other_version_error(what: str, trained_on: str, robot: str, now: str) -> CheckpointError:
    return CheckpointError(f"{what} trained on another version of {robot} (robot id {trained_on}, now {now}: the "
                           "file or its --task-options changed); train a new teacher or restore the file")


def load_spec(path: Path, robot: str) -> agents_lib.TeacherSpec:
    """Load one teacher and check it is one for `robot` (its identity: an MJCF file's content hash) with
    that robot's dims."""
    data = checkpoint.load_teacher(path)
    env = envs.make(robot, backend="mujoco")
    if other_version(data["robot"], env.name):
        raise other_version_error(f"teacher {path} was", data["robot"], robot, env.name)
    if data["robot"] != env.name:
        raise CheckpointError(f"teacher {path} was trained on {data['robot']}, not on the source robot {robot}")
    if (data["observation_size"], data["action_size"]) != (env.observation_size, env.action_size):
        raise CheckpointError(
            f"teacher {path} has obs/action sizes {data['observation_size']}/{data['action_size']}, "
            f"but {robot} has {env.observation_size}/{env.action_size}"
        )
    return agents_lib.TeacherSpec(params=jax.tree.map(np.asarray, data["params"]),
                                  observation_size=data["observation_size"], action_size=data["action_size"],
                                  robot=robot)


def source_sets(config: Config) -> List[Path]:
    """Where each source robot's teachers come from: --teacher paths, else the store."""
    if config.run.teacher_path:
        paths = [Path(p) for p in config.run.teacher_path.split(",")]
        if len(paths) != len(config.run.source):
            raise ConfigError(f"--teacher gives {len(paths)} paths for {len(config.run.source)} source robots")
        for path in paths:
            if not path.exists():
                raise ConfigError(f"--teacher {path} does not exist (a teacher folder, or a folder of seed_<s>/ "
                                  "teacher folders)")
        return paths
    return [store_path(config, r) for r in config.run.source]


def missing(config: Config) -> List[str]:
    """Source robots (from the store) with fewer than teacher_seeds teachers (seeds 0..K-1)."""
    if config.run.method == "ppo" or config.run.teacher_path:
        return []
    k = config.run.teacher_seeds
    return [r for r in config.run.source
            if not all(is_teacher(seed_folder(store_path(config, r), s)) for s in range(k))]


def chosen(config: Config, set_path: Path, robot: str) -> List[Path]:
    """The K teachers a run uses from one set: seed_0..seed_{K-1} of the store, or the set's first K."""
    k = config.run.teacher_seeds
    members = set_members(set_path)
    if len(members) < k:
        raise ConfigError(f"{set_path} holds {len(members)} teacher(s) of {robot}, --teacher-seeds asks for {k}")
    return members[:k]


@dataclasses.dataclass(frozen=True)
class TeacherSet:
    """The teachers of one run: `specs[r][k]` is teacher k (k < teacher_seeds) of source robot r; none for
    PPO. Student seed i reads teacher `per_seed_index(config)[i]` of every source robot.

    TeacherSet.from_store(config)     the store's (or a committed set's) teachers a new run will copy
    TeacherSet.of_run(config, run)    the copies a run folder holds (what it trains and resumes with)
    .firsts                           one spec per source robot: what an agent is built from (shapes)
    .stacked(agent, config)           the agent's teacher_state per student seed, stacked (num_seeds, ...)
    """

    specs: Sequence[Sequence[agents_lib.TeacherSpec]] = ()

    @classmethod
    def from_store(cls, config: Config) -> "TeacherSet":
        """Validates every teacher file it reads (a bad one is one line)."""
        if config.run.method == "ppo":
            return cls()
        return cls(tuple(tuple(load_spec(p, r) for p in chosen(config, s, r))
                         for s, r in zip(source_sets(config), config.run.source)))

    @classmethod
    def of_run(cls, config: Config, run_dir: Path) -> "TeacherSet":
        if config.run.method == "ppo":
            return cls()
        out = []
        for robot in config.run.source:
            members = set_members(run_copy_path(run_dir, robot))
            if len(members) < config.run.teacher_seeds:
                now = envs.robot_id(robot)
                older = [p.name for p in (Path(run_dir) / RUN_TEACHERS).glob("*") if other_version(p.name, now)]
                if older:
                    raise other_version_error(f"run {run_dir}'s teachers were", older[0], robot, now)
                raise CheckpointError(f"run {run_dir} lacks its copies of the {robot} teachers "
                                      f"({RUN_TEACHERS}/{now}/seed_*)")
            out.append(tuple(load_spec(p, robot) for p in members[:config.run.teacher_seeds]))
        return cls(tuple(out))

    @property
    def firsts(self) -> List[agents_lib.TeacherSpec]:
        return [robot_specs[0] for robot_specs in self.specs]

    def stacked(self, agent, config: Config):
        """The agent's teacher_state for every student seed, stacked on a leading (num_seeds,) axis; None
        without teachers."""
        if not self.specs:
            return None
        states = [agent.teacher_state([robot_specs[k] for robot_specs in self.specs]) for k in per_seed_index(config)]
        return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *states)

    def __bool__(self) -> bool:
        return bool(self.specs)


def file_hash(path: Path) -> str:
    return hashlib.sha256((Path(path) / TEACHER_FILE).read_bytes()).hexdigest()[:16]


def adopt(config: Config, run_dir: Path) -> List[Dict]:
    """Copy the run's K teachers per source robot into run_dir/teachers (the run reads only those).

    Returns their provenance (robot, k, source path, hash, the teacher's own record).
    """
    records = []
    for set_path, robot in zip(source_sets(config), config.run.source):
        for k, member in enumerate(chosen(config, set_path, robot)):
            target = seed_folder(run_copy_path(run_dir, robot), k)
            target.mkdir(parents=True, exist_ok=True)
            for name in (TEACHER_FILE, TEACHER_META):
                shutil.copyfile(member / name, target / (name + ".tmp"))
                (target / (name + ".tmp")).replace(target / name)
            info = json.loads((member / TEACHER_META).read_text())
            records.append({"robot": robot, "index": k, "copied_from": str(member), "sha256_16": file_hash(target),
                            "teacher_seed": info.get("seed"), "teacher_eval_return": info.get("eval_return"),
                            "teacher_env_steps": info.get("env_steps")})
    return records


def per_seed_index(config: Config) -> List[int]:
    """Which of the K teachers each student seed reads: seed s -> s mod K."""
    return [(config.run.seed + i) % config.run.teacher_seeds for i in range(config.run.num_seeds)]


def register(result, trainer, config: Config, store: Optional[Path]) -> List[int]:
    """Register every seed of a finished `ppo` run as <store>/seed_<s> (no best-seed selection).

    Every seed is exported to the run's own teacher/seed_<s>/ (only that with store None: returns the
    exported seeds). A seed whose
    parameters or evaluation are not finite is not registered, and neither is
    one whose store slot already holds a different teacher (the store never
    changes under a user's feet: remove the slot to replace it); a line says
    which. Returns the registered seeds.
    """
    state, env = result.final_state, trainer.env
    recent = recent_means_per_seed(state)  # the paper's curve at the end, per seed
    registered = []
    for i in range(config.run.num_seeds):
        seed = config.run.seed + i
        params = jax.tree.map(lambda x: np.asarray(x)[i], state.params)
        eval_return = float(np.asarray(result.eval_returns[i]).mean())
        finite = all(np.isfinite(x).all() for x in jax.tree.leaves(params)) and np.isfinite(eval_return)
        if not finite:
            print(f"seed {seed}: parameters or evaluation not finite; not registered as a teacher",
                  file=sys.stderr, flush=True)
            continue
        info = {"source_run": str(result.run_dir), "seed": seed, "env_steps": result.env_steps,
                "eval_return": eval_return,
                "episode_return_100": recent[i],
                "saved": time.strftime("%Y-%m-%d %H:%M:%S")}
        mean, var = np.asarray(state.obs_stats.mean)[i], np.asarray(state.obs_stats.var)[i]
        own = seed_folder(Path(result.run_dir) / "teacher", seed)
        checkpoint.save_teacher(own, env.name, env.observation_size, env.action_size, params, mean, var, info)
        if store is None:
            registered.append(seed)
            continue
        slot = seed_folder(store, seed)
        with checkpoint.locked(store):  # concurrent runs registering the same robot take turns
            if is_teacher(slot) and file_hash(slot) != file_hash(own):
                print(f"seed {seed}: not registered, {slot} already holds a different teacher "
                      f"(remove it to replace it; this run's is in {own})", file=sys.stderr, flush=True)
                continue
            checkpoint.save_teacher(slot, env.name, env.observation_size, env.action_size, params, mean,
                                    var, info)
        registered.append(seed)
    return registered


# ------------------------------------------------------------------ committed teachers
COMMITTED_RESULTS = Path(__file__).resolve().parents[1] / "results"  # the repository's protocol folders
WEAK = 0.5  # a teacher whose evaluation is below this fraction of the weakest committed one's gets a note


def budget_name(timesteps: int) -> str:
    """2000000 -> '2M', 300000 -> '300k' (the budget part of a protocol folder's name)."""
    for unit, suffix in ((1_000_000, "M"), (1_000, "k")):
        if timesteps % unit == 0:
            return f"{timesteps // unit}{suffix}"
    return str(timesteps)


def shown(path: Path) -> str:
    """A path as a user would type it here: relative to the working directory when under it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def committed_stores(preset: str, timesteps: int) -> List[Path]:
    """The committed teacher stores of a preset and teacher budget: the preset's own, then the paper preset's."""
    names = dict.fromkeys((f"{preset}-{budget_name(timesteps)}", f"paper-{budget_name(timesteps)}"))
    return [COMMITTED_RESULTS / name / "teachers" for name in names if (COMMITTED_RESULTS / name / "teachers").is_dir()]


def committed_set(config: Config, robot: str) -> Optional[Path]:
    """The committed teacher set holding seeds 0..K-1 of `robot` for this run's preset and teacher budget."""
    for store in committed_stores(config.run.preset, config.run.teacher_timesteps):
        folder = store / envs.robot_id(robot)
        if all(is_teacher(seed_folder(folder, s)) for s in range(config.run.teacher_seeds)):
            return folder
    return None


def meta_of(folder: Path) -> Dict:
    return json.loads((Path(folder) / TEACHER_META).read_text())


def with_committed(config: Config) -> Config:
    """A transfer whose store lacks a source robot's teachers reads the committed ones where they exist
    (every lacking robot: --teacher then names each robot's set), saying so in one line per robot;
    otherwise the config is returned as it is and the missing teachers are trained."""
    lacking = missing(config)
    found = {robot: committed_set(config, robot) for robot in lacking}
    if not lacking or None in found.values():
        return config
    for robot, folder in found.items():
        seeds = [meta_of(seed_folder(folder, s)) for s in range(config.run.teacher_seeds)]
        print(f"teacher: {config.run.teacher_store} has no {robot} teacher; reading the "
              f"{'committed one' if len(seeds) == 1 else f'{len(seeds)} committed ones'} in {shown(folder.parent)} (preset "
              f"{folder.parent.parent.name.rsplit('-', 1)[0]}, {seeds[0].get('env_steps') or 0:,} steps; "
              + ", ".join(f"seed {m.get('seed')}: eval return {_number(m.get('eval_return'))}" for m in seeds)
              + f") instead of training one (--teacher-store {config.run.teacher_store} trains it)",
              file=sys.stderr, flush=True)
    paths = [shown(found[robot]) if robot in found else str(store_path(config, robot)) for robot in config.run.source]
    return dataclasses.replace(config, run=dataclasses.replace(config.run, teacher_path=",".join(paths)))


def _number(x) -> str:
    return f"{x:,.0f}" if isinstance(x, (int, float)) and np.isfinite(x) else "-"


def _store_of(copied_from: str, robot: str) -> str:
    """The store (or set, or teacher folder) a run's teacher copy came from."""
    folder = Path(copied_from)
    folder = folder.parent if folder.name.startswith("seed_") else folder
    return shown(folder.parent if folder.name == envs.robot_id(robot) else folder)


def described(records: Sequence[Dict]) -> str:
    """' | teachers: CentipedeFour from results/paper-2M/teachers, seed 0 (eval return 2,842 after 1,998,848
    steps)': every teacher a transfer reads (its provenance records, `adopt`), for the line that starts it."""
    parts = []
    for robot in dict.fromkeys(r["robot"] for r in records):
        mine = [r for r in records if r["robot"] == robot]
        parts.append(f"{robot} from {_store_of(mine[0]['copied_from'], robot)}, " + ", ".join(
            f"seed {r.get('teacher_seed')} (eval return {_number(r.get('teacher_eval_return'))} after "
            f"{_number(r.get('teacher_env_steps'))} steps)" for r in mine))
    return " | teachers: " + "; ".join(parts) if parts else ""


def weak_notes(config: Config, records: Sequence[Dict]) -> List[str]:
    """One line per source robot whose teachers evaluate far below (< WEAK x) the weakest committed teacher
    of that robot (its preset's, else the paper preset's, 2M steps)."""
    notes = []
    for robot in dict.fromkeys(r["robot"] for r in records):
        reference = next((s / envs.robot_id(robot) for s in committed_stores(config.run.preset, 2_000_000)
                          if set_members(s / envs.robot_id(robot))), None)
        if reference is None:
            continue
        committed = [meta_of(m).get("eval_return") for m in set_members(reference)]
        committed = [x for x in committed if isinstance(x, (int, float))]
        weak = [r for r in records if r["robot"] == robot and isinstance(r.get("teacher_eval_return"), (int, float))
                and committed and r["teacher_eval_return"] < WEAK * min(committed)]
        if weak:
            notes.append(f"note: the {robot} teacher(s) " + ", ".join(
                f"seed {r.get('teacher_seed')} (eval return {_number(r['teacher_eval_return'])} after "
                f"{_number(r.get('teacher_env_steps'))} steps)" for r in weak)
                + f" are far below the committed {robot} teachers (eval return {_number(min(committed))}-"
                f"{_number(max(committed))} in {shown(reference.parent)}): the student may learn little from them")
    return notes


def listing(store: Path) -> List[Dict]:
    """Every teacher in a store: robot, seed, steps, returns, when, hash."""
    rows = []
    for meta_path in sorted(Path(store).glob(f"*/seed_*/{TEACHER_META}")):
        meta = json.loads(meta_path.read_text())
        rows.append({"robot": meta_path.parent.parent.name, "seed": meta.get("seed"),
                     "env_steps": meta.get("env_steps"), "episode_return_100": meta.get("episode_return_100"),
                     "eval_return": meta.get("eval_return"), "saved": meta.get("saved"),
                     "sha256_16": file_hash(meta_path.parent) if is_teacher(meta_path.parent) else None})
    return sorted(rows, key=lambda r: (r["robot"], r["seed"] if r["seed"] is not None else -1))


def main(argv=None) -> int:
    """`python -m mjx_mikt.teachers [--store runs/teachers]`: list the stored teachers with their returns."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mjx_mikt.teachers", description=main.__doc__)
    parser.add_argument("--store", default="runs/teachers", help="teacher store (default runs/teachers)")
    args = parser.parse_args(argv)
    rows = listing(Path(args.store))
    if not rows:
        print(f"no teachers in {args.store}")
        return 0

    def num(x):
        return f"{x:,.0f}" if isinstance(x, (int, float)) else "-"

    print(f"{'robot':<18} {'seed':>4} {'env steps':>10} {'train return':>12} {'eval return':>11}  saved               sha256")
    for r in rows:
        print(f"{r['robot']:<18} {r['seed']!s:>4} {num(r['env_steps']):>10} {num(r['episode_return_100']):>12} "
              f"{num(r['eval_return']):>11}  {r['saved'] or '-':<19} {r['sha256_16'] or '-'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
