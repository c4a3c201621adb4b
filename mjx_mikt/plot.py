"""Learning curves from run folders: `python -m mjx_mikt.plot RUN_DIR [RUN_DIR...] -o curves.png`.

Against env steps, mean ± std over seeds, per run: the training curve (the paper's: the mean
return of the last 100 training episodes, metrics.csv) as a line and the deterministic
evaluation (eval.csv) as markers in the same colour, titled "source to target" like the
paper's Figure 3. `--metric` plots a training scalar from metrics.csv instead; a glob
(`'p_s/*'`) draws every matching scalar, like the paper's Figure 6.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


class PlotError(ValueError):
    """Bad input; the message is one line."""


def read_run(run_dir: Path) -> Tuple[dict, Path]:
    config_file = run_dir / "config.json"
    if not config_file.is_file():
        raise PlotError(f"{run_dir} is not a run folder (no config.json)")
    return json.loads(config_file.read_text()), run_dir


def read_csv(path: Path) -> List[Dict[str, str]]:
    if not path.is_file():
        raise PlotError(f"{path} does not exist (has the run logged anything yet?)")
    with path.open() as f:
        return list(csv.DictReader(f))


def curves(rows: List[Dict[str, str]], column: str) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, mean over seeds, std over seeds) of one column."""
    by_step: Dict[int, List[float]] = defaultdict(list)
    for row in rows:
        value = row.get(column, "")
        if value not in ("", "nan"):
            by_step[int(row["env_steps"])].append(float(value))
    steps = np.array(sorted(by_step))
    values = [np.array(by_step[s]) for s in steps]
    return steps, np.array([v.mean() for v in values]), np.array([v.std() for v in values])


def label_of(config: dict) -> str:
    run = config["run"]
    if run["method"] == "ppo":
        return "ppo (scratch)"
    return f"{run['method']} ({'+'.join(run['source'])})"


def title_of(configs: Sequence[dict]) -> str:
    pairs = []
    for config in configs:
        run = config["run"]
        source = "+".join(run["source"]) if run["method"] != "ppo" else None
        pairs.append((source, run["target"]))
    targets = sorted({t for _, t in pairs})
    sources = sorted({s for s, _ in pairs if s})
    if len(targets) == 1 and len(sources) == 1:
        return f"{sources[0]} to {targets[0]}"
    if len(targets) == 1:
        return f"{', '.join(sources) or 'scratch'} to {targets[0]}" if sources else targets[0]
    return "several target robots: " + ", ".join(targets)


PAPER_CURVE = "episode_return_100"  # the mean raw return of the last 100 training episodes, every update


def series(runs: Sequence[Tuple[dict, Path]], metric: str = "") -> List[Dict]:
    """What to draw: per run, the training curve and the evaluation (default), or --metric's scalars.
    Each: {"run": index, "label", "kind": "training" | "evaluation" | "metric", "steps", "mean", "std"}."""
    out = []
    for index, (config, run_dir) in enumerate(runs):
        if not metric:
            found = []
            if (run_dir / "metrics.csv").is_file():
                found.append(("training", run_dir / "metrics.csv", PAPER_CURVE, "training (last 100 episodes)"))
            if (run_dir / "eval.csv").is_file():
                found.append(("evaluation", run_dir / "eval.csv", "return_mean", "evaluation (deterministic)"))
            if not found:
                raise PlotError(f"{run_dir} has neither metrics.csv nor eval.csv (has the run logged anything yet?)")
            columns = [(kind, read_csv(path), column, f"{label_of(config)} {what}")
                       for kind, path, column, what in found]
        else:
            rows = read_csv(run_dir / "metrics.csv")
            known = [c for c in rows[0].keys() if c not in ("update", "env_steps", "seed")] if rows else []
            names = fnmatch.filter(known, metric)
            if not names:
                raise PlotError(f"no metric matches {metric!r} in {run_dir}; known: {', '.join(known[:12])}, ...")
            columns = [("metric", rows, n, f"{label_of(config)} {n}" if len(names) > 1 or len(runs) > 1 else n)
                       for n in names]
        for kind, rows, column, label in columns:
            steps, mean, std = curves(rows, column)
            if steps.size:
                out.append({"run": index, "label": label, "kind": kind, "steps": steps, "mean": mean, "std": std})
    return out


def plot(run_dirs: Sequence[Path], output: Path, metric: str = "", title: str = "") -> Path:
    """Each run's training curve and evaluation together (the evaluation as markers in the run's colour),
    or --metric's scalars."""
    runs = [read_run(Path(d)) for d in run_dirs]
    drawn = series(runs, metric)
    if not drawn:
        raise PlotError("nothing to plot: the runs have no finished evaluations or values yet")
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    colours: Dict[int, str] = {}
    for s in drawn:
        steps, mean, std = s["steps"], s["mean"], s["std"]
        style = dict(color=colours.get(s["run"])) if s["kind"] == "evaluation" and s["run"] in colours else {}
        if s["kind"] == "evaluation":
            line, = ax.plot(steps, mean, label=s["label"], marker="o", linestyle="--", linewidth=1, **style)
            ax.errorbar(steps, mean, yerr=std, fmt="none", ecolor=line.get_color(), alpha=0.5)
        else:
            line, = ax.plot(steps, mean, label=s["label"], marker="o" if steps.size < 3 else None)
            ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.2)
        colours.setdefault(s["run"], line.get_color())
    ax.set_xlabel("env steps")
    ax.set_ylabel(metric or "return")
    ax.set_title(title or title_of([c for c, _ in runs]))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output)
    plt.close(fig)
    return output


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mjx_mikt.plot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", nargs="+", type=Path, help="run folders (each with config.json)")
    parser.add_argument("-o", "--output", type=Path, default=Path("curves.png"), help="PNG to write")
    parser.add_argument("--metric", default="", help="a metrics.csv column or glob, e.g. 'p_s/*' (default: the "
                                                     "training curve, episode_return_100, and the evaluation return)")
    parser.add_argument("--title", default="", help="plot title (default: 'source to target')")
    args = parser.parse_args(argv)
    try:
        path = plot(args.run_dirs, args.output, args.metric, args.title)
    except PlotError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
