"""Reports on sites that have only pages, or lack parts of the report flow: the moderator's
queue read from a page, a report without a receipt found there by its reason, parts declared
absent, and record pages that keep only the harness's own rows in evidence."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from harness.observe.records import OwnPageRecords, RecordRead, read_records
from harness.observe.reports import Absent, Filing, Item, NotObserved, ReportDesk
from harness.targets.browser import PageRecords

QUEUE_PAGE = {"goto": "/mod/reports", "as": "moderator", "records": "tr.report",
              "fields": {"target_type": "td.kind", "target_id": "td.id", "reason": "td.why"}}
OURS = {"target_type": "post", "target_id": "7", "reason": "harness intake post n0nce"}
THEIRS = {"target_type": "user", "target_id": "3", "reason": "a neighbour's own complaint"}


class PagesTarget:
    """A browser channel that shows one record page (or fails to)."""

    channel = "browser"

    def __init__(self, page: PageRecords) -> None:
        self.page = page
        self.asked: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def page_records(self, spec: Any, variables: Any, actors: Any) -> PageRecords:
        self.asked.append((dict(spec), dict(actors)))
        return self.page


def _desk(target: Any, pages: dict[str, Any], spec: dict[str, Any] | None = None) -> ReportDesk:
    desk = ReportDesk.__new__(ReportDesk)
    desk.target, desk.pages, desk.spec = target, pages, spec or {}
    desk.session = SimpleNamespace(actors={"moderator": object()})
    desk.exchanges, desk.tickets, desk.reasons = [], set(), set()
    return desk


def _filing(ticket: str | None, reason: str) -> Filing:
    item = Item("post", {"item_type": "post", "item_id": "7"}, None)
    return Filing(item, SimpleNamespace(), ticket, "t0", "t0", [], reason=reason)


def test_a_report_without_receipt_is_found_in_the_moderators_page_by_its_reason() -> None:
    page = PageRecords("http://127.0.0.1:9/mod/reports", 200, (THEIRS, OURS))
    target = PagesTarget(page)
    desk = _desk(target, {"queue": QUEUE_PAGE, "receipt": {"absent": "no tickets"}})
    desk.reasons.add(OURS["reason"])
    record, problem = desk.in_queue(_filing(None, OURS["reason"]))
    assert record == OURS
    assert problem is None
    assert target.asked[0][0]["goto"] == "/mod/reports"
    assert "moderator" in target.asked[0][1]
    kept = json.dumps(desk.exchanges[0].evidence())
    assert "harness intake post" in kept
    assert "neighbour" not in kept


def test_a_filing_without_receipt_or_reason_matches_nothing() -> None:
    desk = _desk(PagesTarget(PageRecords("http://h/q", 200, (THEIRS, OURS))), {"queue": QUEUE_PAGE})
    assert desk.in_queue(_filing(None, "")) == (None, None)


def test_an_unreadable_queue_is_a_problem_not_an_empty_queue() -> None:
    login_wall = PageRecords("http://h/login", 200, (), landing="landed on /login")
    desk = _desk(PagesTarget(login_wall), {"queue": QUEUE_PAGE})
    record, problem = desk.in_queue(_filing(None, OURS["reason"]))
    assert record is None
    assert problem is not None
    assert "login" in problem


def test_parts_declared_absent_are_absent_and_parts_not_described_are_not_observed() -> None:
    desk = _desk(PagesTarget(PageRecords("http://h", 200, ())),
                 {"appeal": {"absent": "no appeals on this board"}}, spec={})
    with pytest.raises(Absent, match="no appeals"):
        desk.appeal()
    with pytest.raises(NotObserved) as caught:
        desk.needed("queue", "moderator's view of reports")
    assert not isinstance(caught.value, Absent)


def test_the_pages_section_comes_before_the_apis_on_the_browser_channel() -> None:
    desk = _desk(PagesTarget(PageRecords("http://h", 200, ())),
                 {"limits": {"handle_seconds": 5}}, spec={"limits": {"handle_seconds": 50},
                                                          "handled": ["done"]})
    assert desk.part("limits") == {"handle_seconds": 5}
    assert desk.part("handled") == ["done"]  # what the pages do not say comes from the API


def test_a_record_page_cannot_be_read_through_the_api_channel() -> None:
    read = read_records(SimpleNamespace(channel="api"), QUEUE_PAGE, {}, {})
    assert not read.ok
    assert "api channel cannot open" in str(read.problem)


def test_record_page_evidence_keeps_the_harnesss_accounts_and_devices_only() -> None:
    page = PageRecords("http://h/log", 200, ({"account": "alice_h", "device": "d1"},
                                             {"account": "someone", "device": "d9"}))
    kept = RecordRead(page, list(page.records)).evidence(accounts={"alice_h"})
    assert isinstance(kept, OwnPageRecords)
    assert kept.records == [{"account": "alice_h", "device": "d1"}]
    assert kept.dropped == 1
