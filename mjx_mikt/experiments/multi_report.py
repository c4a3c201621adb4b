"""`report multi`'s section (`section`, a `figures.Section`): the text, finding.json and two figures,
every cell's training curve in one panel and each teacher's weight p_t beside the student's own p_s
per layer over training. The rows, the finding and the weights they show are multi.py's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from mjx_mikt.checkpoint import write_atomic
from mjx_mikt.experiments.multi import (TOWERS, finding, rows, table, teacher_phase_end, weight_names, weights,
                                         weights_table, weights_text, who)
from mjx_mikt.experiments.report import CURVE, read_metric, save_png

ROBOT_COLOURS = {"CentipedeFour": "tab:blue", "CentipedeSix": "tab:green", "Hopper": "tab:purple"}
OTHER_COLOURS = ("tab:brown", "tab:pink", "tab:olive", "tab:cyan")
TOGETHER_COLOUR, PPO_COLOUR = "tab:red", "tab:orange"


def _colour(robot: str, robots: List[str]) -> str:
    others = [r for r in robots if r not in ROBOT_COLOURS]
    return ROBOT_COLOURS.get(robot) or OTHER_COLOURS[others.index(robot) % len(OTHER_COLOURS)]


def _row_colour(row: Dict, robots: List[str]) -> str:
    if not row["robots"]:
        return PPO_COLOUR
    return TOGETHER_COLOUR if len(row["robots"]) > 1 else _colour(row["robots"][0], robots)


def curves_figure(report: Dict, path: Path) -> Optional[Path]:
    """The training curve (mean ± std over seeds) of every cell of the table in one panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = [r for r in rows(report) if r["entry"] is not None]
    if not drawn:
        return None
    robots = list(dict.fromkeys(x for r in rows(report) for x in r["robots"]))
    fig, ax = plt.subplots(figsize=(7, 4))
    for row in drawn:
        steps, values = read_metric(Path(row["entry"]["cell"]), CURVE)
        with np.errstate(all="ignore"):
            mean, std = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
        colour = _row_colour(row, robots)
        ax.plot(steps, mean, label=f"{who(row)} ({values.shape[0]})", color=colour,
                lw=2.0 if len(row["robots"]) > 1 else 1.3)
        ax.fill_between(steps, mean - std, mean + std, color=colour, alpha=0.15, lw=0)
    missing = [who(r) for r in rows(report) if r["entry"] is None]
    targets = " / ".join(dict.fromkeys(r["target"] for r in rows(report)))
    ax.set_title(f"{targets}: several teachers at once, each alone, none"
                 + (f"\n(not run yet: {'; '.join(missing)})" if missing else ""), fontsize=9)
    ax.set_xlabel("env steps")
    ax.set_ylabel("average return (last 100 training episodes)", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)
    return path


def weights_figure(report: Dict, path: Path) -> Optional[Path]:
    """A panel per (tower, layer): p_s and each teacher's p_t of the several-teacher cell (solid, mean ± std
    over seeds), each single-teacher cell's p_t (dashed); a dotted line where the teacher phase ends."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = [r for r in rows(report) if r["robots"] and r["entry"] is not None]
    layers = list(dict.fromkeys(k for r in drawn for k in weight_names(Path(r["entry"]["cell"]))))
    if not layers:
        return None
    robots = list(dict.fromkeys(x for r in rows(report) for x in r["robots"]))
    towers = [t for t in TOWERS if any(k[0] == t for k in layers)]
    columns = max(k[1] for k in layers) + 1
    fig, axes = plt.subplots(len(towers), columns, figsize=(4.2 * columns, 3.2 * len(towers)), squeeze=False,
                             sharey=True)
    for i, tower in enumerate(towers):
        for j in range(columns):
            ax = axes[i][j]
            ends = []
            for row in drawn:
                folder = Path(row["entry"]["cell"])
                names = weight_names(folder).get((tower, j), {})
                several = len(row["robots"]) > 1
                for key, column in names.items():
                    if key == "p_s" and not several:
                        continue  # a single teacher's p_s is 1 - p_t
                    steps, values = read_metric(folder, column)
                    with np.errstate(all="ignore"):
                        mean, std = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
                    colour = "black" if key == "p_s" else _colour(key, robots)
                    label = ("p_s (own)" if key == "p_s" else f"p_t {key}") + (", together" if several else ", alone")
                    ax.plot(steps, mean, color=colour, lw=1.6 if several else 1.0, ls="-" if several else "--",
                            label=label)
                    if several:
                        ax.fill_between(steps, mean - std, mean + std, color=colour, alpha=0.15, lw=0)
                end = teacher_phase_end(folder)
                if end is not None:
                    ends.append(end)
            for end in sorted(set(ends)):
                ax.axvline(end, color="grey", ls=":", lw=1)
            ax.set_title(f"{tower} layer {j}", fontsize=9)
            ax.set_xlabel("env steps")
            ax.grid(alpha=0.3)
            if j == 0:
                ax.set_ylabel("weight (softmax of mix logits)", fontsize=8)
            if i == 0 and j == 0:
                ax.legend(fontsize=6)
    together = [r for r in rows(report) if len(r["robots"]) > 1]
    note = ("solid (± std shaded): the teachers together; dashed: each teacher alone"
            if all(r["entry"] is not None for r in together) else
            "dashed: each teacher alone (the cell with the teachers together is not run yet)")
    fig.suptitle("Each teacher's weight p_t and the student's own p_s per layer, mean over seeds\n" + note
                 + "; dotted: the teachers are dropped", fontsize=9)
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)
    return path


# ------------------------------------------------------------------ the section
def numbers(report: Dict) -> Dict:
    """What finding.json holds: the finding and the weights of every MIKT cell."""
    return {"finding": finding(report),
            "weights": {r["source"]: weights(Path(r["entry"]["cell"])) for r in rows(report)
                        if r["robots"] and r["entry"] is not None}}


def section(report: Dict, folder: Path, name: str):
    """The `figures.Section` of an experiment with several-teacher pairs: text, finding.json, two PNGs."""
    data = numbers(report)
    write_atomic(folder / "finding.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    lines = ["", "## Several teachers at once", "", *table(report), "", f"**Finding.** {data['finding']['text']}", ""]
    for row in rows(report):
        if len(row["robots"]) > 1 and row["entry"] is not None:
            lines += [f"**Which teacher the student reads** ({' + '.join(row['robots'])}). "
                      + weights_text(row, data["weights"][row["source"]]), ""]
    weight_lines = weights_table(report)
    if len(weight_lines) > 2:
        lines += ["Weights per layer (seed mean; start / mean over the teacher phase / end of it; the phase's "
                  "first and last 10% of updates):", "", *weight_lines, ""]
    lines += ["The numbers: `finding.json`.", ""]
    return "\n".join(lines), {"teachers": curves_figure(report, folder / f"{name}-teachers.png"),
                              "weights": weights_figure(report, folder / f"{name}-weights.png")}
