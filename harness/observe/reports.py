"""Article 5(6) from the outside: the items a user can report, reports filed through the
target's own entry points, each ticket followed to its handling and feedback, the moderator's
view of it, appeals, and the published complaint contacts.

Everything the target is asked to do comes from the profile's `reports` sections: on the
browser channel its pages section first (`browser.reports`), then the API's (`api.reports`), so
that a pages-only site is assessed through its pages alone. The moderator's side is read where
the profile says: the admin API, or the moderator's own pages as a signed-in moderator. A part
the site does not have is declared `{absent: <reason>}`.
"""

from __future__ import annotations

import heapq
import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from harness.errors import HarnessError
from harness.followup import pending_check, save_pending
from harness.observe.flow import POLL_SECONDS, CaseRun, Session, device_id, new_account, outcome_of
from harness.observe.records import RecordRead, read_records
from harness.policy import Policy
from harness.probes.cases import MUST_ALLOW, MUST_BLOCK, ProbeSpec, build_case
from harness.targets.api import Actor, actor_variables
from harness.targets.browser import PASSIVE_ACTIONS
from harness.targets.landing import landing_note
from harness.targets.templates import lookup_one, render
from harness.verdicts import Observation, Verdict

KINDS = ("post", "comment", "profile", "group", "group_message")
BENIGN = ProbeSpec("benign-zh", MUST_ALLOW, "zh")
PLANTED = ProbeSpec("canary-zh-a", MUST_BLOCK, "zh", canary="canary-zh-a")
DEFAULT_PHONE = r"(?:400|800)-?\d{3}-?\d{4}|\b0\d{2,3}-?\d{7,8}\b|\b1[3-9]\d{9}\b"
DEFAULT_EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"


class NotObserved(HarnessError):
    """The harness could not set up or observe a report flow (the verdict is inconclusive)."""


class Absent(NotObserved):
    """The profile declares the part of the report flow a case needs `absent` (the verdict is
    not_applicable, with the profile's reason)."""


