"""The control catalog: clause -> controls, loaded from `harness/data/controls.yaml`.

The catalog is data so that assessors can read it and reports can cite it; code refers to
controls only by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from harness.errors import ConfigError

CATALOG_PATH = Path(__file__).parent / "data" / "controls.yaml"
_REQUIRED = ("id", "clause", "title", "criterion", "source", "automated")


@dataclass(frozen=True)
class Control:
    """One checkable requirement."""

    id: str
    clause: str
    title: str
    criterion: str
    source: str
    automated: bool
    surface: str | None = None
    gating: bool = True


@cache
def catalog() -> dict[str, Control]:
    """All controls by id, in catalog order."""
    raw = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))
    controls: dict[str, Control] = {}
    for entry in raw["controls"]:
        missing = [key for key in _REQUIRED if key not in entry]
        if missing:
            raise ConfigError(f"{CATALOG_PATH}: control {entry.get('id')!r} lacks {missing}")
        if entry["id"] in controls:
            raise ConfigError(f"{CATALOG_PATH}: control {entry['id']!r} is listed twice")
        controls[entry["id"]] = Control(**entry)
    return controls


def get(control_id: str) -> Control:
    """The control with this id; a clear error naming the known ids otherwise."""
    try:
        return catalog()[control_id]
    except KeyError:
        raise ConfigError(
            f"unknown control {control_id!r}; known: {', '.join(catalog())}"
        ) from None


def for_surface(surface: str) -> Control:
    """The per-surface Article 5(4) control."""
    for control in catalog().values():
        if control.surface == surface:
            return control
    raise ConfigError(f"no control covers surface {surface!r}")
