"""The `harness` command: catalog and canary listings, verify, and assess's refusals."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness import cli, controls
from harness.evidence import EVIDENCE_KEY_ENV, RunStore
from harness.probes.canaries import lexicon
from harness.verdicts import EXIT_EMPTY, EXIT_INTERRUPTED, EXIT_NOT_INTACT, Plan, PlannedTest


@pytest.fixture(autouse=True)
def _no_evidence_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(EVIDENCE_KEY_ENV, raising=False)


@pytest.fixture
def nothing_starts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make starting the reference site, listing its faults or running pytest a recorded error."""
    from harness import reference

    started: list[str] = []

    def refuse(name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            started.append(name)
            raise AssertionError(f"{name} must not be called")
        return call

    monkeypatch.setattr(reference, "start", refuse("reference.start"))
    monkeypatch.setattr(reference, "list_faults", refuse("reference.list_faults"))
    monkeypatch.setattr(pytest, "main", refuse("pytest.main"))
    return started


def _run(reports: Path, *, controls: tuple[str, ...] = (), complete: bool = True,
         observed: int = 4, complete_flag: bool = True, **info: Any) -> Path:
    """A recorded run: a plan of four A5.4-POST tests, `observed` of them observed (pass)."""
    store = RunStore.create(reports, run_id="run-cli")
    store.write_run_info({"seed": 7, "complete": complete_flag, **info})
    store.append({"entry_type": "run_start", "seed": 7})
    tests = [PlannedTest(f"t{i}", ("A5.4-POST",), "api", "post", f"c{i}") for i in range(4)]
    store.append(Plan(controls, ("api",), tuple(tests)).evidence())
    for i in range(observed):
        store.append({"entry_type": "observation", "control": "A5.4-POST", "case_id": f"c{i}",
                      "channel": "api", "verdict": "pass", "test": f"t{i}"})
    if complete:
        store.append({"entry_type": "run_end", "complete": True})
    store.finalize()
    return store.path


# --- catalog and canaries ---------------------------------------------------------------------


def test_controls_prints_every_control_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["controls"]) == 0
    out = capsys.readouterr().out
    for control_id in controls.catalog():
        assert control_id in out


def test_controls_automated_filters_planned_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["controls", "--automated"]) == 0
    out = capsys.readouterr().out
    for control in controls.catalog().values():
        listed = any(line.split()[0] == control.id for line in out.splitlines() if line.strip())
        assert listed == control.automated, control.id


