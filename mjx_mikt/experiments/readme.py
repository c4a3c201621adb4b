"""The README's result tables, generated from the committed reports: `python -m mjx_mikt.experiments.readme`.

A block in README.md looks like

    <!-- NAME-table: generated from PATH -->
    ...lines written by this module...
    <!-- /NAME-table -->

and is rewritten from the report at PATH. `tests/test_results.py` checks that the README is what
this module would write, so a number in the README is a number of a committed report.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Callable, Dict, List

from mjx_mikt.experiments import by_teacher, comparisons, report

BLOCK = re.compile(r"(<!-- (?P<name>[\w-]+)-table: generated from (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- /(?P=name)-table -->)",
                   re.S)


def _pair(source: str, target: str) -> Callable[[Dict], List[str]]:
    """The table of one transfer pair of a report (fig3, fig4, fig7)."""
    def table(data: Dict) -> List[str]:
        pair = next(p for p in data["pairs"] if (p["source"], p["target"]) == (source, target))
        return report.pair_table(pair)

    return table


_four_to_eight = _pair("CentipedeFour", "CentipedeEight")

# block name -> the table's lines from the report's JSON
TABLES: Dict[str, Callable[[Dict], List[str]]] = {"fig3a": _four_to_eight, "fig4": _four_to_eight,
                                                   "fig3b": _pair("CentipedeSix", "CentipedeEight"),
                                                   "fig7": _four_to_eight, "shapes": comparisons.table,
                                                   "backends": comparisons.table, "fig5": by_teacher.table,
                                                   "fig5-teachers": by_teacher.teachers_table}


def render(text: str, root: Path) -> str:
    """`text` (a README) with every generated block rewritten from its report under `root`."""
    def replace(match: re.Match) -> str:
        data = json.loads((root / match["path"]).read_text())
        lines = TABLES[match["name"]](data)
        return match.group(1) + "\n".join(lines) + "\n" + match.group(5)

    return BLOCK.sub(replace, text)


def blocks(text: str) -> List[str]:
    """The names of the generated blocks in `text`."""
    return [m["name"] for m in BLOCK.finditer(text)]


def main() -> int:
    root = Path.cwd()
    path = root / "README.md"
    text = path.read_text()
    new = render(text, root)
    path.write_text(new)
    print(f"README.md: {', '.join(blocks(text))} {'updated' if new != text else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
