"""Differences between two runs' verdicts, per control and per case.

Both runs are judged by the one judge from their evidence alone. A verdict that was good (pass,
not applicable, waived) and is not now is a regression, as is an inconclusive one that now
fails; the converse is a fix, and so is a waived one that passes now. A failure now waived is
a change (accepted, not fixed), as is any other change within a kind (fail to inconclusive,
pass to waived). A control or case judged in one run only is new or gone. Cases are
observations matched on (test, control, channel, case id), as a replay or a later run of the
same scope records them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.evidence.store import read_entries
from harness.verdicts import Verdict, judge_run, latest_observations

GOOD = frozenset({Verdict.PASS.value, Verdict.NOT_APPLICABLE.value, Verdict.WAIVED.value})
KINDS = ("regression", "fix", "changed", "new", "gone")


@dataclass(frozen=True)
class Change:
    """One control's or case's verdict in run A and in run B (None: not judged there)."""

    kind: str
    control: str
    case: str | None
    before: str | None
    after: str | None
    reason: str

    def evidence(self) -> dict[str, Any]:
        return {"kind": self.kind, "control": self.control, "case": self.case,
                "before": self.before, "after": self.after, "reason": self.reason}

    @property
    def order(self) -> tuple[int, str, str]:
        """Regressions first, then fixes, changes, new and gone; by control and case."""
        return KINDS.index(self.kind), self.control, self.case or ""


@dataclass(frozen=True)
class RunDiff:
    """What changed from run A to run B."""

    before: str
    after: str
    controls: list[Change]
    cases: list[Change]

    @property
    def regressed(self) -> bool:
        return any(c.kind == "regression" for c in (*self.controls, *self.cases))

    def counts(self) -> dict[str, dict[str, int]]:
        return {scope: {kind: sum(1 for c in changes if c.kind == kind) for kind in KINDS}
                for scope, changes in (("controls", self.controls), ("cases", self.cases))}

    def evidence(self) -> dict[str, Any]:
        """The diff as JSON (`harness diff --json`, and the HTML report)."""
        return {"before": self.before, "after": self.after, "regressed": self.regressed,
                "counts": self.counts(), "controls": [c.evidence() for c in self.controls],
                "cases": [c.evidence() for c in self.cases]}

    def html(self) -> str:
        """The diff as one self-contained HTML page (`harness diff --html`)."""
        from harness.report.templating import environment  # noqa: PLC0415 (Jinja2 on demand)

        return environment().get_template("diff.html.j2").render(diff=self)

    def lines(self) -> list[str]:
        """The diff as a person reads it: per control, then per case, regressions first."""
        out = [f"diff {self.before} -> {self.after}"]
        for scope, changes in (("controls", self.controls), ("cases", self.cases)):
            counts = self.counts()[scope]
            out.append(f"{scope}: " + ", ".join(f"{counts[k]} {k}" for k in KINDS))
            for change in sorted(changes, key=lambda c: KINDS.index(c.kind)):
                where = f"{change.control} {change.case}" if change.case else change.control
                out.append(f"  {change.kind:<10} {where}: {change.before or '-'} -> "
                           f"{change.after or '-'}" + (f" ({change.reason})" if change.reason
                                                      else ""))
        out.append("regressed" if self.regressed else "no regression")
        return out


def kind_of(before: str | None, after: str | None) -> str | None:
    """The kind of a change of verdict, or None when it did not change."""
    if before == after:
        return None
    if before is None:
        return "new"
    if after is None:
        return "gone"
    if after == Verdict.WAIVED.value and before not in GOOD:
        return "changed"  # accepted by a person, not fixed
    if before == Verdict.WAIVED.value and after in GOOD:
        return "fix"  # what was accepted failing now passes (or does not apply)
    if (before in GOOD) != (after in GOOD):
        return "fix" if after in GOOD else "regression"
    if before == Verdict.INCONCLUSIVE.value and after == Verdict.FAIL.value:
        return "regression"  # what could not be told before is now known to fail
    return "changed"


def diff_entries(before: Iterable[Mapping[str, Any]], after: Iterable[Mapping[str, Any]],
                 names: tuple[str, str] = ("A", "B")) -> RunDiff:
    """The diff of two runs' evidence lines."""
    before, after = list(before), list(after)
    judged = [{c.control: c for c in judge_run(entries).controls} for entries in (before, after)]
    controls = []
    for control in dict.fromkeys([*judged[0], *judged[1]]):
        old, new = judged[0].get(control), judged[1].get(control)
        kind = kind_of(old.verdict.value if old else None, new.verdict.value if new else None)
        if kind is not None:
            reason = new.reason if new is not None else old.reason if old is not None else ""
            controls.append(Change(kind, control, None, old.verdict.value if old else None,
                                   new.verdict.value if new else None, reason))
    cases_before, cases_after = _cases(before), _cases(after)
    cases = []
    for key in dict.fromkeys([*cases_before, *cases_after]):
        old_line, new_line = cases_before.get(key), cases_after.get(key)
        old_v = old_line["verdict"] if old_line else None
        new_v = new_line["verdict"] if new_line else None
        kind = kind_of(old_v, new_v)
        if kind is not None:
            line = new_line or old_line or {}
            cases.append(Change(kind, key[1], f"{key[2]}:{key[3]}", old_v, new_v,
                                str(line.get("reason", ""))))
    return RunDiff(names[0], names[1], controls, cases)


def diff_runs(run_a: Path, run_b: Path) -> RunDiff:
    """The diff of two recorded runs (callers verify both first)."""
    return diff_entries(read_entries(run_a), read_entries(run_b), (str(run_a), str(run_b)))


def _cases(entries: list[Mapping[str, Any]]) -> dict[tuple[Any, ...], Mapping[str, Any]]:
    return {(line.get("test"), line["control"], line.get("channel"), line["case_id"]): line
            for line in latest_observations(entries)}
