"""The plan and its coverage under pytest: narrowing, xdist, interruptions, scope violations,
and resuming a run in the same chain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.evidence import EVIDENCE_KEY_ENV, read_entries, verify_run
from harness.verdicts import EXIT_EMPTY, EXIT_INTERRUPTED, EXIT_PASS, EXIT_USAGE

BASE_URL = "http://127.0.0.1:9"
INPROCESS = ("-p", "no:cacheprovider", "-p", "no:playwright", "--base-url", BASE_URL)
SUBPROCESS = ("-p", "no:cacheprovider", "--base-url", BASE_URL)

FOUR_CASES = """
import os
import pytest
from harness.verdicts import Observation, Verdict


@pytest.mark.control("A5.4-POST")
@pytest.mark.parametrize("n", range(4))
def test_case(evidence, n):
    if os.environ.get("STOP_AT") == str(n):
        raise KeyboardInterrupt
    evidence.record([Observation("A5.4-POST", "post", "api", f"case-{n}", "must_block",
                                 Verdict.PASS, "not shown")])
    evidence.judge()
"""


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFERENCE_ADMIN_TOKEN", "coverage-test-token")
    monkeypatch.delenv(EVIDENCE_KEY_ENV, raising=False)
    monkeypatch.delenv("STOP_AT", raising=False)


def _run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, Path]:
    run_dir = pytester.path / "run"
    result = pytester.runpytest_inprocess(*INPROCESS, "--run-dir", str(run_dir),
                                          "--control", "A5.4-POST", *args)
    return result, run_dir


def _entries(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    return [e for e in read_entries(run_dir) if e["entry_type"] == kind]


def _post(run_dir: Path) -> dict[str, Any]:
    return [e for e in _entries(run_dir, "control") if e["control"] == "A5.4-POST"][-1]


def test_the_plan_lists_every_case_before_any_runs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(FOUR_CASES)
    result, run_dir = _run(pytester)
    assert result.ret == EXIT_PASS
    kinds = [e["entry_type"] for e in read_entries(run_dir)]
    assert kinds.index("plan") < kinds.index("observation")
    (plan,) = _entries(run_dir, "plan")
    assert len(plan["tests"]) == 4
    assert plan["tests"][0]["controls"] == ["A5.4-POST"]
    assert (_post(run_dir)["planned"], _post(run_dir)["observed"]) == (4, 4)


@pytest.mark.parametrize("narrowing", [("-k", "not case[2]"),
                                       ("--deselect", "test_the_plan_of_k.py::test_case[0]")])
def test_pytest_narrowing_leaves_the_control_inconclusive(
        pytester: pytest.Pytester, narrowing: tuple[str, str]) -> None:
    pytester.makepyfile(test_the_plan_of_k=FOUR_CASES)
    result, run_dir = _run(pytester, *narrowing)
    result.assert_outcomes(passed=3, deselected=1)
    assert result.ret == 1
    control = _post(run_dir)
    assert control["verdict"] == "inconclusive"
    assert "3 of 4 planned cases observed" in control["reason"]


def test_a_run_with_nothing_in_scope_does_not_exit_0(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(FOUR_CASES)
    run_dir = pytester.path / "run"
    # A5.6-PUBLISHED is observed only through pages: an api run has nothing to assess.
    result = pytester.runpytest_inprocess(*INPROCESS, "--run-dir", str(run_dir),
                                          "--control", "A5.6-PUBLISHED")
    assert result.ret == EXIT_EMPTY
    assert "nothing assessed" in result.stdout.str()


def test_xdist_workers_hand_the_plan_to_the_controller(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(FOUR_CASES)
    run_dir = pytester.path / "run"
    result = pytester.runpytest_subprocess(*SUBPROCESS, "--run-dir", str(run_dir), "-n", "2",
                                           "--control", "A5.4-POST", "-k", "not case[3]",
                                           timeout=120)
    result.assert_outcomes(passed=3)
    assert len(_entries(run_dir, "plan")) == 1
    assert "3 of 4 planned cases observed" in _post(run_dir)["reason"]
    assert not list(run_dir.glob(".plan-*"))
    assert verify_run(run_dir).ok


def test_an_interrupted_run_is_sealed_incomplete_and_resumes(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(FOUR_CASES)
    monkeypatch.setenv("STOP_AT", "2")
    result, run_dir = _run(pytester, "--seed", "5")
    assert result.ret == EXIT_INTERRUPTED
    assert verify_run(run_dir).ok
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert info["complete"] is False
    assert info["counts"] == {"planned_tests": 4, "observed_tests": 2, "observations": 2}
    assert _post(run_dir)["verdict"] == "inconclusive"
    monkeypatch.delenv("STOP_AT")
    result = pytester.runpytest_inprocess(*INPROCESS, "--run-dir", str(run_dir), "--control",
                                          "A5.4-POST", "--seed", "5", "--resume-run")
    result.assert_outcomes(passed=2, deselected=2)
    assert result.ret == EXIT_PASS
    assert verify_run(run_dir).ok
    assert _post(run_dir)["verdict"] == "pass"
    assert len(_entries(run_dir, "plan")) == 1
    kinds = [e["entry_type"] for e in read_entries(run_dir)]
    assert kinds.count("run_resume") == 1
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert info["complete"] is True
    assert len(info["resumed"]) == 1


def test_resume_refuses_a_changed_plan(pytester: pytest.Pytester,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(FOUR_CASES)
    monkeypatch.setenv("STOP_AT", "1")
    _, run_dir = _run(pytester)
    monkeypatch.delenv("STOP_AT")
    pytester.makepyfile(FOUR_CASES.replace("range(4)", "range(5)"))
    result = pytester.runpytest_inprocess(*INPROCESS, "--run-dir", str(run_dir), "--control",
                                          "A5.4-POST", "--resume-run")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "cannot resume" in result.stderr.str()


def test_a_request_outside_allowed_hosts_ends_the_run_as_a_usage_error(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        from harness.errors import UnsafeTargetError

        @pytest.mark.control("A5.4-POST")
        def test_leaves(evidence):
            raise UnsafeTargetError("refusing POST http://other.example/login: not allowed")
    """)
    result, run_dir = _run(pytester)
    assert result.ret == EXIT_USAGE
    (violation,) = _entries(run_dir, "scope_violation")
    assert "other.example" in violation["reason"]
    assert "allowed_hosts" in result.stdout.str()
