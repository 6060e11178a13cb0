"""Waivers and the gate: a valid waiver keeps its control visible as `waived`; an expired or
unapproved one fails the gate; the policy decides which controls gate. All from evidence."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from harness import cli
from harness.errors import ConfigError
from harness.policy import load_policy
from harness.verdicts import (
    EXIT_FAIL,
    EXIT_PASS,
    EXIT_USAGE,
    Plan,
    PlannedTest,
    Verdict,
    judge_run,
)
from harness.waivers import GATE, Waiver, gate_record, load_waivers, operator, parse_waivers

POST, BIO = "A5.4-POST", "A5.4-BIO"
DAY = "2026-06-01"
END = {"entry_type": "run_end", "complete": True, "time": f"{DAY}T12:00:00.000000Z"}


def _run(*, post: str = "fail", gate: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    plan = Plan((POST, BIO), ("api",), (PlannedTest("a", (POST,), "api"),
                                        PlannedTest("b", (BIO,), "api"))).evidence()
    entries = [plan]
    if gate is not None:
        entries.insert(0, {"entry_type": GATE, **gate})
    return [*entries,
            {"entry_type": "observation", "control": POST, "channel": "api", "case_id": "a",
             "verdict": post, "test": "a", "reason": "shown to viewer"},
            {"entry_type": "observation", "control": BIO, "channel": "api", "case_id": "b",
             "verdict": "pass", "test": "b"}, END]


def _waiver(control: str = POST, approver: str | None = "alice",
            expires: str = "2026-06-30") -> Waiver:
    return Waiver(control, "the fix ships next week", approver, dt.date.fromisoformat(expires))


def _gate(*waivers: Waiver, who: str = "bob", measured: tuple[str, ...] = ()) -> dict[str, Any]:
    return gate_record(waivers, measured, who)


def _verdict(run: Any, control: str = POST) -> tuple[Verdict, str]:
    found = {c.control: c for c in run.controls}[control]
    return found.verdict, found.reason


def test_without_a_waiver_the_failure_fails_the_gate() -> None:
    run = judge_run(_run(gate=_gate()))
    assert _verdict(run)[0] is Verdict.FAIL
    assert run.exit_code == EXIT_FAIL


def test_a_valid_waiver_keeps_the_control_visible_as_waived() -> None:
    run = judge_run(_run(gate=_gate(_waiver())))
    verdict, reason = _verdict(run)
    assert verdict is Verdict.WAIVED
    assert "by alice" in reason
    assert "without the waiver fail" in reason
    assert run.exit_code == EXIT_PASS
    assert "1 waived" in run.why
    assert run.waivers[0]["status"] == "applied"


def test_an_expired_waiver_fails_the_gate() -> None:
    run = judge_run(_run(gate=_gate(_waiver(expires="2026-05-31"))))
    verdict, reason = _verdict(run)
    assert verdict is Verdict.FAIL
    assert "waiver refused: expired on 2026-05-31" in reason
    assert run.exit_code == EXIT_FAIL
    assert "expired on 2026-05-31" in run.why


def test_a_waiver_is_valid_through_its_expiry_day() -> None:
    assert judge_run(_run(gate=_gate(_waiver(expires=DAY)))).exit_code == EXIT_PASS


def test_an_expired_waiver_fails_the_gate_even_when_its_control_passes() -> None:
    """A stale waiver is found out at once, not when the control next fails."""
    run = judge_run(_run(post="pass", gate=_gate(_waiver(expires="2026-01-01"))))
    assert _verdict(run)[0] is Verdict.PASS
    assert run.exit_code == EXIT_FAIL


@pytest.mark.parametrize(("approver", "problem"), [
    (None, "not approved (no approver)"),
    ("Bob", "approved by the run's own operator 'bob'"),
])
def test_an_unapproved_waiver_fails_the_gate(approver: str | None, problem: str) -> None:
    run = judge_run(_run(gate=_gate(_waiver(approver=approver), who="bob")))
    assert _verdict(run)[0] is Verdict.FAIL
    assert run.exit_code == EXIT_FAIL
    assert problem in run.why


def test_a_waiver_of_a_passing_control_is_not_needed() -> None:
    run = judge_run(_run(post="pass", gate=_gate(_waiver())))
    assert _verdict(run)[0] is Verdict.PASS
    assert run.waivers[0]["status"] == "not needed"


def test_a_waiver_never_turns_a_missing_observation_into_a_pass() -> None:
    entries = [e for e in _run(gate=_gate(_waiver())) if e.get("control") != POST]
    run = judge_run(entries)
    assert _verdict(run)[0] is Verdict.WAIVED  # visible as waived, never as passed
    assert "0 of 1 planned cases observed" in _verdict(run)[1]


def test_a_waiver_of_a_control_out_of_scope_is_listed_not_judged() -> None:
    run = judge_run(_run(post="pass", gate=_gate(_waiver(control="A5.6-INTAKE",
                                                          expires="2020-01-01"))))
    assert run.exit_code == EXIT_PASS
    assert run.waivers[0]["status"] == "out of scope"


def test_controls_the_policy_measures_do_not_gate() -> None:
    run = judge_run(_run(gate=_gate(measured=("A5.4-P*",))))
    verdict, reason = _verdict(run)
    assert verdict is Verdict.FAIL
    assert reason.startswith("measured, not gated by the policy")
    assert run.exit_code == EXIT_PASS


def test_the_gate_is_read_from_evidence_alone() -> None:
    """The same lines judge the same way, whatever the policy file or the day says now."""
    entries = _run(gate=_gate(_waiver()))
    assert judge_run(entries).exit_code == judge_run(list(entries)).exit_code == EXIT_PASS


# --- loading ----------------------------------------------------------------------------------


def _policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_policy_holds_waivers_and_measured_controls(tmp_path: Path) -> None:
    policy = load_policy(_policy(tmp_path, (
        "measured: ['A5.6-*']\n"
        "waivers:\n- {control: A5.4-POST, reason: r, approver: alice, expires: 2026-06-30}\n")))
    assert policy.measured == ("A5.6-*",)
    assert policy.waivers == (Waiver(POST, "r", "alice", dt.date(2026, 6, 30)),)


@pytest.mark.parametrize(("entry", "error"), [
    ("{control: A5.4-NOPE, reason: r, expires: 2026-01-01}", "unknown control"),
    ("{control: A5.4-POST, expires: 2026-01-01}", "reason is required"),
    ("{control: A5.4-POST, reason: r}", "expires is required"),
    ("{control: A5.4-POST, reason: r, expires: soon}", "expires must be a date"),
    ("{control: A5.4-POST, reason: r, expires: 2026-01-01, by: me}", "unknown key"),
    ("{control: A5.4-POST, reason: r, approver: [a], expires: 2026-01-01}", "approver must"),
])
def test_bad_waivers_are_refused_naming_the_entry(tmp_path: Path, entry: str,
                                                  error: str) -> None:
    with pytest.raises(ConfigError, match=error) as caught:
        load_policy(_policy(tmp_path, f"waivers:\n- {entry}\n"))
    assert "waiver 1" in str(caught.value)


def test_a_control_waived_twice_is_refused() -> None:
    raw = [{"control": POST, "reason": "r", "expires": "2026-01-01"}] * 2
    with pytest.raises(ConfigError, match="waived twice"):
        parse_waivers(raw, "here")
    with pytest.raises(ConfigError, match="both by the policy and by the waivers file"):
        gate_record([_waiver(), _waiver(approver="carol")], (), "bob")


def test_a_measured_pattern_that_matches_nothing_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="measured"):
        load_policy(_policy(tmp_path, "measured: ['A9-*']\n"))


def test_a_waivers_file_is_a_list_or_a_waivers_mapping(tmp_path: Path) -> None:
    as_list = tmp_path / "list.yaml"
    as_list.write_text("- {control: A5.4-POST, reason: r, expires: 2026-01-01}\n",
                       encoding="utf-8")
    as_map = tmp_path / "map.yaml"
    as_map.write_text("waivers:\n- {control: A5.4-POST, reason: r, expires: 2026-01-01}\n",
                      encoding="utf-8")
    assert load_waivers(as_list) == load_waivers(as_map)


def test_assess_refuses_a_bad_waivers_file_before_anything_starts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "w.yaml"
    bad.write_text("- {control: A5.4-POST}\n", encoding="utf-8")
    monkeypatch.setattr(pytest, "main", lambda *a, **k: pytest.fail("pytest must not start"))
    assert cli.main(["assess", "--waivers", str(bad), "--out", str(tmp_path)]) == EXIT_USAGE


def test_the_operator_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_OPERATOR", "ci-bot")
    assert operator() == "ci-bot"
