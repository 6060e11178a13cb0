"""`harness diff`: verdicts that changed per control and per case; exit 4 on a regression."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness import cli
from harness.diff import diff_entries, kind_of
from harness.evidence import EVIDENCE_KEY_ENV, RunStore
from harness.verdicts import EXIT_NOT_INTACT, EXIT_REGRESSION, Plan, PlannedTest

POST, BIO = "A5.4-POST", "A5.4-BIO"


@pytest.fixture(autouse=True)
def _no_evidence_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(EVIDENCE_KEY_ENV, raising=False)


def _entries(verdicts: dict[tuple[str, str], str]) -> list[dict[str, Any]]:
    """A complete run: one planned test per (control, case), observed with this verdict."""
    tests = tuple(PlannedTest(case, (control,), "api") for control, case in verdicts)
    controls = tuple(dict.fromkeys(control for control, _ in verdicts))
    return [Plan(controls, ("api",), tests).evidence(),
            *({"entry_type": "observation", "control": control, "channel": "api",
               "case_id": case, "verdict": verdict, "test": case, "reason": f"{case} {verdict}"}
              for (control, case), verdict in verdicts.items()),
            {"entry_type": "run_end", "complete": True}]


def _store(reports: Path, name: str, verdicts: dict[tuple[str, str], str]) -> Path:
    store = RunStore.create(reports, run_id=name)
    store.write_run_info({"seed": 7})
    for entry in _entries(verdicts):
        store.append(entry)
    store.finalize()
    return store.path


@pytest.mark.parametrize(("before", "after", "kind"), [
    ("pass", "fail", "regression"), ("pass", "inconclusive", "regression"),
    ("inconclusive", "fail", "regression"), ("waived", "fail", "regression"),
    ("fail", "pass", "fix"), ("inconclusive", "pass", "fix"), ("fail", "waived", "changed"),
    ("waived", "pass", "fix"),
    ("fail", "inconclusive", "changed"), ("pass", "not_applicable", "changed"),
    (None, "fail", "new"), ("pass", None, "gone"), ("pass", "pass", None),
])
def test_kinds_of_change(before: str | None, after: str | None, kind: str | None) -> None:
    assert kind_of(before, after) == kind


def test_a_fixed_control_and_its_cases_are_fixes() -> None:
    before = _entries({(POST, "a"): "fail", (POST, "b"): "pass", (BIO, "c"): "pass"})
    after = _entries({(POST, "a"): "pass", (POST, "b"): "pass", (BIO, "c"): "pass"})
    found = diff_entries(before, after)
    assert [(c.kind, c.control, c.before, c.after) for c in found.controls] == [
        ("fix", POST, "fail", "pass")]
    assert [(c.kind, c.case) for c in found.cases] == [("fix", "api:a")]
    assert not found.regressed


def test_new_and_gone_controls_and_cases() -> None:
    found = diff_entries(_entries({(POST, "a"): "pass"}), _entries({(BIO, "c"): "pass"}))
    assert {(c.kind, c.control) for c in found.controls} == {("gone", POST), ("new", BIO)}
    assert {(c.kind, c.case) for c in found.cases} == {("gone", "api:a"), ("new", "api:c")}
    assert not found.regressed


def test_cli_diff_exits_4_on_a_regression_and_0_on_a_fix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _store(tmp_path, "good", {(POST, "a"): "pass"})
    bad = _store(tmp_path, "bad", {(POST, "a"): "fail"})
    assert cli.main(["diff", str(good), str(bad)]) == EXIT_REGRESSION
    out = capsys.readouterr().out
    assert f"regression {POST}: pass -> fail" in out
    assert "regression A5.4-POST api:a: pass -> fail (a fail)" in out
    assert cli.main(["diff", str(bad), str(good)]) == 0
    assert f"fix        {POST}: fail -> pass" in capsys.readouterr().out


def test_cli_diff_json_is_the_whole_diff(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    bad = _store(tmp_path, "bad", {(POST, "a"): "fail"})
    good = _store(tmp_path, "good", {(POST, "a"): "pass"})
    assert cli.main(["diff", str(bad), str(good), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["regressed"] is False
    assert found["counts"]["controls"]["fix"] == 1
    assert found["controls"][0] == {"kind": "fix", "control": POST, "case": None,
                                    "before": "fail", "after": "pass", "reason": found[
                                        "controls"][0]["reason"]}


def test_cli_diff_refuses_a_run_that_does_not_verify(tmp_path: Path) -> None:
    good = _store(tmp_path, "good", {(POST, "a"): "pass"})
    bad = _store(tmp_path, "bad", {(POST, "a"): "pass"})
    (bad / "run.json").write_text("{}", encoding="utf-8")
    assert cli.main(["diff", str(good), str(bad)]) == EXIT_NOT_INTACT


def test_cli_diff_html_lists_the_changes_regressions_first(tmp_path: Path) -> None:
    good = _store(tmp_path, "good", {(POST, "a"): "pass", (BIO, "b"): "fail"})
    bad = _store(tmp_path, "bad", {(POST, "a"): "fail", (BIO, "b"): "pass"})
    page = tmp_path / "diff.html"
    assert cli.main(["diff", str(good), str(bad), "--html", str(page)]) == EXIT_REGRESSION
    html = page.read_text(encoding="utf-8")
    assert 'id="outcome" class="v-fail">regressed' in html
    controls = html[html.index('id="controls"'):html.index('id="cases"')]
    assert controls.index('class="k-regression"') < controls.index('class="k-fix"')
    assert "<code>A5.4-POST</code>" in controls
    assert "<script" not in html  # a page with nothing to run, and no network
