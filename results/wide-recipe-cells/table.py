"""Issue 45's 5-seed cells against PPO from scratch under the same recipe (wide-256x16, CentipedeFour ->
CentipedeEight, 2M steps, seeds 0-4): final (the paper curve's mean over the last 10% of updates, as the
reports compute it), area under the curve, and the final deterministic evaluation, mean ± std over seeds
(numpy's std, ddof 0, as report.json), each with its ratio to PPO's mean.

    .venv/bin/python results/wide-recipe-cells/table.py > results/wide-recipe-cells/table.md
"""

import csv
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


def main() -> int:
    ppo = per_seed(ROOT / PPO[1])
    print("| cell | seeds | final (last 10%) | area under the curve | final evaluation |")
    print("|---|---:|---:|---:|---:|")
    print(f"| {PPO[0]} | {len(ppo[0])} | " + " | ".join(cells(ppo)) + " |")
    rows = [BEFORE]
    for line in (HERE / "cells.txt").read_text().splitlines():
        parts = line.split(maxsplit=2)
        if parts and not parts[0].startswith("#") and (HERE / parts[0] / "summary.json").is_file():
            flags = f"`{parts[2]}`" if len(parts) > 2 else "(the preset as it is today), at fade20's commit"
            rows.append((f"{parts[0]}: {parts[1]} {flags}", f"results/wide-recipe-cells/{parts[0]}"))
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
    ppo_curve = curve_at(ROOT / PPO[1])
    print(f"| {PPO[0]} | " + " | ".join(f"{v:,.0f}" for v in ppo_curve) + " |")
    for name, folder in rows:
        print(f"| {name} | " + " | ".join(f"{v:,.0f} ({v / p:.2f}x)" for v, p in zip(curve_at(ROOT / folder), ppo_curve))
              + " |")
    if all((HERE / name / "summary.json").is_file() for name in ("fade20", "nofade")):
        fade, plain = per_seed(HERE / "fade20"), per_seed(HERE / "nofade")
        print()
        print("Paired seed by seed (the two cells are the same program until the floor first binds):")
        print()
        print("| fade20 - nofade | per seed (0-4) | mean ± std |")
        print("|---|---:|---:|")
        for label, a, b in zip(("final", "area", "evaluation"), fade, plain):
            d = a - b
            print(f"| {label} | {', '.join(f'{x:+,.0f}' for x in d)} | {d.mean():+,.0f} ± {d.std():,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
