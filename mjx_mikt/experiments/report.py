"""Tables and figures of an experiment from whatever cells exist (finished or not).

The curve is the paper's: `episode_return_100`, the mean raw return of the
last 100 finished training episodes, per update and seed (metrics.csv). Per
(pair, method), over seeds (mean ± std):

- final: the curve's mean over the last 10% of the cell's updates;
- auc: the curve's mean over all updates (area under the curve / steps);
- jumpstart: the curve's mean over the first 5% of updates;
- steps_to_ppo: first env step where the seed-mean curve reaches PPO's final
  mean on the same target (None if never, or no PPO cell);
- ratios of MIKT's final and auc to PPO's and MLPP's.

Only finished updates count; a partial cell is reported with its updates so far
and marked as such.
"""

from __future__ import annotations

import csv
import json
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from mjx_mikt.checkpoint import write_atomic
from mjx_mikt.envs.mjcf import display_name
from mjx_mikt.experiments.grid import LONG, Cell, Protocol, parse_pairs, planned_updates, teacher_store

CURVE = "episode_return_100"
COLOURS = {"mikt": "tab:blue", "ppo": "tab:orange", "mlpp": "tab:red", "mikt-no-mi": "tab:purple",
           "mikt-no-rl-grad": "tab:brown", "mikt-no-kl": "tab:green"}
FINAL_FRACTION, JUMPSTART_FRACTION = 0.10, 0.05
# The returns the authors' PPO teachers reached at 2M steps, 5 seeds (SPEC §3): the yardstick for ours.
AUTHORS_TEACHER_RETURNS = {"CentipedeFour": (1683, 3601), "CentipedeSix": (953, 3197),
                           "CentipedeEight": (789, 2138), "CpCentipedeSix": (745, 2626),
                           "CpCentipedeEight": (483, 1444), "Ant": (557, 950), "Hopper": (1754, 3429)}


def read_metric(folder: Path, name: str, csv_name: str = "metrics.csv"):
    """(env_steps (U,), values (seeds, U)) of one column of a run's CSV; None if absent."""
    path = folder / csv_name
    if not path.is_file():
        return None
    with path.open() as f:
        rows = list(csv.DictReader(f))
    if not rows or name not in rows[0]:
        return None
    steps = sorted({int(r["env_steps"]) for r in rows})
    seeds = sorted({int(r["seed"]) for r in rows})
    index = {s: i for i, s in enumerate(steps)}
    values = np.full((len(seeds), len(steps)), np.nan)
    for r in rows:
        if r[name] != "":
            values[int(r["seed"]), index[int(r["env_steps"])]] = float(r[name])
    return np.asarray(steps), values


def _window_mean(values: np.ndarray, start: int, stop: int) -> np.ndarray:
    window = values[:, start:stop]
    out = np.full(values.shape[0], np.nan)
    for i, row in enumerate(window):
        finite = row[np.isfinite(row)]
        if finite.size:
            out[i] = finite.mean()
    return out


def curve_stats(steps: np.ndarray, values: np.ndarray) -> Dict[str, np.ndarray]:
    """Per-seed final / auc / jumpstart of a (seeds, U) curve."""
    u = values.shape[1]
    return {
        "final": _window_mean(values, u - max(1, int(round(FINAL_FRACTION * u))), u),
        "auc": _window_mean(values, 0, u),
        "jumpstart": _window_mean(values, 0, max(1, int(round(JUMPSTART_FRACTION * u)))),
    }


def _num(x) -> Optional[float]:
    x = float(x)
    return round(x, 2) if np.isfinite(x) else None


def _mean_std(per_seed: np.ndarray) -> Dict:
    finite = per_seed[np.isfinite(per_seed)]
    return {"mean": _num(finite.mean()) if finite.size else None,
            "std": _num(finite.std()) if finite.size else None,
            "per_seed": [_num(x) for x in per_seed]}


def teacher_records(protocol: Protocol, source: str) -> List[Dict]:
    out = []
    for path in sorted((teacher_store(protocol, source) / source).glob("seed_*/teacher.json"),
                       key=lambda p: int(p.parent.name[5:])):
        meta = json.loads(path.read_text())
        out.append({"seed": meta.get("seed"), "episode_return_100": _num(meta.get("episode_return_100") or np.nan),
                    "eval_return": _num(meta.get("eval_return", np.nan))})
    return out


