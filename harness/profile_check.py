"""`harness profile check`: every action a profile declares, performed once with benign content
against the real target, step by step, so that a team writing a profile sees at once which step
of which action does not work, why, and (pages) what the page looked like.

The check signs the personas up (and the provisioned ones in), creates and edits benign content
on every surface the channel describes and reads it back as every observer, finds the write's
audit record, files a report on every kind of item and looks it up (or finds it in the
moderator's queue), runs each propagation case (plant, read, remove or edit, read again), finds
the complaint page and sends a complaint through its form, has an item disposed of and appeals
it, reads the retention setting, and finally deletes what it made where the profile says how.
It judges nothing about moderation: it says whether the profile drives the site. A step that
works is `ok`; anything else fails the check, which exits 0 only when every declared action
worked.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.cleanup import OK, clean, pending
from harness.controls import A5_4_PROPAGATION
from harness.errors import HarnessError
from harness.observe.flow import CaseRun, Session, device_id, new_account, read_retention
from harness.observe.propagation import CASES as PROPAGATION_CASES
from harness.observe.propagation import (
    KIND_SURFACES,
    channel_section,
    not_assessable,
    run_propagation,
)
from harness.observe.records import audit_spec
from harness.observe.reports import (
    BENIGN,
    KINDS,
    Absent,
    NotObserved,
    ReportDesk,
    file_complaint,
    find_complaint_page,
)
from harness.policy import Policy
from harness.probes.cases import build_case
from harness.seeds import derive_seed
from harness.targets.api import ANONYMOUS, Actor, ApiTarget
from harness.targets.mail import MailResult
from harness.targets.profile import Profile
from harness.targets.refusals import ACCEPTED, ERROR
from harness.targets.templates import MissingVariable, render
from harness.verdicts import Verdict

SKIPPED = "skipped"


@dataclass(frozen=True)
class Row:
    """One step of one action, as the table shows it."""

    action: str
    step: str
    ok: bool
    detail: str
    screenshot: str | None = None
    skipped: bool = False  # declared absent: nothing to try


@dataclass
class ProfileCheck:
    """The rows of one check, in the order they were performed."""

    profile: Profile
    channel: str
    out: Path
    rows: list[Row] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every declared action worked (and there was at least one)."""
        tried = [row for row in self.rows if not row.skipped]
        return bool(tried) and all(row.ok for row in tried)

    def failures(self) -> list[Row]:
        return [row for row in self.rows if not row.ok]


def check_profile(profile: Profile, channel: str, out: Path, *, policy: Policy | None = None,
                  seed: int | None = None, browser_path: str | None = None,
                  progress: Callable[[Row], None] | None = None) -> ProfileCheck:
    """Perform every action the profile declares for `channel` once; screenshots of failed
    page steps go under `out`. `progress` is told of each row as it comes."""
    if channel not in profile.channels:
        raise HarnessError(f"{profile.path}: the profile has no `{channel}` section; it "
                           f"describes {', '.join(profile.channels) or 'no channel'}")
    result = ProfileCheck(profile, channel, out)
    seed = seed if seed is not None else secrets.randbelow(10**9)
    with _target(profile, channel, out, browser_path) as target:
        checker = _Checker(target, policy or Policy(), seed, result, progress)
        try:
            checker.run()
        finally:
            checker.clean_up()
    return result


@contextmanager
def _target(profile: Profile, channel: str, out: Path,
            browser_path: str | None) -> Iterator[Any]:
    """The channel's target (the browser's with its admin API), with the profile's mailbox."""
    from harness.targets.mail import profile_mailbox  # noqa: PLC0415

    mail = profile.data.get("accounts", {}).get("mail")
    with ExitStack() as stack:
        mailbox = stack.enter_context(profile_mailbox(mail, profile.path.parent))
        api = stack.enter_context(ApiTarget(profile, mailbox=mailbox))
        if channel == "api":
            yield api
            return
        from playwright.sync_api import sync_playwright  # noqa: PLC0415

        from harness.targets.browser import (  # noqa: PLC0415
            BrowserTarget,
            find_browser,
            launch_options,
        )

        options = launch_options(find_browser(browser_path))  # before Playwright starts
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(**options)
        stack.callback(browser.close)
        target = BrowserTarget(profile, browser, api)
        stack.callback(target.close)
        out.mkdir(parents=True, exist_ok=True)

        def sink(name: str, data: bytes, text: bool) -> str:
            path = out / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            return str(path)

        target.begin_case(sink, tracing="off", screenshots="on", har="off")
        try:
            yield target
        finally:
            target.end_case(False, lambda data: data)


