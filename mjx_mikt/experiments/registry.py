"""Every experiment of `python -m mjx_mikt.experiments`, in one place: `KINDS` ({name: Kind}, in
`--list`'s order). A new experiment is one more entry here (a figures.Figure over new pairs or
methods, a comparisons.Comparison, a scale.Study, or a class of its own implementing kind.Kind); the
command line, `--list`, the README's tables (readme.py) and the tests find it from here."""

from __future__ import annotations

from typing import Dict

from mjx_mikt.config import ConfigError
from mjx_mikt.experiments import by_teacher, multi, multi_report
from mjx_mikt.experiments.comparisons import Comparison, Variant
from mjx_mikt.experiments.figures import FIG3_PAIRS, Figure, first_pair_table, summary_table, tables_of_pairs
from mjx_mikt.experiments.kind import Kind, Table
from mjx_mikt.experiments.scale import Study

FIGURES = (
    Figure("fig3", "Fig. 3: MIKT vs PPO from scratch (VPG) and MLPP on six transfer pairs",
           FIG3_PAIRS, ("mikt", "ppo", "mlpp"), mixing_curves=True,
           tables=tables_of_pairs([f"fig3{x}" for x in "abcdef"], FIG3_PAIRS)
           + (("summary", summary_table), ("own-robot", first_pair_table))),  # own-robot: fig3 --pairs Four:FILE
    Figure("fig4", "Fig. 4: ablation of the encoder's gradients (without L_MI, without RL gradients)",
           FIG3_PAIRS, ("mikt", "mikt-no-mi", "mikt-no-rl-grad", "ppo"), shown_with=("mikt-no-mi", "mikt-no-rl-grad"),
           tables=tables_of_pairs(["fig4"], FIG3_PAIRS)),
    # pairs share one student: also one panel/table with a row per teacher (Fig. 5a)
    Figure("fig5", "Fig. 5: CentipedeEight with CentipedeFour, CentipedeSix and Hopper teachers; p_s curves",
           ("Four:Eight", "Six:Eight", "Hopper:Eight"), ("mikt", "ppo"), mixing_curves=True,
           sections=(by_teacher.section,),
           tables=(("fig5", by_teacher.table), ("fig5-teachers", by_teacher.teachers_table))),
    Figure("fig7", "Fig. 7: MIKT with and without the KL regulariser",
           FIG3_PAIRS, ("mikt", "mikt-no-kl", "ppo"), shown_with=("mikt-no-kl",),
           tables=tables_of_pairs(["fig7"], FIG3_PAIRS)),
    # a pair's source joins robots with '+': compared with each alone (multi.py)
    Figure("multi", "Beyond the paper: CentipedeEight with the CentipedeFour and CentipedeSix teachers at once",
           multi.PAIRS, ("mikt", "ppo"), shown_with=("mikt",), sections=(multi_report.section,),
           tables=(("multi", multi.table), ("multi-finding", lambda data: [multi.finding(data)["text"]]))),
)

COMPARISONS = (
    Comparison("shapes", "Rollout shape: PPO on CentipedeFour, 2048 samples per update from 8 x 256 or 64 x 32 "
                         "envs x steps", "CentipedeFour", (Variant("paper", "paper"), Variant("paper-wide", "paper-wide"))),
    Comparison("backends", "Physics backend: PPO on CentipedeFour (64 x 32 envs x steps) on native MuJoCo and on MJX",
               "CentipedeFour", (Variant("mujoco", "paper-wide"), Variant("mjx", "paper-wide", "mjx"))),
)

STUDIES = (
    Study("scale", "Wide batches: MIKT CentipedeFour -> CentipedeEight and PPO from scratch, per preset",
          "CentipedeFour", "CentipedeEight", ("paper", "wide-256x16", "wide-1024x8"),
          ablations=(("wide-256x16", "mixing rate x1", "results/scale-pilots/wide-256x16-mix1"),
                     ("wide-256x16", "4M env steps", "results/scale-pilots/wide-256x16-4M"),
                     ("wide-256x16", "4M env steps", "results/scale-pilots/wide-256x16-4M-ppo"))),
)

KINDS: Dict[str, Kind] = {k.name: k for k in FIGURES + COMPARISONS + STUDIES}


def kind(name: str) -> Kind:
    if name not in KINDS:
        raise ConfigError(f"unknown experiment {name!r}; choose one of: {', '.join(k.name for k in FIGURES)}")
    return KINDS[name]


def blocks() -> Dict[str, Table]:
    """Every README/docs block: {name: report.json -> lines}, from each experiment's own."""
    return {name: table for k in KINDS.values() for name, table in k.blocks().items()}
