"""The experiments, `python -m mjx_mikt.experiments`: every one (the figures with by_teacher's Fig. 5 and
multi's several teachers, the comparisons, the scale study; your own robot is fig3 --pairs Four:FILE) is a
`kind.Kind` (its cells, its report's numbers, their Markdown and PNGs, its README blocks) listed in
`registry.KINDS`; `grid` (cells, protocol folders, running a cell), `report` (numbers and curves),
`slurm` and `readme` serve them all."""