class _Checker:
    """The actions of one check, each adding its rows."""

    def __init__(self, target: Any, policy: Policy, seed: int, result: ProfileCheck,
                 progress: Callable[[Row], None] | None) -> None:
        self.target = target
        self.profile: Profile = target.profile
        self.policy = policy
        self.seed = seed
        self.result = result
        self.progress = progress
        self.section: dict[str, Any] = self.profile.data[result.channel]
        self.session = Session(target=target, seed=seed, nonce=secrets.token_hex(2))
        self._serial = 0

    def run(self) -> None:
        if not self.accounts():
            return  # nothing else can be tried without the personas
        for surface, spec in self.section.get("surfaces", {}).items():
            if "absent" in spec:
                self.skip(surface, f"absent: {spec['absent']}")
                continue
            for mode in ("create", "edit"):
                if isinstance(spec.get(mode), dict):
                    self.skip(f"{surface} {mode}", f"absent: {spec[mode].get('absent')}")
                else:
                    self.surface(surface, mode)
        self.reports()
        self.moderation()
        self.complaints()
        self.appeal()
        self.retention()

    # --- rows ---------------------------------------------------------------------------------

    def add(self, row: Row) -> bool:
        self.result.rows.append(row)
        if self.progress is not None:
            self.progress(row)
        return row.ok

    def skip(self, action: str, why: str) -> None:
        self.add(Row(action, "-", True, why, skipped=True))

    def steps(self, action: str, results: Iterable[Any], surface: str | None = None) -> bool:
        """A row per step result; True when every one worked."""
        ok = True
        for done in results:
            ok = self.add(self.step_row(action, done, surface)) and ok
        return ok

    def step_row(self, action: str, done: Any, surface: str | None = None) -> Row:
        label = getattr(done, "step", None) or f"{getattr(done, 'method', 'GET')} {done.url}"
        if done.ok:
            status = f"HTTP {done.status}" if done.status is not None else "done"
            return Row(action, label, True, f"{_where(done.url)} -> {status}")
        detail = f"{getattr(done, 'method', 'GET')} {done.url} -> " \
            f"{done.error or f'HTTP {done.status}'}"
        if not isinstance(done, MailResult):
            refusal = self.target.refusal(done, surface)
            if refusal.outcome != ERROR:
                detail += f"; {refusal.outcome}: {refusal.reason}"
            if refusal.message and refusal.message not in detail:
                detail += f"; the site said: {refusal.message}"
        return Row(action, label, False, detail, getattr(done, "screenshot", None))

    # --- the actions ----------------------------------------------------------------------------

    def accounts(self) -> bool:
        """Sign the viewer up (or in, when provisioned) and every provisioned role in."""
        session, seed = self.session, self.seed
        session.actors[ANONYMOUS] = Actor(ANONYMOUS, device_id(ANONYMOUS, seed))
        rules = self.profile.accounts
        ok = True
        if "viewer" not in rules.provisioned:
            viewer = Actor("viewer", device_id("viewer", seed))
            session.actors["viewer"] = viewer
            done = session.register(viewer, new_account("viewer", seed, session.nonce, rules))
            ok = self.steps("register (viewer)", [done])
        for role, account in rules.provisioned.items():
            actor = session.actors.setdefault(role, Actor(role, device_id(role, seed)))
            session.secrets.append(account["password"])
            try:
                done = self.target.sign_in(actor, account)
            except HarnessError as exc:
                ok = self.add(Row(f"login ({role})", "-", False, str(exc))) and ok
                continue
            ok = self.steps(f"login ({role})", [done]) and ok
        return ok

    def next_seed(self) -> int:
        """A seed of its own for each case and each report desk (a desk draws a series of
        its own from it: derived, so the two never meet)."""
        self._serial += 1
        return derive_seed(self.seed, f"profile-check-{self._serial}")

    def surface(self, surface: str, mode: str) -> None:
        """Create (or edit) benign content, read it back as every observer, find its record."""
        action = f"{surface} {mode}"
        seed = self.next_seed()
        case = build_case(surface, mode, BENIGN, seed,
                          self.profile.joiner(surface, self.result.channel))
        try:
            run = CaseRun(self.session, case, self.policy, seed)
        except KeyError as exc:
            self.add(Row(action, "-", False, str(exc)))
            return
        submission = run.submit()
        self.steps(action, run.result.exchanges, surface)
        if submission is None:
            reason = run.result.observations[-1].reason if run.result.observations else \
                "the submission was not made"
            if all(row.ok for row in self.result.rows if row.action == action):
                self.add(Row(action, "submission", False, reason))
            return
        refusal = self.target.refusal(submission, surface)
        if refusal.outcome != ACCEPTED:
            self.add(Row(action, "submission", False, "benign content was not accepted: "
                         f"{refusal.outcome} {refusal.reason or ''}".rstrip()))
            return
        _, final = run.watch(True)
        for role in run.roles:
            reads = [s for s in final if s.role == role]
            if role in run.excused:
                self.skip(f"{action} observe", f"{role}: not applicable ({run.excused[role]})")
            elif not reads:
                self.add(Row(f"{action} observe", f"as {role}", False,
                             "no read could be made (a variable it needs is unknown)"))
            for sighting in reads:
                shot = None if sighting.visible else next(
                    (a for a in sighting.artifacts if a.endswith(".png")), None)
                self.add(Row(f"{action} observe", f"{sighting.request} as {role}",
                             bool(sighting.visible),
                             "shown" if sighting.visible else sighting.note or "not shown",
                             shot))
        if audit_spec(self.profile) is not None:
            self.audit(run, submission, action)

    def audit(self, run: CaseRun, submission: Any, action: str) -> None:
        """The write's record in the audit log: found (its 5(3) fields are a conformance
        finding, not the profile's), or why not."""
        read, record = run.find_record(submission, True)
        if not read.ok:
            self.add(Row(f"{action} audit", "read the audit log", False,
                         f"unreadable: {read.problem}"))
        elif record is None:
            self.add(Row(f"{action} audit", "find the write's record", False,
                         f"no record of it among {len(read.records or [])} read within "
                         f"{self.policy.audit_wait_seconds:g}s (check audit.records, fields "
                         "and content_hash)"))
        else:
            missing = [name for name, value in record.items() if value in (None, "")]
            self.add(Row(f"{action} audit", "find the write's record", True,
                         "found" + (f"; empty fields: {', '.join(missing)}" if missing else "")))

    def reports(self) -> None:
        """File a report on each kind of item and follow it: its ticket looked up, or (no
        receipt) the report found in the moderator's queue."""
        try:
            desk = ReportDesk(self.session, self.policy, self.next_seed())
        except NotObserved:
            return  # the profile describes no reports
        items = desk.part("items") or {}
        for kind in KINDS:
            spec = items.get(kind)
            if spec is None:
                continue
            action = f"report {kind}"
            if "absent" in spec:
                self.skip(action, f"absent: {spec['absent']}")
                continue
            try:
                item = desk.item(kind)
                # the viewer, as the scenarios do: a member of the groups the items are in
                filing = desk.file(item, self.session.actors["viewer"],
                                   f"harness profile check {kind} {self.session.nonce}")
            except NotObserved as exc:
                self.add(Row(action, "-", False, str(exc)))
                continue
            if not self.steps(f"{action} submit", filing.steps):
                continue
            self.follow(desk, filing, action)

    def follow(self, desk: ReportDesk, filing: Any, action: str) -> None:
        """The filing's ticket looked up (when the site gives one), and the report found in
        the moderator's queue (when the profile describes it)."""
        if desk.absent("receipt") is None:
            if filing.ticket is None:
                self.add(Row(f"{action} lookup", "-", False, "the submission bound no "
                             "{ticket}: check the submit steps' extract (or read)"))
                return
            found = desk.look_up(filing)
            status = (found or {}).get("status")
            self.add(Row(f"{action} lookup", f"ticket {filing.ticket}", found is not None,
                         "the ticket could not be looked up" if found is None else
                         f"status {status!r}" if status else "found (no status read)"))
        if desk.part("queue") is None or desk.absent("queue") is not None:
            return
        record, problem = desk.in_queue(filing)
        self.add(Row(f"{action} queue", "the moderator's queue", record is not None,
                     "found" if record is not None else
                     problem or "not in the queue"))

    def moderation(self) -> None:
        """Each propagation case once with benign content: the item planted (with its
        forwards), read where it shows, removed or edited, read again. The rows say whether
        the steps worked; what the site did with the item is the assessment's to judge."""
        channel = self.result.channel
        if channel_section(self.profile, channel) is None and \
                self.profile.api.get("moderation") is None:
            return  # the profile describes no moderation
        for change, kind in PROPAGATION_CASES:
            action = f"moderation {change} {kind}"
            excuse = not_assessable(self.profile, channel, change, kind)
            if excuse is not None:
                verdict, reason = excuse
                if verdict is Verdict.NOT_APPLICABLE:
                    self.skip(action, reason)
                else:
                    self.add(Row(action, "-", False, reason))
                continue
            seed = self.next_seed()
            surface = KIND_SURFACES[kind]
            case = build_case(surface, "edit" if change == "edit" else "create", BENIGN, seed,
                              self.profile.joiner(surface, channel))
            result = run_propagation(self.session, case, self.policy, seed, change=change,
                                     kind=kind)
            steps = [done for done in result.exchanges if getattr(done, "step", None)]
            worked = self.steps(action, steps)
            problem = next((o.reason for o in result.observations
                            if o.control == A5_4_PROPAGATION
                            and o.verdict is Verdict.INCONCLUSIVE), None)
            if problem is not None or not worked:
                self.add(Row(action, "the case", False, problem or "a step failed"))
            else:
                self.add(Row(action, "read again after the change", True, " ".join(
                    o.reason for o in result.observations if o.control == A5_4_PROPAGATION)))

    def complaints(self) -> None:
        """The complaint page found from each start page, and a complaint sent through its
        web form (its receipt, or without one the moderator's view showing it)."""
        try:
            desk = ReportDesk(self.session, self.policy, self.next_seed())
        except NotObserved:
            return
        if desk.pages is None or "complaints" not in desk.pages:
            return
        if desk.absent("complaints"):
            self.skip("complaints", f"absent: {desk.absent('complaints')}")
            return
        try:
            variables = desk.start_variables()
        except NotObserved as exc:
            self.add(Row("complaints", "make what the start pages name", False, str(exc)))
            return
        found = None
        for template in desk.pages["complaints"]["start"]:
            try:
                start = str(render(template, variables))
            except MissingVariable as exc:
                self.add(Row("complaints", f"from {template}", False, f"no value for {exc}"))
                continue
            page, opened, _ = find_complaint_page(
                desk, start, self.session.actors[ANONYMOUS], self.policy.complaint_max_clicks,
                self.policy.crawl_max_pages)
            found = found or page
            self.add(Row("complaints", f"from {template}", page is not None,
                         f"{page.url}: phone {page.phone}, email {page.email}" if page else
                         f"no page within {self.policy.complaint_max_clicks} click(s) shows a "
                         f"phone number and an email address ({opened} pages opened)"))
        if found is None:
            return
        verdict, reason, done = file_complaint(
            desk, found.url, self.session.actors["viewer"], variables,
            reason=f"harness profile check complaint {self.session.nonce}",
            deadline_s=self.policy.audit_wait_seconds)
        self.steps("complaint form", done)
        self.add(Row("complaint form", "the complaint", verdict is Verdict.PASS, reason))

    def appeal(self) -> None:
        """An item of the appeal's kind disposed of by the moderator, the appeal offered to
        its author, and an appeal filed."""
        try:
            desk = ReportDesk(self.session, self.policy, self.next_seed())
            appeal = desk.appeal()
        except Absent as exc:
            self.skip("appeal", f"absent: {exc}")
            return
        except NotObserved:
            return  # the profile describes no appeal
        try:
            if "item" not in appeal:
                raise NotObserved("the profile names no kind of item to appeal "
                                  "(reports.appeal.item)")
            item = desk.item(appeal["item"])
            desk.dispose(item, f"harness profile check disposal {self.session.nonce}")
            offered, where = desk.appeal_offered(item)
        except NotObserved as exc:
            self.steps("appeal", [d for d in desk.exchanges if getattr(d, "step", None)])
            self.add(Row("appeal", "-", False, str(exc)))
            return
        if not offered:
            self.add(Row("appeal", "offered to the author", False,
                         where if offered is None else f"not offered: {where}"))
            return
        receipt, what = desk.submit_appeal(item, f"harness profile check appeal "
                                                 f"{self.session.nonce}")
        self.steps("appeal", [d for d in desk.exchanges if getattr(d, "step", None)])
        self.add(Row("appeal", "filed", receipt is not None, f"offered ({where}); {what}"))

    def retention(self) -> None:
        """The retention setting read where the profile says."""
        if (audit_spec(self.profile) or {}).get("retention") is None:
            return
        days, reason = read_retention(self.session)
        self.add(Row("retention", "read the setting", days is not None,
                     f"{days} days" if days is not None else reason))

    # --- cleanup ------------------------------------------------------------------------------

    def clean_up(self) -> None:
        """Delete what the check made, where the profile says how: a row per kind, and one
        per item that could not be deleted."""
        created = self.target.take_created()
        if not created:
            return
        admin = getattr(self.target, "admin", self.target)
        pages = (self.target, self.session.actors) if self.result.channel == "browser" \
            else None
        deleted: dict[str, int] = {}
        for line in clean(pending(created), self.profile, admin, pages):
            if line["outcome"] == OK:
                deleted[line["kind"]] = deleted.get(line["kind"], 0) + 1
            else:
                self.add(Row("cleanup", f"delete {line['kind']} {line['id']}", False,
                             line["reason"]))
        for kind, count in deleted.items():
            self.add(Row("cleanup", f"delete {kind}s", True, f"{count} deleted"))