def test_canaries_prints_the_four_terms(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["canaries"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [canary.text for canary in lexicon().values()]
    assert len(lines) == 4
    assert "审核金丝雀甲" in lines
    assert "MODHARNESS-CANARY-BRAVO" in lines


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert "harness" in capsys.readouterr().out


# --- verify -----------------------------------------------------------------------------------


def test_verify_intact_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = _run(tmp_path / "reports")
    assert cli.main(["verify", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "intact" in out
    assert "7 evidence lines" in out


def test_verify_by_run_id_and_latest(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    _run(reports)
    assert cli.main(["verify", "run-cli", "--reports", str(reports)]) == 0
    assert cli.main(["verify", "latest", "--reports", str(reports)]) == 0


def test_verify_altered_line_fails_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _run(tmp_path / "reports")
    evidence = run_dir / "evidence.jsonl"
    lines = evidence.read_text(encoding="utf-8").splitlines(keepends=True)
    entry = json.loads(lines[2])
    entry["verdict"] = "fail"
    lines[2] = json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"
    evidence.write_text("".join(lines), encoding="utf-8")
    assert cli.main(["verify", str(run_dir)]) == EXIT_NOT_INTACT
    out = capsys.readouterr().out
    assert "NOT intact" in out
    assert "line 3" in out


def test_verify_unknown_run_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["verify", "no-such-run", "--reports", str(tmp_path)])
    assert code != 0
    assert "no-such-run" in capsys.readouterr().err


def test_report_prints_the_control_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _run(tmp_path / "reports")
    junit = tmp_path / "out.xml"
    code = cli.main(["report", str(run_dir), "--junit", str(junit)])
    out = capsys.readouterr().out
    assert "A5.4-POST" in out
    assert "PASS" in out
    assert junit.is_file()
    # The run's scope is every control; one was assessed: every other one fails closed.
    assert code == 1
    assert "A5.4-NICKNAME: inconclusive" in out


def test_report_judges_only_the_runs_control_scope(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _run(tmp_path / "reports", controls=("A5.4-PO*",))
    assert cli.main(["report", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "not assessed" in out
    assert "A5.4-NICKNAME" in out.split("not assessed")[1]
    assert "NICKNAME  " not in out  # listed once, never with a verdict


def test_report_refuses_a_run_that_does_not_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _run(tmp_path / "reports", controls=("A5.4-PO*",))
    with (run_dir / "evidence.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"entry_type":"observation"}\n')
    assert cli.main(["report", str(run_dir)]) == EXIT_NOT_INTACT
    captured = capsys.readouterr()
    assert "NOT intact" in captured.err
    assert "every gating control passed" not in captured.out


def test_report_of_a_narrowed_run_is_inconclusive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _run(tmp_path / "reports", controls=("A5.4-PO*",), observed=1)
    assert cli.main(["report", str(run_dir)]) == 1
    assert "1 of 4 planned cases observed" in capsys.readouterr().out


def test_report_of_an_incomplete_run_has_its_own_code(tmp_path: Path) -> None:
    run_dir = _run(tmp_path / "reports", controls=("A5.4-PO*",), complete=False)
    assert cli.main(["report", str(run_dir)]) == EXIT_INTERRUPTED


def test_report_of_a_run_that_observed_nothing(tmp_path: Path) -> None:
    run_dir = _run(tmp_path / "reports", controls=("A5.4-PO*",), observed=0)
    assert cli.main(["report", str(run_dir)]) == EXIT_EMPTY


def test_exit_codes_are_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["exit-codes"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == ["0", "1", "2", "3", "4", "5", "6",
                                                              "130"]


def test_assess_refuses_bad_workers_and_base_url_before_anything_starts(
    nothing_starts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["assess", "-n", "banana"]) == 2
    assert cli.main(["assess", "--base-url", "http://127.0.0.1:99999"]) == 2
    err = capsys.readouterr().err
    assert "banana" in err
    assert "99999" in err
    assert nothing_starts == []


def test_assess_control_pattern_matching_nothing_returns_2(
    nothing_starts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["assess", "--control", "A9.9-*"]) == 2
    assert "'A9.9-*' matches no control" in capsys.readouterr().err
    assert nothing_starts == []


# --- assess refusals --------------------------------------------------------------------------


def test_assess_bad_profile_returns_2_naming_the_key(
    tmp_path: Path, minimal_profile: str, write_profile: Callable[..., Path],
    nothing_starts: list[str], capsys: pytest.CaptureFixture[str],
) -> None:
    bad = write_profile(minimal_profile.replace("allowed_hosts:", "allowed_hostz:"))
    out_dir = tmp_path / "out"
    code = cli.main(["assess", "--profile", str(bad), "--base-url", "http://127.0.0.1:9",
                     "--out", str(out_dir)])
    assert code == 2
    err = capsys.readouterr().err
    assert "'allowed_hostz'" in err
    assert "did you mean 'allowed_hosts'" in err
    assert str(bad) in err
    assert nothing_starts == []
    assert not out_dir.exists()


def test_assess_bad_profile_without_base_url_still_names_the_key(
    minimal_profile: str, write_profile: Callable[..., Path],
    nothing_starts: list[str], capsys: pytest.CaptureFixture[str],
) -> None:
    bad = write_profile(minimal_profile.replace("  register:", "  registr:"))
    assert cli.main(["assess", "--profile", str(bad)]) == 2
    assert "'registr'" in capsys.readouterr().err
    assert nothing_starts == []


def test_assess_reference_fault_with_base_url_returns_2(
    nothing_starts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["assess", "--reference-fault", "x", "--base-url", "http://127.0.0.1:9"])
    assert code == 2
    assert "--reference-fault" in capsys.readouterr().err
    assert nothing_starts == []


def test_assess_unsafe_base_url_returns_2(
    write_profile: Callable[..., Path], nothing_starts: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli.main(["assess", "--profile", str(write_profile()),
                     "--base-url", "https://prod.example.com"])
    assert code == 2
    assert "prod.example.com" in capsys.readouterr().err
    assert nothing_starts == []


def test_assess_browser_channel_without_a_browser_returns_2(
    tmp_path: Path, nothing_starts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "no-chromium")
    assert cli.main(["assess", "--channel", "browser", "--browser-path", missing]) == 2
    assert "no-chromium" in capsys.readouterr().err
    assert nothing_starts == []


def test_assess_bad_policy_returns_2(
    tmp_path: Path, nothing_starts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("grace: 1\n", encoding="utf-8")
    assert cli.main(["assess", "--policy", str(policy)]) == 2
    assert "grace" in capsys.readouterr().err
    assert nothing_starts == []


def test_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["frobnicate"])
    assert info.value.code == 2


def test_corpus_commands_list_show_and_sample(capsys) -> None:
    from harness.cli import main

    assert main(["corpus", "list"]) == 0
    listed = capsys.readouterr().out
    assert "overblocking" in listed
    assert "sha256" in listed
    assert main(["corpus", "sample", "fixtures/corpora/canary-sample.jsonl", "-n", "3",
                 "--seed", "1"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert len(rows) == 3


def test_corpus_show_refuses_a_bad_category_with_exit_2(tmp_path, capsys) -> None:
    from harness.cli import main

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "category": "ECO9.9", "expect": "must_block"}\n')
    assert main(["corpus", "show", str(bad)]) == 2
    assert "ECO9.9" in capsys.readouterr().err


def test_serve_reference_passes_the_report_desk_times(monkeypatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(cli.subprocess, "call", lambda command: calls.append(command) or 0)
    assert cli.main(["serve-reference", "--report-limit-seconds", "90",
                     "--report-handle-seconds", "2", "--fault", "no-feedback"]) == 0
    command = calls[0]
    assert command[command.index("--report-limit-seconds") + 1] == "90"
    assert command[command.index("--report-handle-seconds") + 1] == "2"
    assert "--report-ack-seconds" not in command
    assert command[command.index("--fault") + 1] == "no-feedback"


def test_verify_says_how_far_an_intact_run_can_be_trusted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    unkeyed = _run(tmp_path / "plain")
    assert cli.main(["verify", str(unkeyed)]) == 0
    assert "intact, unauthenticated (no HMAC" in capsys.readouterr().out
    monkeypatch.setenv(EVIDENCE_KEY_ENV, "k" * 32)
    keyed = _run(tmp_path / "keyed")
    assert cli.main(["verify", str(keyed)]) == 0
    assert "intact, authenticated" in capsys.readouterr().out
    monkeypatch.delenv(EVIDENCE_KEY_ENV)
    assert cli.main(["report", str(keyed), "--reports", str(tmp_path)]) in (0, 1)
    assert "HMAC, but HARNESS_EVIDENCE_KEY is not set" in capsys.readouterr().out


def test_resume_refuses_a_run_whose_policy_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], nothing_starts: list[str]
) -> None:
    import hashlib

    policy = tmp_path / "policy.yaml"
    policy.write_text("grace_seconds: 1\n", encoding="utf-8")
    pinned = {"path": str(policy), "sha256": hashlib.sha256(policy.read_bytes()).hexdigest()}
    run_dir = _run(tmp_path / "reports", controls=("A5.4-PO*",), complete=False,
                   policy=pinned, complete_flag=False)
    policy.write_text("grace_seconds: 9\n", encoding="utf-8")
    assert cli.main(["assess", "--resume", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "changed since the run started" in err
    assert str(policy) in err
    assert nothing_starts == []
