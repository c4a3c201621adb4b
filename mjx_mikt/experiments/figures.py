"""The paper's figures as a `Kind`: a grid of (pair, method) cells in one protocol folder, and its report.

A figure's report (report.py's numbers, tables and curves) goes to <out>/<figure>/; a figure may add
sections after the per-pair tables (Fig. 5's one-student panel, by_teacher.section; the several-teacher
finding of `multi`, multi_report.section). Its README blocks are tables of its report.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mjx_mikt.config import METHODS, ConfigError
from mjx_mikt.experiments import report
from mjx_mikt.experiments.grid import LONG, cells_of, parse_pairs, robot
from mjx_mikt.experiments.kind import Kind, Table, protocol_from, protocol_of

FIG3_PAIRS = ("Four:Eight", "Six:Eight", "Four:CpSix", "Six:CpEight", "Four:Ant", "Six:Ant")
# A further view of a report: (report, folder, figure name) -> (markdown section, {key: PNG or None})
Section = Callable[[Dict, Path, str], Tuple[str, Dict[str, Optional[Path]]]]


@dataclass(frozen=True)
class Figure(Kind):
    name: str
    title: str
    pairs: Tuple[str, ...]  # "Source:Target" with short names
    methods: Tuple[str, ...]
    mixing_curves: bool = False  # also plot p_s (Fig. 5b/6)
    # the report shows a pair once it has a cell of one of these methods (default: of any of its methods), so
    # an ablation's report does not fill up with pairs that have only the MIKT and PPO cells of Fig. 3
    shown_with: Tuple[str, ...] = ()
    sections: Tuple[Section, ...] = ()  # what the report adds after the per-pair tables
    tables: Tuple[Tuple[str, Table], ...] = ()  # its README blocks

    def describe(self) -> str:
        return (f"pairs: {', '.join(self.pairs)}; methods: {', '.join(self.methods)}; "
                f"{len(cells_of(self.pairs, self.methods))} cells")

    def selection(self, args):
        """The pairs and methods of --pairs and --methods (None: the figure's)."""
        pairs = parse_pairs(args.pairs) if args.pairs else None
        methods = tuple(m.strip() for m in args.methods.split(",")) if args.methods else None
        for m in methods or ():
            if m not in METHODS:
                raise ConfigError(f"unknown method {m!r}; choose one of: {', '.join(METHODS)}")
        return pairs, methods

    def groups(self, args):
        pairs, methods = self.selection(args)
        return {"": (protocol_from(args), cells_of(self.pairs, self.methods, pairs, methods))}

    def build(self, args, groups):
        """The numbers, built where the report goes: the committed folder (protocol.base) when the report is
        its own, over the figure's pairs and methods with no cell of runs/ (a regeneration, byte-identical),
        else out."""
        (protocol, cells), = groups.values()
        pairs, methods = self.selection(args)
        if protocol.base is not None:
            own = pairs in (None, parse_pairs(",".join(self.pairs))) and methods in (None, self.methods)
            if own and not any(cell.folder_under(protocol.out, protocol).exists() for cell in cells):
                protocol = dataclasses.replace(protocol, out=protocol.base, base=None)
            else:
                why = "a subset of its pairs or methods" if not own else f"cells of {protocol.out}"
                print(f"note: this {self.name} report covers {why}: it goes to {protocol.out / self.name}; the "
                      f"committed {protocol.base / self.name} is left as it is", file=sys.stderr, flush=True)
        return report.build(self, protocol, pairs, methods), protocol.out / self.name

    def render(self, data, folder):
        """report.md, report.json and the PNGs under <out>/<figure>/ (plus each of its sections)."""
        folder.mkdir(parents=True, exist_ok=True)
        text = report.markdown(data)
        images = {"curves": report.figure(data, folder / f"{self.name}.png"),
                  "eval": report.figure(data, folder / f"{self.name}-eval.png", "return_mean", "eval.csv",
                                        "deterministic evaluation return")}
        if self.mixing_curves:
            images["mixing"] = report.mixing_figure(data, folder / f"{self.name}-p_s.png")
        for section in self.sections:
            extra_text, extra_images = section(data, folder, self.name)
            text += extra_text
            images.update(extra_images)
        return report.finish(folder, data, text, images)

    def rebuild(self, data):
        pairs = tuple((p["source"], p["target"]) for p in data["pairs"])
        methods = list(dict.fromkeys(m for p in data["pairs"] for m in p["methods"])) or None
        return report.build(self, protocol_of(data["protocol"]), pairs, methods)


def pair_table(source: str, target: str) -> Table:
    """The table of one transfer pair of a report (fig3, fig4, fig7)."""
    def table(data: Dict) -> List[str]:
        pair = next(p for p in data["pairs"] if (p["source"], p["target"]) == (source, target))
        return report.pair_table(pair)

    return table


def first_pair_table(data: Dict) -> List[str]:
    """The table of a report's only pair (fig3 with your own robot as the target: results/own-robot)."""
    return report.pair_table(data["pairs"][0])


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
        pairs = {(p["source"], p["target"]): p for p in data.get(figure, {"pairs": []})["pairs"]}
        order = list(pairs) if figure != "fig3" else [(robot(s), robot(t)) for s, t in
                                                      (x.split(":") for x in FIG3_PAIRS)]
        for key in order:
            pair, name = pairs.get(key), f"{LONG.get(key[0], key[0])} → {LONG.get(key[1], key[1])}"
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


def tables_of_pairs(names: Sequence[str], pairs: Sequence[str]) -> Tuple[Tuple[str, Table], ...]:
    """README blocks `names[i]`: the table of the short-named pair `pairs[i]` ('Four:Eight')."""
    return tuple((name, pair_table(*(robot(r) for r in pair.split(":")))) for name, pair in zip(names, pairs))
