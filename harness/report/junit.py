"""JUnit XML for CI dashboards that gate launches, rendered from a run's evidence only, with the
verdicts of the one judge (`harness.verdicts.judge_run`).

Two suites. `controls`: one testcase per judged control, with short properties (control, clause,
title, verdict, gating, automation, planned, observed). `observations`: one testcase per group of
observations, a rate cell (control, surface, family, expectation) or, for strict controls, a
control on one surface through one channel; its failure lists the failing cases one line each
(case, reason, evidence line), never the evidence itself. Verdicts map fail closed: `fail` is a
failure, `inconclusive` is an error, `not_applicable` and `waived` are skipped.

Call `write_junit` before `RunStore.finalize()` (or finalize again afterwards): a `junit.xml`
inside the run directory that the manifest does not list makes `verify_run` fail.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.controls import catalog
from harness.errors import EvidenceError
from harness.evidence import read_entries
from harness.evidence.chain import atomic_write
from harness.verdicts import RATE, Verdict, judge_run, latest_observations, rollup

JUNIT_FILE = "junit.xml"
SKIPPED_VERDICTS = frozenset({"not_applicable", "waived"})
LISTED_CASES = 50  # failing cases listed in a group's failure text; the rest are counted
REASON_CHARS = 300

# Characters XML 1.0 cannot carry (probe content may contain them); shown as #xNN instead.
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass
class _Suite:
    element: ET.Element
    tests: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0
    time: float = 0.0


@dataclass
class _Group:
    """The observations of one testcase of the `observations` suite."""

    control: str
    name: str
    properties: dict[str, str]
    lines: list[Mapping[str, Any]]
    verdict: str = ""
    reason: str = ""


def write_junit(run_dir: Path, out: Path | None = None) -> Path:
    """Render `run_dir/evidence.jsonl` as JUnit XML at `out` (default `run_dir/junit.xml`).

    Returns the path written. Raises EvidenceError when the log is missing or unreadable.
    """
    run_dir = Path(run_dir)
    out = run_dir / JUNIT_FILE if out is None else Path(out)
    entries = list(read_entries(run_dir))
    verdict = judge_run(entries)
    known = catalog()
    controls = _Suite(ET.Element("testsuite", name="controls"))
    for judged in verdict.controls:
        control = known[judged.control]
        _add_case(controls, "controls", judged.control, {
            "control": judged.control, "clause": control.clause, "title": control.title,
            "verdict": judged.verdict.value, "gating": str(judged.gating).lower(),
            "automation": control.automation, "planned": str(judged.planned),
            "observed": str(judged.observed)}, verdict=judged.verdict.value,
            reason=judged.reason)
    observations = _Suite(ET.Element("testsuite", name="observations"))
    for group in _groups(entries, verdict.cells):
        _add_case(observations, group.control, group.name, group.properties,
                  verdict=group.verdict, reason=group.reason, lines=group.lines)
    root = ET.Element("testsuites", name=_xml_safe(run_dir.name))
    totals = _Suite(root)
    for suite in (controls, observations):
        _set_counts(suite)
        root.append(suite.element)
        for field in ("tests", "failures", "errors", "skipped", "time"):
            setattr(totals, field, getattr(totals, field) + getattr(suite, field))
    _set_counts(totals)
    ET.indent(root)
    data = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, data + b"\n")
    except OSError as exc:
        raise EvidenceError(f"cannot write {out}: {exc}") from exc
    return out


def _groups(entries: Sequence[Mapping[str, Any]], cells: Sequence[Any]) -> list[_Group]:
    """Observations grouped as rate cells (judged by the judge's cells) or as a strict control
    on one surface through one channel (rolled up as the judge rolls up a control)."""
    known = catalog()
    groups: dict[tuple[Any, ...], _Group] = {}
    for line in latest_observations(entries):
        control = str(line["control"])
        clause = known[control].clause if control in known else ""
        surface = line.get("surface") or "-"
        channel = str(line.get("channel"))
        rate = (line.get("details") or {}).get(RATE)
        if rate:
            key: tuple[Any, ...] = (control, surface, rate["family"], line.get("expect"))
            name = f"{surface}/{rate['family']}/{line.get('expect')}"
            properties = {"control": control, "clause": clause, "surface": surface,
                          "family": str(rate["family"]), "expect": str(line.get("expect"))}
        else:
            key = (control, surface, channel)
            name = f"{surface}/{channel}"
            properties = {"control": control, "clause": clause, "surface": surface,
                          "channel": channel}
        groups.setdefault(key, _Group(control, name, properties, [])).lines.append(line)
    judged_cells = {(c.control, c.surface, c.family, c.expect): c for c in cells}
    for key, group in groups.items():
        cell = judged_cells.get(key) if len(key) == 4 else None
        if cell is not None:
            group.verdict, group.reason = cell.verdict.value, cell.reason
        else:
            found, summary = rollup(Verdict(line["verdict"]) for line in group.lines)
            group.verdict, group.reason = found.value, summary
        group.properties["verdict"] = group.verdict
        group.properties["cases"] = str(len(group.lines))
    return list(groups.values())


def _add_case(suite: _Suite, classname: str, name: str, properties: Mapping[str, str], *,
              verdict: str, reason: str, lines: Sequence[Mapping[str, Any]] = ()) -> None:
    case = ET.SubElement(suite.element, "testcase", classname=_xml_safe(classname))
    case.set("name", _xml_safe(name))
    duration = sum(float(d) for line in lines
                   if isinstance(d := line.get("duration_s"), int | float)
                   and not isinstance(d, bool) and d >= 0)
    if duration:
        case.set("time", f"{duration:.3f}")
        suite.time += duration
    element = ET.SubElement(case, "properties")
    for key, value in properties.items():
        ET.SubElement(element, "property", name=key, value=_xml_safe(value))
    suite.tests += 1
    message = _xml_safe(reason[:REASON_CHARS] if reason else f"verdict: {verdict}")
    if verdict == "pass":
        return
    if verdict in SKIPPED_VERDICTS:
        suite.skipped += 1
        ET.SubElement(case, "skipped", message=f"{verdict}: {message}")
        return
    if verdict == "fail":
        suite.failures += 1
        outcome = ET.SubElement(case, "failure", message=message, type="fail")
    else:  # inconclusive: the harness could not tell, which never passes
        suite.errors += 1
        outcome = ET.SubElement(case, "error", message=message, type=verdict)
    listed = [line for line in lines if line.get("verdict") != "pass"]
    text = [f"{line.get('verdict')} {line.get('case_id')} ({line.get('channel')}): "
            f"{str(line.get('reason') or '')[:REASON_CHARS]} [evidence line {line.get('seq')}]"
            for line in listed[:LISTED_CASES]]
    if len(listed) > LISTED_CASES:
        text.append(f"... and {len(listed) - LISTED_CASES} more (see the HTML report)")
    if text:
        outcome.text = _xml_safe("\n".join(text))


def _set_counts(suite: _Suite) -> None:
    element = suite.element
    element.set("tests", str(suite.tests))
    element.set("failures", str(suite.failures))
    element.set("errors", str(suite.errors))
    element.set("skipped", str(suite.skipped))
    element.set("time", f"{suite.time:.3f}")


def _xml_safe(text: str) -> str:
    return _XML_ILLEGAL.sub(lambda match: f"#x{ord(match.group()):02X}", text)
