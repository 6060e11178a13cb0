"""Verdicts and their roll-up. Thresholds and waivers are applied here and nowhere else."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class Verdict(str, Enum):
    """The outcome of one observation or one control."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    NOT_APPLICABLE = "not_applicable"
    WAIVED = "waived"


@dataclass
class Observation:
    """What happened to one case for one control through one channel, judged."""

    control: str
    surface: str | None
    channel: str
    case_id: str
    expect: str | None
    verdict: Verdict
    reason: str
    disposition: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    duration_s: float | None = None  # from the case's first request to this verdict

    def evidence(self) -> dict[str, Any]:
        """The evidence line of this observation."""
        line = asdict(self)
        line["verdict"] = self.verdict.value
        line["entry_type"] = "observation"
        return line


def rollup(verdicts: Iterable[Verdict]) -> tuple[Verdict, str]:
    """A control's verdict from its observations: any fail fails; nothing observed is inconclusive.

    Fail closed: a control with no observation, or with any inconclusive one, never passes.
    """
    counts = {verdict: 0 for verdict in Verdict}
    for verdict in verdicts:
        counts[verdict] += 1
    total = sum(counts.values())
    summary = ", ".join(f"{n} {v.value}" for v, n in counts.items() if n)
    if counts[Verdict.FAIL]:
        return Verdict.FAIL, summary
    if counts[Verdict.INCONCLUSIVE]:
        return Verdict.INCONCLUSIVE, summary
    if counts[Verdict.PASS]:
        return Verdict.PASS, summary
    if total and counts[Verdict.WAIVED]:
        return Verdict.WAIVED, summary
    if total and counts[Verdict.NOT_APPLICABLE] == total:
        return Verdict.NOT_APPLICABLE, summary
    return Verdict.INCONCLUSIVE, "no observation was made"
