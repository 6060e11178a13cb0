"""The control catalog: clause -> controls, loaded from `harness/data/controls.yaml`.

The catalog is data so that assessors can read it and reports can cite it; code refers to
controls only by id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path

from harness.errors import ConfigError
from harness.readers import parse_yaml

CATALOG_PATH = Path(__file__).parent / "data" / "controls.yaml"
# The ids code names (each in the catalog: tests/unit/test_controls.py checks).
A5_3_LOG_FIELDS = "A5.3-LOG-FIELDS"
A5_4_RECORDS = "A5.4-RECORDS"
A5_4_RETENTION = "A5.4-RETENTION"
A5_4_PROPAGATION = "A5.4-PROPAGATION"
A5_4_OVERBLOCK = "A5.4-OVERBLOCK"  # the over-blocking bank's rate control
A5_4_UNDER_LOAD = "A5.4-UNDER-LOAD"
A5_6_PUBLISHED = "A5.6-PUBLISHED"
A5_6_ENTRY_POINTS = "A5.6-ENTRY-POINTS"
A5_6_INTAKE = "A5.6-INTAKE"
A5_6_TIMELY = "A5.6-TIMELY"
A5_6_APPEAL = "A5.6-APPEAL"
A5_6_INTAKE_UNDER_LOAD = "A5.6-INTAKE-UNDER-LOAD"
_REQUIRED = ("id", "clause", "title", "criterion", "source", "automation")
# How much of a control the harness checks: all of it, part (the rest is the assessor's), none.
AUTOMATED, PARTIAL, MANUAL = "automated", "partial", "manual"
AUTOMATION = (AUTOMATED, PARTIAL, MANUAL)


@dataclass(frozen=True)
class Control:
    """One checkable requirement."""

    id: str
    clause: str
    title: str
    criterion: str
    source: str
    automation: str  # one of AUTOMATION
    surface: str | None = None
    gating: bool = True
    channels: tuple[str, ...] = ("api", "browser")  # the channels that can observe it
    # Rate controls: the variant families whose rates this control gates (see harness.verdicts).
    families: tuple[str, ...] = ()
    assessor: str | None = None  # what the assessor checks by hand (partial and manual controls)

    @property
    def automated(self) -> bool:
        """Whether the harness has scenarios for this control (all of it, or part)."""
        return self.automation != MANUAL

    def in_scope(self, patterns: Iterable[str], channels: Iterable[str]) -> bool:
        """Whether a run scoped to these control patterns and channels assesses this control."""
        patterns = list(patterns)
        return (not patterns or matches(self.id, patterns)) and bool(
            set(self.channels) & set(channels))


@cache
def catalog() -> dict[str, Control]:
    """All controls by id, in catalog order."""
    raw = parse_yaml(CATALOG_PATH.read_text(encoding="utf-8"))
    controls: dict[str, Control] = {}
    for entry in raw["controls"]:
        missing = [key for key in _REQUIRED if key not in entry]
        if missing:
            raise ConfigError(f"{CATALOG_PATH}: control {entry.get('id')!r} lacks {missing}")
        if entry["id"] in controls:
            raise ConfigError(f"{CATALOG_PATH}: control {entry['id']!r} is listed twice")
        if entry["automation"] not in AUTOMATION:
            raise ConfigError(f"{CATALOG_PATH}: control {entry['id']!r}: automation "
                              f"{entry['automation']!r} is not one of {', '.join(AUTOMATION)}")
        if entry["automation"] != AUTOMATED and not entry.get("assessor"):
            raise ConfigError(f"{CATALOG_PATH}: control {entry['id']!r} is {entry['automation']}"
                              ": its `assessor` must say what the assessor checks")
        channels = tuple(entry.get("channels", Control.channels))
        families = tuple(entry.get("families", ()))
        controls[entry["id"]] = Control(**{**entry, "channels": channels, "families": families})
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


def for_family(family: str) -> Control:
    """The rate control of an evasion family (a composition `a+b` belongs to its last family,
    the one applied on top)."""
    last = family.rsplit("+", maxsplit=1)[-1]
    for control in catalog().values():
        if last in control.families:
            return control
    raise ConfigError(f"no control covers variant family {family!r}")


def matches(control_id: str, patterns: Iterable[str]) -> bool:
    """Whether a control id matches any of these shell-style patterns (`A5.6-*`)."""
    return any(fnmatchcase(control_id, pattern) for pattern in patterns)


def check_patterns(patterns: Iterable[str]) -> None:
    """Refuse a `--control` pattern that matches no control of the catalog."""
    for pattern in patterns:
        if not any(matches(control_id, [pattern]) for control_id in catalog()):
            raise ConfigError(f"--control {pattern!r} matches no control; see `harness controls`")
