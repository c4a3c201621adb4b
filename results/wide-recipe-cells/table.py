"""Issue 45's 5-seed cells against PPO from scratch under the same recipe (wide-256x16, CentipedeFour ->
CentipedeEight, 2M steps, seeds 0-4): final (the paper curve's mean over the last 10% of updates, as the
reports compute it), area under the curve, and the final deterministic evaluation, mean ± std over seeds
(numpy's std, ddof 0, as report.json), each with its ratio to the mean of PPO under the same optimisation
(the same `ppo` block in config.json: the committed PPO cell's, or a PPO line of cells.txt).

    .venv/bin/python results/wide-recipe-cells/table.py > results/wide-recipe-cells/table.md
"""

import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from mjx_mikt.experiments.report import curve_stats, read_metric  # noqa: E402

HERE = Path(__file__).resolve().parent
PPO = ("PPO from scratch (the committed cell)", "results/wide-256x16-2M/cells/CentipedeEight/ppo")
BEFORE = ("MIKT, wide-256x16 as the preset is today (the committed cell)", "results/wide-256x16-2M/cells/Four-Eight/mikt")


def per_seed(folder: Path):
    """(final, auc, eval) per seed, each (seeds,)."""
    steps, curve = read_metric(folder, "episode_return_100")
    stats = curve_stats(steps, curve)
    with (folder / "eval.csv").open() as f:
        rows = list(csv.DictReader(f))
    last = max(int(r["update"]) for r in rows)
    evals = np.array([float(r["return_mean"]) for r in sorted(rows, key=lambda r: int(r["seed"]))
                      if int(r["update"]) == last])
    return stats["final"], stats["auc"], evals


MARKS = (500_000, 1_000_000, 1_500_000, 1_790_000)


def curve_at(folder: Path):
    """The seeds' mean paper curve at the last update at or before each of MARKS (env steps)."""
    steps, curve = read_metric(folder, "episode_return_100")
    return [float(np.mean(curve[:, np.searchsorted(steps, m, side="right") - 1])) for m in MARKS]


def cells(values, reference=None):
    out = []
    for i, v in enumerate(values):
        text = f"{v.mean():,.0f} ± {v.std():,.0f}"
        if reference is not None:
            text += f" ({v.mean() / reference[i].mean():.2f}x)"
        out.append(text)
    return out


def ppo_recipe(folder: Path) -> str:
    """The run's PPO optimisation (config.json's `ppo` block; older configs lack desired_kl, i.e. 0), as a key."""
    block = json.loads((folder / "config.json").read_text())["ppo"]
    block.setdefault("desired_kl", 0.0)
    return json.dumps(block, sort_keys=True)


def finished_cells():
    """(label, folder, method) of each cells.txt line whose records are committed, in the file's order."""
    out = []
    for line in (HERE / "cells.txt").read_text().splitlines():
        parts = line.split(maxsplit=2)
        if parts and not parts[0].startswith("#") and (HERE / parts[0] / "summary.json").is_file():
            flags = f"`{parts[2]}`" if len(parts) > 2 else "(the preset as it is today), at fade20's commit"
            out.append((f"{parts[0]}: {parts[1]} {flags}", f"results/wide-recipe-cells/{parts[0]}", parts[1]))
    return out


def section(ppo_row, rows):
    """The final/area/evaluation table of `rows` against `ppo_row` (label, folder), then their curves."""
    ppo = per_seed(ROOT / ppo_row[1])
    print("| cell | seeds | final (last 10%) | area under the curve | final evaluation |")
    print("|---|---:|---:|---:|---:|")
    print(f"| {ppo_row[0]} | {len(ppo[0])} | " + " | ".join(cells(ppo)) + " |")
    for name, folder in rows:
        got = per_seed(ROOT / folder)
        print(f"| {name} | {len(got[0])} | " + " | ".join(cells(got, ppo)) + " |")
    print()
    print("Ratios (in brackets) are MIKT's mean over PPO's mean of the same column.")
    print()
    print("The paper curve on the way (mean over seeds at the last update at or before each step count; the "
          "teacher is dropped at 1.80M):")
    print()
    print("| cell | " + " | ".join(f"{m / 1e6:g}M" for m in MARKS) + " |")
    print("|---|" + "---:|" * len(MARKS))
    ppo_curve = curve_at(ROOT / ppo_row[1])
    print(f"| {ppo_row[0]} | " + " | ".join(f"{v:,.0f}" for v in ppo_curve) + " |")
    for name, folder in rows:
        print(f"| {name} | " + " | ".join(f"{v:,.0f} ({v / p:.2f}x)" for v, p in zip(curve_at(ROOT / folder), ppo_curve))
              + " |")


def main() -> int:
    """One section per PPO recipe with a PPO cell: the committed cell's (the preset's) first, then each PPO
    line of cells.txt; each MIKT cell sits in the section whose PPO optimisation its own equals."""
    done = finished_cells()
    sections = {ppo_recipe(ROOT / PPO[1]): (PPO, [BEFORE])}
    for label, folder, method in done:
        if method == "ppo":
            sections.setdefault(ppo_recipe(ROOT / folder), ((label, folder), []))
    unmatched = []
    for label, folder, method in done:
        if method != "ppo":
            sections.get(ppo_recipe(ROOT / folder), (None, unmatched))[1].append((label, folder))
    for i, (ppo_row, rows) in enumerate(sections.values()):
        if i:
            print()
            print(f"Under another PPO optimisation, both arms alike: {ppo_row[0]}")
            print()
        section(ppo_row, rows)
        if i == 0 and all((HERE / name / "summary.json").is_file() for name in ("fade20", "nofade")):
            paired(HERE / "fade20", HERE / "nofade")
    if unmatched:
        print()
        print("No PPO cell under the same optimisation yet: " + "; ".join(label for label, _ in unmatched))
    return 0


def paired(fade_folder: Path, plain_folder: Path):
    fade, plain = per_seed(fade_folder), per_seed(plain_folder)
    print()
    print("Paired seed by seed (the two cells are the same program until the floor first binds):")
    print()
    print("| fade20 - nofade | per seed (0-4) | mean ± std |")
    print("|---|---:|---:|")
    for label, a, b in zip(("final", "area", "evaluation"), fade, plain):
        d = a - b
        print(f"| {label} | {', '.join(f'{x:+,.0f}' for x in d)} | {d.mean():+,.0f} ± {d.std():,.0f} |")


if __name__ == "__main__":
    sys.exit(main())
