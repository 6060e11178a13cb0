"""The Article 5(6) scenario's library parts: a filing judged for intake (receipt, lookup, the
moderator's record), a web-form complaint judged by the moderator's view alone, and the
`Scenario` that records, keeps pending checks and judges the test."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness.controls import A5_6_INTAKE
from harness.evidence.scenario import Inconclusive
from harness.observe.reports import (
    Absent,
    Filing,
    Item,
    NotObserved,
    ReportDesk,
    Scenario,
    Timeline,
    judge_complaint,
    judge_filing,
)
from harness.verdicts import Verdict

ITEM = {"item_type": "post", "item_id": "7"}
RECORD = {"target_type": "post", "target_id": "7", "reason": "harness intake post n0nce"}


class Step(SimpleNamespace):
    """An exchange as a flow returns it."""

    def evidence(self) -> dict[str, Any]:
        return {"method": self.method, "ok": self.ok}


class Desk:
    """A report desk whose lookups and moderator's view answer as told."""

    def __init__(self, *, queue: list[tuple[Any, Any]], lookup: Any = None,
                 receipt_absent: str | None = None) -> None:
        self.queue = list(queue)
        self.lookup = lookup
        self.receipt_absent = receipt_absent
        self.reasons: set[str] = set()
        self.asked = 0

    def absent(self, name: str) -> str | None:
        return self.receipt_absent if name == "receipt" else None

    def look_up(self, filing: Filing) -> Any:
        return self.lookup

    def in_queue(self, filing: Filing) -> tuple[Any, Any]:
        self.asked += 1
        return self.queue.pop(0) if len(self.queue) > 1 else self.queue[0]


def _filing(ticket: str | None, *, ok: bool = True) -> Filing:
    steps = [Step(method="POST", ok=ok, status=201 if ok else 500, error=None, url="/r")]
    return Filing(Item("post", dict(ITEM), None), SimpleNamespace(), ticket, "t0", "t0", steps,
                  reason=RECORD["reason"])


def test_a_filing_passes_only_when_the_reporter_and_the_moderator_see_it() -> None:
    desk = Desk(queue=[(RECORD, None)], lookup={"status": "open"})
    verdict, reason, record = judge_filing(desk, _filing("T-1"), 0.0)
    assert verdict is Verdict.PASS
    assert record == RECORD
    assert "the reporter and the moderator" in reason


def test_a_filing_without_receipt_fails_unless_the_site_declares_none() -> None:
    verdict, reason, _ = judge_filing(Desk(queue=[(RECORD, None)]), _filing(None), 0.0)
    assert (verdict, reason.startswith("no receipt")) == (Verdict.FAIL, True)
    no_tickets = Desk(queue=[(RECORD, None)], receipt_absent="no tickets")
    verdict, reason, _ = judge_filing(no_tickets, _filing(None), 0.0)
    assert verdict is Verdict.PASS
    assert "no receipt: no tickets" in reason


def test_a_receipt_the_reporter_cannot_look_up_fails() -> None:
    verdict, reason, _ = judge_filing(Desk(queue=[(RECORD, None)], lookup=None),
                                      _filing("T-1"), 0.0)
    assert verdict is Verdict.FAIL
    assert "cannot be looked up" in reason


def test_a_filing_the_moderator_never_sees_fails_and_an_unreadable_view_is_inconclusive() -> None:
    missing = judge_filing(Desk(queue=[(None, None)], lookup={}), _filing("T-1"), 0.0)
    assert missing[0] is Verdict.FAIL
    unreadable = judge_filing(Desk(queue=[(None, "landed on /login")], lookup={}),
                              _filing("T-1"), 0.0)
    assert unreadable[0] is Verdict.INCONCLUSIVE
    assert "could not be read" in unreadable[1]


def test_an_unreadable_view_is_asked_again_until_it_shows_the_filing() -> None:
    desk = Desk(queue=[(None, "HTTP 503"), (RECORD, None)], lookup={})
    verdict, _, _ = judge_filing(desk, _filing("T-1"), 5.0)
    assert verdict is Verdict.PASS
    assert desk.asked == 2


def test_a_record_of_another_item_or_without_reason_fails() -> None:
    other = {**RECORD, "target_id": "8"}
    verdict, reason, _ = judge_filing(Desk(queue=[(other, None)], lookup={}), _filing("T"), 0.0)
    assert verdict is Verdict.FAIL
    assert "target_id" in reason
    bare = {**RECORD, "reason": ""}
    verdict, reason, _ = judge_filing(Desk(queue=[(bare, None)], lookup={}), _filing("T"), 0.0)
    assert (verdict, "reason" in reason) == (Verdict.FAIL, True)


