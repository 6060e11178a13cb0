"""JUnit XML rendered from evidence only, with the one judge's verdicts: one case per control,
one per observation group, short properties, failing cases listed one line each."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from harness.errors import EvidenceError
from harness.evidence import EVIDENCE_KEY_ENV, RunStore, verify_run
from harness.evidence.recorder import OBSERVATION, compact_properties
from harness.report.junit import write_junit
from harness.verdicts import Plan, PlannedTest
from tests.unit.test_report import FULLWIDTH, POST, TIMELY, recorded_run

PROPERTY_LIMIT = 200  # characters: a property is a label, never evidence


@pytest.fixture(autouse=True)
def _no_evidence_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(EVIDENCE_KEY_ENV, raising=False)


def _suites(root: ET.Element) -> dict[str, ET.Element]:
    return {suite.get("name", ""): suite for suite in root.findall("testsuite")}


def _props(case: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}


def _counts(element: ET.Element) -> tuple[str | None, ...]:
    return tuple(element.get(k) for k in ("tests", "failures", "errors", "skipped"))


def test_one_case_per_judged_control_with_short_properties(tmp_path: Path) -> None:
    root = ET.parse(write_junit(recorded_run(tmp_path))).getroot()
    controls = _suites(root)["controls"]
    cases = {case.get("name"): case for case in controls.findall("testcase")}
    assert list(cases) == [POST, FULLWIDTH, TIMELY]
    assert _counts(controls) == ("3", "2", "0", "0")
    assert _props(cases[POST]) == {
        "control": POST, "clause": "5(4)", "title": "Posts are checked when published and at "
        "every edit", "verdict": "fail", "gating": "true", "automation": "automated",
        "planned": "2", "observed": "2"}
    assert _props(cases[TIMELY])["automation"] == "partial"
    failure = cases[POST].find("failure")
    assert failure is not None
    assert failure.get("message") == "1 pass, 1 fail"
    assert cases[TIMELY].find("failure") is None


def test_observation_groups_are_rate_cells_or_a_control_per_surface_and_channel(
        tmp_path: Path) -> None:
    root = ET.parse(write_junit(recorded_run(tmp_path))).getroot()
    groups = _suites(root)["observations"]
    names = [(c.get("classname"), c.get("name")) for c in groups.findall("testcase")]
    assert names == [(POST, "post/api"), (POST, "post/browser"),
                     (FULLWIDTH, "nickname/fullwidth/must_block"),
                     (FULLWIDTH, "post/fullwidth/must_block"), (TIMELY, "-/api")]
    cases = {c.get("name"): c for c in groups.findall("testcase")}
    assert _props(cases["post/fullwidth/must_block"])["cases"] == "9"
    cell = cases["post/fullwidth/must_block"].find("failure")
    assert cell is not None
    assert "0/9 blocked" in (cell.get("message") or "")  # the judge's cell, not a count
    browser = cases["post/browser"].find("failure")
    assert browser is not None
    assert (browser.text or "").startswith("fail post/create/canary-b (browser): prohibited")
    assert "[evidence line" in (browser.text or "")
    assert cases["post/browser"].get("time") == "2.000"


def test_no_property_carries_evidence(tmp_path: Path) -> None:
    root = ET.parse(write_junit(recorded_run(tmp_path))).getroot()
    values = [p.get("value", "") for p in root.iter("property")]
    assert values
    assert max(len(v) for v in values) < PROPERTY_LIMIT
    assert not any(v.lstrip().startswith(("{", "[")) for v in values)
    texts = [e.text or "" for e in root.iter() if e.tag in ("failure", "error")]
    assert not any('"details"' in text for text in texts)


def test_inconclusive_is_an_error_and_unobserved_plans_never_pass(tmp_path: Path) -> None:
    root = ET.parse(write_junit(recorded_run(tmp_path, observe_timely=False))).getroot()
    cases = {c.get("name"): c for c in _suites(root)["controls"].findall("testcase")}
    error = cases[TIMELY].find("error")
    assert error is not None
    assert error.get("type") == "inconclusive"
    assert "0 of 1 planned cases observed" in (error.get("message") or "")


def test_xml_illegal_characters_are_escaped(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, run_id="bell")
    store.append(Plan((POST,), ("api",), (PlannedTest("t", (POST,), "api", "post"),)).evidence())
    store.append({"entry_type": "observation", "control": POST, "surface": "post",
                  "channel": "api", "case_id": "c", "verdict": "inconclusive",
                  "reason": "timeout\x07 after 30s", "test": "t"})
    store.append({"entry_type": "run_end", "complete": True})
    root = ET.parse(write_junit(store.path)).getroot()
    group = _suites(root)["observations"].find("testcase")
    assert group is not None
    error = group.find("error")
    assert error is not None
    assert "timeout#x07 after 30s" in (error.text or "")


def test_junit_written_before_finalize_is_covered(tmp_path: Path) -> None:
    run_dir = recorded_run(tmp_path / "runs")
    store = RunStore.open(run_dir)
    write_junit(run_dir)
    manifest = store.finalize()
    assert "junit.xml" in manifest["files"]
    assert verify_run(run_dir).ok
    elsewhere = write_junit(run_dir, tmp_path / "ci" / "results.xml")
    assert elsewhere.is_file()
    assert verify_run(run_dir).ok  # writing outside the run leaves it intact


def test_junit_empty_and_missing(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, run_id="empty")
    root = ET.parse(write_junit(store.path)).getroot()
    assert root.get("tests") == "0"
    assert [s.get("tests") for s in root.findall("testsuite")] == ["0", "0"]
    with pytest.raises(EvidenceError):
        write_junit(tmp_path / "absent")


class _Report:
    def __init__(self, properties: list[tuple[str, Any]]) -> None:
        self.user_properties = properties


def test_the_recorder_leaves_pytest_junitxml_only_short_properties() -> None:
    line = {"verdict": "fail", "details": {"sightings": ["x" * 5000]}}
    report = _Report([(OBSERVATION, json.dumps(line)), (OBSERVATION, json.dumps(line)),
                      ("harness.controls", json.dumps([POST])),
                      ("harness.scope_violation", json.dumps({"url": "http://x" * 500}))])
    compact_properties(report, [line, {**line, "verdict": "pass"}])  # type: ignore[arg-type]
    assert report.user_properties == [("harness.controls", json.dumps([POST])),
                                      ("harness.verdicts", "1 fail, 1 pass")]
