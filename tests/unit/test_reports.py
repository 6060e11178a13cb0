"""Article 5(6) judging: report timelines on two clocks, the timeliness verdict, pending checks."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta, timezone

import pytest

from harness.followup import STATE_ENV, pending_checks, save_pending
from harness.observe.reports import Timeline, judge_timeliness, parse_time, utc
from harness.verdicts import Verdict

T0 = datetime(2026, 11, 29, 8, 0, 0, tzinfo=timezone.utc)
LIMITS = (10.0, 30.0)


def _timeline(offset: float | None = 0.0, open_for: float | None = None,
              **phases: float) -> Timeline:
    """A timeline whose phases were seen `seconds` after T0 on the harness's clock, and
    stamped by a target whose clock runs `offset` seconds ahead; last seen unhandled by a
    look-up sent `open_for` seconds after the filing's answer (T0 + 0.3 s)."""
    received = T0 + timedelta(seconds=0.3)
    timeline = Timeline(utc(T0), offset, received=utc(received))
    if open_for is not None:
        timeline.open_at = utc(received + timedelta(seconds=open_for))
    for phase, seconds in phases.items():
        moment = T0 + timedelta(seconds=seconds)
        target = utc(moment + timedelta(seconds=offset or 0)) if offset is not None else None
        timeline.events[phase] = {"harness": utc(moment + timedelta(seconds=0.4)),
                                  "target": target}
    return timeline


def test_parse_time_accepts_z_offsets_and_naive_utc():
    assert parse_time("2026-11-29T08:00:00Z") == T0
    assert parse_time("2026-11-29T08:00:00+00:00") == T0
    assert parse_time("2026-11-29T08:00:00") == T0
    assert parse_time("yesterday") is None
    assert parse_time(None) is None


def test_elapsed_uses_the_targets_clock_corrected_by_the_offset():
    timeline = _timeline(offset=90.0, handled=5.0)
    assert timeline.elapsed("handled") == 5.0


def test_elapsed_falls_back_to_when_the_harness_saw_it():
    timeline = _timeline(offset=None, handled=5.0)
    assert timeline.elapsed("handled") == 5.4
    assert timeline.elapsed("acknowledged") is None


def test_handled_and_fed_back_in_time_passes():
    timeline = _timeline(acknowledged=1.0, handled=2.0, fed_back=2.0)
    verdict, reason = judge_timeliness(timeline, LIMITS, moderator_handled=True)
    assert verdict is Verdict.PASS, reason
    assert "handled and fed back after 2s" in reason


def test_handled_after_the_limit_fails_even_with_feedback():
    timeline = _timeline(acknowledged=1.0, handled=45.0, fed_back=45.0)
    verdict, reason = judge_timeliness(timeline, LIMITS, moderator_handled=True)
    assert verdict is Verdict.FAIL
    assert "handled after 45s (limit 30s)" in reason


def test_late_acknowledgement_fails():
    timeline = _timeline(acknowledged=12.0, handled=13.0, fed_back=13.0)
    verdict, reason = judge_timeliness(timeline, LIMITS, moderator_handled=True)
    assert verdict is Verdict.FAIL
    assert "acknowledged after 12s" in reason


def test_handled_without_feedback_fails():
    timeline = _timeline(acknowledged=1.0)
    verdict, reason = judge_timeliness(timeline, LIMITS, moderator_handled=True)
    assert verdict is Verdict.FAIL
    assert "not fed back" in reason


def test_not_handled_inside_the_limit_is_pending_not_pass():
    timeline = _timeline(acknowledged=1.0, open_for=5)
    verdict, reason = judge_timeliness(timeline, LIMITS, moderator_handled=False)
    assert verdict is Verdict.INCONCLUSIVE
    assert reason.startswith("pending")


def test_not_handled_past_the_limit_fails():
    timeline = _timeline(acknowledged=1.0, open_for=31)
    verdict, reason = judge_timeliness(timeline, LIMITS, moderator_handled=False)
    assert verdict is Verdict.FAIL
    assert "not handled within 30s" in reason


def test_never_acknowledged_past_its_limit_fails_before_the_handling_limit():
    verdict, reason = judge_timeliness(_timeline(open_for=11), LIMITS, moderator_handled=False)
    assert verdict is Verdict.FAIL
    assert "not acknowledged within 10s" in reason


def test_a_last_look_up_just_past_the_limit_fails_and_one_just_inside_is_pending():
    verdict, reason = judge_timeliness(_timeline(acknowledged=1.0, open_for=30.04), LIMITS,
                                       moderator_handled=False)
    assert verdict is Verdict.FAIL, reason
    assert "not handled within 30s" in reason
    verdict, reason = judge_timeliness(_timeline(acknowledged=1.0, open_for=29.96), LIMITS,
                                       moderator_handled=False)
    assert verdict is Verdict.INCONCLUSIVE, reason
    assert reason.startswith("pending")


def test_open_for_counts_from_the_filings_answer_not_its_sending():
    assert _timeline(open_for=30.0).open_for() == 30.0


def test_a_report_never_looked_up_is_not_judged_late():
    verdict, reason = judge_timeliness(_timeline(), LIMITS, moderator_handled=False)
    assert verdict is Verdict.INCONCLUSIVE
    assert "never answered" in reason


def test_pending_checks_are_private_files_outside_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv(STATE_ENV, str(tmp_path / "state"))
    check = {"channel": "api", "case_id": "report/must_block", "ticket": "T-1",
             "reporter": {"device_id": "d", "variables": {"token": "secret-token"}}}
    path = save_pending("run-1", check)
    assert path.is_relative_to(tmp_path / "state")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [c for _, c in pending_checks("run-1")] == [check]
    assert list(pending_checks("run-2")) == []


@pytest.mark.parametrize("value", ["", "not-a-time", 5])
def test_parse_time_rejects_non_times(value):
    assert parse_time(value) is None