def test_a_complaint_without_receipt_passes_only_when_the_moderator_sees_it() -> None:
    seen = Desk(queue=[(RECORD, None)])
    assert judge_complaint(seen, SimpleNamespace(), RECORD["reason"], [], 0.0)[0] \
        is Verdict.PASS
    assert RECORD["reason"] in seen.reasons
    unseen = judge_complaint(Desk(queue=[(None, None)]), SimpleNamespace(), "x", [], 0.0)
    assert unseen[0] is Verdict.INCONCLUSIVE  # a form that merely answered proves nothing
    unreadable = judge_complaint(Desk(queue=[(None, "HTTP 500")]), SimpleNamespace(), "x", [],
                                 5.0)
    assert unreadable[0] is Verdict.INCONCLUSIVE
    assert "could not be read" in unreadable[1]


class Evidence:
    """What `Scenario` asks of the `evidence` fixture."""

    def __init__(self, run_dir: Path | None) -> None:
        self.run_dir = run_dir
        self.item = SimpleNamespace(nodeid="scenarios/a5_6/test_reporting.py::t[api]")
        self.observations: list[Any] = []
        self.secrets: list[str] = []
        self.artifacts: dict[str, str] = {}
        self.judged = False

    def record(self, observations: list[Any]) -> None:
        self.observations += observations

    def add_secrets(self, values: list[str]) -> None:
        self.secrets += values

    def artifact(self, name: str, data: str) -> str:
        self.artifacts[name] = data
        return name

    def judge(self) -> None:
        self.judged = True


def _scenario(evidence: Evidence, *, reports: bool = True) -> Scenario:
    profile = SimpleNamespace(api={"reports": {"submit": []}} if reports else {}, data={})
    target = SimpleNamespace(channel="api", admin=SimpleNamespace(profile=profile))
    session = SimpleNamespace(target=target, nonce="n0nce", secrets=["hunter22"])
    return Scenario(A5_6_INTAKE, session, evidence, policy=SimpleNamespace(), seed=1)


def test_a_scenario_without_a_report_desk_says_why_and_records_the_case_unobserved() -> None:
    evidence = Evidence(None)
    scenario = _scenario(evidence, reports=False)
    with pytest.raises(NotObserved, match="no `reports` section"):
        scenario.require()
    scenario.unobserved("post", NotObserved("no lookup"))
    scenario.unobserved("group", Absent("the site has no groups"))
    assert [(o.case_id, o.verdict) for o in evidence.observations] == [
        ("post", Verdict.INCONCLUSIVE), ("group", Verdict.NOT_APPLICABLE)]
    assert all(o.control == A5_6_INTAKE and o.channel == "api" for o in evidence.observations)


def test_a_scenario_files_with_its_own_reason_and_finishes_with_its_exchanges() -> None:
    evidence = Evidence(None)
    scenario = _scenario(evidence)
    assert isinstance(scenario.require(), ReportDesk)
    assert scenario.reason("intake post") == "harness intake post n0nce"
    scenario.require().exchanges.append(Step(method="POST", ok=True))
    scenario.require().secrets.append("reporter-pass")
    scenario.finish()
    assert evidence.judged
    assert json.loads(evidence.artifacts["exchanges.json"]) == [{"method": "POST", "ok": True}]
    assert {"reporter-pass", "hunter22"} <= set(evidence.secrets)


def test_a_pending_report_is_kept_only_in_a_recorded_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / "state"))
    filing = _filing("T-9")
    filing.reporter = SimpleNamespace(device_id="d-1", variables={"token": "t"})
    timeline = Timeline("t0", None)
    assert not _scenario(Evidence(None)).keep_pending(
        filing, timeline, (60.0, 600.0), case_id="report/must_block", expect="must_block")
    run_dir = tmp_path / "runs" / "20260101-000000-abcdef"
    kept = _scenario(Evidence(run_dir)).keep_pending(
        filing, timeline, (60.0, 600.0), case_id="report/must_block", expect="must_block")
    assert kept
    from harness.followup import pending_checks

    [(_, check)] = list(pending_checks(run_dir.name))
    assert (check["ticket"], check["case_id"], check["channel"]) == \
        ("T-9", "report/must_block", "api")
    assert check["test"] == "scenarios/a5_6/test_reporting.py::t[api]"


def test_inconclusive_is_what_the_plugin_reports_as_such() -> None:
    from harness import pytest_plugin

    assert pytest_plugin.Inconclusive is Inconclusive
