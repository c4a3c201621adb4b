"""PPO under two settings on one robot: learning per sample and loop speed side by side.

    python -m mjx_mikt.experiments run shapes     # 2048 samples per update from 8 x 256 or 64 x 32 envs x steps
    python -m mjx_mikt.experiments run backends   # the same PPO on native MuJoCo and on MJX

`shapes`: the paper fixes 2048 samples per update, 64-sample minibatches and 10 epochs, not how
many envs produce the 2048; does PPO learn as well per sample from 64 envs x 32 steps as from
8 x 256? `backends`: does PPO learn the same on MJX (with the contact fix and 4/4 solver
iterations, docs/mjx-contact-parity.md) as on native MuJoCo?

Each variant is the PPO cell of its own protocol folder, `results/<preset>-<budget>[-<backend>]/
cells/<Robot>/ppo` (no suffix for the native backend), so a cell the figures also use (the
`paper` CentipedeFour cell is Fig. 3's teachers) is trained once. The report, in
`results/<name>-<budget>/`, has per variant the paper curve's final (last 10% of updates) and auc
per seed, the deterministic evaluation, and the loop's median env-steps/s over updates (from
metrics.csv; a run that shared the machine with other work reads slower than it is), and the
difference of the two variants' means with its standard error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from mjx_mikt.experiments import report as reports
from mjx_mikt.experiments.grid import Cell, Protocol
from mjx_mikt.experiments.kind import Kind, Table, budget, protocol_from, protocol_json, protocol_of, root_of, \
    variant_folder


@dataclass(frozen=True)
class Variant:
    label: str
    preset: str
    backend: str = "mujoco"


@dataclass(frozen=True)
class Comparison(Kind):
    name: str
    title: str
    robot: str
    variants: Tuple[Variant, ...]  # two: the difference is the second's mean minus the first's

    def cell(self) -> Cell:
        return Cell("", self.robot, "ppo", teachers=False)

    def describe(self) -> str:
        return ("variants: " + ", ".join(f"{v.label} (preset {v.preset}, backend {v.backend})" for v in self.variants)
                + f"; method: ppo; {len(self.variants)} cells")

    def groups(self, args):
        """One PPO cell per variant, each in its own protocol folder under root_of."""
        root = root_of(args, self.name)
        return {v.label: (protocol_from(args, v.preset, v.backend, variant_folder(root, v.preset, v.backend,
                                                                                    budget(args))), [self.cell()])
                for v in self.variants}

    def build(self, args, groups):
        protocols = {label: protocol for label, (protocol, _) in groups.items()}
        return build(self, protocols), root_of(args, self.name) / f"{self.name}-{budget(args)}"

    def render(self, data, folder):
        folder.mkdir(parents=True, exist_ok=True)
        panel = {"title": data["title"], "pairs": [{
            "source": self.robot, "target": self.robot, "panel": f"PPO on {self.robot}",
            "methods": {f"{label} ({e['shape']}, {e['backend']})": e for label, e in data["variants"].items()}}]}
        return reports.finish(folder, data, markdown(data), {"curves": reports.figure(panel, folder / f"{self.name}.png")})

    def rebuild(self, data):
        return build(self, {label: protocol_of(x) for label, x in data["protocols"].items()})

    def blocks(self) -> Dict[str, Table]:
        return {self.name: table}


def _loop_speed(folder: Path) -> Optional[Dict]:
    """Median and spread (25th-75th percentile) of the loop's env-steps/s over updates, all seeds together."""
    data = reports.read_metric(folder, "env_steps_per_second")
    if data is None:
        return None
    per_update = data[1][0]  # every seed's row carries the program's total
    per_update = per_update[np.isfinite(per_update)]
    if per_update.size == 0:
        return None
    return {"median": round(float(np.median(per_update))), "p25": round(float(np.percentile(per_update, 25))),
            "p75": round(float(np.percentile(per_update, 75)))}


def build(comparison: Comparison, protocols: Dict[str, Protocol]) -> Dict:
    """The comparison's numbers from the cells' files; `protocols` maps a variant's label -> its protocol."""
    out = {"experiment": comparison.name, "title": comparison.title, "robot": comparison.robot, "variants": {},
           "protocols": {label: protocol_json(x) for label, x in protocols.items()}}
    cell = comparison.cell()
    for label, protocol in protocols.items():
        folder = cell.folder(protocol)
        entry = reports.cell_entry(cell, protocol)
        if entry is None:
            continue
        config = json.loads((folder / "config.json").read_text())
        entry["shape"] = f"{config['ppo']['num_envs']} x {config['ppo']['rollout_length']}"
        entry["backend"] = config["run"]["backend"]
        entry["loop_env_steps_per_second"] = _loop_speed(folder)
        out["variants"][label] = entry
    done = [v.label for v in comparison.variants if out["variants"].get(v.label, {}).get("status") == "done"]
    if len(done) == 2:
        a, b = (out["variants"][label] for label in done)
        for key in ("final", "auc"):
            x, y = np.asarray(a[key]["per_seed"], float), np.asarray(b[key]["per_seed"], float)
            se = float(np.sqrt(np.nanvar(x, ddof=1) / x.size + np.nanvar(y, ddof=1) / y.size))
            out[f"{key}_difference"] = {"value": reports._num(np.nanmean(y) - np.nanmean(x)),
                                        "std_error": reports._num(se), "of": f"{done[1]} - {done[0]}"}
    return out


def table(data: Dict) -> List[str]:
    """The comparison table (what docs/ quote)."""
    lines = ["| variant | shape | backend | final | auc | eval (deterministic) | seeds | steps | status | "
             "loop env-steps/s | wall time |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, e in data["variants"].items():
        speed = e.get("loop_env_steps_per_second")
        speed_text = f"{speed['median']:,} ({speed['p25']:,}-{speed['p75']:,})" if speed else "-"
        wall = f"{e['wall_time_s'] / 60:.0f} min" if e.get("wall_time_s") else "-"
        stats = " | ".join(reports.mean_std_text(e.get(k)) for k in ("final", "auc", "eval_return"))
        lines.append(f"| {label} | {e['shape']} | {e['backend']} | {stats} | {e['seeds']} | {e['env_steps']:,} | "
                     f"{e['status']} | {speed_text} | {wall} |")
    for key in ("final", "auc"):
        diff = data.get(f"{key}_difference")
        if diff:
            lines += ["", f"{key}: {diff['of']} = {diff['value']:,.0f} (standard error {diff['std_error']:,.0f})"]
    return lines


def markdown(data: Dict) -> str:
    lines = [f"# {data['title']}", "",
             "The same PPO optimisation in every row (2048 samples per update, 64-sample minibatches, 10 epochs). "
             "final = paper curve (mean return of the last 100 "
             "training episodes) over the last 10% of updates, auc = over all updates; mean ± std over seeds. "
             "Loop speed: median env-steps/s of the whole training loop over updates, all seeds of the "
             "program together (25th-75th percentile in brackets); it is only comparable between runs that "
             "had the machine to themselves (`python -m bench.cell` measures it quietly).", ""]
    lines += table(data)
    lines += ["", "Cells: " + ", ".join(f"`{e['cell']}`" for e in data["variants"].values())]
    missing = [label for label in data["protocols"] if label not in data["variants"]]
    if missing:
        lines += ["", f"Not run yet: {', '.join(missing)}."]
    return "\n".join(lines) + "\n"
