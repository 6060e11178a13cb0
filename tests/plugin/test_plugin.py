"""The pytest plugin, run inside pytest: evidence, verdicts, the inconclusive status, seeds,
xdist, options and redaction.

In-process runs block pytest-playwright (`-p no:playwright`): its soft-assertion scope cannot
nest inside the outer run. Runs that need pytest-playwright loaded, or xdist, use a subprocess.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness.evidence import EVIDENCE_KEY_ENV, read_entries, verify_run
from harness.resources import REPORTS_DIR
from harness.verdicts import EXIT_INTERRUPTED

BASE_URL = "http://127.0.0.1:9"
ADMIN_TOKEN = "plugin-test-admin-token-0042"
INPROCESS = ("-p", "no:cacheprovider", "-p", "no:playwright", "--base-url", BASE_URL)
SUBPROCESS = ("-p", "no:cacheprovider", "--base-url", BASE_URL)
RUN_FILES = ("run.json", "evidence.jsonl", "manifest.json", "junit.xml")

OBSERVING_TEST = """
import pytest
from harness.verdicts import Observation, Verdict


@pytest.mark.control("A5.4-POST")
def test_case(evidence):
    evidence.record([Observation(
        control="A5.4-POST", surface="post", channel="api",
        case_id="post/create/canary-zh-a", expect="must_block",
        verdict=Verdict({verdict!r}), reason={reason!r},
    )])
    evidence.judge()
"""


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference profile reads its admin token from the environment; no evidence key."""
    monkeypatch.setenv("REFERENCE_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.delenv(EVIDENCE_KEY_ENV, raising=False)


def _observing(pytester: pytest.Pytester, verdict: str, reason: str = "observed") -> None:
    pytester.makepyfile(OBSERVING_TEST.format(verdict=verdict, reason=reason))


def _run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, Path]:
    run_dir = pytester.path / "run"
    result = pytester.runpytest_inprocess(*INPROCESS, "--run-dir", str(run_dir), *args)
    return result, run_dir


def _entries(run_dir: Path, entry_type: str) -> list[dict[str, Any]]:
    return [e for e in read_entries(run_dir) if e["entry_type"] == entry_type]


def _control(run_dir: Path, control_id: str) -> dict[str, Any]:
    (line,) = [e for e in _entries(run_dir, "control") if e["control"] == control_id]
    return line


def _all_bytes(run_dir: Path) -> dict[str, bytes]:
    return {p.relative_to(run_dir).as_posix(): p.read_bytes()
            for p in run_dir.rglob("*") if p.is_file()}


# --- verdicts to evidence ---------------------------------------------------------------------


def test_pass_observation_passes_and_writes_a_verified_run(pytester: pytest.Pytester) -> None:
    _observing(pytester, "pass", "nobody saw it")
    result, run_dir = _run(pytester, "--control", "A5.4-POST")
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    assert verify_run(run_dir).ok


def test_observation_line_carries_the_observation(pytester: pytest.Pytester) -> None:
    _observing(pytester, "pass", "nobody saw it")
    _, run_dir = _run(pytester)
    (line,) = _entries(run_dir, "observation")
    assert line["control"] == "A5.4-POST"
    assert line["surface"] == "post"
    assert line["channel"] == "api"
    assert line["case_id"] == "post/create/canary-zh-a"
    assert line["expect"] == "must_block"
    assert line["verdict"] == "pass"
    assert line["reason"] == "nobody saw it"
    assert line["test"].endswith("::test_case")


def test_pass_control_line_and_run_info(pytester: pytest.Pytester) -> None:
    _observing(pytester, "pass")
    _, run_dir = _run(pytester, "--seed", "7")
    control = _control(run_dir, "A5.4-POST")
    assert control["verdict"] == "pass"
    assert control["clause"] == "5(4)"
    assert control["gating"] is True
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert info["seed"] == 7
    assert info["run_id"] == "run"
    kinds = [e["entry_type"] for e in read_entries(run_dir)]
    assert kinds[0] == "run_start"
    assert kinds[-1] == "run_end"


