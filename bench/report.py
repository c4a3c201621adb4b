"""The markdown of `python -m bench`'s report (bench/run.py measures; this only formats)."""

from __future__ import annotations

from typing import Dict, List


def _physics(rows: List[Dict]) -> List[str]:
    lines = ["## Physics only", "",
             "`native-outside-jax`: MuJoCo's `Batch` stepped from a Python loop, the physics floor. Each figure is the best of 3 timed runs; the floor's runs are taken before and after the jitted step's. `of native`: "
             "the jitted env step (observation, reward, auto-reset included) as a share of that floor at the same "
             "robot and batch: what the glue between JAX and MuJoCo leaves. The floor steps other states (no resets), "
             "so `in MuJoCo` is the glue ratio on the same workload: the share of the jitted step's own wall time "
             "spent inside MuJoCo's step (issue 30: >= 0.90).", "",
             "| robot | backend | batch | env-steps/s | of native | in MuJoCo | compile s |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        ratio = f"{r['of_native']:.2f}" if "of_native" in r else "-"
        share = f"{r['in_mujoco']:.2f}" if "in_mujoco" in r else "-"
        lines.append(f"| {r['robot']} | {r['backend']} | {r['batch']} | {r['env_steps_per_s']:,.0f} | {ratio} | "
                     f"{share} | {r['compile_s']:.1f} |")
    return lines


def _training(rows: List[Dict], repeats) -> List[str]:
    lines = ["## Whole training loop vs physics only", "",
             f"One seed; s per update is the median [min, max] of {repeats} timed updates. Physics: the jitted env "
             "step; native: the floor (physics table).", "",
             "| robot | method | preset | envs x steps | loop env-steps/s | physics env-steps/s | loop / physics "
             "| loop / native | s per update | compile+first s |",
             "|---|---|---|---|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        native = f"{r['ratio_to_native']:.2f}" if "ratio_to_native" in r else "-"
        lines.append(
            f"| {r['robot']} | {r['method']} | {r['preset']} | {r['shape']} | {r['env_steps_per_s']:,.0f} | "
            f"{r['physics_env_steps_per_s']:,.0f} | {r['ratio_to_physics']:.2f} | {native} | "
            f"{r['seconds_per_update_median']:.3f} [{r['seconds_per_update_min']:.3f}, "
            f"{r['seconds_per_update_max']:.3f}] | {r['compile_and_first_s']:.1f} |")
    return lines


def _learning(rows: List[Dict]) -> List[str]:
    lines = ["## Where an update's time goes", "",
             "`bench.profile`'s parts, seconds per update for all seeds together, median [min, max]: physics "
             "(the env steps of one rollout), rollout (physics + policy), learn (GAE + 10 epochs x 32 minibatches "
             "+ Adam; MIKT in its coupled phase). `learn / ppo`: the method's learning phase against PPO's at the "
             "same shape and seeds.", "",
             "| robot | envs x steps | seeds | part | method | median s | [min, max] | learn / ppo |",
             "|---|---|---:|---|---|---:|---|---:|"]
    ppo_learn = {(r["robot"], r["shape"], r["seeds"]): r["median_s"] for r in rows
                 if r["part"] == "learn" and r.get("method") == "ppo"}
    for r in rows:
        base = ppo_learn.get((r["robot"], r["shape"], r["seeds"]))
        ratio = f"{r['median_s'] / base:.2f}" if r["part"] == "learn" and base else "-"
        lines.append(f"| {r['robot']} | {r['shape']} | {r['seeds']} | {r['part']} | {r.get('method', '-')} | "
                     f"{r['median_s']:.3f} | [{r['min_s']:.3f}, {r['max_s']:.3f}] | {ratio} |")
    return lines


def _peers(rows: List[Dict], versions: Dict[str, str]) -> List[str]:
    lines = ["## PPO against Stable-Baselines3", "",
             "`bench.peers`: the paper's PPO (2048 samples per update, 64-sample minibatches, 10 epochs) in both "
             "libraries on the same robot; env-steps/s of the whole loop, this project's compile excluded. "
             + " · ".join(f"{k} {v}" for k, v in versions.items()), "",
             "| robot | envs x steps | SB3 env-steps/s | mjx_mikt env-steps/s | mjx_mikt / SB3 |",
             "|---|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['robot']} | {r['num_envs']} x {r['rollout_length']} | {r['sb3']['env_steps_per_s']:,.0f} | "
                     f"{r['mjx_mikt']['env_steps_per_s']:,.0f} | {r['ratio']:.2f} |")
    return lines


def markdown(report: Dict) -> str:
    info = report["device"]
    load = report.get("load_average_at_start")
    lines = [f"# Throughput on {info['device']}", "",
             f"{report['date']} · jax {info['jax']} · mujoco {info['mujoco']} · {info['float_precision']} · "
             f"matmul precision {info['matmul_precision']} · mode {report['mode']}"
             + (f" · load average {load:.2f} at the start" if load is not None else ""), "",
             "Env-steps/s = control steps (5 substeps) summed over the batch. All rows from one sitting.", ""]
    lines += _physics(report["physics"])
    if report["training"]:
        lines += [""] + _training(report["training"], report.get("repeats", "?"))
    if report.get("learning"):
        lines += [""] + _learning(report["learning"])
    if report.get("peers"):
        lines += [""] + _peers(report["peers"], report.get("peer_versions", {}))
    if report.get("not_measured"):
        lines += ["", f"Not measured ({report.get('stopped', 'stopped early')}): " + "; ".join(report["not_measured"])]
    return "\n".join(lines) + "\n"
