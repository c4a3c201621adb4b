"""The scale study's MIKT and PPO cells side by side over training: seed means of the paper curve, the
MI loss (L_MI, the decoder's Gaussian NLL: lower = more of the observation recoverable from the
embedding), p_s in the two policy layers, the policy's log-std and PPO's clip fraction.

    .venv/bin/python results/scale-pilots/trajectories.py > results/scale-pilots/trajectories.md
"""

import csv
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CELLS = {
    "paper MIKT": "results/paper-2M/cells/Four-Eight/mikt",
    "wide-256x16 MIKT (mixing x6)": "results/wide-256x16-2M/cells/Four-Eight/mikt",
    "wide-256x16 MIKT (mixing x1)": "results/scale-pilots/wide-256x16-mix1",
    "wide-256x16 MIKT, 4M env steps": "results/scale-pilots/wide-256x16-4M",
    "wide-1024x8 MIKT": "results/wide-1024x8-2M/cells/Four-Eight/mikt",
    "paper PPO": "results/paper-2M/cells/CentipedeEight/ppo",
    "wide-256x16 PPO": "results/wide-256x16-2M/cells/CentipedeEight/ppo",
}
COLUMNS = (("episode_return_100", "paper curve", "{:,.0f}"), ("mi_loss", "L_MI", "{:.2f}"),
           ("p_s/policy_0", "p_s layer 0", "{:.3f}"), ("p_s/policy_1", "p_s layer 1", "{:.3f}"),
           ("log_std_mean", "log-std", "{:.2f}"), ("clip_fraction", "clip fraction", "{:.2f}"))
# env steps to show (a cell's rows stop at its length); 1.79M and 3.59M: just before the teacher drop at 90%
# of a 2M and a 4M cell
AT = (250_000, 500_000, 1_000_000, 1_500_000, 1_790_000, 3_000_000, 3_590_000)


def seed_means(folder: Path):
    """{env_steps: {column: mean over seeds}} of a run folder's metrics.csv."""
    rows = defaultdict(list)
    with open(folder / "metrics.csv") as f:
        for row in csv.DictReader(f):
            rows[int(row["env_steps"])].append(row)
    out = {}
    for steps, group in rows.items():
        out[steps] = {}
        for column, _, _ in COLUMNS:
            values = [float(r[column]) for r in group if r.get(column) not in (None, "")]
            out[steps][column] = sum(values) / len(values) if values else None
    return out


def main() -> int:
    print("| cell | env steps | " + " | ".join(label for _, label, _ in COLUMNS) + " |")
    print("|---|---:|" + "---:|" * len(COLUMNS))
    for name, folder in CELLS.items():
        if not (ROOT / folder / "metrics.csv").is_file():  # a cell not run yet
            continue
        means = seed_means(ROOT / folder)
        steps = sorted(means)
        for target in (t for t in AT if t <= steps[-1]):
            at = next(s for s in steps if s >= target)
            cells = [fmt.format(means[at][c]) if means[at][c] is not None else "-" for c, _, fmt in COLUMNS]
            print(f"| {name} | {at:,} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
