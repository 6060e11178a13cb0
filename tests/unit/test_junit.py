"""JUnit XML rendered from evidence only: suites, counts, properties and verdict mapping."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.errors import EvidenceError
from harness.evidence import EVIDENCE_KEY_ENV, RunStore, verify_run
from harness.report.junit import write_junit


@pytest.fixture(autouse=True)
def _no_evidence_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(EVIDENCE_KEY_ENV, raising=False)


def _control(control: str, verdict: str, reason: str | None = None) -> dict[str, object]:
    entry: dict[str, object] = {
        "entry_type": "control",
        "control": control,
        "clause": "5(4)",
        "title": f"title of {control}",
        "verdict": verdict,
    }
    if reason is not None:
        entry["reason"] = reason
    return entry


@pytest.fixture
def run(tmp_path: Path) -> RunStore:
    store = RunStore.create(tmp_path, run_id="run-j")
    store.append({"entry_type": "run_start", "seed": 7})
    store.append(
        {
            "entry_type": "observation",
            "control": "A5.4-NICKNAME",
            "surface": "nickname",
            "mode": "create",
            "case_id": "canary-zh-001",
            "channel": "api",
            "expect": "must_block",
            "verdict": "pass",
            "disposition": "rejected",
            "duration_s": 1.25,
        }
    )
    store.append(
        {
            "entry_type": "observation",
            "control": "A5.4-POST",
            "surface": "post",
            "case_id": "canary-zh-002/fullwidth",
            "channel": "browser",
            "expect": "must_block",
            "verdict": "fail",
            "disposition": "published",
            "reason": "viewer saw the post",
            "duration_s": 2,
        }
    )
    store.append(
        {
            "entry_type": "observation",
            "control": "A5.4-AVATAR",
            "surface": "avatar",
            "channel": "api",
            "verdict": "inconclusive",
            "reason": "timeout\x07 after 30s",
        }
    )
    store.append(_control("A5.4-NICKNAME", "pass"))
    store.append(_control("A5.4-POST", "fail", "1 of 1 canary leaked"))
    store.append(_control("A5.4-AVATAR", "inconclusive", "target timed out"))
    store.append(_control("A5.4-GROUP_LOGO", "not_applicable", "no groups on this service"))
    store.append(_control("A5.6-FEEDBACK", "waived", "waiver W-12 until 2030-01-01"))
    store.append(_control("A5.6-ENTRY", "bogus"))
    return store


def _suites(root: ET.Element) -> dict[str, ET.Element]:
    return {suite.get("name", ""): suite for suite in root.findall("testsuite")}


def _props(case: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}


def test_junit_counts_and_cases(run: RunStore) -> None:
    out = write_junit(run.path)
    assert out == run.path / "junit.xml"
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "9",
        "2",
        "3",
        "2",
    )
    suites = _suites(root)
    assert list(suites) == ["controls", "observations"]

    controls = suites["controls"]
    assert (controls.get("tests"), controls.get("failures")) == ("6", "1")
    assert (controls.get("errors"), controls.get("skipped")) == ("2", "2")
    cases = {case.get("name"): case for case in controls.findall("testcase")}
    assert list(cases) == [
        "A5.4-NICKNAME",
        "A5.4-POST",
        "A5.4-AVATAR",
        "A5.4-GROUP_LOGO",
        "A5.6-FEEDBACK",
        "A5.6-ENTRY",
    ]
    assert all(case.get("classname") == "controls" for case in cases.values())
    assert _props(cases["A5.4-POST"]) == {
        "control": "A5.4-POST",
        "clause": "5(4)",
        "title": "title of A5.4-POST",
        "verdict": "fail",
        "evidence_seq": "5",
    }
    assert list(cases["A5.4-NICKNAME"]) == [cases["A5.4-NICKNAME"].find("properties")]
    failure = cases["A5.4-POST"].find("failure")
    assert failure is not None
    assert failure.get("message") == "1 of 1 canary leaked"
    error = cases["A5.4-AVATAR"].find("error")
    assert error is not None
    assert (error.get("type"), error.get("message")) == ("inconclusive", "target timed out")
    skipped = cases["A5.4-GROUP_LOGO"].find("skipped")
    assert skipped is not None
    assert "no groups on this service" in skipped.get("message", "")
    assert cases["A5.6-FEEDBACK"].find("skipped") is not None
    unknown = cases["A5.6-ENTRY"].find("error")
    assert unknown is not None
    assert unknown.get("type") == "invalid-verdict"


def test_junit_observations(run: RunStore) -> None:
    root = ET.parse(write_junit(run.path)).getroot()
    observations = _suites(root)["observations"]
    assert [observations.get(k) for k in ("tests", "failures", "errors", "skipped")] == [
        "3",
        "1",
        "1",
        "0",
    ]
    assert observations.get("time") == "3.250"
    cases = observations.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("A5.4-NICKNAME", "nickname/create/canary-zh-001/api"),
        ("A5.4-POST", "post/canary-zh-002/fullwidth/browser"),
        ("A5.4-AVATAR", "avatar/api"),
    ]
    assert cases[0].get("time") == "1.250"
    assert cases[2].get("time") is None
    assert _props(cases[0]) == {
        "control": "A5.4-NICKNAME",
        "surface": "nickname",
        "channel": "api",
        "case_id": "canary-zh-001",
        "expect": "must_block",
        "verdict": "pass",
        "disposition": "rejected",
        "evidence_seq": "1",
    }
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message") == "viewer saw the post"
    assert "canary-zh-002/fullwidth" in (failure.text or "")
    error = cases[2].find("error")
    assert error is not None
    assert error.get("message") == "timeout#x07 after 30s"  # XML-illegal character escaped


def test_junit_written_before_finalize_is_covered(run: RunStore, tmp_path: Path) -> None:
    write_junit(run.path)
    manifest = run.finalize()
    assert "junit.xml" in manifest["files"]
    assert verify_run(run.path).ok

    elsewhere = write_junit(run.path, tmp_path / "ci" / "results.xml")
    assert elsewhere.is_file()
    assert verify_run(run.path).ok  # writing outside the run leaves it intact


def test_junit_empty_and_missing(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, run_id="empty")
    root = ET.parse(write_junit(store.path)).getroot()
    assert root.get("tests") == "0"
    assert [s.get("tests") for s in root.findall("testsuite")] == ["0", "0"]
    with pytest.raises(EvidenceError):
        write_junit(tmp_path / "absent")


def test_junit_marks_measured_controls_as_not_gating(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, run_id="measured")
    store.append({**_control("A5.4-EVASION-PINYIN", "fail", "0 of 12 blocked"), "gating": False})
    store.append({**_control("A5.4-POST", "pass"), "gating": True})
    cases = {case.get("name"): case for case in
             ET.parse(write_junit(store.path)).getroot().iter("testcase")}
    assert _props(cases["A5.4-EVASION-PINYIN"])["gating"] == "false"
    assert _props(cases["A5.4-POST"])["gating"] == "true"