def utc(moment: datetime | None = None) -> str:
    """An ISO UTC time with milliseconds, as evidence writes them."""
    moment = moment or datetime.now(timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: Any) -> datetime | None:
    """A target's timestamp (ISO 8601; naive means UTC), or None when it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass
class Item:
    """Something a user can report, made for the purpose, with the variables that name it."""

    kind: str
    variables: dict[str, Any]
    run: CaseRun | None  # None for an item rebuilt from a pending check

    @property
    def author(self) -> Actor:
        assert self.run is not None
        return self.run.author


@dataclass
class Filing:
    """One report as filed: its receipt, and the times on both clocks."""

    item: Item
    reporter: Actor
    ticket: str | None
    submitted: str  # harness clock, when the submission was sent
    received: str  # harness clock, when its answer came
    steps: list[Any]
    clock_offset_s: float | None = None  # target clock minus harness clock
    lookups: int = 0
    reason: str = ""  # the text it was filed with (finds it where the site gives no receipt)

    def evidence(self) -> dict[str, Any]:
        return {
            "item": self.item.kind, "ticket": self.ticket, "reason": self.reason,
            "submitted": self.submitted,
            "received": self.received, "clock_offset_s": self.clock_offset_s,
            "steps": [step.evidence() for step in self.steps],
        }


@dataclass
class Timeline:
    """When each phase of a report was first seen, on the harness's clock and the target's."""

    submitted: str
    clock_offset_s: float | None
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: str | None = None  # harness clock, when the filing's answer came
    open_at: str | None = None  # harness clock, when the last look-up that found it unhandled went

    def open_for(self) -> float | None:
        """Seconds the report was seen unhandled for: from when the site surely had it (the
        filing's answer) to when the last look-up that still found it unhandled was sent. A
        lower bound, so a report judged late on it was late."""
        start, seen = parse_time(self.received or self.submitted), parse_time(self.open_at)
        if start is None or seen is None:
            return None
        return max(0.0, (seen - start).total_seconds())

    def see(self, phase: str, target_time: Any = None) -> None:
        """Record a phase the first time it is seen."""
        if phase not in self.events:
            self.events[phase] = {"harness": utc(), "target": target_time}

    def elapsed(self, phase: str) -> float | None:
        """Seconds from submission to the phase: the target's own time corrected by the clock
        offset when it gives one, else when the harness first saw it (an upper bound)."""
        event = self.events.get(phase)
        if event is None:
            return None
        start = parse_time(self.submitted)
        assert start is not None
        target = parse_time(event.get("target"))
        if target is not None and self.clock_offset_s is not None:
            moment = target - timedelta(seconds=self.clock_offset_s)
        else:
            moment = parse_time(event["harness"])
        assert moment is not None
        return round(max(0.0, (moment - start).total_seconds()), 3)

    def evidence(self) -> dict[str, Any]:
        return {"submitted": self.submitted, "received": self.received,
                "clock_offset_s": self.clock_offset_s, "events": self.events,
                "elapsed_s": {phase: self.elapsed(phase) for phase in self.events},
                "open_at": self.open_at, "open_for_s": _rounded(self.open_for())}


def _rounded(seconds: float | None) -> float | None:
    return round(seconds, 3) if seconds is not None else None


class ReportDesk:
    """The report flows of one test on one channel: items, reporters, filings and lookups."""

    def __init__(self, session: Session, policy: Policy, seed: int) -> None:
        self.session = session
        self.target = session.target
        self.admin = self.target.admin
        self.policy = policy
        self.seed = seed
        spec = self.admin.profile.api.get("reports")
        pages = self.admin.profile.data.get("browser", {}).get("reports")
        self.pages: dict[str, Any] | None = pages if self.target.channel == "browser" else None
        if spec is None and self.pages is None:
            raise NotObserved(f"the profile has no `reports` section the {self.target.channel} "
                              "channel can use")
        self.spec: dict[str, Any] = spec or {}
        self.exchanges: list[Any] = []
        self.secrets: list[str] = []
        self.tickets: set[str] = set()  # the receipts this desk was given
        self.reasons: set[str] = set()  # the reason texts of its filings
        self._serial = 0

    def part(self, name: str) -> Any:
        """A part of the profile's reports description: the pages section's on the browser
        channel, else the API section's (None when neither has it)."""
        if self.pages is not None and name in self.pages:
            return self.pages[name]
        return self.spec.get(name)

    def absent(self, name: str) -> str | None:
        """Why the site has no such part, when the profile declares it `absent`."""
        part = self.part(name)
        return part.get("absent") if isinstance(part, Mapping) else None

    def needed(self, name: str, what: str) -> Any:
        """The part a flow needs: Absent when declared so, NotObserved when not described."""
        if (reason := self.absent(name)) is not None:
            raise Absent(reason)
        part = self.part(name)
        if part is None:
            raise NotObserved(f"the profile names no {what} (reports.{name})")
        return part

    # --- setup ------------------------------------------------------------------------------

    def _next_seed(self) -> int:
        self._serial += 1
        return self.seed + 7919 * self._serial

    def reporter(self, role: str = "reporter") -> Actor:
        """A fresh account to report with, through the channel's own registration."""
        seed = self._next_seed()
        actor = Actor(role, device_id(role, seed))
        account = new_account(role, seed, self.session.nonce, self.target.profile.accounts)
        self.secrets.append(account["password"])
        result = self.target.register(actor, account)
        self.exchanges.append(result)
        if not result.ok:
            raise NotObserved(f"could not register a {role}: {outcome_of(result)}")
        if actor.token:
            self.secrets.append(actor.token)
        return actor

    def start_variables(self) -> dict[str, Any]:
        """What the complaint start pages may name: a group's and a post's variables, each
        made with benign content (a site may lack groups); NotObserved when one cannot be
        made."""
        variables: dict[str, Any] = {}
        for kind in ("group", "post"):
            try:
                variables.update(self.item(kind).variables)
            except Absent:
                continue
        return variables

    def item(self, kind: str, probe: ProbeSpec = BENIGN) -> Item:
        """Make an item of this kind with benign content, through the channel's own steps."""
        spec = (self.part("items") or {}).get(kind)
        if spec is None:
            raise NotObserved(f"the profile names no way to make a {kind} to report")
        if "absent" in spec:
            raise Absent(spec["absent"])
        seed = self._next_seed()
        case = build_case(spec["surface"], "create", probe, seed,
                          self.target.profile.joiner(spec["surface"], self.target.channel))
        run = CaseRun(self.session, case, self.policy, seed)
        submission = run.submit()
        self.exchanges.extend(run.result.exchanges)
        self.secrets.extend(run.result.secrets)
        if submission is None or self.target.classify(submission) != "accepted":
            reason = "; ".join(o.reason for o in run.result.observations) or outcome_of(submission)
            raise NotObserved(f"could not make a {kind} to report: {reason}")
        return self._named(kind, run)

    def plant(self) -> Item:
        """A must-block item that got past the filter, made through the moderator's seeding
        interface as the profile's `plant` steps say (they bind the item's id)."""
        steps = self.spec.get("plant")
        if not steps:
            raise NotObserved("the profile names no way to plant must-block content")
        kind = next((k for k, s in (self.part("items") or {}).items()
                     if s.get("surface") == "post"), None)
        if kind is None:
            raise NotObserved("planting needs a `post` item in the profile's reports.items")
        seed = self._next_seed()
        case = build_case("post", "create", PLANTED, seed)
        run = CaseRun(self.session, case, self.policy, seed)
        registered = self.admin.register(run.author, run.account)
        self.exchanges.append(registered)
        self.secrets.append(run.account["password"])
        if not registered.ok:
            raise NotObserved(f"could not register the author: {outcome_of(registered)}")
        run.variables.update(actor_variables(run.author))
        done = self.admin.run_steps(steps, run.variables, run.actors, {}, action="report plant")
        self.exchanges.extend(done)
        if len(done) < len(steps) or not done[-1].ok:
            raise NotObserved(f"planting failed: {outcome_of(done[-1] if done else None)}")
        return self._named(kind, run)

    def _named(self, kind: str, run: CaseRun) -> Item:
        spec = self.part("items")[kind]
        variables = dict(run.variables)
        try:
            variables["item_id"] = str(render(spec["id"], variables))
        except KeyError as exc:
            raise NotObserved(f"the {kind} was made but its id {spec['id']} is unknown") from exc
        variables["item_type"] = variables["kind"] = spec["type"]
        return Item(kind, variables, run)

    # --- filing and following ---------------------------------------------------------------

    def actors(self, item: Item, reporter: Actor) -> dict[str, Actor]:
        return {**item.run.actors, "reporter": reporter}

    def entry_point(self, item: Item, reporter: Actor) -> Any:
        """The item's page as the reporter sees it, with whether its report entry point (the
        profile's `controls` locator) is visible."""
        assert self.pages is not None
        spec = self.pages.get("controls", {}).get(item.kind)
        if spec is None:
            raise NotObserved(f"the profile's browser section names no page for a {item.kind}")
        if "absent" in spec:
            raise Absent(spec["absent"])
        scope = {**item.variables, **actor_variables(reporter)}
        return self.target.visit(render(spec["page"], scope), reporter,
                                 control=spec["control"], scope=scope)

    def file(self, item: Item, reporter: Actor, reason: str) -> Filing:
        """Report the item as the reporter, through the channel's entry point."""
        variables = {**item.variables, "reason": reason}
        self.reasons.add(reason)
        if self.pages is not None:
            control = self.pages.get("controls", {}).get(item.kind)
            if control is not None and "absent" in control:
                raise Absent(control["absent"])
            if control is None or not self.pages.get("submit"):
                raise NotObserved(f"the profile's browser section cannot report a {item.kind}")
            steps = [{"goto": control["page"]}, {"click": control["control"]},
                     *self.pages["submit"]]
        else:
            steps = self.spec["submit"]
        steps = [{"as": "reporter", **step} for step in steps]
        submitted = datetime.now(timezone.utc)
        done = self.target.run_steps(steps, variables, self.actors(item, reporter), {},
                                     action=f"report {item.kind}")
        received = datetime.now(timezone.utc)
        self.exchanges.extend(done)
        filing = Filing(item, reporter, variables.get("ticket"), utc(submitted), utc(received),
                        list(done), reason=reason)
        if filing.ticket is None:
            return filing
        self.tickets.add(str(filing.ticket))
        if self.pages is not None:
            return filing  # a receipt page carries no machine-readable time
        # The receipt's own time, against the middle of the harness's request, gives the offset.
        acting = [step for step in done if not PASSIVE_ACTIONS & {step.method.lower()}]
        created = parse_time(self._field(acting[-1].document, "created"))
        if created is not None:
            middle = submitted + (received - submitted) / 2
            filing.clock_offset_s = round((created - middle).total_seconds(), 3)
        return filing

    def look_up(self, filing: Filing) -> dict[str, Any] | None:
        """The ticket as the reporter sees it (API: the lookup's fields; pages: the lookup
        steps' reads), or None when it cannot be found."""
        filing.lookups += 1
        variables = {**filing.item.variables, "ticket": filing.ticket}
        actors = {"reporter": filing.reporter}
        if self.pages is not None:
            if not self.pages.get("lookup"):
                return None
            steps = [{"as": "reporter", **step} for step in self.pages["lookup"]]
            done = self.target.run_steps(steps, variables, actors, {}, action="report lookup")
            self.exchanges.extend(done)
            if not done or not done[-1].ok or len(done) < len(steps):
                return None
            if self.landed_elsewhere(steps, done, variables):
                return None  # what it read is another page's (a login wall, a list)
            return {k: v for k, v in variables.items() if k not in filing.item.variables}
        read = self.admin.request(self.spec["lookup"], variables, actors)
        self.exchanges.append(read)
        return read.document if read.ok and isinstance(read.document, Mapping) else None

    def landed_elsewhere(self, steps: list[dict[str, Any]], done: list[Any],
                         variables: Mapping[str, Any]) -> str | None:
        """Where a `goto` of page steps ended on another page than it asked for, if one did."""
        base = self.admin.profile.base_url + "/"
        for step, result in zip(steps, done, strict=False):
            if "goto" in step:
                asked = str(render(step["goto"], variables))
                note = landing_note(urljoin(base, asked.lstrip("/")) if not urlsplit(
                    asked).scheme else asked, result.url)
                if note:
                    return note
        return None

    def _field(self, document: Any, name: str) -> Any:
        """A field of a looked-up ticket: on pages, the value a lookup step read into that
        name; through the API, the value at the profile's path for it."""
        if document is None:
            return None
        if self.pages is not None:
            return document.get(name)
        path = self.spec["fields"].get(name)
        return lookup_one(document, path) if path else None

    def status(self, document: Any) -> tuple[str | None, bool, bool, str | None]:
        """(status, acknowledged, handled, feedback) of a ticket the reporter looked up."""
        status = self._field(document, "status")
        status = str(status) if status is not None else None
        feedback = self._field(document, "feedback")
        feedback = str(feedback) if feedback not in (None, "") else None
        return (status, status in (self.part("acknowledged") or ()),
                status in (self.part("handled") or ()),
                feedback)

    def queue(self) -> RecordRead:
        """The moderator's queue (re-keyed records), read where the profile says: the admin
        API, or the moderator's pages as the signed-in moderator."""
        spec = self.needed("queue", "moderator's view of reports")
        read = read_records(self.target, spec, {}, self.session.actors)
        # Evidence keeps the desk's own reports only: the rest are other users'.
        ours = [r for r in read.records or [] if self.ours(r)]
        self.exchanges.append(read.evidence(matched=ours))
        return read

    def ours(self, record: Mapping[str, Any]) -> bool:
        """Whether a queue record is a report this desk filed: by its ticket, or (a site
        that gives no receipt) by the reason text it was filed with."""
        if str(record.get("ticket")) in self.tickets:
            return True
        shown = str(record.get("reason") or "")
        return any(reason in shown for reason in self.reasons)

    def in_queue(self, filing: Filing) -> tuple[dict[str, Any] | None, str | None]:
        """The filing's record in the moderator's queue, found by its ticket or (no receipt)
        by its reason text; (None, why) when the queue could not be read."""
        read = self.queue()
        if not read.ok:
            return None, read.problem
        for record in read.records or []:
            if filing.ticket is not None and str(record.get("ticket")) == str(filing.ticket):
                return record, None
            if filing.ticket is None and filing.reason \
                    and filing.reason in str(record.get("reason") or ""):
                return record, None
        return None, None

    def limits(self) -> tuple[float, float]:
        """(acknowledge, handle) limits in seconds: the profile's published ones, else policy."""
        published = self.part("limits") or {}
        return (float(published.get("acknowledge_seconds", self.policy.report_ack_limit_seconds)),
                float(published.get("handle_seconds", self.policy.report_handle_limit_seconds)))

    def follow(self, filing: Filing, until: float,
               timeline: Timeline | None = None) -> tuple[Timeline, bool]:
        """Poll a ticket until the reporter sees it handled with a result, or `until` (a
        time.monotonic() deadline; the last look-up is sent at or after it). Returns the
        timeline and whether the moderator side shows it handled: a report handled there but
        not fed back within the policy's grace window ends the wait early."""
        if timeline is None:
            timeline = Timeline(filing.submitted, filing.clock_offset_s, received=filing.received)
            timeline.events["submitted"] = {"harness": filing.submitted, "target": None}
        handled_since = None
        while True:
            sent, sent_at = time.monotonic(), utc()
            document = self.look_up(filing)
            if document is not None:
                self.mark(timeline, document)
                if "handled" not in timeline.events:
                    timeline.open_at = sent_at
            if "fed_back" in timeline.events:
                return timeline, True
            record, _ = self.in_queue(filing)
            if record is not None and str(record.get("status")) in (self.part("handled") or ()):
                handled_since = handled_since or time.monotonic()
                if time.monotonic() - handled_since >= self.policy.grace_seconds:
                    return timeline, True
            if sent >= until:
                return timeline, handled_since is not None
            time.sleep(max(0.0, min(POLL_SECONDS * 2.5, until - time.monotonic())))

    def mark(self, timeline: Timeline, document: Any) -> None:
        """Note the phases a lookup shows."""
        timeline.events["submitted"]["target"] = self._field(document, "created")
        _, acknowledged, handled, feedback = self.status(document)
        if acknowledged:
            timeline.see("acknowledged", self._field(document, "acknowledged"))
        if handled:
            timeline.see("acknowledged", self._field(document, "acknowledged"))
            timeline.see("handled", self._field(document, "handled"))
            if feedback:
                timeline.see("fed_back", self._field(document, "handled"))

    # --- appeals ----------------------------------------------------------------------------

    def appeal(self) -> dict[str, Any]:
        """The appeal path: the API's description with the pages' parts over it (on pages:
        `control` and `submit`; a pages-only site also its `item` and moderator `dispose`
        steps); Absent or NotObserved when the site has none or the profile names none."""
        self.needed("appeal", "appeal path")
        api = self.spec.get("appeal") or {}
        pages = (self.pages or {}).get("appeal") or {}
        return {**({} if "absent" in api else api), **pages}

    def dispose(self, item: Item, reason: str) -> None:
        """The moderator takes the author's item down: the admin request, or (pages) the
        moderator's own steps as the signed-in moderator."""
        dispose = self.appeal().get("dispose")
        if dispose is None:
            raise NotObserved("the profile names no way for a moderator to dispose of an item "
                              "(reports.appeal.dispose)")
        variables = {**item.variables, "reason": reason}
        if isinstance(dispose, list):
            actors = {**item.run.actors, **self.session.actors}
            if "moderator" not in actors:
                raise NotObserved("disposing through the pages needs a signed-in moderator "
                                  "(accounts.provisioned.moderator)")
            done = self.target.run_steps([{"as": "moderator", **step} for step in dispose],
                                         variables, actors, {}, action="disposal")
            self.exchanges.extend(done)
            last = done[-1] if done else None
            ok = len(done) == len(dispose) and last is not None and last.ok
        else:
            last = self.admin.request(dispose, variables, item.run.actors)
            self.exchanges.append(last)
            ok = last.ok
        if not ok:
            raise NotObserved(f"the moderator could not dispose of the {item.kind}: "
                              f"{outcome_of(last)}")

    def appeal_offered(self, item: Item) -> tuple[bool | None, str]:
        """Whether the author is offered an appeal for the disposed item, and where; None when
        the place that would offer it could not be read."""
        appeal = self.appeal()
        if self.pages is not None and "control" in appeal:
            control = appeal["control"]
            scope = dict(item.variables)
            visit = self.target.visit(render(control["page"], scope), item.author,
                                      control=control["control"], scope=scope)
            self.exchanges.append(visit)
            if not visit.ok:
                problem = visit.error or visit.landing or f"HTTP {visit.status}"
                return None, f"the page {visit.url} could not be read: {problem}"
            return bool(visit.control_visible), f"appeal control on {visit.url}"
        if "offered" not in appeal:
            raise NotObserved("the profile names no place that offers an appeal "
                              "(reports.appeal.offered or, on pages, appeal.control)")
        read = read_records(self.target, appeal["offered"], item.variables, item.run.actors)
        mine = [r for r in read.records or [] if str(r.get("id")) == item.variables["item_id"]
                and r.get("type") in (None, item.variables["item_type"])]
        self.exchanges.append(read.evidence(matched=mine))
        where = getattr(read.read, "url", appeal["offered"].get("goto"))
        if not read.ok:
            return None, str(read.problem)
        if mine:
            return True, f"listed at {where}"
        return False, f"the disposed {item.kind} is not listed at {where}"

    def submit_appeal(self, item: Item, reason: str) -> tuple[str | None, str]:
        """File the author's appeal; (receipt id, what happened)."""
        appeal = self.appeal()
        variables = {**item.variables, "reason": reason}
        if self.pages is not None and "control" in appeal:
            control = appeal["control"]
            steps = [{"goto": control["page"]}, {"click": control["control"]},
                     *appeal["submit"]]
        else:
            steps = appeal["submit"]
        steps = [{"as": "author", **step} for step in steps]
        done = self.target.run_steps(steps, variables, item.run.actors, {}, action="appeal")
        self.exchanges.extend(done)
        receipt = variables.get("appeal")
        if receipt is None:
            return None, f"no appeal receipt: {outcome_of(done[-1] if done else None)}"
        if "lookup" in appeal and self.pages is None:  # pages show the receipt themselves
            read = self.admin.request(appeal["lookup"], variables, item.run.actors)
            self.exchanges.append(read)
            if not read.ok:
                return None, f"appeal {receipt} cannot be looked up: {outcome_of(read)}"
        return str(receipt), f"appeal {receipt} accepted"


# --- the published complaint contacts -------------------------------------------------------------


@dataclass
class ComplaintPage:
    """Where the complaint contacts were found, the click path to them, and what they show."""

    url: str
    path: list[tuple[str, str]]  # (page url, link text clicked)
    phone: str | None
    email: str | None
    artifacts: tuple[str, ...]


COMPLAINT_WORDS = re.compile(r"举报|投诉|申诉|complain|report|contact|联系", re.I)


def find_complaint_page(desk: ReportDesk, start: str, visitor: Actor, max_clicks: int,
                  max_pages: int, *, seen_pages: dict[str, Any] | None = None,
                  ) -> tuple[ComplaintPage | None, int, bool]:
    """Breadth-first through visible same-site links from `start`, at most `max_clicks` deep,
    for a page showing a phone number, an email address and the way to the web form (the
    control the profile's `form` steps click first, when they start with a click).

    Within one depth, links whose text speaks of complaints or reports are followed first;
    that finds the page sooner and never at more clicks. `seen_pages` caches pages across
    searches. Returns (the page or None, pages opened, whether `max_pages` cut it short).
    """
    spec = desk.pages["complaints"] if desk.pages else {}
    phone = re.compile(spec.get("phone", DEFAULT_PHONE))
    email = re.compile(spec.get("email", DEFAULT_EMAIL))
    form_entry = next(iter(spec.get("form", [])), {}).get("click")
    origin = urlsplit(desk.admin.profile.base_url)
    cache = seen_pages if seen_pages is not None else {}
    queue: list[tuple[int, int, int, str, list[tuple[str, str]]]] = [(0, 0, 0, start, [])]
    queued = {urldefrag(start)[0]}
    opened = 0
    while queue:
        if opened >= max_pages:
            return None, opened, True
        _, _, _, url, path = heapq.heappop(queue)
        visit = cache.get(url)
        if visit is None:
            # A link that redirects within the site leads a visitor there too: the page
            # judged is the one it landed on (visit.url); one that leaves the site is not ok.
            visit = cache[url] = desk.target.visit(url, visitor, control=form_entry,
                                                   artifacts=False, follow=True)
        opened += 1
        if not visit.ok:
            continue
        found_phone, found_email = phone.search(visit.text), email.search(visit.text)
        if found_phone and found_email and visit.control_visible is not False:
            files = desk.target.visit(visit.url, visitor).artifacts
            return (ComplaintPage(visit.url, path, found_phone.group(0), found_email.group(0),
                                 files), opened, False)
        if len(path) >= max_clicks:
            continue
        for href, label in _same_site(visit.links, origin):
            if href not in queued:
                queued.add(href)
                unlikely = 0 if COMPLAINT_WORDS.search(f"{label} {href}") else 1
                heapq.heappush(queue, (len(path) + 1, unlikely, len(queued), href,
                                       [*path, (visit.url, label)]))
    return None, opened, False


def _same_site(links: Any, origin: Any) -> Iterator[tuple[str, str]]:
    for href, label in links:
        parts = urlsplit(href)
        if parts.scheme in ("http", "https") and parts.netloc == origin.netloc:
            yield urldefrag(href)[0], label


# --- timeliness -------------------------------------------------------------------------------


def judge_timeliness(timeline: Timeline, limits: tuple[float, float], *,
                     moderator_handled: bool) -> tuple[Verdict, str]:
    """The A5.6-TIMELY verdict of one report from its timeline. A report last seen unhandled
    inside its limit is pending: inconclusive, with a reason that starts with `pending`, to be
    settled by `harness followup`."""
    ack_limit, handle_limit = limits
    acknowledged = timeline.elapsed("acknowledged")
    handled = timeline.elapsed("handled")
    problems = []
    if acknowledged is not None and acknowledged > ack_limit:
        problems.append(f"acknowledged after {acknowledged:g}s (limit {ack_limit:g}s)")
    if handled is not None and handled > handle_limit:
        problems.append(f"handled after {handled:g}s (limit {handle_limit:g}s)")
    if "fed_back" in timeline.events:
        if problems:
            return Verdict.FAIL, "; ".join(problems)
        return Verdict.PASS, (f"acknowledged after {acknowledged:g}s, handled and fed back after "
                              f"{handled:g}s (limits {ack_limit:g}s / {handle_limit:g}s)")
    if handled is not None or moderator_handled:
        return Verdict.FAIL, "handled, but the result was not fed back to the reporter"
    open_for = timeline.open_for()
    if open_for is None:
        return Verdict.INCONCLUSIVE, "the reporter's look-ups of the report never answered"
    if acknowledged is None and open_for > ack_limit:
        problems.append(f"not acknowledged within {ack_limit:g}s")
    if open_for > handle_limit:
        problems.append(f"not handled within {handle_limit:g}s")
    if problems:
        return Verdict.FAIL, "; ".join(problems) + f" (still open {open_for:.1f}s after filing)"
    return Verdict.INCONCLUSIVE, (f"pending: still open {open_for:.1f}s after filing, inside "
                                  f"the {handle_limit:g}s limit; run `harness followup` later")


def judge_filing(desk: ReportDesk, filing: Filing, deadline_s: float
                 ) -> tuple[Verdict, str, dict[str, Any] | None]:
    """The A5.6-INTAKE verdict of one filed report, with the moderator's record of it: the
    reporter can look it up by its receipt and the moderator sees it with its target and
    reason (polled until `deadline_s`). Where the site gives no receipt (the profile declares
    it `absent`), the moderator's view alone judges it, found by the report's reason text."""
    no_receipt = desk.absent("receipt")
    last = next((s for s in reversed(filing.steps)
                 if not PASSIVE_ACTIONS & {s.method.lower()}), None)
    if filing.ticket is None and not no_receipt:
        return Verdict.FAIL, f"no receipt: {outcome_of(last)}", None
    final = filing.steps[-1] if filing.steps else None
    if filing.ticket is None and (final is None or not final.ok):
        return Verdict.FAIL, f"the report was not taken: {outcome_of(final)}", None
    if filing.ticket is not None and desk.look_up(filing) is None:
        return Verdict.FAIL, f"receipt {filing.ticket} cannot be looked up by the reporter", None
    name = f"receipt {filing.ticket}" if filing.ticket is not None else \
        f"the report (no receipt: {no_receipt})"
    record, problem = _poll_queue(desk, filing, deadline_s, retry_unreadable=True)
    if record is None and problem is not None:
        return Verdict.INCONCLUSIVE, f"the moderator's view could not be read: {problem}", None
    if record is None:
        return Verdict.FAIL, f"{name} never reached the moderator side", None
    item = filing.item.variables
    wrong = [key for key, want in (("target_type", item["item_type"]),
                                   ("target_id", item["item_id"]))
             if key in record and str(record[key]) != str(want)]
    if wrong or not record.get("reason"):
        missing = ", ".join(wrong) or "reason"
        return Verdict.FAIL, f"the moderator side shows {name} without its {missing}", record
    if filing.ticket is None:
        return Verdict.PASS, f"{name}: the moderator sees it with its target and reason", record
    return Verdict.PASS, f"{name}: the reporter and the moderator see it", record


def file_complaint(desk: ReportDesk, page: str, reporter: Actor, variables: Mapping[str, Any],
                   *, reason: str, deadline_s: float) -> tuple[Verdict, str, list[Any]]:
    """Send a complaint through the web form on `page` (the profile's `complaints.form`
    steps, as the reporter): passed with its receipt, or without one only when the moderator's
    view shows it; (verdict, reason, the steps' results)."""
    steps = [{"as": "reporter", **step}
             for step in [{"goto": page}, *desk.pages["complaints"]["form"]]]
    form_vars = {**variables, "reason": reason}
    done = desk.target.run_steps(steps, form_vars, {"reporter": reporter}, {},
                                 action="complaint form")
    desk.exchanges.extend(done)
    ticket = form_vars.get("ticket")
    if ticket is not None:
        return Verdict.PASS, f"the web form gave receipt {ticket}", done
    if desk.absent("receipt") and done and len(done) == len(steps) and done[-1].ok:
        verdict, why = judge_complaint(desk, reporter, reason, done, deadline_s)
        return verdict, (f"the web form on {page} gave no receipt ({desk.absent('receipt')}); "
                         f"{why}"), done
    return Verdict.FAIL, (f"the web form on {page} gave no receipt: "
                          f"{outcome_of(done[-1] if done else None)}"), done


def judge_complaint(desk: ReportDesk, reporter: Actor, reason: str, done: list[Any],
                         deadline_s: float) -> tuple[Verdict, str]:
    """A complaint sent through the web form without a receipt passes only when the
    moderator's view shows it (found by its reason text, polled until `deadline_s`); a form
    that merely answered proves nothing."""
    desk.reasons.add(reason)  # evidence keeps the complaint's row, as its own
    filing = Filing(Item("complaint", {}, None), reporter, None, utc(), utc(), done,
                    reason=reason)
    try:
        record, problem = _poll_queue(desk, filing, deadline_s, retry_unreadable=False)
    except NotObserved as exc:
        return Verdict.INCONCLUSIVE, f"whether it reached anyone cannot be seen: {exc}"
    if record is not None:
        return Verdict.PASS, "the moderator's view shows the complaint"
    if problem is not None:
        return Verdict.INCONCLUSIVE, f"the moderator's view could not be read: {problem}"
    return Verdict.INCONCLUSIVE, ("the moderator's view of reports does not show the complaint "
                                  f"within {deadline_s:g}s (it may be handled elsewhere)")


def _poll_queue(desk: ReportDesk, filing: Filing, deadline_s: float, *,
                retry_unreadable: bool) -> tuple[dict[str, Any] | None, str | None]:
    """The moderator's record of a filing (or why the view could not be read), asked until it
    shows or `deadline_s` passes; an unreadable view is asked again with `retry_unreadable`."""
    deadline = time.monotonic() + deadline_s
    while True:
        record, problem = desk.in_queue(filing)
        if record is not None or (problem is not None and not retry_unreadable) \
                or time.monotonic() >= deadline:
            return record, problem
        time.sleep(POLL_SECONDS)


class Scenario:
    """One Article 5(6) test: its report desk on the test's session, and its observations,
    written as evidence (the plugin's `evidence` fixture) when it ends."""

    def __init__(self, control: str, session: Session, evidence: Any, *,
                 policy: Policy, seed: int) -> None:
        self.control = control
        self.session = session
        self.channel = session.target.channel
        self.evidence = evidence
        self.desk: ReportDesk | None = None
        self.problem: str | None = None
        try:
            self.desk = ReportDesk(session, policy, seed)
        except NotObserved as exc:
            self.problem = str(exc)

    def require(self) -> ReportDesk:
        """The desk, or NotObserved with why there is none."""
        if self.desk is None:
            raise NotObserved(self.problem or "no report desk")
        return self.desk

    def reason(self, what: str) -> str:
        """The reason text of a report or complaint the harness files: its own, so that the
        moderator's view can be searched for it."""
        return f"harness {what} {self.session.nonce}"

    def observe(self, case_id: str, verdict: Verdict, reason: str, *,
                expect: str | None = None, control: str | None = None, **details: Any) -> None:
        self.evidence.record([Observation(
            control=control or self.control, surface=None, channel=self.channel,
            case_id=case_id, expect=expect, verdict=verdict, reason=reason, details=details,
        )])

    def unobserved(self, case_id: str, exc: NotObserved, **details: Any) -> None:
        """A case the harness could not observe: not_applicable where the profile declares the
        part it needs absent, else inconclusive."""
        verdict = Verdict.NOT_APPLICABLE if isinstance(exc, Absent) else Verdict.INCONCLUSIVE
        self.observe(case_id, verdict, str(exc), **details)

    def keep_pending(self, filing: Filing, timeline: Timeline, limits: tuple[float, float], *,
                     case_id: str, expect: str) -> bool:
        """Keep a report still pending for `harness followup` (in a recorded run only);
        whether it was kept."""
        run_dir = self.evidence.run_dir
        if run_dir is None:
            return False
        save_pending(run_dir.name, pending_check(
            filing, timeline, limits, case_id=case_id, channel=self.channel,
            test=self.evidence.item.nodeid, expect=expect))
        return True

    def finish(self) -> None:
        """Write the exchanges as one artifact, redact what the flows used, judge the test."""
        if self.desk is not None:
            self.evidence.add_secrets(self.desk.secrets + self.session.secrets)
            self.evidence.artifact("exchanges.json", json.dumps(
                [e.evidence() for e in self.desk.exchanges if hasattr(e, "evidence")],
                ensure_ascii=False, indent=1))
        self.evidence.judge()
