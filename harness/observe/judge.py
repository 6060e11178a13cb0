"""The verdicts of one case from what its flow saw: the surface control's, and those of the
record it left (A5.4-RECORDS, A5.3-LOG-FIELDS).

Flows drive the target and return what they saw (`Sighting`s, the audit read, the record found
and how its fields compare); these functions decide, with no target, clock or state of their
own, so each rule of DESIGN section 5 has one place and a unit test that needs no site. The run's
judge (`harness.verdicts`) turns the observations they yield into control verdicts.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.controls import A5_3_LOG_FIELDS, A5_4_RECORDS
from harness.observe.audit import FieldCheck
from harness.probes.cases import MUST_BLOCK
from harness.verdicts import NOT_COMPARED, Verdict

DISPOSALS = ("rejected", "held", "removed", "masked")


@dataclass
class Sighting:
    """One read by one observing actor, and whether the case showed in it."""

    role: str
    request: str
    exchange: Any  # an HTTP Exchange, or a browser PageRead
    visible: bool | None
    tag_only: bool = False
    note: str = ""
    artifacts: list[str] = field(default_factory=list)

    def evidence(self) -> dict[str, Any]:
        return {
            "role": self.role, "request": self.request, "visible": self.visible,
            "tag_only": self.tag_only, "note": self.note,
            "status": self.exchange.status if self.exchange else None,
            "url": self.exchange.url if self.exchange else None,
            "artifacts": self.artifacts,
        }


@dataclass(frozen=True)
class Judged:
    """One verdict for one control, with its reason and what it rests on."""

    control: str
    verdict: Verdict
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


def judge_case(expect: str, accepted: bool, first: list[Sighting], final: list[Sighting], *,
               roles: list[str], excused: Mapping[str, str],
               acceptable: Collection[str]) -> tuple[Verdict, str, str | None]:
    """Verdict, reason and disposition of a case from what its observers saw.

    `roles`: the observing roles the verdict rests on; `excused`: those the profile excuses
    (`login_required`), with why. A must_block case passes only when every read of every judged
    role was valid: one read that did not land where it asked (or failed) leaves that role, and
    the case, inconclusive; a case whose every role is excused is inconclusive. A must_allow
    case passes only when every judged role saw it.
    """
    if not roles:
        why = "; ".join(f"{role}: {reason}" for role, reason in excused.items())
        return (Verdict.INCONCLUSIVE, "no observer can read where the case would show "
                f"(login_required for every observing role: {why})", None)
    final = [s for s in final if s.role in roles]
    first = [s for s in first if s.role in roles]
    blocking = expect == MUST_BLOCK
    if blocking:
        unread = [r for r in roles if any(s.visible is None for s in final if s.role == r)
                  or not any(s.role == r for s in final)]
    else:
        unread = [r for r in roles
                  if not any(s.visible is not None for s in final if s.role == r)]
    unread_reads = [s for s in final if s.visible is None or not blocking]
    unread_note = f"could not read as {', '.join(unread)}: {notes_of(unread_reads, unread)}"
    excused_note = "" if not excused else " (not applicable: " + "; ".join(
        f"{role}: {reason}" for role, reason in excused.items()) + ")"
    if blocking:
        seen = [s for s in final if s.visible]
        if seen:
            where = "; ".join(f"{s.role} at {s.exchange.url if s.exchange else s.request}"
                              for s in seen)
            return Verdict.FAIL, f"prohibited content shown to others: {where}", "published"
        if unread:
            return Verdict.INCONCLUSIVE, unread_note, None
        disposition = disposition_of(accepted, first, final)
        if disposition not in acceptable:
            return (Verdict.FAIL, f"disposition {disposition} is not acceptable by policy",
                    disposition)
        return (Verdict.PASS, f"{disposition}; not shown to {', '.join(roles)}{excused_note}",
                disposition)
    if not accepted:
        return Verdict.FAIL, "benign content was refused at submission (over-blocking)", \
            "rejected"
    blind = [r for r in roles if not any(s.visible for s in final if s.role == r)]
    if not blind:
        return Verdict.PASS, f"shown to {', '.join(roles)}{excused_note}", "published"
    if unread and set(blind) <= set(unread):
        return Verdict.INCONCLUSIVE, unread_note, None
    return Verdict.FAIL, f"benign content not shown to {', '.join(blind)} (over-blocking)", \
        "held"


def disposition_of(accepted: bool, first: list[Sighting], final: list[Sighting]) -> str:
    """What the target did with must_block content that no one can see any longer."""
    if not accepted:
        return "rejected"
    if any(s.visible for s in first):
        return "removed"
    if any(s.tag_only for s in final):
        return "masked"
    return "held"


def judge_records(disposition: str | None, accepted: bool, *, problem: str | None,
                  record: Mapping[str, Any] | None, check: FieldCheck | None,
                  decisions: Collection[str], wait_s: float, channel: str,
                  not_compared: Collection[str] = ()) -> list[Judged]:
    """A5.4-RECORDS for a disposal, A5.3-LOG-FIELDS for the write's log record.

    `problem`: why the audit interface could not be read (None: it was); `record`: the
    submission's record found within `wait_s`; `check`: its fields against the request the
    harness sent; `decisions`: the decisions the profile calls disposals (empty: any);
    `not_compared`: fields the channel cannot know it used, present but not compared (the run's
    judge lets the control pass only where another observation compared them).
    """
    disposed = disposition in DISPOSALS
    if problem is not None:
        reason = f"audit interface unreadable: {problem}"
        return [Judged(control, Verdict.INCONCLUSIVE, reason) for control in
                ((A5_4_RECORDS, A5_3_LOG_FIELDS) if disposed else (A5_3_LOG_FIELDS,))]
    judged = []
    if disposed:
        if record is None:
            judged.append(Judged(A5_4_RECORDS, Verdict.FAIL,
                                 f"no record of the {disposition} write within {wait_s:g}s"))
        elif decisions and record.get("decision") not in decisions:
            judged.append(Judged(
                A5_4_RECORDS, Verdict.FAIL,
                f"record decision {record.get('decision')!r} is not a disposal",
                {"record": record}))
        else:
            judged.append(Judged(A5_4_RECORDS, Verdict.PASS,
                                 f"record kept with decision {record.get('decision')!r}",
                                 {"record": record}))
    if record is None or check is None:
        if accepted:
            judged.append(Judged(A5_3_LOG_FIELDS, Verdict.FAIL,
                                 "no log record of an accepted write"))
        return judged  # a disposal without a record is judged under A5.4-RECORDS
    if check.ok:
        unknown = sorted(not_compared)
        note = (f"; {', '.join(unknown)} present, not compared: the {channel} channel cannot "
                "tell what it used") if unknown else ""
        judged.append(Judged(A5_3_LOG_FIELDS, Verdict.PASS,
                             f"all 5(3) fields present and matching{note}",
                             {**check.details, **({NOT_COMPARED: unknown} if unknown else {})}))
        return judged
    problems = [f"missing {', '.join(check.missing)}"] if check.missing else []
    if check.mismatched:
        problems.append(f"not what the harness used: {', '.join(check.mismatched)}")
    if problems:
        judged.append(Judged(A5_3_LOG_FIELDS, Verdict.FAIL, "; ".join(problems), check.details))
    else:
        judged.append(Judged(A5_3_LOG_FIELDS, Verdict.INCONCLUSIVE, "the harness does not know "
                             f"its own {', '.join(check.unverified)} for this request",
                             check.details))
    return judged


def notes_of(sightings: list[Sighting], roles: list[str]) -> str:
    """What the reads of `roles` noted, as one line ("no read" when none did)."""
    return "; ".join(f"{s.request}: {s.note}" for s in sightings if s.role in roles) or "no read"
