"""The documents' result tables, generated from the committed reports: `python -m mjx_mikt.experiments.readme`.

A block in README.md or docs/*.md looks like

    <!-- NAME-table: generated from PATH -->
    ...lines written by this module...
    <!-- /NAME-table -->

and is rewritten from the report at PATH (relative to the repository root) by the table NAME of the
experiment that owns it (its `blocks()`, registry.blocks()). `tests/test_results.py`
checks that every document is what this module would write, so a number in a table is a number of a
committed report.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import List

from mjx_mikt.experiments import registry

BLOCK = re.compile(r"(<!-- (?P<name>[\w-]+)-table: generated from (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- /(?P=name)-table -->)",
                   re.S)


def render(text: str, root: Path) -> str:
    """`text` (a README) with every generated block rewritten from its report under `root`."""
    def replace(match: re.Match) -> str:
        path = root / match["path"]
        if path.is_dir():  # a protocol folder: every figure report in it, by figure
            data = {p.parent.name: json.loads(p.read_text()) for p in sorted(path.glob("*/report.json"))}
        else:
            data = json.loads(path.read_text())
        lines = registry.blocks()[match["name"]](data)
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
