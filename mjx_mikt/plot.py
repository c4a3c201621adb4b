"""Learning curves from run folders: `python -m mjx_mikt.plot RUN_DIR [RUN_DIR...] -o curves.png`.

Evaluation return against env steps (eval.csv), mean ± std over seeds, one
line per run, titled "source to target" like the paper's Figure 3. `--metric`
plots a training scalar from metrics.csv instead; a glob (`'p_s/*'`) draws
every matching scalar, like the paper's Figure 6.
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


def too_few_evaluations(run_dir: Path) -> bool:
    """Fewer than two evaluated steps in eval.csv: no curve to draw (a tiny run evaluates once, at its end)."""
    path = run_dir / "eval.csv"
    return not path.is_file() or len({row["env_steps"] for row in read_csv(path)}) < 2


def plot(run_dirs: Sequence[Path], output: Path, metric: str = "", title: str = "") -> Path:
    """The evaluation return of each run (the paper's curve instead where a run has fewer than two
    evaluations: said in one line), or --metric's scalars."""
    runs = [read_run(Path(d)) for d in run_dirs]
    if not metric and any(too_few_evaluations(run_dir) for _, run_dir in runs) and all(
            (run_dir / "metrics.csv").is_file() for _, run_dir in runs):
        print(f"note: fewer than two evaluations to draw; plotting the training curve ({PAPER_CURVE}, the mean "
              "return of the last 100 training episodes) instead", file=sys.stderr)
        metric = PAPER_CURVE
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    drawn = 0
    for config, run_dir in runs:
        if not metric:
            rows = read_csv(run_dir / "eval.csv")
            columns, ylabel = [("return_mean", label_of(config))], "evaluation return"
        else:
            rows = read_csv(run_dir / "metrics.csv")
            known = [c for c in rows[0].keys() if c not in ("update", "env_steps", "seed")] if rows else []
            names = fnmatch.filter(known, metric)
            if not names:
                raise PlotError(f"no metric matches {metric!r} in {run_dir}; known: {', '.join(known[:12])}, ...")
            columns = [(n, f"{label_of(config)} {n}" if len(names) > 1 or len(runs) > 1 else n) for n in names]
            ylabel = metric
        for column, label in columns:
            steps, mean, std = curves(rows, column)
            if steps.size == 0:
                continue
            line, = ax.plot(steps, mean, label=label, marker="o" if steps.size < 3 else None)
            ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.2)
            drawn += 1
    if drawn == 0:
        raise PlotError("nothing to plot: the runs have no finished evaluations or values yet")
    ax.set_xlabel("env steps")
    ax.set_ylabel(ylabel)
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
    parser.add_argument("--metric", default="", help="a metrics.csv column or glob, e.g. 'p_s/*' (default: eval return)")
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
