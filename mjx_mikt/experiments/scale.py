"""The scale study: does MIKT's transfer survive wide batches, and what does a wide batch buy in time?

    python -m mjx_mikt.experiments run scale       # the wide presets' cells (the paper preset's are Fig. 3(a)'s)
    python -m mjx_mikt.experiments status scale
    python -m mjx_mikt.experiments report scale    # results/scale-<budget>/report.{md,json}, scale.png

Every preset (the `paper` baseline first) gets the three cells of CentipedeFour -> CentipedeEight in
its own protocol folder `results/<preset>-<budget>`: PPO on CentipedeFour (student seed i reads its
teacher i), MIKT CentipedeFour -> CentipedeEight and PPO from scratch on CentipedeEight. A cell that
another figure already trained under the same preset is reused.

Wall-clock comparisons must not depend on the day's machine, so the report never divides by a
cell's own wall time: it reads every preset's loop throughput from one `bench.cell` sitting
(`python -m bench.cell --presets ... --methods mikt,ppo --seeds 5 --json FILE`, committed under
bench/results/) and reports the **time to reach the baseline MIKT's return** = the env steps at
which a cell's seed-mean curve first reaches it / that throughput per seed, on the paper curve
(baseline: the paper MIKT cell's final) and on the deterministic evaluation (baseline: its final
evaluation).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from mjx_mikt.config import PRESETS, ConfigError, preset_mikt
from mjx_mikt.experiments import report as reports
from mjx_mikt.experiments.grid import Cell, Protocol, cells_of, planned_updates
from mjx_mikt.experiments.kind import Kind, Table, budget, protocol_json, protocol_of, root_of, variant_folder

# the deterministic evaluation every ~100k env steps per seed, whatever the batch (the paper preset's 50 updates)
EVAL_EVERY_STEPS = 102_400
CURVES = {"paper": ("episode_return_100", "metrics.csv", "paper curve (last 100 training episodes)"),
          "eval": ("return_mean", "eval.csv", "deterministic evaluation")}


@dataclass(frozen=True)
class Study(Kind):
    name: str
    title: str
    source: str
    target: str
    presets: Tuple[str, ...]  # the first is the baseline
    # (preset, what differs, run folder): a student cell of a preset run with one setting changed, reported
    # beside the preset's own cells; its method is its config's. A MIKT ablation's MIKT/PPO is against the
    # PPO ablation with the same change if there is one, else the preset's PPO cell (same env steps only)
    ablations: Tuple[Tuple[str, str, str], ...] = ()
    throughput_glob: str = "bench/results/cell-scale-*.jsonl"  # the newest file is read

    def cells(self) -> List[Cell]:
        """PPO on the source (the teachers), MIKT, PPO on the target: the same three for every preset."""
        return cells_of((), ("mikt", "ppo"), ((self.source, self.target),))

    def describe(self) -> str:
        return (f"presets: {', '.join(self.presets)} (the first is the baseline); cells per preset: "
                + ", ".join(c.label for c in self.cells()))

    def chosen(self, args) -> Tuple[str, ...]:
        """The presets of --presets (default: the study's)."""
        return tuple(p.strip() for p in args.presets.split(",")) if args.presets else self.presets

    def groups(self, args):
        """The three cells of every preset, preset after preset, each preset in its own protocol folder."""
        names = self.chosen(args)
        for name in names:
            if name not in PRESETS:
                raise ConfigError(f"unknown preset {name!r} in --presets; choose one of: {', '.join(PRESETS)}")
        timesteps = int(args.timesteps)
        if timesteps <= 0 or args.seeds < 1:
            raise ConfigError("--timesteps and --seeds must be positive")
        root = root_of(args, self.name)
        return {name: (Protocol(out=variant_folder(root, name, args.backend, budget(args)), seeds=args.seeds,
                                timesteps=timesteps, preset=name, backend=args.backend,
                                extra=tuple(args.run_arg) + variant_flags(name)), self.cells()) for name in names}

    def build(self, args, groups):
        """The numbers; a report over a subset of the presets goes to the runs folder, never over the
        committed report."""
        root = root_of(args, self.name)
        folder = root / f"{self.name}-{budget(args)}"
        if not args.out and root == Path(args.committed) and tuple(groups) != self.presets:
            folder = Path(args.runs_dir) / f"{self.name}-{budget(args)}"
            print(f"note: a report over presets {', '.join(groups)} goes to {folder}; the committed "
                  f"{root / f'{self.name}-{budget(args)}'} is left as it is", file=sys.stderr, flush=True)
        protocols = {name: protocol for name, (protocol, _) in groups.items()}
        return build(self, protocols, newest_throughput_file(self)), folder

    def render(self, data, folder):
        folder.mkdir(parents=True, exist_ok=True)
        return reports.finish(folder, data, markdown(data), {"figure": figure(data, folder / f"{self.name}.png")},
                              {"figure": "return against time"})

    def rebuild(self, data):
        """A committed report's numbers, computed again from the cells' files and its throughput file."""
        protocols = {p: protocol_of(x) for p, x in data["protocols"].items()}
        return build(self, protocols, Path(data["throughput_file"]) if data["throughput_file"] else None)

    def blocks(self) -> Dict[str, Table]:
        return {self.name: table}


def eval_every(preset: str) -> int:
    """Updates between evaluations so that every preset evaluates about every EVAL_EVERY_STEPS env steps."""
    return max(1, EVAL_EVERY_STEPS // PRESETS[preset].batch_size)


def variant_flags(preset: str) -> Tuple[str, ...]:
    """The `mjx_mikt.run` flags a preset's cells add to the protocol's (none for the paper preset,
    whose cells are the figures')."""
    return () if preset == "paper" else ("--eval-every", str(eval_every(preset)))


def read_throughput(path: Path, robot: str, seeds: int) -> Dict[str, Dict[str, float]]:
    """{preset: {method: env-steps/s per seed}} of `robot` programs with `seeds` seeds in a bench.cell file."""
    out: Dict[str, Dict[str, float]] = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if row.get("robot") == robot and row.get("seeds") == seeds and "preset" in row:
            out.setdefault(row["preset"], {})[row["method"]] = round(row["env_steps_per_s_per_seed"], 1)
    return out


def newest_throughput_file(study: Study, root: Path = Path(".")) -> Optional[Path]:
    files = sorted(root.glob(study.throughput_glob))
    return files[-1] if files else None


def _first_reach(folder: Path, curve: str, level: Optional[float]) -> Optional[int]:
    metric, csv_name, _ = CURVES[curve]
    data = reports.read_metric(folder, metric, csv_name)
    if data is None or level is None:
        return None
    return reports.steps_to_reach(data[0], data[1], level)


def preset_text(name: str) -> Dict:
    ppo = PRESETS[name]
    return {"shape": f"{ppo.num_envs} x {ppo.rollout_length}", "minibatch": ppo.minibatch_size,
            "epochs": ppo.update_epochs, "learning_rate": ppo.learning_rate,
            "mix_lr_scale": preset_mikt(name).mix_lr_scale, "samples_per_update": ppo.batch_size}


def p_s_at_switch(folder: Path) -> Optional[List[float]]:
    """Seed-mean p_s of each policy layer at the last update that read the teacher (MIKT's coupling_end),
    None for a run without mixing weights."""
    config = json.loads((folder / "config.json").read_text())
    updates = config["run"]["total_timesteps"] // (config["ppo"]["num_envs"] * config["ppo"]["rollout_length"])
    last = math.ceil(config.get("mikt", {}).get("coupling_end", 0.9) * updates) - 1
    out = []
    while (data := reports.read_metric(folder, f"p_s/policy_{len(out)}")) is not None:
        if last >= data[1].shape[1]:
            return None
        out.append(round(float(np.nanmean(data[1][:, last])), 3))
    return out or None


def build(study: Study, protocols: Dict[str, Protocol], throughput_path: Optional[Path]) -> Dict:
    """The study's numbers from the cells' CSVs and the committed throughput file only."""
    any_protocol = next(iter(protocols.values()))
    speed = read_throughput(throughput_path, study.target, any_protocol.seeds) if throughput_path else {}
    out = {"experiment": study.name, "title": study.title, "target": study.target, "baseline": study.presets[0],
           "throughput_file": str(throughput_path) if throughput_path else None, "protocols": {
               p: protocol_json(x, extra=True) for p, x in protocols.items()}, "presets": {}}
    for name, proto in protocols.items():
        timesteps = proto.timesteps
        entry = {"optimisation": preset_text(name), "updates": timesteps // PRESETS[name].batch_size,
                 "cells": {}, "throughput_per_seed": speed.get(name, {})}
        entry["sgd_steps"] = entry["updates"] * PRESETS[name].update_epochs * PRESETS[name].num_minibatches
        for cell in study.cells():
            found = reports.cell_entry(cell, proto)
            if found is not None:
                entry["cells"][cell.label] = dict(found, method=cell.method, target=cell.target)
        out["presets"][name] = entry
    baseline = out["presets"].get(study.presets[0], {}).get("cells", {})
    mikt_label = next((c.label for c in study.cells() if c.method == "mikt"), None)
    base = baseline.get(mikt_label, {})
    levels = {"paper": base.get("final", {}).get("mean"), "eval": (base.get("eval_return") or {}).get("mean")}
    out["baseline_levels"] = levels
    out["ablations"] = []
    for preset, change, folder in study.ablations:
        found = reports.folder_entry(Path(folder)) if preset in out["presets"] else None
        if found is not None:
            config = json.loads((Path(folder) / "config.json").read_text())
            out["ablations"].append(dict(found, preset=preset, change=change,
                                         method=config.get("run", {}).get("method", "mikt"), target=study.target,
                                         planned_updates=planned_updates(config)))
    for name, entry in out["presets"].items():
        cells = {e["method"]: e for e in entry["cells"].values() if e["target"] == study.target}
        ablations = [a for a in out["ablations"] if a["preset"] == name]
        same_change_ppo = {a["change"]: a for a in ablations if a["method"] == "ppo"}
        variants = [(cells, entry)] + [({"mikt": a, "ppo": same_change_ppo.get(a["change"], cells.get("ppo"))}, a)
                                       for a in ablations if a["method"] == "mikt"]
        for students, holder in variants:
            mikt, ppo = students.get("mikt"), students.get("ppo")
            if mikt and ppo and mikt["status"] == ppo["status"] == "done" and mikt["env_steps"] == ppo["env_steps"]:
                holder["mikt_over_ppo"] = {k: _ratio(mikt[k]["mean"], ppo[k]["mean"]) for k in ("final", "auc")}
                holder["mikt_over_ppo"]["eval"] = _ratio(mikt["eval_return"]["mean"], ppo["eval_return"]["mean"])
            if mikt:
                mikt["p_s_at_switch"] = p_s_at_switch(Path(mikt["cell"]))
                mikt["mix_lr_scale"] = json.loads((Path(mikt["cell"]) / "config.json").read_text()).get(
                    "mikt", {}).get("mix_lr_scale", 1.0)
        for method, e in list(cells.items()) + [(a["method"], a) for a in ablations]:
            per_seed = entry["throughput_per_seed"].get(method)
            e["to_baseline"] = {}
            for curve, level in levels.items():
                steps = _first_reach(Path(e["cell"]), curve, level)
                minutes = steps / per_seed / 60 if steps is not None and per_seed else None
                e["to_baseline"][curve] = {"steps": steps, "minutes": reports._num(minutes) if minutes else None}
    return out


def _ratio(a, b) -> Optional[float]:
    return round(a / b, 3) if a is not None and b not in (None, 0) else None


def table(data: Dict) -> List[str]:
    """One row per preset and student cell (what docs/ quote)."""
    levels = data["baseline_levels"]
    lines = ["| preset | envs x steps | minibatch x epochs, lr, mixing rate | updates (SGD steps) | method | final | "
             "auc | eval (deterministic) | MIKT/PPO final, eval | p_s at the teacher drop (policy layers) | "
             "env-steps/s per seed | to baseline MIKT: paper curve | to baseline MIKT: eval | status |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, entry in data["presets"].items():
        o = entry["optimisation"]
        rows = [(name, e, entry) for e in entry["cells"].values()]
        rows += [(f"{name}, {a['change']}", a, a) for a in data.get("ablations", []) if a["preset"] == name]
        for shown, e, holder in rows:
            if "to_baseline" not in e:
                continue
            ratio = holder.get("mikt_over_ppo")
            ratio_text = f"{ratio['final']}, {ratio['eval']}" if ratio else "-"
            p_s = e.get("p_s_at_switch")
            speed = entry["throughput_per_seed"].get(e["method"])
            reach = [_reach_text(e["to_baseline"][c]) for c in ("paper", "eval")]
            rate = f"x{e['mix_lr_scale']:g}" if e.get("mix_lr_scale") is not None else "-"
            updates = e["planned_updates"] if holder is e else entry["updates"]  # an ablation may train longer
            sgd_steps = updates * PRESETS[name].update_epochs * PRESETS[name].num_minibatches
            lines.append(
                f"| {shown} | {o['shape']} | {o['minibatch']} x {o['epochs']}, {o['learning_rate']:g}, {rate} | "
                f"{updates} ({sgd_steps:,}) | {e['method']} | "
                f"{reports.mean_std_text(e.get('final'))} | {reports.mean_std_text(e.get('auc'))} | "
                f"{reports.mean_std_text(e.get('eval_return'))} | {ratio_text if e['method'] == 'mikt' else ''} | "
                f"{' / '.join(map(str, p_s)) if p_s else ''} | "
                f"{f'{speed:,.0f}' if speed else '-'} | {reach[0]} | {reach[1]} | {e['status']} |")
    lines += ["", f"Baseline MIKT ({data['baseline']} preset): paper curve final "
                  f"{_fmt(levels['paper'])}, deterministic evaluation {_fmt(levels['eval'])}."]
    return lines


def _fmt(x) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _reach_text(reach: Dict) -> str:
    if reach["steps"] is None:
        return "not reached"
    minutes = f", {reach['minutes']:.1f} min" if reach["minutes"] is not None else ""
    return f"{reach['steps']:,} steps{minutes}"


def teachers_lines(data: Dict) -> List[str]:
    lines = []
    for name, entry in data["presets"].items():
        for label, e in entry["cells"].items():
            if "to_baseline" not in e:
                lines.append(f"- {name}: teachers `{label}` final {reports.mean_std_text(e.get('final'))}, "
                             f"eval {reports.mean_std_text(e.get('eval_return'))} ({e['status']})")
    return lines


def markdown(data: Dict) -> str:
    lines = [f"# {data['title']}", "",
             "final = paper curve over the last 10% of updates, auc = its mean over training, eval = the final "
             "deterministic evaluation; mean ± std over seeds. Throughput: the training loop's env-steps/s per "
             f"seed of a {next(iter(data['protocols'].values()))['seeds']}-seed program on "
             f"{data['target']}, all presets measured in one `bench.cell` sitting "
             + (f"(`{data['throughput_file']}`)" if data["throughput_file"] else "(not measured yet)")
             + ". 'to baseline MIKT' = the env steps where the seed-mean curve first reaches the baseline "
             "MIKT's return, and those steps / the throughput.", ""]
    lines += table(data)
    lines += ["", "Teachers (PPO on the source, the students' teachers, per preset):", ""] + teachers_lines(data)
    return "\n".join(lines) + "\n"


def figure(data: Dict, path: Path) -> Optional[Path]:
    """Two panels (paper curve, deterministic evaluation): return against throughput-normalised minutes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    drawn = False
    # until the bench sitting is committed, the x axis is env steps (no time without a throughput)
    timed = any(entry["throughput_per_seed"] for entry in data["presets"].values())
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (curve, (metric, csv_name, ylabel)) in zip(axes, CURVES.items()):
        for i, (name, entry) in enumerate(data["presets"].items()):
            shown = [(e, "-" if e["method"] == "mikt" else "--", f"{name} {e['method']}")
                     for e in entry["cells"].values()]
            shown += [(a, ":" if a["method"] == "mikt" else "-.", f"{name} {a['method']}, {a['change']}")
                      for a in data.get("ablations", []) if a["preset"] == name]
            for e, style, label in shown:
                speed = entry["throughput_per_seed"].get(e["method"]) if timed else 1e6 / 60
                series = reports.read_metric(Path(e["cell"]), metric, csv_name)
                if "to_baseline" not in e or not speed or series is None:
                    continue
                steps, values = series
                with np.errstate(all="ignore"):
                    mean = np.nanmean(values, axis=0)
                ax.plot(steps / speed / 60, mean, color=colours[i % len(colours)], ls=style, lw=1.4, label=label)
                drawn = True
        level = data["baseline_levels"][curve]
        if level is not None:
            ax.axhline(level, color="grey", lw=0.8, ls=":")
        ax.set_xlabel("minutes (env steps / loop env-steps/s per seed, one bench sitting)" if timed
                      else "million env steps per seed (throughputs not measured yet)")
        ax.set_ylabel(ylabel, fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if not drawn:
        plt.close(fig)
        return None
    fig.suptitle(data["title"], fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