# --- output -----------------------------------------------------------------------------------

def _where(url: str) -> str:
    """A URL without its scheme and host (the table names the target once)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return url
    return parts.path + (f"?{parts.query}" if parts.query else "")


def table(rows: Iterable[Row]) -> Any:
    """The check's rows as a rich Table: a mark, the action, its step, what happened."""
    from rich.table import Table  # noqa: PLC0415 (only the command prints)
    from rich.text import Text  # noqa: PLC0415

    shown = Table(show_lines=False, expand=True, pad_edge=False)
    shown.add_column("", width=4, no_wrap=True)
    shown.add_column("action", ratio=2, overflow="fold")
    shown.add_column("step", ratio=4, overflow="fold")
    shown.add_column("result", ratio=5, overflow="fold")
    for row in rows:
        mark = Text("-", style="dim") if row.skipped else \
            Text("ok", style="green") if row.ok else Text("FAIL", style="bold red")
        detail = row.detail + (f"\nscreenshot: {row.screenshot}" if row.screenshot else "")
        shown.add_row(mark, row.action, row.step, Text(detail, style="" if row.ok else "red"))
    return shown


def summary_lines(check: ProfileCheck) -> list[str]:
    """What the check comes to: the failing steps, each with its reason and screenshot."""
    tried = [row for row in check.rows if not row.skipped]
    failed = check.failures()
    skipped = len(check.rows) - len(tried)
    absent = f"; {skipped} declared absent" if skipped else ""
    if not tried:
        return [f"nothing was checked: the profile declares no action for the {check.channel} "
                f"channel{absent}"]
    actions = len({row.action for row in tried})
    if not failed:
        return [f"every declared action works: {actions} actions, {len(tried)} steps{absent}"]
    broken = len({row.action for row in failed})
    lines = [f"{broken} of {actions} actions do not work ({len(failed)} failed steps"
             f"{absent}):"]
    for row in failed:
        step = "" if row.step == "-" else f"{row.step}: "
        lines.append(f"  {row.action}: {step}{row.detail}")
        if row.screenshot:
            lines.append(f"    screenshot: {row.screenshot}")
    return lines
