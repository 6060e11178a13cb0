"""Judging a load run stage by stage: leak-rate Wilson bounds per stage, the reconciliation of
receipts with the moderator's queue, acknowledgement latency, and "k of n observed" never a
pass. The one judge (`judge_run`) then rolls the stage observations up like any control."""

from __future__ import annotations

import pytest

from harness.controls import A5_4_UNDER_LOAD, A5_6_INTAKE_UNDER_LOAD
from harness.load.judge import (
    CanaryCount,
    Filing,
    count_canaries,
    judge_intake,
    judge_leaks,
    percentile,
    reconcile,
)
from harness.load.plan import stages_for
from harness.load.scenario import StageTable, observations
from harness.stats import wilson
from harness.verdicts import Plan, PlannedTest, Verdict, judge_run

STAGES = stages_for(16, 3, 12)  # 1, 8, 16 users
LIMITS = {"p50": 1.0, "p95": 2.0, "p99": 5.0}


def verdicts(judged):
    return [v.verdict for v in judged]


def test_clean_stages_with_the_same_canaries_pass_against_the_no_load_bound():
    counts = {s.index: CanaryCount(held=20) for s in STAGES}
    judged = judge_leaks(STAGES, counts, None)
    assert verdicts(judged) == [Verdict.PASS] * 3
    assert judged[2].figures["limit"] == pytest.approx(wilson(0, 20).high, abs=1e-4)
    assert "no-load stage" in judged[2].figures["limit_source"]


def test_one_leak_under_load_fails_and_names_the_stage():
    counts = {0: CanaryCount(held=20), 1: CanaryCount(held=20), 2: CanaryCount(leaked=1, held=19)}
    judged = judge_leaks(STAGES, counts, None)
    assert verdicts(judged) == [Verdict.PASS, Verdict.PASS, Verdict.FAIL]
    assert "broke at stage 2 (16 users)" in judged[2].reason


def test_a_stage_with_fewer_canaries_than_the_bound_needs_is_inconclusive_not_pass():
    counts = {0: CanaryCount(held=20), 1: CanaryCount(held=12), 2: CanaryCount(held=20)}
    judged = judge_leaks(STAGES, counts, None)
    assert judged[1].verdict is Verdict.INCONCLUSIVE
    assert "needs at least 20" in judged[1].reason


def test_unobserved_canaries_leave_the_stage_inconclusive():
    counts = {0: CanaryCount(held=20), 1: CanaryCount(held=20, unobserved=1),
              2: CanaryCount(held=20)}
    judged = judge_leaks(STAGES, counts, None)
    assert judged[1].verdict is Verdict.INCONCLUSIVE
    assert "1 canaries not observed" in judged[1].reason


def test_a_planned_stage_that_sent_nothing_is_inconclusive():
    judged = judge_leaks(STAGES, {0: CanaryCount(held=20), 1: CanaryCount(held=20)}, None)
    assert judged[2].verdict is Verdict.INCONCLUSIVE
    assert "no canary was sent" in judged[2].reason


def test_without_a_fully_observed_no_load_stage_there_is_no_default_limit():
    counts = {0: CanaryCount(held=19, unobserved=1), 1: CanaryCount(held=20),
              2: CanaryCount(held=20)}
    assert verdicts(judge_leaks(STAGES, counts, None)) == [Verdict.INCONCLUSIVE] * 3


def test_the_policy_limit_needs_enough_canaries_and_a_proven_leak_fails_at_any_n():
    # 0 leaks in 20 has an upper bound of 0.161: more than a 0.1 limit, so too few to pass.
    few = judge_leaks(STAGES, {s.index: CanaryCount(held=20) for s in STAGES}, 0.1)
    assert verdicts(few) == [Verdict.INCONCLUSIVE] * 3
    enough = judge_leaks(STAGES, {s.index: CanaryCount(held=40) for s in STAGES}, 0.1)
    assert verdicts(enough) == [Verdict.PASS] * 3
    leaky = judge_leaks(STAGES, {0: CanaryCount(held=40), 1: CanaryCount(held=40),
                                 2: CanaryCount(leaked=6, held=4)}, 0.1)
    assert leaky[2].verdict is Verdict.FAIL  # lower bound 0.31 > 0.1 with only 10 canaries


def test_count_canaries_by_stage_and_verdict():
    counts = count_canaries([(0, Verdict.PASS), (1, Verdict.FAIL), (1, Verdict.INCONCLUSIVE),
                             (1, Verdict.PASS)])
    assert counts[0] == CanaryCount(held=1)
    assert counts[1] == CanaryCount(leaked=1, held=1, unobserved=1)


