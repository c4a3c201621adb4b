"""Benchmarks of this project's programs: `python -m bench` (bench/run.py) and `python -m bench.<tool>`.

bench is a set of entry points, not a library, and it times the programs the CLI runs: so each of them
runs with the patches the CLI installs (mjx_mikt/patches.py), installed here, when the package is first
imported, before any bench module lowers a program.
"""

from mjx_mikt import patches

patches.install_all()
