"""Waivers and the run's gate: which controls gate, and which failures a person accepted.

A waiver (`control`, `reason`, `approver`, `expires`) comes from the policy's `waivers:` list or
a `--waivers FILE`. The run records its gate (the operator, every waiver, the controls the
policy only measures) as a `gate` evidence line at its start, so the one judge
(`harness.verdicts.judge_run`) decides from evidence alone: a valid waiver turns its control's
fail or inconclusive into `waived`; an expired waiver, or one with no approver or approved by
the run's own operator, fails the gate.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

OPERATOR_ENV = "HARNESS_OPERATOR"
GATE = "gate"  # the evidence line's entry_type
_KEYS = ("control", "reason", "approver", "expires")


@dataclass(frozen=True)
class Waiver:
    """A person's acceptance of one control's failure until a date (inclusive, UTC)."""

    control: str
    reason: str
    approver: str | None
    expires: dt.date

    def evidence(self) -> dict[str, Any]:
        return {"control": self.control, "reason": self.reason, "approver": self.approver,
                "expires": self.expires.isoformat()}

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> Waiver:
        return cls(entry["control"], entry["reason"], entry.get("approver"),
                   dt.date.fromisoformat(entry["expires"]))

    def problem(self, operator: str | None, on: dt.date) -> str | None:
        """Why this waiver cannot be applied to a run made `on` this day by `operator`."""
        if not self.approver:
            return "not approved (no approver)"
        if operator and self.approver.strip().casefold() == operator.strip().casefold():
            return f"approved by the run's own operator {operator!r}"
        if self.expires < on:
            return f"expired on {self.expires.isoformat()}"
        return None


def parse_waivers(raw: Any, where: str) -> tuple[Waiver, ...]:
    """Waivers from a YAML list of mappings; a bad entry is refused naming `where` and it."""
    from harness import controls  # noqa: PLC0415 (the catalog loads only when waivers do)

    if not isinstance(raw, list):
        raise ConfigError(f"{where}: waivers must be a list of mappings with keys "
                          f"{', '.join(_KEYS)}")
    found: dict[str, Waiver] = {}
    for number, entry in enumerate(raw, start=1):
        at = f"{where}: waiver {number}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{at}: expected a mapping with keys {', '.join(_KEYS)}")
        unknown = sorted(map(str, set(entry) - set(_KEYS)))
        if unknown:
            raise ConfigError(f"{at}: unknown key(s) {unknown}; known: {', '.join(_KEYS)}")
        for key in ("control", "reason", "expires"):
            if entry.get(key) in (None, ""):
                raise ConfigError(f"{at}: {key} is required")
        try:
            control = controls.get(str(entry["control"])).id
        except ConfigError as exc:
            raise ConfigError(f"{at}: {exc}") from None
        if control in found:
            raise ConfigError(f"{at}: {control} is waived twice")
        approver = entry.get("approver")
        if approver is not None and not isinstance(approver, str):
            raise ConfigError(f"{at}: approver must be a name, not {approver!r}")
        found[control] = Waiver(control, str(entry["reason"]).strip(),
                                approver.strip() if approver else None,
                                _date(entry["expires"], at))
    return tuple(found.values())


def _date(value: Any, at: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{at}: expires must be a date (YYYY-MM-DD), not {value!r}") from None


def load_waivers(path: Path) -> tuple[Waiver, ...]:
    """Waivers from a YAML file: a list, or a mapping whose `waivers:` key holds one."""
    from harness.readers import load_yaml_file  # noqa: PLC0415

    raw, _ = load_yaml_file(Path(path), "waivers")
    if isinstance(raw, dict) and set(raw) == {"waivers"}:
        raw = raw["waivers"]
    return parse_waivers(raw, str(path))


def operator() -> str:
    """Who runs the assessment: `HARNESS_OPERATOR`, else the login name."""
    name = os.environ.get(OPERATOR_ENV, "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        return "unknown"


def gate_record(waivers: Iterable[Waiver], measured: Iterable[str],
                who: str) -> dict[str, Any]:
    """The run's gate as run.json records it; the recorder writes it as the `gate` line at the
    run's start. A control waived twice (policy and file) must be waived alike."""
    merged: dict[str, Waiver] = {}
    for waiver in waivers:
        if waiver.control in merged and merged[waiver.control] != waiver:
            raise ConfigError(f"{waiver.control} is waived both by the policy and by the "
                              "waivers file; keep one")
        merged[waiver.control] = waiver
    return {"operator": who, "measured": list(measured),
            "waivers": [w.evidence() for w in merged.values()]}