def test_reconcile_finds_lost_receipts():
    checked = reconcile(["A", "B", "C", "A"], ["A", "C", "Z"])
    assert checked.found == ("A", "C")
    assert checked.lost == ("B",)


def filings(stage, n, latency=0.01):
    return [Filing(stage, f"T{stage}-{i}", latency) for i in range(n)]


def test_every_receipt_in_the_queue_passes():
    every = [f for s in STAGES for f in filings(s.index, 5)]
    judged = judge_intake(STAGES, every, [f.ticket for f in every], LIMITS)
    assert verdicts(judged) == [Verdict.PASS] * 3
    assert judged[0].figures["ack_s"]["p95"] == 0.01


def test_one_lost_report_fails_its_stage():
    every = [f for s in STAGES for f in filings(s.index, 5)]
    queue = [f.ticket for f in every if f.ticket != "T2-3"]
    judged = judge_intake(STAGES, every, queue, LIMITS)
    assert verdicts(judged) == [Verdict.PASS, Verdict.PASS, Verdict.FAIL]
    assert "T2-3" in judged[2].reason
    assert judged[2].figures["lost"] == ["T2-3"]


def test_an_unread_queue_a_silent_report_or_no_report_is_inconclusive():
    every = [f for s in STAGES for f in filings(s.index, 5)]
    assert verdicts(judge_intake(STAGES, every, None, LIMITS, "HTTP 500")) == \
        [Verdict.INCONCLUSIVE] * 3
    silent = [*every, Filing(1, None, None, None, "ReadTimeout")]
    judged = judge_intake(STAGES, silent, [f.ticket for f in every], LIMITS)
    assert judged[1].verdict is Verdict.INCONCLUSIVE
    assert "no answer" in judged[1].reason
    judged = judge_intake(STAGES, filings(0, 5), [f"T0-{i}" for i in range(5)], LIMITS)
    assert verdicts(judged)[1:] == [Verdict.INCONCLUSIVE] * 2


def test_a_refused_report_or_a_slow_receipt_fails():
    every = [f for s in STAGES for f in filings(s.index, 5)]
    refused = [*every, Filing(0, None, None, 503)]
    assert judge_intake(STAGES, refused, [f.ticket for f in every], LIMITS)[0].verdict \
        is Verdict.FAIL
    slow = [*filings(0, 5), *filings(1, 5), *filings(2, 98, 0.01), Filing(2, "S1", 6.0),
            Filing(2, "S2", 6.0)]  # 2 of 100 slow: the nearest-rank p99 is slow
    judged = judge_intake(STAGES, slow, [f.ticket for f in slow], LIMITS)
    assert judged[2].verdict is Verdict.FAIL
    assert "p99 6.000 s > 5 s" in judged[2].reason


def test_percentile_is_an_observed_value():
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile(list(range(1, 101)), 99) == 99


def test_the_one_judge_rolls_stage_observations_up_and_never_passes_a_missing_stage():
    counts = {0: CanaryCount(held=20), 1: CanaryCount(held=20)}
    every = [f for s in STAGES for f in filings(s.index, 5)]
    table = StageTable(STAGES, judge_leaks(STAGES, counts, None),
                       judge_intake(STAGES, every, [f.ticket for f in every], LIMITS), {})
    test = "scenarios/load/test_under_load.py::test_controls_hold_under_load"
    plan = Plan((), ("load",),
                (PlannedTest(test, (A5_4_UNDER_LOAD, A5_6_INTAKE_UNDER_LOAD), "load"),))
    lines = [{"entry_type": "plan", **plan.evidence()},
             *({**o.evidence(), "test": test} for o in observations(table)),
             {"entry_type": "run_end", "complete": True}]
    run = judge_run(lines)
    found = {c.control: c.verdict for c in run.controls}
    assert found == {A5_4_UNDER_LOAD: Verdict.INCONCLUSIVE, A5_6_INTAKE_UNDER_LOAD: Verdict.PASS}
    assert run.exit_code == 1


def test_a_run_stopped_by_the_request_cap_says_so_where_it_is_inconclusive():
    counts = {0: CanaryCount(held=20), 1: CanaryCount(held=20), 2: CanaryCount(held=7)}
    every = [f for s in STAGES for f in filings(s.index, 5)]
    table = StageTable(STAGES, judge_leaks(STAGES, counts, None),
                       judge_intake(STAGES, every, [f.ticket for f in every], LIMITS), {},
                       stopped="the request cap of 100 was reached")
    found = [o for o in observations(table) if o.control == A5_4_UNDER_LOAD]
    assert found[2].verdict is Verdict.INCONCLUSIVE
    assert found[2].reason.endswith("the run stopped early: the request cap of 100 was reached")
    assert "stopped" not in found[0].reason
