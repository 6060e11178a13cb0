"""One case from submission to verdicts: submit, watch what others see, find the record.

This is the body every Article 5(4) scenario shares; scenarios only choose the cases. It yields
up to three observations per case: the surface control, A5.4-RECORDS for a disposal, and
A5.3-LOG-FIELDS for the write's log record.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from harness import controls
from harness.errors import HarnessError
from harness.observe.audit import (
    ContentHash,
    check_fields,
    find_record,
)
from harness.observe.images import ProbeMatcher
from harness.observe.judge import Sighting, judge_case, judge_records
from harness.observe.records import RecordRead, audit_spec, read_records
from harness.policy import Policy
from harness.probes.benign import benign_text
from harness.probes.cases import MUST_BLOCK, Case
from harness.probes.images import upload_format_of
from harness.targets.accounts import AccountRules
from harness.targets.api import ANONYMOUS, Actor, ApiTarget, Exchange, actor_variables
from harness.targets.browser import PASSIVE_ACTIONS
from harness.targets.landing import landing_note
from harness.targets.refusals import ACCEPTED, ERROR, INVALID
from harness.targets.templates import lookup
from harness.verdicts import Observation, Verdict

POLL_SECONDS = 0.2
GONE_STATUS = (404, 410)  # a read answering this shows nothing (unless the profile says others)
NOT_MODERATION = "refused for a reason other than moderation"


def new_account(role: str, seed: int, nonce: str, rules: AccountRules | None = None, *,
                unique: str | None = None) -> dict[str, str]:
    """Account details for a harness persona: benign, unique per run (`unique`, default the
    worker's nonce), a random password, named as the site's naming rule allows, and its
    `{email}` (the profile's `accounts`)."""
    rules = rules or AccountRules()
    name = rules.naming.account_name(benign_text("account_name", "en", seed), unique or nonce)
    return {
        "account_name": name,
        "password": secrets.token_urlsafe(18),
        "nickname": rules.naming.nickname(benign_text("nickname", "zh", seed + 1)),
        "email": rules.email_for({"account_name": name}),
    }


def device_id(role: str, seed: int) -> str:
    """A stable client device id per persona, sent with every request and expected in logs."""
    return "hx-" + hashlib.sha256(f"{seed}:{role}".encode()).hexdigest()[:16]


@dataclass
class Session:
    """The personas shared by the cases of one worker: a viewer, the anonymous public, and
    every account the profile provisions (a moderator), signed in."""

    target: ApiTarget
    seed: int
    nonce: str
    actors: dict[str, Actor] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    # Provisioned roles that could not sign in, with why (their reads then fail).
    not_signed_in: dict[str, str] = field(default_factory=dict)

    @classmethod
    def open(cls, target: ApiTarget, seed: int, nonce: str) -> Session:
        """Register the viewer (or sign it in, when provisioned) and sign every other
        provisioned role in; a failure leaves that actor without a session (its reads fail)."""
        session = cls(target=target, seed=seed, nonce=nonce)
        session.actors[ANONYMOUS] = Actor(ANONYMOUS, device_id(ANONYMOUS, seed), lasting=True)
        rules = target.profile.accounts
        viewer = Actor("viewer", device_id("viewer", seed), lasting=True)
        if "viewer" not in rules.provisioned:
            session.register(viewer, new_account("viewer", seed, nonce, rules))
        session.actors["viewer"] = viewer
        for role, account in rules.provisioned.items():
            actor = session.actors.setdefault(role, Actor(role, device_id(role, seed),
                                                          lasting=True))
            session.sign_in(actor, account)
        return session

    def sign_in(self, actor: Actor, account: Mapping[str, str]) -> None:
        """Sign an account made beforehand in through the channel's login steps."""
        self.secrets.append(account["password"])
        try:
            result = self.target.sign_in(actor, account)
        except HarnessError as exc:
            self.not_signed_in[actor.role] = str(exc)
            return
        if not result.ok:
            self.not_signed_in[actor.role] = outcome_of(result)
        if actor.token:
            self.secrets.append(actor.token)

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


def surface_not_assessed(spec: Mapping[str, Any] | None, surface: str, channel: str,
                         mode: str = "create") -> tuple[Verdict, str] | None:
    """Why a case of a surface cannot run (`spec`: the channel's `surface_spec`):
    not applicable where the profile declares the surface, or for an edit its edit, absent;
    inconclusive where it describes no steps for it; None when it can run."""
    if spec is None:
        return Verdict.INCONCLUSIVE, \
            f"not assessed: the profile describes no {channel} steps for {surface}"
    if "absent" in spec:
        return Verdict.NOT_APPLICABLE, spec["absent"]
    edit = spec.get("edit")
    if mode == "edit" and isinstance(edit, Mapping):
        return Verdict.NOT_APPLICABLE, f"the {surface} edit is absent: {edit['absent']}"
    return None


def run_case(session: Session, case: Case, policy: Policy, seed: int) -> CaseResult:
    """Submit one case through the API channel and judge it from the outside."""
    return CaseRun(session, case, policy, seed).run()


class CaseRun:
    """The state of one case while it runs: its variables, its author, what it has seen."""

    def __init__(self, session: Session, case: Case, policy: Policy, seed: int) -> None:
        self.session = session
        self.target = session.target
        self.case = case
        self.policy = policy
        surface = self.target.surface_spec(case.surface)
        if surface is None:
            raise KeyError(f"the {self.target.channel} channel has no surface {case.surface}")
        self.surface = surface
        # Probe images go out in the format the surface takes; the case keeps what is sent.
        self.case = case = case.for_upload(upload_format_of(
            self.target.profile.data, surface)).for_naming(self.target.profile.accounts.naming)
        self.images: ProbeMatcher | None = None  # made when an image is first read
        self.control = controls.for_surface(case.surface).id
        self.case_id = case.case_id
        self.result = CaseResult(case=case)
        started = datetime.now(timezone.utc) - timedelta(seconds=policy.clock_skew_seconds)
        self.variables: dict[str, Any] = {
            **case.variables(),
            "case_started": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        }
        for actor in session.actors.values():
            self.variables.update(actor_variables(actor))
        self.author = Actor("author", device_id("author", seed))
        self.actors = {**session.actors, "author": self.author}
        self.account = new_account("author", seed, session.nonce, self.target.profile.accounts,
                                   unique=self.author_unique(seed))
        self.result.secrets.append(self.account["password"])
        self.roles = sorted({role for spec in surface["observe"] for role in spec["as"]})
        # Roles whose every read the profile says needs a login they do not have: left out of
        # who must (not) see the case.
        self.excused = excused_roles(surface["observe"])
        self.not_applicable: list[dict[str, str]] = []
        moderation = self.target.admin.profile.api.get("moderation", {})
        self.gone_status = tuple(moderation.get("gone_status", GONE_STATUS))
        self.clock = time.perf_counter()

    @property
    def judged_roles(self) -> list[str]:
        """The observing roles the verdict rests on (those with a read that applies)."""
        return [role for role in self.roles if role not in self.excused]

    def observe(self, verdict: Verdict, reason: str, disposition: str | None = None, *,
                control: str | None = None, **details: Any) -> None:
        self.result.observations.append(Observation(
            control=control or self.control, surface=self.case.surface,
            channel=self.target.channel, case_id=self.case_id, expect=self.case.expect,
            verdict=verdict, reason=reason, disposition=disposition, details=details,
            duration_s=round(time.perf_counter() - self.clock, 4),
        ))

    def author_unique(self, seed: int) -> str | None:
        """What keeps the fresh author's name apart from the run's others (None: the
        worker's nonce, enough for one author per case)."""
        return None

    def run(self) -> CaseResult:
        submission = self.submit()
        if submission is None:
            return self.result
        accepted = self.target.classify(submission, self.case.surface) == ACCEPTED
        first, final = self.watch(accepted)
        self.result.exchanges.extend(s.exchange for s in final
                                     if isinstance(s.exchange, Exchange))
        verdict, reason, disposition = self.judge(accepted, first, final)
        extra = {"not_applicable": _unique(self.not_applicable)} if self.not_applicable else {}
        self.observe(verdict, reason, disposition, submission=submission.evidence(),
                     sightings=[s.evidence() for s in final], **extra)
        if audit_spec(self.target.profile) is not None:
            self.observe_records(submission, accepted, disposition)
        return self.result

    def register_author(self) -> bool:
        """Register the case's fresh author; False (with an observation) when that fails."""
        exchange = self.target.register(self.author, self.account)
        self.result.exchanges.append(exchange)
        if not exchange.ok:
            self.observe(Verdict.INCONCLUSIVE,
                         f"could not register the author: {outcome_of(exchange)}")
            return False
        self.variables.update(actor_variables(self.author))
        return True

    def submit(self) -> Exchange | None:
        """Set up (a fresh author, the surface's preparation) and submit; None if it could not."""
        target, surface, case = self.target, self.surface, self.case
        if case.unfit is not None:  # content the site's naming rule cannot take: not sent
            self.observe(Verdict.INCONCLUSIVE, case.unfit)
            return None
        if surface.get("author", "fresh") == "fresh" and not self.register_author():
            return None
        planned = [*surface.get("prepare", []), *surface[case.mode]]
        steps = target.run_steps(planned, self.variables, self.actors, {"author": self.account},
                                 action=f"{case.surface} {case.mode}")
        self.result.exchanges.extend(steps)
        if self.author.token:
            self.result.secrets.append(self.author.token)
        index = submission_index(planned)
        if len(steps) <= index:
            self.observe(Verdict.INCONCLUSIVE, "setup failed before the submission: "
                         + outcome_of(steps[-1] if steps else None))
            return None
        submission = steps[index]
        refusal = target.refusal(submission, case.surface)
        outcome = refusal.outcome
        if outcome == INVALID:
            # A refusal for the input's form (format, size, length, charset) is no proof of
            # moderation, for a must_block case or against a must_allow one.
            self.observe(Verdict.INCONCLUSIVE, f"{NOT_MODERATION}: {refusal.reason}",
                         submission=submission.evidence())
            return None
        if outcome == ERROR:
            status = getattr(submission, "status", None)
            if status is not None and status >= 400 and not submission.error:
                said = f"; the site said: {refusal.message}" if refusal.message else ""
                reason = ("refused in a way the profile does not describe as moderation (no "
                          f"`rejected` or `validation` rule matches): {outcome_of(submission)}"
                          f"{said}")
            else:
                reason = f"the submission did not complete: {outcome_of(submission)}"
            self.observe(Verdict.INCONCLUSIVE, reason, submission=submission.evidence())
            return None
        if outcome == ACCEPTED and len(steps) < len(planned):
            self.observe(Verdict.INCONCLUSIVE, "the submission was accepted but reading the "
                         f"new item failed: {outcome_of(steps[-1])}")
            return None
        return submission

    def watch(self, accepted: bool) -> tuple[list[Sighting], list[Sighting]]:
        """Read as every observer: the first reads, and the final ones.

        A refused must_block case is read once. An accepted one is read after the target's
        settle time and, while it shows, again until the grace window ends (a later removal
        counts). A must_allow case is read until every observer sees it or the settle time ends.
        """
        if accepted:
            time.sleep(self.target.settle_seconds)
        first = current = self.read_all()
        if self.case.expect == MUST_BLOCK:
            deadline = time.monotonic() + self.policy.grace_seconds
            while accepted and _any_visible(current) and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
                current = self.read_all()
        else:
            deadline = time.monotonic() + max(self.target.settle_seconds, POLL_SECONDS * 5)
            while accepted and not self.all_see(current) and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
                current = self.read_all()
        return first, current

    def all_see(self, sightings: list[Sighting]) -> bool:
        """Every judged role saw the case in at least one of its reads."""
        return all(any(s.visible for s in sightings if s.role == r) for r in self.judged_roles)

    def read_all(self) -> list[Sighting]:
        """One round of reads: every observe spec as each of its roles. A role's last read of
        the round is its decisive one (a screenshot policy of `last` keeps its picture)."""
        specs = self.surface["observe"]
        last = {role: index for index, spec in enumerate(specs) for role in spec["as"]}
        return [sighting for index, spec in enumerate(specs)
                for sighting in self.read_spec(spec, self.variables, decisive=frozenset(
                    role for role, at in last.items() if at == index))]

    def read_spec(self, spec: Mapping[str, Any], variables: Mapping[str, Any],
                  place: str = "", decisive: frozenset[str] | None = None) -> list[Sighting]:
        """One observing read as each of its roles; `place` prefixes the read's label.
        `decisive`: the roles for which this read may decide the verdict (None: all); a read
        that shows the case keeps its picture whether it was decisive or not."""
        sightings = []
        label = place + (f"{spec['method']} {spec['path']}" if "path" in spec
                         else f"page {spec['goto']}")
        for role in spec["as"]:
            if role == ANONYMOUS and spec.get("login_required"):
                self.not_applicable.append({"role": role, "request": label,
                                            "reason": str(spec["login_required"])})
                continue  # the profile says this page needs a login: nothing to see as them
            chosen = decisive is None or role in decisive
            read = self.target.read(spec, variables, self.actors, role, decisive=chosen)
            if read is None:
                continue  # the item this read needs does not exist (e.g. it was refused)
            artifacts = list(getattr(read, "artifacts", ()))
            if not read.ok:
                landed = unread_note(read)
                if landed is None and read.status in self.gone_status:
                    sightings.append(Sighting(role, label, read, False,
                                              note=f"gone (HTTP {read.status})",
                                              artifacts=artifacts))
                else:
                    sightings.append(Sighting(role, label, read, None,
                                              note=landed or outcome_of(read),
                                              artifacts=artifacts))
            elif spec.get("images"):
                sightings.append(self.image_sighting(spec, read, role, label, artifacts))
            else:
                visible, tag_only = self.target.match(read, self.case)
                sightings.append(Sighting(role, label, read, visible, tag_only,
                                          artifacts=artifacts))
            if sightings and sightings[-1].visible and not chosen:
                sightings[-1].artifacts += self.target.screenshot(self.actors, role)
        return sightings

    def image_sighting(self, spec: Mapping[str, Any], read: Any, role: str, label: str,
                       artifacts: list[str]) -> Sighting:
        """Whether the read's images show the case's probe image, by content (see
        harness.observe.images): shown when one does; unread when none does and one could not
        be fetched or told about; else not shown."""
        urls = self.target.image_urls(read, spec)
        if urls and self.case.image is None:
            return Sighting(role, label, read, None, note="the case has no probe image to "
                            "look for", artifacts=artifacts)
        notes, unread = [], False
        for url in urls:
            data = self.target.fetch_image(url, role, self.actors)
            if data is None:
                notes.append(f"image {url} could not be fetched")
                unread = True
                continue
            if self.images is None:
                self.images = ProbeMatcher.for_case(self.case)
            found = self.images.match(data)
            if found.shown:
                return Sighting(role, label, read, True, note=f"image {url}: {found.note}",
                                artifacts=artifacts)
            unread = unread or found.shown is None
            notes.append(f"image {url}: {found.note}")
        if unread:
            return Sighting(role, label, read, None, note="; ".join(notes), artifacts=artifacts)
        return Sighting(role, label, read, False, note=f"{len(urls)} image(s), none the probe"
                        + "".join(f"; {note}" for note in notes), artifacts=artifacts)

    def judge(self, accepted: bool, first: list[Sighting],
              final: list[Sighting]) -> tuple[Verdict, str, str | None]:
        """The case's verdict, reason and disposition from its reads (`judge_case`)."""
        return judge_case(self.case.expect, accepted, first, final, roles=self.judged_roles,
                          excused=self.excused, acceptable=self.policy.acceptable_dispositions)

    def find_record(self, submission: Exchange,
                    accepted: bool) -> tuple[RecordRead, Mapping[str, Any] | None]:
        """Poll the audit interface for the submission's record until found or the deadline."""
        audit = audit_spec(self.target.profile)
        assert audit is not None
        content_hash = ContentHash.of(audit)
        account = self.author.variables.get("account_name")
        deadline = time.monotonic() + self.policy.audit_wait_seconds
        while True:
            read = read_records(self.target, audit, self.variables, self.actors)
            record = None
            if read.records is not None:
                record = find_record(
                    read.records,
                    content=self.case.payload, content_hash=content_hash,
                    exchange=submission, account=account, by_time=accepted,
                )
            # Evidence keeps only the harness's own records: the rest are other users'.
            self.result.exchanges.append(read.evidence(
                matched=[record] if record is not None else [],
                accounts={a.variables["account_name"] for a in self.actors.values()
                          if a.variables.get("account_name")},
                devices={a.device_id for a in self.actors.values()} | {"harness-admin"},
            ))
            if record is not None or time.monotonic() >= deadline:
                return read, record
            time.sleep(POLL_SECONDS * 2)

    def observe_records(self, submission: Exchange, accepted: bool,
                        disposition: str | None) -> None:
        """Find the submission's record and compare its fields with the request the harness
        sent; `judge_records` decides A5.4-RECORDS and A5.3-LOG-FIELDS."""
        read, record = self.find_record(submission, accepted)
        check = None
        if read.ok and record is not None:
            # An account renamed by the case itself may be logged under either name.
            account = None if self.case.surface == "account_name" else \
                self.author.variables.get("account_name")
            check = check_fields(record, submission, device_id=self.author.device_id,
                                 account=account, policy=self.policy,
                                 unknowable=self.target.unknowable_log_fields)
        audit = audit_spec(self.target.profile) or {}
        for judged in judge_records(
                disposition, accepted, problem=None if read.ok else read.problem,
                record=record, check=check, decisions=set(audit.get("disposal_decisions", ())),
                wait_s=self.policy.audit_wait_seconds, channel=self.target.channel,
                not_compared=self.target.unknowable_log_fields
                & set(self.policy.log_fields_must_match)):
            self.observe(judged.verdict, judged.reason, disposition, control=judged.control,
                         **judged.details)


def submission_index(steps: list[Mapping[str, Any]]) -> int:
    """The submission is the last step that acts; steps after it only read (a page's `read`
    or `wait_for`, an API GET of the new item's id): A5.3 judges that step's own exchange."""
    return max((i for i, step in enumerate(steps)
                if not PASSIVE_ACTIONS & set(step) and step.get("method") != "GET"),
               default=len(steps) - 1)


def excused_roles(specs: list[Mapping[str, Any]]) -> dict[str, str]:
    """Roles whose every read is declared `login_required` for them, with the reason.

    Only `anonymous` lacks a login, so only it can be excused; a role with one read that
    applies is judged on that read.
    """
    reasons = [str(spec["login_required"]) for spec in specs
               if ANONYMOUS in spec["as"] and spec.get("login_required")]
    reads = [spec for spec in specs if ANONYMOUS in spec["as"]]
    if reads and len(reasons) == len(reads):
        return {ANONYMOUS: "; ".join(dict.fromkeys(reasons))}
    return {}


def unread_note(read: Any) -> str | None:
    """Why a read that did not land where it asked tells nothing: `landed on X, not Y`.

    An API read is not followed: a 3xx answer is a landing elsewhere (its Location). A page
    read carries the landing in its error (see BrowserTarget.read).
    """
    if isinstance(read, Exchange) and read.redirected:
        note = landing_note(read.url, read.location or "")
        return f"{note or 'redirected to ' + (read.location or 'an unnamed place')} " \
            f"(HTTP {read.status})"
    return getattr(read, "landing", None)


def _unique(entries: list[dict[str, str]]) -> list[dict[str, str]]:
    return [dict(t) for t in dict.fromkeys(tuple(e.items()) for e in entries)]


def _any_visible(sightings: list[Sighting]) -> bool:
    return any(s.visible for s in sightings)


def outcome_of(exchange: Any) -> str:
    """`METHOD URL -> status or error` of an HTTP exchange, a page step or a page read."""
    if exchange is None:
        return "nothing was sent"
    status = exchange.error or f"HTTP {exchange.status}"
    if getattr(exchange, "rejected", False):
        status += " (refused)"
    said = f"{getattr(exchange, 'method', 'GET')} {exchange.url} -> {status}"
    step, screenshot = getattr(exchange, "step", None), getattr(exchange, "screenshot", None)
    return (f"{step}: " if step else "") + said + (
        f"; screenshot: {screenshot}" if screenshot else "")


def read_retention(session: Session) -> tuple[int | None, str]:
    """The retention the target declares, in days, or None with the reason it is unknown:
    from its admin API, or from the page its moderator sees it on (the first number there)."""
    target = session.target
    retention = (audit_spec(target.profile) or {}).get("retention")
    if retention is None:
        return None, "the profile names no way to read the retention setting"
    if "goto" in retention:
        page = read_records(target, {"goto": retention["goto"], "as": retention.get(
            "as", "moderator"), "records": "html", "fields": {"days": retention["days"]}},
            {}, session.actors)
        if not page.records:
            return None, f"retention unreadable: {page.problem or 'the page shows nothing'}"
        number = re.search(r"\d+", str(page.records[0]["days"] or ""))
        if number is None:
            return None, f"no number at {retention['days']!r} on {retention['goto']}"
        return int(number.group(0)), f"read from the page {retention['goto']}"
    read = target.admin.request(retention["request"], {}, session.actors)
    if not read.ok:
        return None, f"retention unreadable: {outcome_of(read)}"
    days = lookup(read.document, retention["days"])
    try:
        return int(days[0]), "read from the target"
    except (IndexError, TypeError, ValueError):
        return None, f"no number at {retention['days']!r} in {read.url}"
