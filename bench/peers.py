"""`python -m bench.peers [--robot CentipedeFour] [--steps 20480] [--envs 1,8] [--sb3-env auto]`: this project's PPO
vs Stable-Baselines3's.

Both train PPO with the paper's hyper-parameters (SPEC §3) on the same robot, in one sitting:
2048 samples per update (N envs x 2048/N steps), 64-sample minibatches, 10 epochs, Adam lr 3e-4
decayed linearly, gamma 0.99, GAE lambda 0.95, clip 0.2 (policy and value), ent_coef 0,
vf_coef 0.5, grad-norm clip 0.5, 64-64 tanh MLPs with orthogonal init, observations and rewards
normalised and clipped to 10.

- Stable-Baselines3: `PPO("MlpPolicy")` on the Gymnasium envs of `mjx_mikt/<robot>-v0` (native
  MuJoCo, `mjx_mikt.gym_envs`) under `VecNormalize`, with episode statistics (Monitor or
  VecMonitor), N envs in one of these set-ups (--sb3-env, comma-separated, each measured):
    auto     the fastest set-up here: `vector` for N > 1, `dummy` (the single env) for N = 1;
    vector   the batched vector env (`gymnasium.make_vec`: N robots per `mujoco.batch.Batch` call)
             through `mjx_mikt.gym_sb3.Sb3VecEnv`;
    sync     Gymnasium's SyncVectorEnv of N single envs through the same Sb3VecEnv;
    dummy    SB3's DummyVecEnv of N single envs (one Python step each);
    subproc  SB3's SubprocVecEnv of N single envs (one process each).
  Timed over `model.learn(steps)`, envs warmed up (the reset draws' jit) beforehand. torch runs one
  intra-op thread by default (--torch-threads): for 64-64 MLPs more threads only add
  synchronisation, and on a busy 2-core machine torch's default (2) was 20x slower.
- mjx_mikt: the fused jitted trainer on the native backend (`bench.training.measure_training`,
  preset `paper-exact` for 1 env, else `paper` with N envs), compile excluded: a second call of
  steps/2048 updates is timed.

Env-steps/s = control steps summed over the envs, for the whole training loop (rollout +
update). Every SB3 set-up and then this project's PPO are measured in one sitting, per env count;
a row's ratio is against the fastest SB3 set-up measured for it, and each row names the env each
side ran on. Prints a markdown table and writes bench/results/peers-<date>.json. Without
stable-baselines3 it says so in one line and exits 0.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Dict, List

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
MISSING = "stable-baselines3 not installed: pip install .[peers]"
PAPER_BATCH = 2048  # samples per update (SPEC §3)
MINIBATCH = 64


SETUPS = ("auto", "vector", "sync", "dummy", "subproc")


def resolve_setup(setup: str, num_envs: int) -> str:
    """`auto` -> the fastest SB3 set-up here: the batched vector env for N > 1, the single env (in a
    DummyVecEnv) for N = 1."""
    if setup not in SETUPS:
        raise ValueError(f"unknown SB3 set-up {setup!r}; choose from {', '.join(SETUPS)}")
    return ("vector" if num_envs > 1 else "dummy") if setup == "auto" else setup


def env_name(setup: str, robot: str, num_envs: int) -> str:
    """What an SB3 set-up runs, in words (the table's and the JSON's `env`)."""
    gym_id = f"mjx_mikt/{robot}-v0"
    return {"vector": f"gymnasium.make_vec({gym_id}, {num_envs}): batched vector env, via Sb3VecEnv",
            "sync": f"SyncVectorEnv of {num_envs} x gymnasium.make({gym_id}), via Sb3VecEnv",
            "dummy": f"DummyVecEnv of {num_envs} x gymnasium.make({gym_id})",
            "subproc": f"SubprocVecEnv of {num_envs} x gymnasium.make({gym_id})"}[setup]


def make_env(robot: str):
    """A Gymnasium env of `robot` (module level: picklable for SubprocVecEnv)."""
    import gymnasium

    from mjx_mikt import gym_envs

    env = gymnasium.make(gym_envs.env_id(robot))
    env.reset(seed=0)  # compiles the reset draws before the timed region
    env.step(env.action_space.sample())
    return env


def make_venv(robot: str, num_envs: int, setup: str, seed: int = 0):
    """SB3's VecEnv of `num_envs` envs of `robot` in a resolved set-up (not `auto`), with episode
    statistics, warmed up."""
    import functools

    import gymnasium
    from gymnasium.vector import AutoresetMode
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecMonitor

    from mjx_mikt import gym_envs
    from mjx_mikt.gym_sb3 import Sb3VecEnv

    if setup in ("dummy", "subproc"):
        cls = SubprocVecEnv if setup == "subproc" else DummyVecEnv
        return make_vec_env(functools.partial(make_env, robot), n_envs=num_envs, seed=seed, vec_env_cls=cls)
    mode = {"vectorization_mode": "sync", "vector_kwargs": {"autoreset_mode": AutoresetMode.SAME_STEP}} \
        if setup == "sync" else {"autoreset_mode": AutoresetMode.SAME_STEP}
    vector_env = gymnasium.make_vec(gym_envs.env_id(robot), num_envs=num_envs, **mode)
    venv = VecMonitor(Sb3VecEnv(vector_env))
    venv.seed(seed)
    venv.reset()  # compiles the reset draws before the timed region
    venv.step(np.stack([venv.action_space.sample() for _ in range(num_envs)]))
    venv.seed(seed)
    return venv


def measure_sb3(robot: str, num_envs: int, steps: int, batch: int = PAPER_BATCH, setup: str = "auto",
                seed: int = 0, torch_threads: int = 1) -> Dict:
    """Stable-Baselines3 PPO with the paper's hyper-parameters on an SB3 set-up (`SETUPS`); env-steps/s
    over `learn(steps)`."""
    import torch

    if torch_threads > 0:
        torch.set_num_threads(torch_threads)
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecEnvWrapper, VecNormalize

    setup = resolve_setup(setup, num_envs)
    venv = inner = make_venv(robot, num_envs, setup, seed)
    while isinstance(inner, VecEnvWrapper):  # under VecMonitor
        inner = inner.venv
    venv = VecNormalize(venv, norm_obs=True, norm_reward=True, clip_obs=10.0, clip_reward=10.0, gamma=0.99)
    lr = 3e-4
    model = PPO(
        "MlpPolicy", venv, n_steps=batch // num_envs, batch_size=min(MINIBATCH, batch), n_epochs=10,
        learning_rate=lambda remaining: lr * remaining, gamma=0.99, gae_lambda=0.95, clip_range=0.2,
        clip_range_vf=0.2, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5, normalize_advantage=True,
        policy_kwargs=dict(net_arch=dict(pi=[64, 64], vf=[64, 64]), activation_fn=torch.nn.Tanh,
                           ortho_init=True, log_std_init=0.0),
        device="cpu", seed=seed, verbose=0)
    t0 = time.perf_counter()
    model.learn(total_timesteps=steps)
    elapsed = time.perf_counter() - t0
    venv.close()
    return {"library": "stable-baselines3", "robot": robot, "num_envs": num_envs, "rollout_length": batch // num_envs,
            "setup": setup, "env": env_name(setup, robot, num_envs), "vec_env": type(inner).__name__,
            "env_steps": int(model.num_timesteps), "seconds": elapsed,
            "env_steps_per_s": model.num_timesteps / elapsed, "torch_threads": torch.get_num_threads()}


def measure_project(robot: str, num_envs: int, steps: int, batch: int = PAPER_BATCH) -> Dict:
    """This project's PPO (native backend), compile excluded (see bench/training.py)."""
    from bench.training import measure_training

    preset = "paper-exact" if num_envs == 1 else "paper"
    updates = max(1, steps // batch)
    row = measure_training(robot, "ppo", preset, "mujoco", num_envs=num_envs, updates=updates,
                           rollout_length=batch // num_envs)
    row.update(library="mjx_mikt", env_steps=updates * batch, seconds=updates * batch / row["env_steps_per_s"],
               env=f"envs.make({robot!r}, backend='mujoco'): the jitted JAX env on native MuJoCo, "
                   f"{num_envs} env{'s' * (num_envs > 1)} per mujoco.batch.Batch call (preset {preset})")
    return row


def versions() -> Dict[str, str]:
    import gymnasium
    import jax
    import mujoco
    import numpy
    import stable_baselines3
    import torch

    return {"stable-baselines3": stable_baselines3.__version__, "torch": torch.__version__,
            "gymnasium": gymnasium.__version__, "jax": jax.__version__, "mujoco": mujoco.__version__,
            "numpy": numpy.__version__, "python": platform.python_version()}


def markdown(report: Dict) -> str:
    v = report["versions"]
    lines = [f"# PPO throughput: mjx_mikt vs Stable-Baselines3 ({report['robot']})", "",
             f"{report['date']} · {report['device']} (load {report['load_average_at_start']:.1f}) · " + " · ".join(f"{k} {x}" for k, x in v.items()), "",
             "Env-steps/s of the whole training loop (rollout + 10 epochs of updates), "
             f"{report['batch']} samples per update, {report['steps']} steps budget.", "",
             f"SB3: torch threads {report['rows'][0]['sb3']['torch_threads']}; mjx_mikt: native MuJoCo backend, "
             "compile time excluded.", "",
             "The row of each env count is the first of its group: SB3's fastest set-up measured; the ratio of the "
             "others is against them.", "",
             "| envs x steps | SB3 ran on | SB3 env-steps/s | mjx_mikt ran on | mjx_mikt env-steps/s | "
             "mjx_mikt / SB3 | mjx_mikt compile s |",
             "|---|---|---:|---|---:|---:|---:|"]
    for row in report["rows"]:
        ours = row["mjx_mikt"]
        for sb3 in sorted(row["sb3_setups"], key=lambda r: -r["env_steps_per_s"]):
            lines.append(f"| {row['num_envs']} x {row['rollout_length']} | {sb3['env']} | "
                         f"{sb3['env_steps_per_s']:,.0f} | {ours['env']} | {ours['env_steps_per_s']:,.0f} | "
                         f"{ours['env_steps_per_s'] / sb3['env_steps_per_s']:.2f} | {ours['compile_s']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robot", default="CentipedeFour")
    parser.add_argument("--steps", type=int, default=10 * PAPER_BATCH, help="env steps per measurement")
    parser.add_argument("--envs", default="1,8", help="comma-separated env counts (each divides --batch)")
    parser.add_argument("--sb3-env", default="auto",
                        help=f"comma-separated SB3 set-ups, each measured: {', '.join(SETUPS)} (module docstring; "
                             "default auto: the fastest here)")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch intra-op threads for SB3 (0: torch's default, one per core)")
    parser.add_argument("--batch", type=int, default=PAPER_BATCH,
                        help="samples per update (2048: the paper's; smaller only for smoke tests)")
    parser.add_argument("-o", "--out", type=Path, default=RESULTS, help="folder for the JSON")
    args = parser.parse_args(argv)
    try:
        import stable_baselines3  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        print(MISSING)
        return 0
    from bench.machine import device_info

    env_counts: List[int] = [int(n) for n in args.envs.split(",")]
    for n in env_counts:
        if n < 1 or args.batch % n:
            parser.error(f"--envs {n} does not divide --batch {args.batch}")
    setups = [x.strip() for x in args.sb3_env.split(",") if x.strip()]
    for setup in setups:
        if setup not in SETUPS:
            parser.error(f"--sb3-env {setup!r}: choose from {', '.join(SETUPS)}")
    steps = max(args.steps, args.batch)
    load = os.getloadavg()[0]  # other work on the machine skews both columns
    rows = []
    for n in env_counts:
        measured = []
        for setup in dict.fromkeys(resolve_setup(x, n) for x in setups):  # each resolved set-up once
            sb3 = measure_sb3(args.robot, n, steps, args.batch, setup, torch_threads=args.torch_threads)
            print(f"sb3 {n} envs on {sb3['env']}: {sb3['env_steps_per_s']:,.0f} env-steps/s", file=sys.stderr)
            measured.append(sb3)
        ours = measure_project(args.robot, n, steps, args.batch)
        print(f"mjx_mikt {n} envs: {ours['env_steps_per_s']:,.0f} env-steps/s", file=sys.stderr)
        fastest = max(measured, key=lambda r: r["env_steps_per_s"])
        rows.append({"num_envs": n, "rollout_length": args.batch // n, "sb3": fastest, "sb3_setups": measured,
                     "mjx_mikt": ours, "ratio": ours["env_steps_per_s"] / fastest["env_steps_per_s"]})
    date = datetime.date.today().isoformat()
    report = {"date": date, "robot": args.robot, "steps": steps, "batch": args.batch,
              "device": device_info()["device"], "load_average_at_start": load, "versions": versions(), "rows": rows}
    text = markdown(report)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"peers-{date}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
