"""The documents' result tables, generated from the committed reports: `python -m mjx_mikt.experiments.readme`.

A block in README.md or docs/*.md looks like

    <!-- NAME-table: generated from PATH -->
    ...lines written by this module...
    <!-- /NAME-table -->

and is rewritten from the report at PATH (relative to the repository root). `tests/test_results.py`
checks that every document is what this module would write, so a number in a table is a number of a
committed report.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Callable, Dict, List

from mjx_mikt.experiments import by_teacher, comparisons, grid, multi, report, scale

BLOCK = re.compile(r"(<!-- (?P<name>[\w-]+)-table: generated from (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- /(?P=name)-table -->)",
                   re.S)


def _pair(source: str, target: str) -> Callable[[Dict], List[str]]:
    """The table of one transfer pair of a report (fig3, fig4, fig7)."""
    def table(data: Dict) -> List[str]:
        pair = next(p for p in data["pairs"] if (p["source"], p["target"]) == (source, target))
        return report.pair_table(pair)

    return table


_four_to_eight = _pair("CentipedeFour", "CentipedeEight")

# figure -> (methods it adds to a pair's row, in order); the first figure that shows a (pair, method) owns it
SUMMARY_FIGURES = (("fig3", ("mikt", "ppo", "mlpp")), ("fig4", ("mikt-no-mi", "mikt-no-rl-grad")),
                   ("fig7", ("mikt-no-kl",)), ("fig5", ("mikt",)))


def summary_table(data: Dict) -> List[str]:
    """One row per (figure, pair, method) measured, over every figure report of a protocol folder
    (`data`: {figure: report}); Fig. 3's pairs with no cell say so."""
    lines = ["| figure | pair | method | final (paper curve) | eval (deterministic) | /PPO final | status "
             "| the authors' PPO on the student |", "|---|---|---|---|---|---|---|---|"]
    shown = set()
    for figure, methods in SUMMARY_FIGURES:
        found = data.get(figure, {"pairs": []})["pairs"]
        pairs = {(p["source"], p["target"]): p for p in found}
        order = list(pairs) if figure != "fig3" else [(grid.robot(s), grid.robot(t)) for s, t in
                                                      (x.split(":") for x in grid.FIG3_PAIRS)]
        for key in order:
            pair, name = pairs.get(key), f"{grid.LONG.get(key[0], key[0])} → {grid.LONG.get(key[1], key[1])}"
            if pair is None or not pair["methods"]:
                lines.append(f"| {figure} | {name} | - | not run yet | | | | |")
                continue
            ppo_final = (pair["methods"].get("ppo") or {}).get("final", {}).get("mean")
            for method in methods:
                entry = pair["methods"].get(method)
                if entry is None or (key, method) in shown:
                    continue
                shown.add((key, method))
                final = entry["final"]["mean"]
                ratio = f"{final / ppo_final:.2f}" if final is not None and ppo_final else "-"
                authors = report.authors_range(key[1]) if method == "ppo" else ""
                lines.append(f"| {figure} | {name} | {method} | {report.mean_std_text(entry['final'])} | "
                             f"{report.mean_std_text(entry.get('eval_return'))} | {ratio} | {entry['status']} | "
                             f"{authors} |")
    return lines

# block name -> the table's lines from the report's JSON
TABLES: Dict[str, Callable[[Dict], List[str]]] = {"fig3a": _four_to_eight, "fig4": _four_to_eight,
                                                   "fig3b": _pair("CentipedeSix", "CentipedeEight"),
                                                   "fig3c": _pair("CentipedeFour", "CpCentipedeSix"),
                                                   "fig3d": _pair("CentipedeSix", "CpCentipedeEight"),
                                                   "fig3e": _pair("CentipedeFour", "Ant"),
                                                   "fig3f": _pair("CentipedeSix", "Ant"),
                                                   "fig7": _four_to_eight, "shapes": comparisons.table,
                                                   "backends": comparisons.table, "fig5": by_teacher.table,
                                                   "fig5-teachers": by_teacher.teachers_table,
                                                   "summary": summary_table, "scale": scale.table,
                                                   "own-robot": lambda data: report.pair_table(data["pairs"][0]),
                                                   "multi": multi.table,
                                                   "multi-finding": lambda data: [multi.finding(data)["text"]]}


def render(text: str, root: Path) -> str:
    """`text` (a README) with every generated block rewritten from its report under `root`."""
    def replace(match: re.Match) -> str:
        path = root / match["path"]
        if path.is_dir():  # a protocol folder: every figure report in it, by figure
            data = {p.parent.name: json.loads(p.read_text()) for p in sorted(path.glob("*/report.json"))}
        else:
            data = json.loads(path.read_text())
        lines = TABLES[match["name"]](data)
        return match.group(1) + "\n".join(lines) + "\n" + match.group(5)

    return BLOCK.sub(replace, text)


def blocks(text: str) -> List[str]:
    """The names of the generated blocks in `text`."""
    return [m["name"] for m in BLOCK.finditer(text)]


def documents(root: Path) -> List[Path]:
    """The files that may hold generated blocks: README.md and docs/*.md."""
    return [root / "README.md"] + sorted((root / "docs").glob("*.md"))


def main() -> int:
    root = Path.cwd()
    for path in documents(root):
        text = path.read_text()
        if not blocks(text):
            continue
        new = render(text, root)
        if new != text:
            path.write_text(new)
        print(f"{path.relative_to(root)}: {', '.join(blocks(text))} {'updated' if new != text else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
