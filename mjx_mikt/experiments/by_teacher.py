"""One student robot, several teachers (Fig. 5): a report's pairs seen side by side.

The report (`report.build`) has one entry per (source, target) pair; when every pair has the same
target, the paper's Fig. 5 puts them in one panel: MIKT's curve with each teacher, and PPO from
scratch once. `table` gives that panel's numbers (a row per teacher, then PPO; also what the README
quotes) and `figure` draws (a) the curves and (b) each teacher's student weight p_s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from mjx_mikt.experiments.report import CURVE, draw_mixing, entry_cells, mean_std_text, read_metric, save_png, teachers_text

TEACHER_COLOURS = ("tab:blue", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive")


def _teacher_returns(pair: Dict) -> Optional[Dict]:
    values = [t["episode_return_100"] for t in pair["teachers"] if t["episode_return_100"] is not None]
    return {"mean": float(np.mean(values)), "std": float(np.std(values))} if values else None


def rows(report: Dict) -> List[Dict]:
    """[{'teacher': source or None (PPO from scratch), 'entry': the cell's report entry, 'pair': ...}]:
    each pair's MIKT cell in the report's order, then the first pair's PPO cell."""
    out = [{"teacher": pair["source"], "entry": pair["methods"]["mikt"], "pair": pair}
           for pair in report["pairs"] if "mikt" in pair["methods"]]
    ppo = next((pair for pair in report["pairs"] if "ppo" in pair["methods"]), None)
    if ppo is not None:
        out.append({"teacher": None, "entry": ppo["methods"]["ppo"], "pair": ppo})
    return out


def table(report: Dict) -> List[str]:
    """The markdown table: a row per teacher (MIKT) and one for PPO from scratch."""
    targets = sorted({pair["target"] for pair in report["pairs"]})
    lines = [f"| {' / '.join(targets)} learns with | teachers' return | final | auc | jumpstart | "
             "steps to PPO's final | eval (deterministic) | seeds | steps | status | wall time |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows(report):
        e = row["entry"]
        who = f"MIKT, {row['teacher']} teacher" if row["teacher"] else "PPO from scratch"
        teachers = mean_std_text(_teacher_returns(row["pair"])) if row["teacher"] else "-"
        lines.append(f"| {who} | {teachers} | {entry_cells(e)} |")
    return lines


def teachers_table(report: Dict) -> List[str]:
    """The markdown table of the teachers: a row per source robot with its teachers' training return
    (last 100 episodes) and deterministic evaluation per seed, next to the authors' range."""
    lines = ["| teachers | seeds | training return (last 100 episodes) | deterministic evaluation | "
             "the authors' teachers |", "|---|---|---|---|---|"]
    for pair in report["pairs"]:
        if not pair["teachers"]:
            continue
        t = teachers_text(pair)
        lines.append(f"| {pair['source']} | {t['seeds']} | {t['episode_return_100']} | {t['eval_return']} | "
                     f"{t['authors']} |")
    return lines


def figure(report: Dict, path: Path) -> Optional[Path]:
    """(a) the training curve of MIKT with each teacher and of PPO (mean ± std over seeds);
    (b) the student weight p_s of each MIKT cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = rows(report)
    if not drawn:
        return None
    fig, (curves, mixing) = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, row in enumerate(drawn):
        steps, values = read_metric(Path(row["entry"]["cell"]), CURVE)
        with np.errstate(all="ignore"):
            mean, std = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
        colour = TEACHER_COLOURS[i % len(TEACHER_COLOURS)] if row["teacher"] else "tab:orange"
        label = f"MIKT, {row['teacher']} teacher" if row["teacher"] else "PPO from scratch"
        curves.plot(steps, mean, label=f"{label} ({values.shape[0]})", color=colour, lw=1.4)
        curves.fill_between(steps, mean - std, mean + std, color=colour, alpha=0.2, lw=0)
    targets = " / ".join(sorted({pair["target"] for pair in report["pairs"]}))
    curves.set_title(f"(a) {targets} with different teachers", fontsize=10)
    curves.set_xlabel("env steps")
    curves.set_ylabel("average return (last 100 training episodes)", fontsize=8)
    curves.grid(alpha=0.3)
    curves.legend(fontsize=7)
    draw_mixing(mixing, report, TEACHER_COLOURS)
    mixing.set_title("(b) weight on the student's own representation", fontsize=10)
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)
    return path


def section(report: Dict, folder: Path, name: str):
    """The report's Fig. 5 section (a `figures.Section`): the table, and `<name>-teachers.png`."""
    text = "\n## One student, several teachers\n\n" + "\n".join(table(report)) + "\n"
    return text, {"teachers": figure(report, folder / f"{name}-teachers.png")}
