"""Several teachers at once (`report multi`): one student with all its source robots' teachers together
(a pair 'Four+Six:Eight'), beside the same student with each teacher alone and PPO from scratch.

What `report multi` adds after the per-pair tables (`multi_report.section`, a `figures.Section`;
its text and figures are drawn there from the numbers here):

- a table: a row for the cell with all the teachers ("not run yet" while it has no curve), one per
  single-teacher cell, then PPO from scratch;
- the finding, in words made from the numbers: the final return (the last 10% of the updates, as in
  every table) of the several-teacher cell against the better single teacher's, with the standard
  error of the difference of the means (each mean's sample std / sqrt(n), combined as
  sqrt(se_a^2 + se_b^2)); 'better' or 'worse' beyond two standard errors, 'equal' within;
- the weights: the student's own weight p_s and each teacher's p_t per layer over training (the
  softmax of each layer's mixing logits, logged as p_s/<tower>_<j> and p_t/<robot>/<tower>_<j>), in a
  table (start / mean over the teacher phase / end of it) and `<name>-weights.png`; the teacher phase
  ends where the coupling ramp ends (mikt.coupling_end) and the student drops its teachers;
- `finding.json`: those numbers. report.json stays `report.build`'s (tests/test_results.py
  regenerates it from the CSVs); finding.json is a function of it and the cells' CSVs.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from mjx_mikt.experiments import grid
from mjx_mikt.experiments.report import entry_cells, read_metric

TOWERS = ("policy", "value")
EDGE_FRACTION = 0.10  # 'start' and 'end' of the teacher phase: its first and last 10% of updates
EQUAL_WEIGHTS = 0.01  # two teachers' mean weights closer than this: read 'about equally'


# ------------------------------------------------------------------ the rows
# the `multi` figure's pairs (registry.py): the several-teacher cell, each teacher alone
PAIRS = ("Four:Eight", "Six:Eight", "Four+Six:Eight")


def _pairs(report: Dict) -> List[Tuple[str, str]]:
    """The `multi` figure's pairs, then any other pair of the report (a report made with --pairs)."""
    wanted = grid.parse_pairs(",".join(PAIRS)) if report["experiment"] == "multi" else ()
    return list(dict.fromkeys(tuple(wanted) + tuple((p["source"], p["target"]) for p in report["pairs"])))


def rows(report: Dict) -> List[Dict]:
    """[{'source', 'target', 'robots', 'entry' (None: not run yet)}]: the several-teacher cells first,
    then the single-teacher ones (each MIKT), then PPO from scratch on the target (source '')."""
    found = {(p["source"], p["target"]): p for p in report["pairs"]}
    pairs = _pairs(report)
    pairs = [p for p in pairs if len(grid.source_robots(p[0])) > 1] + \
            [p for p in pairs if len(grid.source_robots(p[0])) == 1]
    out = [{"source": s, "target": t, "robots": grid.source_robots(s),
            "entry": found.get((s, t), {}).get("methods", {}).get("mikt")} for s, t in pairs]
    for target in dict.fromkeys(t for _, t in pairs):
        ppo = next((p["methods"]["ppo"] for p in report["pairs"] if p["target"] == target and "ppo" in p["methods"]),
                   None)
        out.append({"source": "", "target": target, "robots": (), "entry": ppo})
    return out


def who(row: Dict) -> str:
    if not row["robots"]:
        return "PPO from scratch"
    if len(row["robots"]) == 1:
        return f"MIKT, {row['robots'][0]} teacher"
    return "MIKT, " + " + ".join(row["robots"]) + " teachers"


