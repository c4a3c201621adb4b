"""The committed results are what the committed CSVs say: every committed report regenerates to
the same numbers, and the README quotes the report's table."""

import json
from pathlib import Path

import pytest

from mjx_mikt.experiments import grid, report

REPO = Path(__file__).resolve().parents[1]
REPORTS = sorted((REPO / "results").glob("*/*/report.json"))


@pytest.mark.parametrize("path", REPORTS, ids=[str(p.relative_to(REPO)) for p in REPORTS])
def test_committed_report_regenerates_from_the_committed_csvs(path, monkeypatch):
    monkeypatch.chdir(REPO)  # the report's cell paths are relative to the repo root
    committed = json.loads(path.read_text())
    p = committed["protocol"]
    protocol = grid.Protocol(out=Path(p["out"]), seeds=p["seeds"], timesteps=p["timesteps"], preset=p["preset"],
                             backend=p["backend"])
    experiment = grid.EXPERIMENTS[committed["experiment"]]
    pairs = tuple((pair["source"], pair["target"]) for pair in committed["pairs"])
    methods = list(dict.fromkeys(m for pair in committed["pairs"] for m in pair["methods"])) or None
    assert report.build(experiment, protocol, pairs, methods) == committed


def test_readme_quotes_the_fig3a_table():
    path = REPO / "results" / "paper-2M" / "fig3" / "report.json"
    if not path.is_file():
        pytest.skip("no committed Fig. 3 report yet")
    pair = next((p for p in json.loads(path.read_text())["pairs"]
                 if (p["source"], p["target"]) == ("CentipedeFour", "CentipedeEight")), None)
    if pair is None or not pair["methods"]:
        pytest.skip("no Four -> Eight cells in the committed report")
    readme = (REPO / "README.md").read_text()
    for line in report.pair_table(pair):
        assert line in readme, line
