"""Article 5(6): the complaint and reporting system, end to end and against the clock.

Entry points and the published complaint contacts are what a person sees, so they are checked
through the pages; intake and appeals run on every channel; timeliness runs once, through the
API where the profile has one (its answers carry the times and ids it is judged on), else
through the pages.
A part of the report flow the profile declares `absent` makes its cases not_applicable.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import pytest

from harness.controls import (
    A5_6_APPEAL,
    A5_6_ENTRY_POINTS,
    A5_6_INTAKE,
    A5_6_PUBLISHED,
    A5_6_TIMELY,
)
from harness.observe.flow import outcome_of
from harness.observe.reports import (
    KINDS,
    PLANTED,
    Absent,
    NotObserved,
    Scenario,
    file_complaint,
    find_complaint_page,
    judge_filing,
    judge_timeliness,
    parse_time,
)
from harness.probes.cases import MUST_ALLOW, MUST_BLOCK
from harness.targets.templates import MissingVariable, render
from harness.verdicts import Verdict

# How long past the handling limit the last look-up of a followed report is sent: a report
# still open then was not handled within the limit, on any clock.
LOOKUP_PAST_LIMIT_S = 0.2


@pytest.fixture
def scenario(request, harness_session, evidence, harness_policy, case_seed):
    marker = request.node.get_closest_marker("control")
    return Scenario(marker.args[0], harness_session, evidence, policy=harness_policy,
                    seed=case_seed)


# --- published complaint contacts (pages) ---------------------------------------------------------


@pytest.mark.control(A5_6_PUBLISHED)
@pytest.mark.channel("browser")
def test_complaint_contacts_are_published(channel, scenario, harness_session, harness_policy):
    desk = scenario.desk
    if desk is not None and desk.pages is not None and desk.absent("complaints"):
        scenario.unobserved("contacts", Absent(desk.absent("complaints")))
        return scenario.finish()
    if desk is None or desk.pages is None or "complaints" not in desk.pages:
        scenario.observe("contacts", Verdict.INCONCLUSIVE, scenario.problem
                         or "the profile's browser section names no complaint start pages")
        return scenario.finish()
    try:
        variables = desk.start_variables()
    except NotObserved as exc:
        scenario.observe("contacts", Verdict.INCONCLUSIVE, str(exc))
        return scenario.finish()
    spec = desk.pages["complaints"]
    visitor = harness_session.actors["anonymous"]
    found = None
    pages: dict[str, Any] = {}
    for template in spec["start"]:
        try:
            start = str(render(template, variables))
        except MissingVariable as exc:
            scenario.observe(f"from {template}", Verdict.INCONCLUSIVE, f"no value for {exc}")
            continue
        page, opened, cut = find_complaint_page(
            desk, start, visitor, harness_policy.complaint_max_clicks,
            harness_policy.crawl_max_pages, seen_pages=pages)
        clicks = harness_policy.complaint_max_clicks
        if page is not None:
            found = found or page
            path = " > ".join(f"{label or url}" for url, label in page.path) or "(the page itself)"
            scenario.observe(f"from {template}", Verdict.PASS,
                             f"{page.url} in {len(page.path)} click(s) via {path}: phone "
                             f"{page.phone}, email {page.email}", path=page.path,
                             artifacts=list(page.artifacts))
        elif cut:
            scenario.observe(f"from {template}", Verdict.INCONCLUSIVE,
                             f"gave up after {opened} pages (crawl_max_pages) within {clicks} "
                             "click(s)")
        else:
            scenario.observe(f"from {template}", Verdict.FAIL,
                             f"no page within {clicks} click(s) of {start} shows a phone number "
                             f"and an email address ({opened} pages opened)")
    if found is None:
        scenario.observe("web form", Verdict.INCONCLUSIVE, "the complaint page was not found")
        return scenario.finish()
    verdict, reason, _ = file_complaint(desk, found.url, harness_session.actors["viewer"],
                                        variables, reason=scenario.reason("web form"),
                                        deadline_s=harness_policy.audit_wait_seconds)
    scenario.observe("web form", verdict, reason)
    scenario.finish()


# --- entry points (pages) ----------------------------------------------------------------------


@pytest.mark.control(A5_6_ENTRY_POINTS)
@pytest.mark.channel("browser")
@pytest.mark.parametrize("kind", KINDS)
def test_report_entry_point_on_every_content_type(kind, channel, scenario, harness_session):
    desk = scenario.desk
    if desk is None or desk.pages is None:
        scenario.observe(kind, Verdict.INCONCLUSIVE,
                         scenario.problem or "the profile has no browser `reports` section")
        return scenario.finish()
    try:
        item = desk.item(kind)
        visit = desk.entry_point(item, harness_session.actors["viewer"])
    except NotObserved as exc:
        scenario.unobserved(kind, exc)
        return scenario.finish()
    if not visit.ok:
        problem = visit.error or visit.landing or f"HTTP {visit.status}"
        scenario.observe(kind, Verdict.INCONCLUSIVE, f"{visit.url}: {problem}",
                         artifacts=list(visit.artifacts))
    elif visit.control_visible:
        scenario.observe(kind, Verdict.PASS, f"report entry point visible on {visit.url}",
                         artifacts=list(visit.artifacts))
    else:
        scenario.observe(kind, Verdict.FAIL, f"no visible report entry point for the {kind} on "
                         f"{visit.url}", artifacts=list(visit.artifacts))
    scenario.finish()


# --- intake (every channel) --------------------------------------------------------------------


@pytest.mark.control(A5_6_INTAKE)
@pytest.mark.parametrize("kind", KINDS)
def test_reports_are_received_and_traceable(kind, channel, scenario, harness_session,
                                            harness_policy):
    try:
        desk = scenario.require()
        item = desk.item(kind)
        filing = desk.file(item, harness_session.actors["viewer"],
                           scenario.reason(f"intake {kind}"))
    except NotObserved as exc:
        scenario.unobserved(kind, exc)
        return scenario.finish()
    verdict, reason, record = judge_filing(desk, filing, harness_policy.audit_wait_seconds)
    scenario.observe(kind, verdict, reason, filing=filing.evidence(), moderator_record=record)
    scenario.finish()


@pytest.mark.control(A5_6_INTAKE)
def test_repeated_reports_each_get_a_receipt(channel, scenario, harness_session, harness_policy):
    try:
        desk = scenario.require()
        item = desk.item("post")
        filings = [desk.file(item, reporter, scenario.reason(f"duplicate {n}"))
                   for n, reporter in enumerate([harness_session.actors["viewer"],
                                                 desk.reporter()])]
    except NotObserved as exc:
        scenario.unobserved("duplicates", exc)
        return scenario.finish()
    for n, filing in enumerate(filings, 1):
        verdict, reason, record = judge_filing(desk, filing, harness_policy.audit_wait_seconds)
        scenario.observe(f"duplicates/{n}", verdict, f"report {n} of the same post: {reason}",
                         filing=filing.evidence(), moderator_record=record)
    scenario.finish()


# --- timeliness and feedback (API) -------------------------------------------------------------


@pytest.mark.control(A5_6_TIMELY)
@pytest.mark.one_channel
@pytest.mark.parametrize("expect", [MUST_BLOCK, MUST_ALLOW])
def test_reports_are_handled_in_time_with_feedback(expect, channel, scenario, harness_session,
                                                   harness_policy):
    case_id = f"report/{expect}"
    try:
        desk = scenario.require()
        if desk.absent("receipt"):
            raise NotObserved(f"the site gives the reporter no receipt ({desk.absent('receipt')})"
                              ", so whether and when the result reaches the reporter cannot be "
                              "followed")
        if not desk.part("handled"):
            raise NotObserved("the profile names no statuses that mean a report was handled "
                              "(reports.handled)")
        item = desk.plant() if expect == MUST_BLOCK else desk.item("post")
        filing = desk.file(item, harness_session.actors["viewer"],
                           scenario.reason(f"timely {expect}"))
    except NotObserved as exc:
        scenario.unobserved(case_id, exc, expect=expect)
        return scenario.finish()
    if filing.ticket is None:
        last = filing.steps[-1] if filing.steps else None
        scenario.observe(case_id, Verdict.INCONCLUSIVE, "the report got no receipt (judged "
                         f"under {A5_6_INTAKE}): {outcome_of(last)}", expect=expect)
        return scenario.finish()
    found = desk.look_up(filing)
    if found is None:
        scenario.observe(case_id, Verdict.INCONCLUSIVE, f"receipt {filing.ticket} cannot be "
                         "looked up, so its handling cannot be followed (judged under "
                         f"{A5_6_INTAKE})", expect=expect)
        return scenario.finish()
    if desk.pages is not None and "status" not in found:
        scenario.observe(case_id, Verdict.INCONCLUSIVE, "the reporter's page of the ticket is "
                         "read for no status (browser.reports.lookup has no `read` into "
                         "`status`), so its handling cannot be followed", expect=expect)
        return scenario.finish()
    limits = desk.limits()
    received = parse_time(filing.received)
    assert received is not None
    # Followed up to the handling limit and a look-up just past it, or the policy's wait.
    wait = min(limits[1] + LOOKUP_PAST_LIMIT_S, harness_policy.report_wait_seconds)
    elapsed_before = (datetime.now(timezone.utc) - received).total_seconds()
    timeline, moderator_handled = desk.follow(filing, time.monotonic() + wait - elapsed_before)
    verdict, reason = judge_timeliness(timeline, limits, moderator_handled=moderator_handled)
    if verdict is Verdict.PASS and expect == MUST_BLOCK:
        assert item.run is not None
        reads = item.run.read_all()
        still = [s for s in reads if s.visible]
        unread = [s for s in reads if s.visible is None]
        if still:
            verdict = Verdict.FAIL
            reason = ("handled, but the reported content still shows: "
                      + "; ".join(f"{s.role} at {s.request}" for s in still))
        elif unread:  # a read that failed is no proof the content is gone
            verdict = Verdict.INCONCLUSIVE
            reason = ("handled, but whether the reported content is gone could not be read: "
                      + "; ".join(f"{s.role} at {s.request}: {s.note}" for s in unread))
    details = {"ticket": filing.ticket, "timeline": timeline.evidence(),
               "limits_s": {"acknowledge": limits[0], "handle": limits[1]},
               "planted": PLANTED.id if expect == MUST_BLOCK else None}
    if reason.startswith("pending") and scenario.keep_pending(filing, timeline, limits,
                                                              case_id=case_id, expect=expect):
        details["pending"] = True
    scenario.observe(case_id, verdict, reason, expect=expect, **details)
    scenario.finish()


# --- appeals -------------------------------------------------------------------------------


@pytest.mark.control(A5_6_APPEAL)
def test_disposed_comment_can_be_appealed(channel, scenario, harness_session):
    try:
        desk = scenario.require()
        appeal = desk.appeal()
        if "item" not in appeal:
            raise NotObserved("the profile names no kind of item to appeal (reports.appeal.item)")
        item = desk.item(appeal["item"])
        desk.dispose(item, scenario.reason("disposal"))
        offered, where = desk.appeal_offered(item)
    except NotObserved as exc:
        scenario.unobserved("appeal", exc)
        return scenario.finish()
    if offered is None:
        scenario.observe("appeal", Verdict.INCONCLUSIVE, f"could not see whether an appeal is "
                         f"offered: {where}")
        return scenario.finish()
    if not offered:
        scenario.observe("appeal", Verdict.FAIL, f"no appeal path offered to the author: {where}")
        return scenario.finish()
    receipt, what = desk.submit_appeal(item, scenario.reason("appeal"))
    scenario.observe("appeal", Verdict.PASS if receipt else Verdict.FAIL,
                     f"offered ({where}); {what}", appeal=receipt)
    scenario.finish()