def finished_or_partial(folder: Path) -> str:
    """'done' if the cell's summary says it finished all its updates, else 'partial'.

    Read from the committed files only (not checkpoints), so a report regenerated on a fresh
    clone says the same.
    """
    summary, config = folder / "summary.json", folder / "config.json"
    if summary.is_file() and config.is_file():
        data, run = json.loads(summary.read_text()), json.loads(config.read_text())
        if data.get("status", "finished") == "finished" and not data.get("interrupted") \
                and data.get("updates") == planned_updates(run):
            return "done"
    return "partial"


def cell_entry(cell: Cell, protocol: Protocol) -> Optional[Dict]:
    return folder_entry(cell.folder(protocol))


def folder_entry(folder: Path) -> Optional[Dict]:
    """A run folder's curve statistics, status and final evaluation (None without a metrics.csv)."""
    curve = read_metric(folder, CURVE)
    if curve is None:
        return None
    steps, values = curve
    stats = curve_stats(steps, values)
    entry = {"cell": str(folder), "status": finished_or_partial(folder), "seeds": int(values.shape[0]),
             "env_steps": int(steps[-1]), "updates": int(steps.size)}
    entry.update({k: _mean_std(v) for k, v in stats.items()})
    summary = folder / "summary.json"
    if summary.is_file():
        data = json.loads(summary.read_text())
        entry["wall_time_s"] = data.get("wall_time_s")
        entry["eval_return"] = _mean_std(np.asarray(data.get("eval_return_per_seed", []), dtype=float))
    return entry


def steps_to_reach(steps: np.ndarray, values: np.ndarray, level: Optional[float]) -> Optional[int]:
    if level is None:
        return None
    mean = np.nanmean(np.where(np.isfinite(values), values, np.nan), axis=0) if values.size else values
    hit = np.nonzero(np.isfinite(mean) & (mean >= level))[0]
    return int(steps[hit[0]]) if hit.size else None


def build(experiment, protocol: Protocol, pairs=None, methods=None) -> Dict:
    """The report's numbers of a figure (figures.Figure), from the cells' CSVs only.

    A pair with no cell of the methods asked for (default: the experiment's `shown_with`, else any of its
    methods) is left out, with one line on stderr.
    """
    pairs = pairs or parse_pairs(",".join(experiment.pairs))
    shown_with = list(methods or experiment.shown_with or experiment.methods)
    methods = list(methods or experiment.methods)
    report = {"experiment": experiment.name, "title": experiment.title, "protocol": {
        "out": str(protocol.out), "seeds": protocol.seeds, "timesteps": protocol.timesteps,
        "preset": protocol.preset, "backend": protocol.backend}, "pairs": []}
    report["protocol"].update({"base": str(protocol.base)} if protocol.base is not None else {})
    for source, target in pairs:
        # an MJCF robot by its file name: the report reads the same on any machine, wherever the file lies
        pair = {"source": display_name(source), "target": display_name(target),
                "teachers": teacher_records(protocol, source), "methods": {}}
        for method in methods:
            cell = Cell("", target, "ppo") if method == "ppo" else Cell(source, target, method)
            entry = cell_entry(cell, protocol)
            if entry is not None:
                pair["methods"][method] = entry
        if not any(method in pair["methods"] for method in shown_with):
            print(f"{experiment.name}: {LONG.get(source, source)} -> {LONG.get(target, target)} left out: no "
                  f"{' or '.join(shown_with)} cell yet", file=sys.stderr)
            continue
        # final, auc and ratios compare finished cells only; a partial cell is compared at the last
        # env step every cell of the pair has reached
        ppo = pair["methods"].get("ppo", {})
        ppo_final = ppo.get("final", {}).get("mean") if ppo.get("status") == "done" else None
        common = min((e["env_steps"] for e in pair["methods"].values()), default=None)
        pair["common_env_steps"] = common
        for method, entry in pair["methods"].items():
            steps, values = read_metric(Path(entry["cell"]), CURVE)
            entry["steps_to_ppo_final"] = steps_to_reach(steps, values, ppo_final) if method != "ppo" else None
            entry["at_common_steps"] = _mean_std(values[:, int(np.searchsorted(steps, common))])
        mikt = pair["methods"].get("mikt")
        for base in ("ppo", "mlpp"):
            other = pair["methods"].get(base)
            both_done = bool(mikt and other and mikt["status"] == other["status"] == "done")
            for key in ("final", "auc"):
                a = mikt[key]["mean"] if both_done else None
                b = other[key]["mean"] if both_done else None
                pair[f"mikt_over_{base}_{key}"] = round(a / b, 3) if a is not None and b not in (None, 0) else None
        report["pairs"].append(pair)
    return report


