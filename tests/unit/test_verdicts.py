"""Verdict roll-up (fail closed) and observation evidence lines."""

from __future__ import annotations

import json

import pytest

from harness.verdicts import Observation, Verdict, rollup

P, F, INC, NA, W = (Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.NOT_APPLICABLE,
                  Verdict.WAIVED)


@pytest.mark.parametrize("verdicts", [[F], [P, F], [INC, F, P], [NA, F], [W, F, W]])
def test_any_fail_fails(verdicts: list[Verdict]) -> None:
    assert rollup(verdicts)[0] is F


@pytest.mark.parametrize("verdicts", [[INC], [P, INC], [P, P, INC], [NA, INC], [W, INC]])
def test_inconclusive_beats_pass(verdicts: list[Verdict]) -> None:
    assert rollup(verdicts)[0] is INC


def test_all_pass_passes() -> None:
    verdict, summary = rollup([P, P, P])
    assert verdict is P
    assert summary == "3 pass"


def test_pass_with_not_applicable_passes() -> None:
    assert rollup([P, NA])[0] is P


def test_empty_is_inconclusive_no_observation() -> None:
    verdict, summary = rollup([])
    assert verdict is INC
    assert "no observation" in summary


def test_empty_generator_is_inconclusive() -> None:
    assert rollup(v for v in ())[0] is INC


def test_all_not_applicable_is_not_applicable() -> None:
    verdict, summary = rollup([NA, NA])
    assert verdict is NA
    assert summary == "2 not_applicable"


def test_waived_only_is_waived() -> None:
    assert rollup([W, NA])[0] is W


def test_summary_counts_every_verdict() -> None:
    _, summary = rollup([P, F, F, INC])
    assert summary == "1 pass, 2 fail, 1 inconclusive"


def test_verdict_values_are_strings() -> None:
    assert Verdict("pass") is P
    assert [v.value for v in Verdict] == [
        "pass", "fail", "inconclusive", "not_applicable", "waived",
    ]


def test_observation_evidence_line() -> None:
    observation = Observation(
        control="A5.4-POST", surface="post", channel="api", case_id="post/create/x",
        expect="must_block", verdict=F, reason="leaked", details={"seen_by": ["viewer"]},
    )
    line = observation.evidence()
    assert line["entry_type"] == "observation"
    assert line["verdict"] == "fail"
    assert line["control"] == "A5.4-POST"
    assert line["details"] == {"seen_by": ["viewer"]}
    assert json.loads(json.dumps(line)) == line