def table(report: Dict) -> List[str]:
    """The markdown table: a row per MIKT cell (several teachers first) and PPO from scratch."""
    targets = " / ".join(dict.fromkeys(t for _, t in _pairs(report)))
    lines = [f"| {targets} learns with | final | auc | jumpstart | steps to PPO's final | eval (deterministic) | "
             "seeds | steps | status | wall time |", "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows(report):
        e = row["entry"]
        if e is None:
            lines.append(f"| {who(row)} | not run yet | - | - | - | - | - | - | new | - |")
            continue
        lines.append(f"| {who(row)} | {entry_cells(e)} |")
    return lines


# ------------------------------------------------------------------ the finding
def _round(x: Optional[float]) -> Optional[float]:
    return None if x is None or not np.isfinite(x) else round(float(x), 2)


def sample_stats(entry: Dict, key: str = "final") -> Dict:
    """mean, sample std (ddof 1), n and standard error (sample std / sqrt(n)) of a cell's per-seed values."""
    values = np.asarray([x for x in entry[key]["per_seed"] if x is not None], dtype=float)
    n = int(values.size)
    std = float(values.std(ddof=1)) if n > 1 else None
    return {"mean": _round(values.mean()) if n else None, "sample_std": _round(std), "n": n,
            "standard_error": _round(std / math.sqrt(n)) if std is not None else None}


def finding(report: Dict) -> Dict:
    """The several-teacher cell against the better single teacher (final return), in numbers and words."""
    drawn = rows(report)
    together = next((r for r in drawn if len(r["robots"]) > 1), None)
    singles = [r for r in drawn if len(r["robots"]) == 1 and r["entry"] is not None and r["entry"]["status"] == "done"]
    best = max(singles, key=lambda r: r["entry"]["final"]["mean"], default=None)
    out = {"metric": "final", "together": None, "best_single": None, "difference": None, "standard_error": None,
           "verdict": None}
    if best is not None:
        out["best_single"] = {"source": best["source"], **sample_stats(best["entry"])}
    if together is None:
        out["text"] = "No pair of this report has a source of several robots (SOURCE+SOURCE:TARGET)."
        return out
    names = " + ".join(together["robots"])
    if best is not None:
        b = out["best_single"]
        best_text = (f"the better single teacher, {best['source']}: {b['mean']:,.0f} ± "
                     f"{b['sample_std'] if b['sample_std'] is not None else float('nan'):,.0f} "
                     f"(mean ± sample std, {b['n']} seeds)")
    else:
        best_text = "no single-teacher cell has finished"
    e = together["entry"]
    if e is None:
        out["text"] = (f"The {names} cell is not run yet (`python -m mjx_mikt.experiments run multi` trains it); "
                       f"{best_text}.")
        return out
    out["together"] = {"source": together["source"], "status": e["status"], **sample_stats(e)}
    if e["status"] != "done":
        out["text"] = (f"The {names} cell is partial ({e['env_steps']:,} env steps so far): no finding until it "
                       f"finishes; {best_text}.")
        return out
    a = out["together"]
    if best is None:
        out["text"] = f"The {names} cell ends at {a['mean']:,.0f}; {best_text}, so there is nothing to compare yet."
        return out
    b = out["best_single"]
    difference = a["mean"] - b["mean"]
    out["difference"] = _round(difference)
    if a["standard_error"] is None or b["standard_error"] is None:
        out["text"] = (f"Final return with {names} teachers at once: {a['mean']:,.0f} ({a['n']} seeds); "
                       f"{best_text}; difference {difference:+,.0f}, with no standard error (one seed).")
        return out
    se = math.hypot(a["standard_error"], b["standard_error"])
    out["standard_error"] = _round(se)
    if difference > 2 * se:
        out["verdict"], words = "better", "more than two standard errors above: the teachers together beat the " \
                                          "better one alone"
    elif difference < -2 * se:
        out["verdict"], words = "worse", "more than two standard errors below: the teachers together do worse " \
                                         "than the better one alone"
    else:
        out["verdict"], words = "equal", ("within two standard errors: the teachers together do as well as the "
                                          "better one alone, no better")
    out["text"] = (f"Final return with the {names} teachers at once: {a['mean']:,.0f} ± {a['sample_std']:,.0f} "
                   f"(mean ± sample std, {a['n']} seeds); {best_text}. Together minus the better one: "
                   f"{difference:+,.0f} ± {se:,.0f} (standard error: each mean's sample std / √n, combined as "
                   f"√(a² + b²)), {words} ({out['verdict']}).")
    return out


# ------------------------------------------------------------------ the weights
def _columns(folder: Path) -> List[str]:
    path = folder / "metrics.csv"
    if not path.is_file():
        return []
    with path.open() as f:
        return next(csv.reader(f), [])


def weight_names(folder: Path) -> Dict[Tuple[str, int], Dict[str, str]]:
    """{(tower, layer): {'p_s': column, <robot>: its p_t column}} of a MIKT cell's metrics.csv."""
    out: Dict[Tuple[str, int], Dict[str, str]] = {}
    for name in _columns(folder):
        parts = name.split("/")
        if parts[0] not in ("p_s", "p_t") or len(parts) != (2 if parts[0] == "p_s" else 3):
            continue
        tower, _, layer = parts[-1].rpartition("_")
        if tower not in TOWERS or not layer.isdigit():
            continue
        out.setdefault((tower, int(layer)), {})["p_s" if parts[0] == "p_s" else parts[1]] = name
    return {k: out[k] for k in sorted(out, key=lambda k: (TOWERS.index(k[0]), k[1]))}


def teacher_phase_end(folder: Path) -> Optional[int]:
    """The env step where the student drops its teachers (the end of the coupling ramp), from config.json."""
    path = folder / "config.json"
    if not path.is_file():
        return None
    config = json.loads(path.read_text())
    if "mikt" not in config:
        return None
    updates = grid.planned_updates(config)
    until = min(updates, math.ceil(config["mikt"]["coupling_end"] * updates))
    return until * config["ppo"]["num_envs"] * config["ppo"]["rollout_length"]


def weights(folder: Path) -> Dict:
    """Each (tower, layer)'s p_s and p_t per teacher of a cell, seed-mean: start / mean / end of the teacher
    phase (its first and last 10% of updates); the env step where p_s (mean over the policy layers and
    seeds) first exceeds 0.5; with several teachers, the one with the highest p_t (policy layers) in each
    tenth of the phase ('about equal' when the top two differ by less than EQUAL_WEIGHTS)."""
    names = weight_names(folder)
    end = teacher_phase_end(folder)
    out = {"teacher_phase_end": end, "layers": {}, "p_s_over_half_at": None}
    policy: Dict[str, list] = {}  # 'p_s' or robot: [seed-mean curve of each policy layer]
    phase = np.arange(0)
    for (tower, layer), columns in names.items():
        summary = {}
        for who_, column in columns.items():
            steps, values = read_metric(folder, column)
            mean = np.nanmean(values, axis=0)
            phase = np.nonzero(steps <= end)[0] if end is not None else np.arange(steps.size)
            if phase.size == 0:
                continue
            edge = max(1, int(round(EDGE_FRACTION * phase.size)))
            summary[who_] = {"start": _round(mean[phase[:edge]].mean()), "phase_mean": _round(mean[phase].mean()),
                             "end": _round(mean[phase[-edge:]].mean())}
            if tower == "policy":
                policy.setdefault(who_, []).append(mean)
        out["layers"][f"{tower}_{layer}"] = summary
    if "p_s" in policy:
        mean = np.mean(policy["p_s"], axis=0)
        over = np.nonzero(mean > 0.5)[0]
        out["p_s_over_half_at"] = int(steps[over[0]]) if over.size else None
    robots = [k for k in policy if k != "p_s"]
    if len(robots) > 1 and phase.size:
        curves = {r: np.mean(policy[r], axis=0) for r in robots}
        leaders = []
        for part in np.array_split(phase, 10):
            if not part.size:
                continue
            ranked = sorted(robots, key=lambda r: -float(curves[r][part].mean()))
            gap = float(curves[ranked[0]][part].mean() - curves[ranked[1]][part].mean())
            leaders.append(ranked[0] if gap >= EQUAL_WEIGHTS else "about equal")
        out["leader_by_tenth"] = leaders
    return out


def _runs(leaders: List[str]) -> str:
    """['A', 'A', 'about equal', 'B'] of 4 tenths -> 'A in tenths 1-2, about equal in 3, B in 4'."""
    parts, start = [], 0
    for i in range(1, len(leaders) + 1):
        if i == len(leaders) or leaders[i] != leaders[start]:
            span = f"{start + 1}" if i - start == 1 else f"{start + 1}-{i}"
            parts.append(f"{leaders[start]} in {'tenth' if i - start == 1 else 'tenths'} {span}")
            start = i
    return ", ".join(parts)


def weights_text(row: Dict, summary: Dict) -> str:
    """In words: which teacher the student of a several-teacher cell reads (policy layers) and when."""
    policy = [v for k, v in summary["layers"].items() if k.startswith("policy_")]
    robots = [r for r in row["robots"] if all(r in layer for layer in policy)]
    if not policy or not robots:
        return "Its metrics.csv logs no teacher weights."

    def mean_of(robot, key):
        return float(np.mean([layer[robot][key] for layer in policy]))

    end = summary["teacher_phase_end"]
    phase = f"the teacher phase, the first {end:,} env steps (the coupling ramp ends there and the student drops " \
            f"its teachers)" if end is not None else "training"
    parts = [f"{r} {mean_of(r, 'start'):.2f} → {mean_of(r, 'phase_mean'):.2f} → {mean_of(r, 'end'):.2f}"
             for r in robots]
    ranked = sorted(robots, key=lambda r: -mean_of(r, "phase_mean"))
    gap = mean_of(ranked[0], "phase_mean") - mean_of(ranked[-1], "phase_mean")
    if gap < EQUAL_WEIGHTS:
        lean = f"the student reads its teachers about equally (their mean weights differ by {gap:.3f} < " \
               f"{EQUAL_WEIGHTS})"
    else:
        lean = f"the student reads {ranked[0]}'s teacher most (mean weight {gap:.2f} above {ranked[-1]}'s)"
    over = summary["p_s_over_half_at"]
    own = (f"its own weight p_s passes 0.5 at {over:,} env steps" if over is not None else
           "its own weight p_s stays at or below 0.5")
    leaders = summary.get("leader_by_tenth")
    when = f" The higher weight, by tenths of the phase: {_runs(leaders)}." if leaders else ""
    return (f"Teacher weights p_t on the policy layers, mean over layers and seeds, start → mean → end of {phase}: "
            + "; ".join(parts) + f". Over that phase {lean}; {own}.{when}")


def weights_table(report: Dict) -> List[str]:
    """A row per (MIKT cell, layer): p_s and each teacher's p_t, start / teacher-phase mean / end."""
    drawn = [r for r in rows(report) if r["robots"] and r["entry"] is not None]
    robots = list(dict.fromkeys(x for r in drawn for x in r["robots"]))
    lines = ["| cell | layer | p_s | " + " | ".join(f"p_t {x}" for x in robots) + " |",
             "|---|---|---|" + "---|" * len(robots)]
    for row in drawn:
        for layer, summary in weights(Path(row["entry"]["cell"]))["layers"].items():
            cells = []
            for key in ["p_s"] + robots:
                s = summary.get(key)
                cells.append(f"{s['start']:.2f} / {s['phase_mean']:.2f} / {s['end']:.2f}" if s else "-")
            lines.append(f"| {who(row)[6:]} | {layer} | " + " | ".join(cells) + " |")
    return lines
