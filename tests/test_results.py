"""The committed results are what the committed CSVs say: every committed report regenerates to
the same numbers, and the README quotes the report's table."""

import json
from pathlib import Path

import pytest

from mjx_mikt.experiments import grid, registry, report

REPO = Path(__file__).resolve().parents[1]
REPORTS = sorted((REPO / "results").glob("*/*/report.json"))


@pytest.mark.parametrize("path", REPORTS, ids=[str(p.relative_to(REPO)) for p in REPORTS])
def test_committed_report_regenerates_from_the_committed_csvs(path, monkeypatch):
    monkeypatch.chdir(REPO)  # the report's cell paths are relative to the repo root
    committed = json.loads(path.read_text())
    p = committed["protocol"]
    protocol = grid.Protocol(out=Path(p["out"]), seeds=p["seeds"], timesteps=p["timesteps"], preset=p["preset"],
                             backend=p["backend"])
    experiment = registry.KINDS[committed["experiment"]]
    pairs = tuple((robot_file(pair["source"]), robot_file(pair["target"])) for pair in committed["pairs"])
    methods = list(dict.fromkeys(m for pair in committed["pairs"] for m in pair["methods"])) or None
    assert report.build(experiment, protocol, pairs, methods) == committed


def robot_file(name: str) -> str:
    """A report names an MJCF robot by its file name (the same on any machine); the committed ones
    (results/own-robot/run.sh) are Gymnasium's bundled models, so that is where the file lies here."""
    if not name.endswith(".xml"):
        return name
    import gymnasium

    return str(Path(gymnasium.__file__).parent / "envs" / "mujoco" / "assets" / name)


COMPARISON_REPORTS = sorted(p for name in ("shapes", "backends") for p in (REPO / "results").glob(f"{name}-*/report.json"))


@pytest.mark.parametrize("path", COMPARISON_REPORTS, ids=[str(p.relative_to(REPO)) for p in COMPARISON_REPORTS])
def test_committed_comparison_report_regenerates_from_the_committed_csvs(path, monkeypatch):
    monkeypatch.chdir(REPO)
    committed = json.loads(path.read_text())
    assert registry.KINDS[committed["experiment"]].rebuild(committed) == committed


def test_documents_tables_are_the_committed_reports():
    """Every generated block of the README and docs/ (fig3a, shapes, ...) equals what its report gives today."""
    from mjx_mikt.experiments import readme

    found = []
    for path in readme.documents(REPO):
        text = path.read_text()
        found += readme.blocks(text)
        assert readme.render(text, REPO) == text, f"{path.name}: run python -m mjx_mikt.experiments.readme"
    assert {"fig3a", "fig3b", "fig4", "fig5", "fig7", "shapes", "summary"} <= set(found)


def test_readme_block_rewriting_replaces_only_the_block(tmp_path):
    from mjx_mikt.experiments import readme

    data = {"variants": {}, "protocols": {}}
    (tmp_path / "r.json").write_text(json.dumps(data))
    text = "intro\n<!-- shapes-table: generated from r.json -->\nold line\n<!-- /shapes-table -->\nend\n"
    out = readme.render(text, tmp_path)
    assert out.startswith("intro\n<!-- shapes-table: generated from r.json -->\n| variant |")
    assert "old line" not in out and out.endswith("<!-- /shapes-table -->\nend\n")


SCALE_REPORTS = sorted((REPO / "results").glob("scale-*/report.json"))


@pytest.mark.parametrize("path", SCALE_REPORTS, ids=[str(p.relative_to(REPO)) for p in SCALE_REPORTS])
def test_committed_scale_report_regenerates_from_the_committed_csvs_and_bench_file(path, monkeypatch):
    monkeypatch.chdir(REPO)
    committed = json.loads(path.read_text())
    assert registry.KINDS[committed["experiment"]].rebuild(committed) == committed
