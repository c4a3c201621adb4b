"""Rollout shapes: does PPO learn as well per sample when the paper's 2048 samples per update come
from more envs? `python -m mjx_mikt.experiments run shapes [--seeds 5]`.

The paper fixes 2048 samples per update, 64-sample minibatches and 10 epochs, not how many envs
produce the 2048. This experiment trains PPO on one robot (CentipedeFour) with each preset of
`SHAPE_PRESETS` (8 envs x 256 steps and 64 x 32; the optimisation is the same) and compares:

- learning per sample: the paper curve's final (last 10% of updates) and auc per seed, and the
  deterministic evaluation at the end;
- speed: the whole loop's env-steps/s, the median over the run's updates (from metrics.csv;
  a run that shared the machine with other work reads slower than it is).

Each preset's cell is the PPO cell of that preset's protocol folder, `results/<preset>-<budget>/
cells/<Robot>/ppo`, the same cell the figures use as teachers and baseline: it is trained once.
The report goes to `results/shapes-<budget>/` (or `<--out>/shapes/`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from mjx_mikt.checkpoint import write_atomic
from mjx_mikt.experiments import report as reports
from mjx_mikt.experiments.grid import Cell, Protocol

NAME = "shapes"
TITLE = "Rollout shape: PPO on CentipedeFour, 2048 samples per update from 8 x 256 or 64 x 32 envs x steps"
SHAPE_PRESETS = ("paper", "paper-wide")
ROBOT = "CentipedeFour"


def cell() -> Cell:
    return Cell("", ROBOT, "ppo")


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


def build(protocols: Dict[str, Protocol]) -> Dict:
    """The comparison's numbers from the cells' files; `protocols` maps preset -> its protocol."""
    out = {"experiment": NAME, "title": TITLE, "robot": ROBOT, "presets": {},
           "protocols": {p: {"out": str(x.out), "seeds": x.seeds, "timesteps": x.timesteps, "preset": x.preset,
                             "backend": x.backend} for p, x in protocols.items()}}
    for preset, protocol in protocols.items():
        folder = cell().folder(protocol)
        entry = reports.cell_entry(cell(), protocol)
        if entry is None:
            continue
        config = json.loads((folder / "config.json").read_text())
        entry["shape"] = f"{config['ppo']['num_envs']} x {config['ppo']['rollout_length']}"
        entry["loop_env_steps_per_second"] = _loop_speed(folder)
        out["presets"][preset] = entry
    done = [p for p in SHAPE_PRESETS if out["presets"].get(p, {}).get("status") == "done"]
    if len(done) == 2:
        a, b = (out["presets"][p] for p in done)
        for key in ("final", "auc"):
            x, y = np.asarray(a[key]["per_seed"], float), np.asarray(b[key]["per_seed"], float)
            se = float(np.sqrt(np.nanvar(x, ddof=1) / x.size + np.nanvar(y, ddof=1) / y.size))
            out[f"{key}_difference"] = {"value": reports._num(np.nanmean(y) - np.nanmean(x)), "std_error": reports._num(se),
                                        "of": f"{done[1]} - {done[0]}"}
    return out


def protocols_of(data: Dict) -> Dict[str, Protocol]:
    """The protocols a committed report was built from (to regenerate it)."""
    return {p: Protocol(out=Path(x["out"]), seeds=x["seeds"], timesteps=x["timesteps"], preset=x["preset"],
                        backend=x["backend"]) for p, x in data["protocols"].items()}


def table(data: Dict) -> List[str]:
    """The comparison table (what the README quotes)."""
    lines = ["| preset | shape | final | auc | eval (deterministic) | seeds | steps | status | loop env-steps/s | "
             "wall time |", "|---|---|---|---|---|---|---|---|---|---|"]
    for preset, e in data["presets"].items():
        speed = e.get("loop_env_steps_per_second")
        speed_text = f"{speed['median']:,} ({speed['p25']:,}-{speed['p75']:,})" if speed else "-"
        wall = f"{e['wall_time_s'] / 60:.0f} min" if e.get("wall_time_s") else "-"
        lines.append(f"| {preset} | {e['shape']} | {reports._fmt(e['final'])} | {reports._fmt(e['auc'])} | "
                     f"{reports._fmt(e.get('eval_return'))} | {e['seeds']} | {e['env_steps']:,} | {e['status']} | "
                     f"{speed_text} | {wall} |")
    for key in ("final", "auc"):
        diff = data.get(f"{key}_difference")
        if diff:
            lines += ["", f"{key}: {diff['of']} = {diff['value']:,.0f} (standard error {diff['std_error']:,.0f})"]
    return lines


def markdown(data: Dict, protocols: Dict[str, Protocol]) -> str:
    lines = [f"# {data['title']}", "",
             "Same optimisation in every row (2048 samples per update, 64-sample minibatches, 10 epochs); only "
             "the envs x steps that produce the 2048 differ. final = paper curve (mean return of the last 100 "
             "training episodes) over the last 10% of updates, auc = over all updates; mean ± std over seeds. "
             "Loop speed: median env-steps/s of the whole training loop over updates, all seeds of the "
             "program together (25th-75th percentile in brackets); it is only comparable between runs that "
             "had the machine to themselves (`python -m bench.cell` measures it quietly).", ""]
    lines += table(data)
    lines += ["", "Cells: " + ", ".join(f"`{e['cell']}`" for e in data["presets"].values())]
    missing = [p for p in protocols if p not in data["presets"]]
    if missing:
        lines += ["", f"Not run yet: {', '.join(missing)}."]
    return "\n".join(lines) + "\n"


def write(protocols: Dict[str, Protocol], folder: Path) -> Dict[str, Path]:
    """report.md, report.json and shapes.png in `folder`; returns their paths."""
    data = build(protocols)
    folder.mkdir(parents=True, exist_ok=True)
    written = {"json": folder / "report.json", "md": folder / "report.md"}
    write_atomic(written["json"], json.dumps(data, indent=2) + "\n")
    panel = {"title": data["title"], "pairs": [{"source": ROBOT, "target": ROBOT, "panel": f"PPO on {ROBOT}",
                                                 "methods": {f"{p} ({e['shape']})": e
                                                             for p, e in data["presets"].items()}}]}
    text = markdown(data, protocols)
    image = reports.figure(panel, folder / f"{NAME}.png")
    if image is not None:
        written["curves"] = image
        text += f"\n![curves]({image.name})\n"
    write_atomic(written["md"], text)
    return written


def cells_to_run(protocols: Dict[str, Protocol]) -> List:
    """[(cell, protocol)] in SHAPE_PRESETS order."""
    return [(cell(), protocols[p]) for p in SHAPE_PRESETS if p in protocols]
