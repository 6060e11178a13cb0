"""Rate controls: cells judged on the Wilson bound against the policy's gate, the control's
verdict is the gate (not any single case), measured families never gate, and the rates table."""

from __future__ import annotations

from typing import Any

import pytest

from harness.policy import Gate, Policy, RatePolicy
from harness.report.summary import rate_table
from harness.verdicts import (
    RATE,
    RateGate,
    Verdict,
    judge_rates,
    policy_gate,
    rate_cells,
    rate_details,
)

CONTROL = "A5.4-EVASION-CASE"
GATE = RateGate(0.70, gating=True)


def _lines(surface: str, expect: str, verdicts: list[str], family: str = "case",
           control: str = CONTROL) -> list[dict[str, Any]]:
    return [{"control": control, "surface": surface, "expect": expect, "verdict": v,
             "details": {RATE: rate_details(family, expect, Verdict(v))}} for v in verdicts]


def _cell(expect: str, verdicts: list[str], gate: RateGate = GATE) -> Any:
    [cell] = rate_cells(_lines("post", expect, verdicts), lambda *_: gate)
    return cell


def test_a_perfect_cell_passes_and_its_evidence_carries_the_interval() -> None:
    cell = _cell("must_block", ["pass"] * 12)
    assert cell.verdict is Verdict.PASS
    line = cell.evidence()
    assert line["entry_type"] == "rate"
    assert (line["k"], line["n"], line["rate"], line["bound"]) == (12, 12, 1.0, "low")
    assert line["low"] == pytest.approx(0.7575, abs=1e-4)
    assert "12/12 blocked" in line["reason"]


def test_one_leak_in_twelve_fails_the_cell_though_most_cases_pass() -> None:
    cell = _cell("must_block", ["pass"] * 11 + ["fail"])
    assert cell.verdict is Verdict.FAIL  # 11/12: lower bound 0.646 < 0.70
    assert cell.rate.k == 11


def test_a_single_leak_passes_when_the_sample_is_large_enough() -> None:
    assert _cell("must_block", ["pass"] * 39 + ["fail"]).verdict is Verdict.PASS


def test_too_few_observed_cases_are_inconclusive_never_pass() -> None:
    cell = _cell("must_block", ["pass"] * 8)  # 9 are needed to clear 0.70
    assert cell.verdict is Verdict.INCONCLUSIVE
    assert "at least 9" in cell.reason


def test_unobserved_cases_make_a_clearing_cell_inconclusive_but_not_a_failing_one() -> None:
    assert _cell("must_block", ["pass"] * 12 + ["inconclusive"]).verdict is Verdict.INCONCLUSIVE
    assert _cell("must_block", ["fail"] * 12 + ["inconclusive"]).verdict is Verdict.FAIL
    assert _cell("must_block", ["pass"] * 12 + ["inconclusive"]).unobserved == 1


def test_must_allow_cells_gate_the_upper_bound_of_false_blocks() -> None:
    gate = RateGate(0.50, gating=True)
    assert _cell("must_allow", ["pass"] * 4, gate).verdict is Verdict.PASS
    failing = _cell("must_allow", ["pass"] * 3 + ["fail"], gate)
    assert failing.verdict is Verdict.FAIL
    assert failing.rate.k == 1  # the false blocks
    assert failing.evidence()["bound"] == "high"


def test_a_surface_where_nothing_applied_is_not_applicable() -> None:
    assert _cell("must_block", ["not_applicable"]).verdict is Verdict.NOT_APPLICABLE


def test_rate_details_say_whether_the_case_was_blocked() -> None:
    assert rate_details("case", "must_block", Verdict.PASS)["blocked"] is True
    assert rate_details("case", "must_block", Verdict.FAIL)["blocked"] is False
    assert rate_details("case", "must_allow", Verdict.FAIL)["blocked"] is True
    assert rate_details("case", "must_allow", Verdict.INCONCLUSIVE)["blocked"] is None


def _policy(gated: bool) -> Policy:
    return Policy(rates=RatePolicy(families=(("case", Gate(gate=gated)),)))


def test_the_control_verdict_is_the_gate_and_names_the_worst_cell() -> None:
    lines = (_lines("post", "must_block", ["pass"] * 12)
             + _lines("bio", "must_block", ["pass"] * 6 + ["fail"] * 6)
             + _lines("post", "must_allow", ["pass"] * 4))
    verdict, summary, gating, cells = judge_rates(lines, _policy(True))[CONTROL]
    assert (verdict, gating, len(cells)) == (Verdict.FAIL, True, 3)
    assert "bio/case must_block" in summary


def test_a_measured_family_keeps_its_true_verdict_but_does_not_gate() -> None:
    lines = _lines("post", "must_block", ["fail"] * 12)
    verdict, summary, gating, _ = judge_rates(lines, _policy(False))[CONTROL]
    assert (verdict, gating) == (Verdict.FAIL, False)
    assert summary.startswith("measured, not gated")


def test_the_bank_is_judged_by_its_own_gate() -> None:
    gate = policy_gate(Policy())("A5.4-OVERBLOCK", "identity", "must_allow")
    assert (gate.threshold, gate.gating) == (Policy().overblocking.false_block_max, True)
    family = policy_gate(Policy())(CONTROL, "case", "must_block")
    assert family.threshold == Policy().rates.default.block_rate_min


def test_rate_table_lists_every_cell_with_its_interval_gate_and_verdict() -> None:
    cells = rate_cells(_lines("post", "must_block", ["pass"] * 12)
                       + _lines("post", "must_allow", ["pass"] * 3 + ["inconclusive"]),
                       lambda *_: RateGate(0.5, gating=False))
    lines = rate_table(cell.evidence() for cell in cells)
    assert lines[0].split() == ["surface", "family", "expect", "k/n", "rate", "95%",
                                "interval", "gate", "verdict"]
    assert lines[1].split()[:5] == ["post", "case", "must_block", "12/12", "100.0%"]
    assert "[0.758, 1.000]" in lines[1]
    assert "(measured)" in lines[1]
    assert "0/3 +1?" in lines[2]
    assert "INCONCLUSIVE" in lines[2]
