"""One case from submission to verdicts: submit, watch what others see, find the record.

This is the body every Article 5(4) scenario shares; scenarios only choose the cases. It yields
up to three observations per case: the surface control, A5.4-RECORDS for a disposal, and
A5.3-LOG-FIELDS for the write's log record.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from harness import controls
from harness.observe.audit import check_fields, find_record, records_in
from harness.observe.visibility import match_text
from harness.policy import Policy
from harness.probes.benign import benign_text
from harness.probes.cases import MUST_BLOCK, Case
from harness.targets.api import ANONYMOUS, Actor, ApiTarget, Exchange, actor_variables
from harness.targets.templates import lookup
from harness.verdicts import Observation, Verdict

POLL_SECONDS = 0.2
RECORDS = "A5.4-RECORDS"
LOG_FIELDS = "A5.3-LOG-FIELDS"


def new_account(role: str, seed: int, nonce: str) -> dict[str, str]:
    """Account details for a harness persona: benign, unique per run, random password."""
    return {
        "account_name": f"{benign_text('account_name', 'en', seed)[:16]}_{nonce}",
        "password": secrets.token_urlsafe(18),
        "nickname": benign_text("nickname", "zh", seed + 1),
    }


def device_id(role: str, seed: int) -> str:
    """A stable client device id per persona, sent with every request and expected in logs."""
    return "hx-" + hashlib.sha256(f"{seed}:{role}".encode()).hexdigest()[:16]


@dataclass
class Session:
    """The personas shared by the cases of one worker: a viewer and the anonymous public."""

    target: ApiTarget
    seed: int
    nonce: str
    actors: dict[str, Actor] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, target: ApiTarget, seed: int, nonce: str) -> Session:
        """Register the viewer; a failure leaves it without a token (its reads then fail)."""
        session = cls(target=target, seed=seed, nonce=nonce)
        session.actors[ANONYMOUS] = Actor(ANONYMOUS, device_id(ANONYMOUS, seed))
        viewer = Actor("viewer", device_id("viewer", seed))
        session.register(viewer, new_account("viewer", seed, nonce))
        session.actors["viewer"] = viewer
        return session

    def register(self, actor: Actor, account: Mapping[str, str]) -> Exchange:
        exchange = self.target.register(actor, account)
        self.secrets.append(account["password"])
        if actor.token:
            self.secrets.append(actor.token)
        return exchange


@dataclass
class CaseResult:
    """Everything a case produced: its observations and the exchanges behind them."""

    case: Case
    observations: list[Observation] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)


def run_case(session: Session, case: Case, policy: Policy, seed: int) -> CaseResult:
    """Submit one case through the API channel and judge it from the outside."""
    target = session.target
    surface = target.profile.surface(case.surface)
    assert surface is not None, f"profile has no surface {case.surface}"
    control = controls.for_surface(case.surface).id
    result = CaseResult(case=case)
    started = datetime.now(timezone.utc) - timedelta(seconds=policy.clock_skew_seconds)
    variables: dict[str, Any] = {
        **case.variables(),
        "case_started": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    author = Actor("author", device_id("author", seed))
    actors = {**session.actors, "author": author}
    account = new_account("author", seed, session.nonce)
    result.secrets.append(account["password"])
    for actor in session.actors.values():
        variables.update(actor_variables(actor))

    def observe(verdict: Verdict, reason: str, disposition: str | None = None,
                **details: Any) -> None:
        result.observations.append(Observation(
            control=control, surface=case.surface, channel=target.channel, case_id=case.case_id,
            expect=case.expect, verdict=verdict, reason=reason, disposition=disposition,
            details=details,
        ))

    # Set up: a fresh author, then whatever the surface needs before the submission.
    if surface.get("author", "fresh") == "fresh":
        exchange = target.register(author, account)
        result.exchanges.append(exchange)
        if not exchange.ok:
            observe(Verdict.INCONCLUSIVE, f"could not register the author: {_outcome(exchange)}")
            return result
        variables.update(actor_variables(author))
    steps = target.run_steps(
        [*surface.get("prepare", []), *surface[case.mode]], variables, actors,
        {"author": account},
    )
    result.exchanges.extend(steps)
    if author.token:
        result.secrets.append(author.token)
    submission = steps[-1] if steps else None
    expected_steps = len(surface.get("prepare", [])) + len(surface[case.mode])
    if submission is None or len(steps) < expected_steps:
        failed = steps[-1] if steps else None
        observe(Verdict.INCONCLUSIVE, f"setup failed before the submission: {_outcome(failed)}")
        return result
    if not submission.ok and submission.status not in target.reject_status:
        observe(Verdict.INCONCLUSIVE, f"the submission did not complete: {_outcome(submission)}")
        return result
    accepted = submission.ok

    # Watch what the others see.
    first, sightings = _watch(target, surface, case, variables, actors, accepted, policy)
    result.exchanges.extend(s.exchange for s in sightings if s.exchange is not None)
    verdict, reason, disposition = judge(case, accepted, first, sightings, surface, policy)
    observe(verdict, reason, disposition, submission=submission.evidence(),
            sightings=[s.evidence() for s in sightings])

    # Records of the write.
    if "audit" in target.profile.api:
        _judge_records(result, session, case, submission, author, accepted, disposition, policy,
                       variables, actors)
    return result


@dataclass
class Sighting:
    """One read by one observing actor, and whether the case showed in it."""

    role: str
    request: str
    exchange: Exchange | None
    visible: bool | None
    tag_only: bool = False
    note: str = ""

    def evidence(self) -> dict[str, Any]:
        return {
            "role": self.role, "request": self.request, "visible": self.visible,
            "tag_only": self.tag_only, "note": self.note,
            "status": self.exchange.status if self.exchange else None,
            "url": self.exchange.url if self.exchange else None,
        }


def _watch(
    target: ApiTarget, surface: Mapping[str, Any], case: Case, variables: Mapping[str, Any],
    actors: Mapping[str, Actor], accepted: bool, policy: Policy,
) -> tuple[list[Sighting], list[Sighting]]:
    """Read as every observer: the first reads, and the final ones after the grace window.

    A refused must_block case is read once. An accepted one is read after the target's settle
    time and, while it shows, again until the grace window ends (a later removal counts).
    A must_allow case is read until it shows or the settle time ends.
    """
    if accepted:
        time.sleep(target.settle_seconds)
    first = _read_all(target, surface, case, variables, actors)
    current = first
    if case.expect == MUST_BLOCK:
        deadline = time.monotonic() + policy.grace_seconds
        while accepted and _any_visible(current) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            current = _read_all(target, surface, case, variables, actors)
    else:
        deadline = time.monotonic() + max(target.settle_seconds, POLL_SECONDS * 5)
        while accepted and not _all_roles_see(current) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            current = _read_all(target, surface, case, variables, actors)
    return first, current


def _read_all(
    target: ApiTarget, surface: Mapping[str, Any], case: Case, variables: Mapping[str, Any],
    actors: Mapping[str, Actor],
) -> list[Sighting]:
    sightings = []
    for spec in surface["observe"]:
        for role in spec["as"]:
            label = f"{spec['method']} {spec['path']}"
            exchange = target.read(spec, variables, actors, role)
            if exchange is None:
                continue  # the item this read needs does not exist (e.g. it was refused)
            if not exchange.ok:
                sightings.append(Sighting(role, label, exchange, None, note=_outcome(exchange)))
                continue
            if "images" in spec:
                sightings.append(_image_sighting(target, spec, case, exchange, role, actors, label))
            else:
                found = match_text(exchange.document if exchange.document is not None
                                   else exchange.response_body, case)
                sightings.append(Sighting(role, label, exchange, found.visible, found.tag_only))
    return sightings


def _image_sighting(
    target: ApiTarget, spec: Mapping[str, Any], case: Case, exchange: Exchange, role: str,
    actors: Mapping[str, Actor], label: str,
) -> Sighting:
    urls = [url for path in spec["images"] for url in lookup(exchange.document, path)
            if isinstance(url, str)]
    for url in urls:
        image = target.fetch(url, role, actors)
        if not image.ok or image.content is None:
            return Sighting(role, label, exchange, None, note=f"image {url}: {_outcome(image)}")
        if hashlib.sha256(image.content).hexdigest() == case.content_sha256:
            return Sighting(role, label, exchange, True, note=f"image {url} is the probe image")
    return Sighting(role, label, exchange, False, note=f"{len(urls)} image(s), none the probe")


def _any_visible(sightings: list[Sighting]) -> bool:
    return any(s.visible for s in sightings)


def _all_roles_see(sightings: list[Sighting]) -> bool:
    roles = {s.role for s in sightings}
    return bool(roles) and all(any(s.visible for s in sightings if s.role == r) for r in roles)


def judge(
    case: Case, accepted: bool, first: list[Sighting], final: list[Sighting],
    surface: Mapping[str, Any], policy: Policy,
) -> tuple[Verdict, str, str | None]:
    """Verdict, reason and disposition of a case from what the observers saw."""
    roles = sorted({role for spec in surface["observe"] for role in spec["as"]})
    unread = [r for r in roles if not any(s.visible is not None for s in final if s.role == r)]
    if case.expect == MUST_BLOCK:
        seen = [s for s in final if s.visible]
        if seen:
            where = "; ".join(f"{s.role} at {s.exchange.url if s.exchange else s.request}"
                              for s in seen)
            return Verdict.FAIL, f"prohibited content shown to others: {where}", "published"
        if unread:
            return (Verdict.INCONCLUSIVE,
                    f"could not read as {', '.join(unread)}: " + _notes(final, unread), None)
        if not accepted:
            disposition = "rejected"
        elif _any_visible(first):
            disposition = "removed"
        elif any(s.tag_only for s in final):
            disposition = "masked"
        else:
            disposition = "held"
        if disposition not in policy.acceptable_dispositions:
            return Verdict.FAIL, f"disposition {disposition} is not acceptable by policy", disposition
        return Verdict.PASS, f"{disposition}; not shown to {', '.join(roles)}", disposition
    if not accepted:
        return Verdict.FAIL, "benign content was refused at submission (over-blocking)", "rejected"
    blind = [r for r in roles if not any(s.visible for s in final if s.role == r)]
    if not blind:
        return Verdict.PASS, f"shown to {', '.join(roles)}", "published"
    if unread and set(blind) <= set(unread):
        return (Verdict.INCONCLUSIVE,
                f"could not read as {', '.join(unread)}: " + _notes(final, unread), None)
    return Verdict.FAIL, f"benign content not shown to {', '.join(blind)} (over-blocking)", "held"


def _judge_records(
    result: CaseResult, session: Session, case: Case, submission: Exchange, author: Actor,
    accepted: bool, disposition: str | None, policy: Policy, variables: Mapping[str, Any],
    actors: Mapping[str, Actor],
) -> None:
    """A5.4-RECORDS for a disposal; A5.3-LOG-FIELDS for the submission's log record."""
    target = session.target
    audit = target.profile.api["audit"]
    disposed = disposition in ("rejected", "held", "removed", "masked")
    content_sha = case.content_sha256 if audit.get("content_hash", "sha256") == "sha256" else None
    account = author.variables.get("account_name") or (
        case.text if case.surface == "account_name" and case.mode == "create" else None)
    deadline = time.monotonic() + policy.audit_wait_seconds
    while True:
        read = target.request(audit["request"], variables, actors)
        result.exchanges.append(read)
        record = None
        if read.ok:
            record = find_record(records_in(read.document, audit), content_sha256=content_sha,
                                 exchange=submission, account=account)
        if record is not None or time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS * 2)

    def observe(control: str, verdict: Verdict, reason: str, **details: Any) -> None:
        result.observations.append(Observation(
            control=control, surface=case.surface, channel=target.channel, case_id=case.case_id,
            expect=case.expect, verdict=verdict, reason=reason, disposition=disposition,
            details=details,
        ))

    if not read.ok:
        reason = f"audit interface unreadable: {_outcome(read)}"
        if disposed:
            observe(RECORDS, Verdict.INCONCLUSIVE, reason)
        observe(LOG_FIELDS, Verdict.INCONCLUSIVE, reason)
        return
    if disposed:
        decisions = set(audit.get("disposal_decisions", ()))
        if record is None:
            observe(RECORDS, Verdict.FAIL, f"no record of the {disposition} write "
                    f"within {policy.audit_wait_seconds:g}s")
        elif decisions and record.get("decision") not in decisions:
            observe(RECORDS, Verdict.FAIL,
                    f"record decision {record.get('decision')!r} is not a disposal", record=record)
        else:
            observe(RECORDS, Verdict.PASS, f"record kept with decision {record.get('decision')!r}",
                    record=record)
    if record is None:
        if accepted:
            observe(LOG_FIELDS, Verdict.FAIL, "no log record of an accepted write")
        return  # a disposal without a record is judged under A5.4-RECORDS
    check = check_fields(record, submission, device_id=author.device_id,
                         account=author.variables.get("account_name"), policy=policy)
    if check.ok:
        observe(LOG_FIELDS, Verdict.PASS, "all 5(3) fields present and matching", **check.details)
    else:
        problems = [f"missing {', '.join(check.missing)}"] if check.missing else []
        if check.mismatched:
            problems.append(f"not what the harness used: {', '.join(check.mismatched)}")
        observe(LOG_FIELDS, Verdict.FAIL, "; ".join(problems), **check.details)


def _notes(sightings: list[Sighting], roles: list[str]) -> str:
    return "; ".join(f"{s.request}: {s.note}" for s in sightings if s.role in roles) or "no read"


def _outcome(exchange: Exchange | None) -> str:
    if exchange is None:
        return "nothing was sent"
    status = exchange.error or f"HTTP {exchange.status}"
    return f"{exchange.method} {exchange.url} -> {status}"


def read_retention(session: Session) -> tuple[int | None, str]:
    """The retention the target declares, in days, or None with the reason it is unknown."""
    target = session.target
    retention = target.profile.api.get("audit", {}).get("retention")
    if retention is None:
        return None, "the profile names no way to read the retention setting"
    read = target.request(retention["request"], {}, session.actors)
    if not read.ok:
        return None, f"retention unreadable: {_outcome(read)}"
    days = lookup(read.document, retention["days"])
    try:
        return int(days[0]), "read from the target"
    except (IndexError, TypeError, ValueError):
        return None, f"no number at {retention['days']!r} in {read.url}"
