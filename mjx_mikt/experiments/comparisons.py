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

from mjx_mikt.checkpoint import write_atomic
from mjx_mikt.experiments import report as reports
from mjx_mikt.experiments.grid import Cell, Protocol


@dataclass(frozen=True)
class Variant:
    label: str
    preset: str
    backend: str = "mujoco"


@dataclass(frozen=True)
class Comparison:
    name: str
    title: str
    robot: str
    variants: Tuple[Variant, ...]  # two: the difference is the second's mean minus the first's

    def cell(self) -> Cell:
        return Cell("", self.robot, "ppo", teachers=False)


COMPARISONS: Dict[str, Comparison] = {c.name: c for c in (
    Comparison("shapes", "Rollout shape: PPO on CentipedeFour, 2048 samples per update from 8 x 256 or 64 x 32 "
                         "envs x steps", "CentipedeFour", (Variant("paper", "paper"), Variant("paper-wide", "paper-wide"))),
    Comparison("backends", "Physics backend: PPO on CentipedeFour (64 x 32 envs x steps) on native MuJoCo and on MJX",
               "CentipedeFour", (Variant("mujoco", "paper-wide"), Variant("mjx", "paper-wide", "mjx"))),
)}


def protocol_folder(root: Path, variant: Variant, budget: str) -> Path:
    suffix = "" if variant.backend == "mujoco" else f"-{variant.backend}"
    return root / f"{variant.preset}-{budget}{suffix}"


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
           "protocols": {label: {"out": str(x.out), "seeds": x.seeds, "timesteps": x.timesteps, "preset": x.preset,
                                 "backend": x.backend} for label, x in protocols.items()}}
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


def protocols_of(data: Dict) -> Dict[str, Protocol]:
    """The protocols a committed report was built from (to regenerate it)."""
    return {p: Protocol(out=Path(x["out"]), seeds=x["seeds"], timesteps=x["timesteps"], preset=x["preset"],
                        backend=x["backend"]) for p, x in data["protocols"].items()}


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


def markdown(data: Dict, protocols: Dict[str, Protocol]) -> str:
    lines = [f"# {data['title']}", "",
             "The same PPO optimisation in every row (2048 samples per update, 64-sample minibatches, 10 epochs). "
             "final = paper curve (mean return of the last 100 "
             "training episodes) over the last 10% of updates, auc = over all updates; mean ± std over seeds. "
             "Loop speed: median env-steps/s of the whole training loop over updates, all seeds of the "
             "program together (25th-75th percentile in brackets); it is only comparable between runs that "
             "had the machine to themselves (`python -m bench.cell` measures it quietly).", ""]
    lines += table(data)
    lines += ["", "Cells: " + ", ".join(f"`{e['cell']}`" for e in data["variants"].values())]
    missing = [label for label in protocols if label not in data["variants"]]
    if missing:
        lines += ["", f"Not run yet: {', '.join(missing)}."]
    return "\n".join(lines) + "\n"


def write(comparison: Comparison, protocols: Dict[str, Protocol], folder: Path) -> Dict[str, Path]:
    """report.md, report.json and <name>.png in `folder`; returns their paths."""
    data = build(comparison, protocols)
    folder.mkdir(parents=True, exist_ok=True)
    written = {"json": folder / "report.json", "md": folder / "report.md"}
    write_atomic(written["json"], json.dumps(data, indent=2) + "\n")
    panel = {"title": data["title"], "pairs": [{
        "source": comparison.robot, "target": comparison.robot, "panel": f"PPO on {comparison.robot}",
        "methods": {f"{label} ({e['shape']}, {e['backend']})": e for label, e in data["variants"].items()}}]}
    text = markdown(data, protocols)
    image = reports.figure(panel, folder / f"{comparison.name}.png")
    if image is not None:
        written["curves"] = image
        text += f"\n![curves]({image.name})\n"
    write_atomic(written["md"], text)
    return written


def rebuild(data: Dict) -> Dict:
    """A committed report's numbers, computed again from the cells' files."""
    return build(COMPARISONS[data["experiment"]], protocols_of(data))