def test_junit_in_the_run_dir_lists_the_control(pytester: pytest.Pytester) -> None:
    _observing(pytester, "pass")
    _, run_dir = _run(pytester)
    junit = (run_dir / "junit.xml").read_text(encoding="utf-8")
    assert 'name="A5.4-POST"' in junit
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert set(RUN_FILES) - {"manifest.json"} <= set(manifest["files"])


def test_fail_observation_fails_the_test_and_the_control(pytester: pytest.Pytester) -> None:
    _observing(pytester, "fail", "viewer saw the canary")
    result, run_dir = _run(pytester)
    result.assert_outcomes(failed=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*A5.4-POST: viewer saw the canary*"])
    assert _control(run_dir, "A5.4-POST")["verdict"] == "fail"
    (line,) = _entries(run_dir, "observation")
    assert line["verdict"] == "fail"
    assert verify_run(run_dir).ok


def test_inconclusive_observation_has_its_own_status(pytester: pytest.Pytester) -> None:
    _observing(pytester, "inconclusive", "target timed out")
    result, run_dir = _run(pytester, "-v")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*::test_case INCONCLUSIVE*"])
    result.stdout.fnmatch_lines([
        "*harness: controls*",
        "A5.4-POST*INCONCLUSIVE*1 inconclusive*",
    ])
    assert "PASSED" not in result.stdout.str()
    assert _control(run_dir, "A5.4-POST")["verdict"] == "inconclusive"


def test_inconclusive_status_letter(pytester: pytest.Pytester) -> None:
    _observing(pytester, "inconclusive", "target timed out")
    result, _ = _run(pytester)
    result.stdout.re_match_lines([r"test_inconclusive_status_letter\.py I\s"])
    assert result.ret == 1


def test_fail_beats_inconclusive_in_the_control(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        from harness.verdicts import Observation, Verdict

        @pytest.mark.control("A5.4-POST")
        @pytest.mark.parametrize("verdict", ["pass", "inconclusive", "fail"])
        def test_case(evidence, verdict):
            evidence.record([Observation("A5.4-POST", "post", "api", verdict, "must_block",
                                         Verdict(verdict), verdict)])
            evidence.judge()
    """)
    result, run_dir = _run(pytester)
    assert result.ret == 1
    assert _control(run_dir, "A5.4-POST")["verdict"] == "fail"
    assert _control(run_dir, "A5.4-POST")["reason"] == "1 pass, 1 fail, 1 inconclusive"


def test_fixture_error_records_an_inconclusive_observation(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.fixture
        def broken():
            raise RuntimeError("could not register the author")

        @pytest.mark.control("A5.4-BIO")
        def test_case(broken, evidence):
            evidence.judge()
    """)
    result, run_dir = _run(pytester)
    result.assert_outcomes(errors=1)
    (line,) = _entries(run_dir, "observation")
    assert line["control"] == "A5.4-BIO"
    assert line["verdict"] == "inconclusive"
    assert line["reason"].startswith("setup error")
    assert _control(run_dir, "A5.4-BIO")["verdict"] == "inconclusive"
    assert verify_run(run_dir).ok


def test_an_error_before_any_observation_is_inconclusive_with_its_message(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.control("A5.4-FORWARD")
        def test_case(evidence):
            raise RuntimeError("the page closed under the step")
    """)
    result, run_dir = _run(pytester)
    result.assert_outcomes(failed=1)
    (line,) = _entries(run_dir, "observation")
    assert line["verdict"] == "inconclusive"
    assert line["reason"].startswith("call error")
    assert "the page closed under the step" in line["reason"]
    assert _control(run_dir, "A5.4-FORWARD")["verdict"] == "inconclusive"


def test_a_teardown_that_raises_after_an_interrupt_still_seals_the_run(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.fixture(scope="session")
        def browser_like():
            yield
            raise RuntimeError("Cannot find command to respond")

        @pytest.mark.control("A5.4-POST")
        def test_case(browser_like, evidence):
            raise KeyboardInterrupt  # what a signal becomes mid-call
    """)
    result, run_dir = _run(pytester)
    assert result.ret == EXIT_INTERRUPTED
    (end,) = _entries(run_dir, "run_end")
    assert end["complete"] is False
    assert end["interrupted"].startswith("interrupted")
    assert verify_run(run_dir).ok


def test_recording_nothing_is_inconclusive(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.control("A5.4-POST")
        def test_case(evidence):
            evidence.judge()
    """)
    result, run_dir = _run(pytester, "-v")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*::test_case INCONCLUSIVE*"])
    (line,) = _entries(run_dir, "observation")
    assert line["verdict"] == "inconclusive"
    assert "no observation" in line["reason"]
    assert _control(run_dir, "A5.4-POST")["verdict"] == "inconclusive"


def test_inconclusive_gating_control_fails_the_run(pytester: pytest.Pytester) -> None:
    # Fail closed (DESIGN 5): a test that carries a control marker but observes nothing passes
    # as a pytest test, yet its gating control is inconclusive, so the run must exit non-zero.
    pytester.makepyfile("""
        import pytest

        @pytest.mark.control("A5.4-POST")
        def test_case():
            pass
    """)
    result, run_dir = _run(pytester)
    assert _control(run_dir, "A5.4-POST")["verdict"] == "inconclusive"
    assert result.ret != pytest.ExitCode.OK


def test_unknown_control_marker_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        from harness.verdicts import Observation, Verdict

        @pytest.mark.control("A9.9-NOPE")
        def test_case(evidence):
            evidence.record([Observation("A9.9-NOPE", None, "api", "x", None, Verdict.PASS, "ok")])
            evidence.judge()
    """)
    result, run_dir = _run(pytester)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret not in (pytest.ExitCode.OK, pytest.ExitCode.INTERNAL_ERROR)
    assert "A9.9-NOPE" in output
    assert "INTERNALERROR" not in output
    assert not run_dir.exists() or verify_run(run_dir).ok


def test_control_option_keeps_only_matching_scenarios(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        from harness.verdicts import Observation, Verdict

        @pytest.mark.control("A5.4-POST")
        def test_post(evidence):
            evidence.record([Observation("A5.4-POST", None, "api", "p", None, Verdict.PASS, "")])
            evidence.judge()

        @pytest.mark.control("A5.6-TIMELY")
        def test_timely(evidence):
            evidence.record([Observation("A5.6-TIMELY", None, "api", "t", None, Verdict.PASS,
                                         "")])
            evidence.judge()
    """)
    result, run_dir = _run(pytester, "--control", "A5.6-*")
    result.assert_outcomes(passed=1, deselected=1)
    # Every control of the scope the api channel observes is judged; those no test observed
    # fail closed, and the run with them.
    judged = {e["control"]: e["verdict"] for e in _entries(run_dir, "control")}
    assert judged == {"A5.6-INTAKE": "inconclusive", "A5.6-TIMELY": "pass",
                      "A5.6-APPEAL": "inconclusive"}
    assert result.ret == 1
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert info["controls"] == ["A5.6-*"]
    assert info["channels"] == ["api"]


def test_scenarios_follow_the_runs_channels(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.control("A5.6-PUBLISHED")
        def test_pages_only_control():
            pass

        @pytest.mark.channel("browser")
        @pytest.mark.control("A5.6-INTAKE")
        def test_pages_only(channel):
            pass

        @pytest.mark.control("A5.6-INTAKE")
        def test_every_channel(channel):
            pass
    """)
    result = pytester.runpytest_inprocess(*INPROCESS, "--channel", "browser", "--co", "-q")
    listed = result.stdout.str()
    assert "test_pages_only_control" in listed
    assert "test_pages_only[browser]" in listed
    assert "test_every_channel[browser]" in listed
    result = pytester.runpytest_inprocess(*INPROCESS, "--co", "-q")
    listed = result.stdout.str()
    assert "test_pages_only_control" not in listed  # its control has no api observation
    assert "test_pages_only" not in listed
    assert "test_every_channel[api]" in listed


def test_control_option_matching_nothing_is_a_usage_error(pytester: pytest.Pytester) -> None:
    _observing(pytester, "pass")
    result, _ = _run(pytester, "--control", "B*")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "matches no control" in result.stderr.str()


def test_run_dir_that_is_not_empty_is_refused(pytester: pytest.Pytester) -> None:
    _observing(pytester, "pass")
    run_dir = pytester.path / "run"
    run_dir.mkdir()
    (run_dir / "old.txt").write_text("earlier run", encoding="utf-8")
    result, _ = _run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (run_dir / "old.txt").read_text(encoding="utf-8") == "earlier run"


# --- seeds --------------------------------------------------------------------------------------

SEEDED_TEST = """
import pytest
from harness.verdicts import Observation, Verdict


@pytest.mark.control("A5.4-POST")
def test_case(evidence, case_seed):
    evidence.record([Observation("A5.4-POST", "post", "api", "c", "must_allow", Verdict.PASS,
                                 f"case seed {case_seed}")])
    evidence.judge()
"""


def test_seed_is_printed_and_reproduced(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SEEDED_TEST)
    first = pytester.runpytest_inprocess(*INPROCESS, "--run-dir", str(pytester.path / "one"))
    match = re.search(r"run seed: (\d+)", first.stdout.str())
    assert match is not None
    seed = match.group(1)
    again = pytester.runpytest_inprocess(*INPROCESS, "--run-dir", str(pytester.path / "two"),
                                         "--seed", seed)
    assert f"run seed: {seed}" in again.stdout.str()
    reasons = [_entries(pytester.path / name, "observation")[0]["reason"]
               for name in ("one", "two")]
    assert reasons[0] == reasons[1]
    for name in ("one", "two"):
        info = json.loads((pytester.path / name / "run.json").read_text(encoding="utf-8"))
        assert info["seed"] == int(seed)


def test_different_seeds_give_different_case_seeds(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SEEDED_TEST)
    reasons = []
    for seed in ("1", "2"):
        run_dir = pytester.path / f"run{seed}"
        pytester.runpytest_inprocess(*INPROCESS, "--run-dir", str(run_dir), "--seed", seed)
        reasons.append(_entries(run_dir, "observation")[0]["reason"])
    assert reasons[0] != reasons[1]


# --- xdist --------------------------------------------------------------------------------------


def test_xdist_workers_all_reach_the_evidence(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import os
        import pytest
        from harness.verdicts import Observation, Verdict

        @pytest.mark.control("A5.4-COMMENT")
        @pytest.mark.parametrize("n", range(8))
        def test_case(evidence, n, case_seed):
            worker = os.environ.get("PYTEST_XDIST_WORKER", "none")
            evidence.record([Observation("A5.4-COMMENT", "comment", "api", f"case-{n}",
                                         "must_allow", Verdict.PASS, f"{worker} {case_seed}")])
            evidence.judge()
    """)
    run_dir = pytester.path / "run"
    result = pytester.runpytest_subprocess(*SUBPROCESS, "--run-dir", str(run_dir), "-n", "2",
                                           "--seed", "42", timeout=120)
    result.assert_outcomes(passed=8)
    lines = _entries(run_dir, "observation")
    assert sorted(line["case_id"] for line in lines) == [f"case-{n}" for n in range(8)]
    workers = {line["reason"].split()[0] for line in lines}
    assert workers == {"gw0", "gw1"}
    assert _control(run_dir, "A5.4-COMMENT")["reason"] == "8 pass"
    assert verify_run(run_dir).ok
    assert json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["seed"] == 42


# --- options ------------------------------------------------------------------------------------


def test_base_url_with_pytest_playwright_loaded(pytester: pytest.Pytester) -> None:
    _observing(pytester, "pass")
    run_dir = pytester.path / "run"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--base-url", "http://127.0.0.1:8765",
        "--run-dir", str(run_dir), timeout=120,
    )
    result.assert_outcomes(passed=1)
    assert "playwright" in result.stdout.str()  # the plugins line lists it
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert info["target"]["base_url"] == "http://127.0.0.1:8765"


def test_base_url_without_pytest_playwright(pytester: pytest.Pytester) -> None:
    _observing(pytester, "pass")
    run_dir = pytester.path / "run"
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-p", "no:playwright", "--base-url", "http://127.0.0.1:8766",
        "--run-dir", str(run_dir),
    )
    result.assert_outcomes(passed=1)
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert info["target"]["base_url"] == "http://127.0.0.1:8766"


def test_unknown_channel_is_a_usage_error(pytester: pytest.Pytester) -> None:
    _observing(pytester, "pass")
    result, run_dir = _run(pytester, "--channel", "carrier-pigeon")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--channel" in result.stderr.str()
    assert not run_dir.exists()


def test_a_channel_parameter_runs_once_per_selected_channel(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_channels="""
        def test_it(channel):
            assert channel in ("api", "browser")
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:playwright",
                                          "--channel", "all", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*test_it[[]api[]]*", "*test_it[[]browser[]]*"])


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:playwright",
                                          "--markers")
    result.stdout.fnmatch_lines(["*control(id)*", "*surface(name)*", "*channel(name)*"])


def test_unsafe_base_url_never_passes(pytester: pytest.Pytester) -> None:
    _observing(pytester, "pass")
    run_dir = pytester.path / "run"
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-p", "no:playwright", "--base-url", "https://example.com",
        "--run-dir", str(run_dir),
    )
    assert result.ret != 0
    assert "example.com" in result.stdout.str() + result.stderr.str()
    assert _control(run_dir, "A5.4-POST")["verdict"] != "pass"


