"""The shell commands a run prints and records (its resume line, its provenance, where to view it): the
interpreter that runs it, quoted, and relative to the working directory where it lies under it."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path


def interpreter() -> str:
    """The Python running this program, for the commands a run prints and records (a bare `python` may not be
    the venv's): relative to the working directory when it lies under it (`.venv/bin/python`), so that run
    folders name no machine path."""
    path = sys.executable or "python"
    here = os.path.join(os.getcwd(), "")
    return shlex.quote(path[len(here):] if path.startswith(here) else path)


def resume_command(run_dir: Path) -> str:
    """The command that continues the run in `run_dir`."""
    return f"{interpreter()} -m mjx_mikt.run --resume {shlex.quote(str(run_dir))}"