def mean_std_text(stat: Optional[Dict]) -> str:
    if not stat or stat.get("mean") is None:
        return "-"
    return f"{stat['mean']:,.0f} ± {stat['std']:,.0f}"


def pair_table(pair: Dict) -> List[str]:
    """The markdown table of one pair (also what docs/results.md quotes; tests/test_results.py compares)."""
    common = pair.get("common_env_steps")
    lines = ["| method | final | auc | jumpstart | at " + (f"{common:,}" if common else "-") + " steps | "
             "steps to PPO's final | eval (deterministic) | seeds | steps | status | wall time |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for method, e in pair["methods"].items():
        lines.append(f"| {method} | {entry_cells(e, ('final', 'auc', 'jumpstart', 'at_common_steps'))} |")
    return lines


def entry_cells(e: Dict, stats: Sequence[str] = ("final", "auc", "jumpstart")) -> str:
    """A cell entry's table cells after the row's label: `stats` (mean ± std), steps to PPO's final,
    deterministic evaluation, seeds, env steps, status, wall time (the figures' and Fig. 5's tables)."""
    reach = f"{e['steps_to_ppo_final']:,}" if e.get("steps_to_ppo_final") else "-"
    wall = f"{e['wall_time_s'] / 60:.0f} min" if e.get("wall_time_s") else "-"
    values = " | ".join(mean_std_text(e.get(k)) for k in stats)
    return (f"{values} | {reach} | {mean_std_text(e.get('eval_return'))} | {e['seeds']} | {e['env_steps']:,} | "
            f"{e['status']} | {wall}")


def teachers_text(pair: Dict) -> Dict[str, str]:
    """A pair's teachers as text: 'seeds', per-seed 'episode_return_100' and 'eval_return' ("-" where
    unknown), and the 'authors' range of returns for that robot ("-" if the paper gives none)."""
    out = {"seeds": ", ".join(str(t["seed"]) for t in pair["teachers"])}
    for key in ("episode_return_100", "eval_return"):
        out[key] = ", ".join("-" if t[key] is None else f"{t[key]:,.0f}" for t in pair["teachers"])
    out["authors"] = authors_range(pair["source"])
    return out


def authors_range(robot: str) -> str:
    """The range of returns the authors' PPO reached on `robot` at 2M steps, as text ("-" if none)."""
    authors = AUTHORS_TEACHER_RETURNS.get(robot)
    return f"{authors[0]:,}-{authors[1]:,}" if authors else "-"


def markdown(report: Dict) -> str:
    p = report["protocol"]
    lines = [f"# {report['title']}", "",
             f"Protocol: {p['seeds']} seeds x {p['timesteps']:,} env steps, preset `{p['preset']}`, backend "
             f"`{p['backend']}`, cells in `{p['out']}`" + (f" (those done in `{p['base']}` read from there)"
                                                          if p.get("base") else "") + ". Curve: mean raw return of the last 100 training "
             "episodes (the paper's). final = last 10% of a cell's updates, auc = mean over its training, "
             "jumpstart = first 5%, 'at N steps' = the curve at the last env step every cell of the pair has "
             "reached (how a partial cell compares); mean ± std over seeds. Ratios and steps to PPO's final "
             "return need finished cells.", ""]
    for pair in report["pairs"]:
        lines += [f"## {pair['source']} → {pair['target']}", ""]
        if pair["teachers"]:
            t = teachers_text(pair)
            theirs = f"; the authors' teachers: {t['authors']}" if t["authors"] != "-" else ""
            lines += [f"Teachers ({pair['source']}, seeds {t['seeds']}; student seed i reads teacher i): "
                      f"training return (last 100 episodes) {t['episode_return_100']}; "
                      f"deterministic evaluation {t['eval_return']}{theirs}", ""]
        lines += pair_table(pair)
        authors = authors_range(pair["target"])
        if "ppo" in pair["methods"] and authors != "-":
            lines += ["", f"The authors' PPO on {pair['target']} reached {authors} at 2M steps (5 seeds, SPEC §3)."]
        ratios = [f"MIKT/{b.upper()} {k} {pair[f'mikt_over_{b}_{k}']}" for b in ("ppo", "mlpp")
                  for k in ("final", "auc") if pair.get(f"mikt_over_{b}_{k}") is not None]
        lines += ["", ("Ratios: " + ", ".join(ratios)) if ratios else "", ""]
    return "\n".join(lines).rstrip() + "\n"


def save_png(fig, path: Path, dpi: int = 90) -> Path:
    """Save `fig` as a PNG at `path` unless the file there already shows the same pixels: a report
    regenerated from unchanged data leaves its committed PNGs untouched (even where another matplotlib
    version would write other metadata bytes)."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=dpi, format="png")
    data = buffer.getvalue()
    path = Path(path)
    if path.is_file():
        old = path.read_bytes()
        if old == data:
            return path
        try:
            from PIL import Image

            a, b = Image.open(io.BytesIO(old)), Image.open(io.BytesIO(data))
            if a.size == b.size and a.mode == b.mode and a.tobytes() == b.tobytes():
                return path
        except Exception:  # an unreadable old file is replaced
            pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def figure(report: Dict, path: Path, metric: str = CURVE, csv_name: str = "metrics.csv",
           ylabel: str = "average return (last 100 training episodes)") -> Optional[Path]:
    """One panel per pair, x = env steps, mean ± std over seeds shaded, methods in fixed colours."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = [p for p in report["pairs"] if p["methods"]]
    if not pairs:
        return None
    cols = min(3, len(pairs))
    rows = (len(pairs) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    for ax, pair in zip(axes.flat, pairs):
        for method, entry in pair["methods"].items():
            data = read_metric(Path(entry["cell"]), metric, csv_name)
            if data is None:
                continue
            steps, values = data
            with np.errstate(all="ignore"):
                mean, std = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
            colour = COLOURS.get(method)
            ax.plot(steps, mean, label=f"{method} ({values.shape[0]})", color=colour, lw=1.4)
            ax.fill_between(steps, mean - std, mean + std, color=colour, alpha=0.2, lw=0)
        ax.set_title(pair.get("panel") or
                     f"{LONG.get(pair['source'], pair['source'])} to {LONG.get(pair['target'], pair['target'])}")
        ax.set_xlabel("env steps")
        ax.set_ylabel(ylabel, fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(pairs):]:
        ax.axis("off")
    fig.suptitle(textwrap.fill(report["title"], 60 * cols), fontsize=10)  # one 5-inch panel: ~60 chars
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)
    return path


def draw_mixing(ax, report: Dict, colours: Optional[Sequence[str]] = None) -> bool:
    """The student weight p_s (mean over policy layers; mean ± std over seeds) of each pair's MIKT cell
    on `ax`, the i-th MIKT cell in colours[i] if given; False if no cell has it."""
    drawn = False
    cells = [(pair, pair["methods"]["mikt"]) for pair in report["pairs"] if "mikt" in pair["methods"]]
    for i, (pair, entry) in enumerate(cells):
        colour = colours[i % len(colours)] if colours else None
        layers = [read_metric(Path(entry["cell"]), f"p_s/policy_{j}") for j in range(8)]
        layers = [x for x in layers if x is not None]
        if not layers:
            continue
        steps = layers[0][0]
        values = np.mean([v for _, v in layers], axis=0)  # (seeds, U)
        mean, std = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
        ax.plot(steps, mean, label=f"{pair['source']} → {pair['target']}", color=colour)
        ax.fill_between(steps, mean - std, mean + std, color=colour, alpha=0.2, lw=0)
        drawn = True
    ax.set_xlabel("env steps")
    ax.set_ylabel("student weight p_s (policy layers)")
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(fontsize=7)
    return drawn


def mixing_figure(report: Dict, path: Path) -> Optional[Path]:
    """Fig. 5b/6: the student weight p_s (mean over policy layers) of the MIKT cells through training."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    if not draw_mixing(ax, report):
        plt.close(fig)
        return None
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)
    return path


def finish(folder: Path, data: Dict, text: str, images: Dict[str, Optional[Path]],
           alts: Optional[Dict[str, str]] = None) -> Dict[str, Path]:
    """Write report.json (`data`) and report.md (`text` and a link to each image drawn, its alt text its
    key or alts[key]) in `folder`; returns their paths and the images'."""
    written = {"json": folder / "report.json", "md": folder / "report.md"}
    write_atomic(written["json"], json.dumps(data, indent=2) + "\n")
    for key, image in images.items():
        if image is not None:
            written[key] = image
            text += f"\n![{(alts or {}).get(key, key)}]({image.name})\n"
    write_atomic(written["md"], text)
    return written