# --- secrets ------------------------------------------------------------------------------------

SECRET = "s3cr3t-value"


def test_added_secret_never_reaches_the_run_dir(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(f"""
        import pytest
        from harness.verdicts import Observation, Verdict

        @pytest.mark.control("A5.4-POST")
        def test_case(evidence):
            evidence.add_secrets([{SECRET!r}])
            evidence.artifact("request.log", "Cookie: sid=1; token used {SECRET}")
            evidence.record([Observation("A5.4-POST", "post", "api", "c", "must_block",
                                         Verdict.PASS, "logged in with {SECRET} ok",
                                         details={{"note": "{SECRET}"}})])
            evidence.judge()
    """)
    result, run_dir = _run(pytester)
    result.assert_outcomes(passed=1)
    files = _all_bytes(run_dir)
    assert any(name.startswith("artifacts/") for name in files)
    for name, data in files.items():
        assert SECRET.encode() not in data, name
    (line,) = _entries(run_dir, "observation")
    assert "[REDACTED]" in line["reason"]


def test_added_secret_is_redacted_in_the_failure_message(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(f"""
        import pytest
        from harness.verdicts import Observation, Verdict

        @pytest.mark.control("A5.4-POST")
        def test_case(evidence):
            evidence.add_secrets([{SECRET!r}])
            evidence.record([Observation("A5.4-POST", "post", "api", "c", "must_block",
                                         Verdict.FAIL, "seen by viewer using {SECRET}")])
            evidence.judge()
    """)
    result, _ = _run(pytester, "--junitxml", str(pytester.path / "ci.xml"))
    result.assert_outcomes(failed=1)
    assert SECRET not in result.stdout.str()
    assert SECRET not in (pytester.path / "ci.xml").read_text(encoding="utf-8")


def test_profile_secret_in_a_setup_error_never_reaches_the_run_dir(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("""
        import os
        import pytest

        @pytest.fixture
        def logged_in(target_profile):
            token = os.environ["REFERENCE_ADMIN_TOKEN"]
            raise RuntimeError(f"admin login refused for token {token}")

        @pytest.mark.control("A5.4-RECORDS")
        def test_case(logged_in, evidence):
            evidence.judge()
    """)
    result, run_dir = _run(pytester, "--tb=native")
    result.assert_outcomes(errors=1)
    for name, data in _all_bytes(run_dir).items():
        assert ADMIN_TOKEN.encode() not in data, name


# --- when no run is recorded --------------------------------------------------------------------


def _runs_mentioning(marker: str) -> list[Path]:
    if not REPORTS_DIR.is_dir():
        return []
    found = []
    for evidence in REPORTS_DIR.glob("*/evidence.jsonl"):
        try:
            if marker in evidence.read_text(encoding="utf-8", errors="replace"):
                found.append(evidence.parent)
        except OSError:
            continue
    return found


def test_no_run_dir_outside_scenarios(pytester: pytest.Pytester) -> None:
    marker = f"no-run-marker-{pytester.path.name}"
    pytester.makepyfile(OBSERVING_TEST.format(verdict="pass", reason=marker))
    before = set(REPORTS_DIR.iterdir()) if REPORTS_DIR.is_dir() else set()
    result = pytester.runpytest_inprocess(*INPROCESS)
    result.assert_outcomes(passed=1)
    assert "harness evidence:" not in result.stdout.str()
    assert "harness: controls" not in result.stdout.str()
    assert _runs_mentioning(marker) == []
    after = set(REPORTS_DIR.iterdir()) if REPORTS_DIR.is_dir() else set()
    # Other sessions may write reports concurrently; none of the new ones may be ours.
    for path in after - before:
        assert not (path / "evidence.jsonl").is_file() or marker not in (
            path / "evidence.jsonl").read_text(encoding="utf-8", errors="replace")


# --- rate controls and corpora ------------------------------------------------------------------

RATE_TEST = """
import pytest
from harness.verdicts import RATE, Observation, Verdict, rate_details


@pytest.mark.control("A5.4-EVASION-CASE")
@pytest.mark.parametrize("expect, blocked", [("must_block", {blocked}), ("must_allow", 0)])
def test_cell(evidence, expect, blocked):
    n = 12 if expect == "must_block" else 4
    for i in range(n):
        ok = i < blocked if expect == "must_block" else True
        verdict = Verdict.PASS if ok else Verdict.FAIL
        evidence.record([Observation(
            "A5.4-EVASION-CASE", "post", "api", f"post/{{expect}}/{{i}}", expect, verdict, "seen",
            details={{RATE: rate_details("case", expect, verdict)}})])
"""


@pytest.mark.parametrize(("blocked", "verdict", "ret"), [(12, "pass", 0), (11, "fail", 1)])
def test_a_rate_control_is_judged_by_its_gate_not_by_single_cases(
        pytester: pytest.Pytester, blocked: int, verdict: str, ret: int) -> None:
    pytester.makepyfile(RATE_TEST.format(blocked=blocked))
    result, run_dir = _run(pytester, "--control", "A5.4-EVASION-CASE")
    assert result.ret == ret  # every test passed; only the gate can fail the run
    control = _control(run_dir, "A5.4-EVASION-CASE")
    assert (control["verdict"], control["gating"]) == (verdict, True)
    rates = {r["expect"]: r for r in _entries(run_dir, "rate")}
    assert (rates["must_block"]["k"], rates["must_block"]["n"]) == (blocked, 12)
    assert rates["must_allow"]["verdict"] == "pass"
    assert "block rate" in result.stdout.str()  # the family x surface grid


def test_a_measured_family_shows_its_failing_rate_without_failing_the_run(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(RATE_TEST.format(blocked=0))
    policy = pytester.path / "measure.yaml"
    policy.write_text("rates:\n  families:\n    case: {gate: false}\n", encoding="utf-8")
    result, run_dir = _run(pytester, "--policy", str(policy), "--control", "A5.4-EVASION-CASE")
    # A measured family alone does not fail the run, nor does it make an assessment of it.
    assert result.ret == 0
    control = _control(run_dir, "A5.4-EVASION-CASE")
    assert (control["verdict"], control["gating"]) == ("fail", False)


def test_corpora_are_pinned_in_run_json(pytester: pytest.Pytester) -> None:
    _observing(pytester, "pass")
    corpus = pytester.path / "org.csv"
    corpus.write_text("text,category,expect\n组织样本,ECO6.5,must_block\n", encoding="utf-8")
    result, run_dir = _run(pytester, "--corpus", str(corpus), "--control", "A5.4-POST")
    assert result.ret == 0
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    [pinned] = info["corpora"]
    assert pinned["path"] == str(corpus.resolve())
    assert pinned["sha256"] == hashlib.sha256(corpus.read_bytes()).hexdigest()
    assert info["overblocking_bank"]["name"] == "overblocking"


def test_a_bad_corpus_is_a_usage_error_before_anything_runs(pytester: pytest.Pytester) -> None:
    _observing(pytester, "pass")
    result, run_dir = _run(pytester, "--corpus", str(pytester.path / "missing.jsonl"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "missing.jsonl" in result.stderr.str()
    assert not run_dir.exists()


def test_scenario_module_names_do_not_clash_with_test_modules() -> None:
    """In-process runs collect scenarios in a process that imported the tests: a shared
    basename (rootdir-relative imports, no packages) would fail the collection."""
    root = Path(__file__).parents[2]
    scenarios = {p.name for p in (root / "scenarios").rglob("test_*.py")}
    tests = {p.name for p in (root / "tests").rglob("test_*.py")}
    assert not scenarios & tests


def test_a_one_channel_scenario_runs_once_where_the_profile_can_take_it(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.control("A5.6-TIMELY")
        @pytest.mark.one_channel
        def test_once(channel):
            pass
    """)
    result = pytester.runpytest_inprocess(*INPROCESS, "--channel", "all", "--co", "-q")
    listed = result.stdout.str()
    assert "test_once[api]" in listed
    assert "test_once[browser]" not in listed
    pages_only = pytester.path / "pages-only.yaml"
    pages_only.write_text("name: pages\nallowed_hosts: [127.0.0.1]\n"
                          "browser: {register: [], surfaces: {}}\n", encoding="utf-8")
    result = pytester.runpytest_inprocess(*INPROCESS, "--channel", "all", "--target-profile",
                                          str(pages_only), "--co", "-q")
    listed = result.stdout.str()
    assert "test_once[browser]" in listed
    assert "test_once[api]" not in listed


def test_no_other_installed_plugin_defines_a_fixture_of_the_harness(
        pytestconfig: pytest.Config) -> None:
    """A fixture of the same name in another plugin (Locust's `session`) would shadow the
    harness's in every scenario that asks for it."""
    import harness.pytest_plugin as ours

    def fixtures(plugin: object) -> set[str]:
        return {name for name in dir(plugin)
                if hasattr(getattr(plugin, name, None), "_fixture_function_marker")}

    own = fixtures(ours)
    assert {"harness_session", "target", "evidence"} <= own
    installed = pytestconfig.pluginmanager.list_plugin_distinfo()
    assert any(plugin is ours for plugin, _ in installed)
    for plugin, dist in installed:
        if plugin is not ours:
            assert not own & fixtures(plugin), (dist.project_name, sorted(own & fixtures(plugin)))
