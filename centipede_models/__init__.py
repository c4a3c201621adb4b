"""MJCF robots of the MIKT experiments: NerveNet's centipedes (any even leg count), Ant, Hopper."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Tuple

from centipede_models.generator import make_centipede, model_name, parse_name

XML_DIR = Path(__file__).resolve().parent / "xml"

# robot name -> (legs, crippled) for the generated centipedes that are checked in
CENTIPEDES: Dict[str, Tuple[int, bool]] = {
    "CentipedeFour": (4, False),
    "CentipedeSix": (6, False),
    "CentipedeEight": (8, False),
    "CpCentipedeSix": (6, True),
    "CpCentipedeEight": (8, True),
}
ROBOTS = tuple(CENTIPEDES) + ("Ant", "Hopper")


def xml_path(name: str) -> Path:
    """Path of a checked-in robot's MJCF."""
    if name not in ROBOTS:
        raise KeyError(f"unknown robot {name!r}; known robots: {', '.join(ROBOTS)}")
    return XML_DIR / f"{name}.xml"


def load(name: str) -> str:
    """MJCF text of a checked-in robot."""
    return xml_path(name).read_text()


__all__ = ["CENTIPEDES", "ROBOTS", "XML_DIR", "load", "make_centipede", "model_name", "parse_name", "xml_path"]
