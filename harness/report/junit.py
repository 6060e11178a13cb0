"""JUnit XML rendered from a run's `evidence.jsonl` only, for CI dashboards that gate launches.

Two suites: `controls` (one testcase per control verdict) and `observations` (one per case,
surface and channel). Verdicts map fail closed: `fail` is a failure, `inconclusive` and any
unknown verdict are errors, `not_applicable` and `waived` are skipped.

Call `write_junit` before `RunStore.finalize()` (or finalize again afterwards): a `junit.xml`
inside the run directory that the manifest does not list makes `verify_run` fail.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import EvidenceError
from harness.evidence import canonical_json, read_entries
from harness.evidence.chain import atomic_write

JUNIT_FILE = "junit.xml"
CONTROL_PROPERTIES = ("control", "clause", "title", "verdict", "gating")
OBSERVATION_PROPERTIES = (
    "control",
    "surface",
    "channel",
    "case_id",
    "expect",
    "verdict",
    "disposition",
)
OBSERVATION_NAME_KEYS = ("surface", "mode", "case_id", "channel")
SKIPPED_VERDICTS = frozenset({"not_applicable", "waived"})

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


def write_junit(run_dir: Path, out: Path | None = None) -> Path:
    """Render `run_dir/evidence.jsonl` as JUnit XML at `out` (default `run_dir/junit.xml`).

    Returns the path written. Raises EvidenceError when the log is missing or unreadable.
    """
    run_dir = Path(run_dir)
    out = run_dir / JUNIT_FILE if out is None else Path(out)
    controls = _Suite(ET.Element("testsuite", name="controls"))
    observations = _Suite(ET.Element("testsuite", name="observations"))
    for entry in read_entries(run_dir):
        entry_type = entry.get("entry_type")
        if entry_type == "control":
            name = _text(entry.get("control", f"seq {entry.get('seq')}"))
            _add_case(controls, entry, "controls", name, CONTROL_PROPERTIES)
        elif entry_type == "observation":
            parts = [_text(entry[key]) for key in OBSERVATION_NAME_KEYS if key in entry]
            name = "/".join(parts) if parts else f"seq {entry.get('seq')}"
            classname = _text(entry.get("control", "observations"))
            _add_case(observations, entry, classname, name, OBSERVATION_PROPERTIES)
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


def _add_case(
    suite: _Suite,
    entry: Mapping[str, Any],
    classname: str,
    name: str,
    property_keys: tuple[str, ...],
) -> None:
    case = ET.SubElement(suite.element, "testcase", classname=_xml_safe(classname))
    case.set("name", _xml_safe(name))
    duration = entry.get("duration_s")
    if isinstance(duration, int | float) and not isinstance(duration, bool) and duration >= 0:
        case.set("time", f"{duration:.3f}")
        suite.time += float(duration)
    properties = ET.SubElement(case, "properties")
    for key in property_keys:
        if key in entry and entry[key] is not None:
            ET.SubElement(properties, "property", name=key, value=_xml_safe(_text(entry[key])))
    ET.SubElement(properties, "property", name="evidence_seq", value=_text(entry.get("seq")))
    suite.tests += 1
    _add_outcome(suite, case, entry)


def _add_outcome(suite: _Suite, case: ET.Element, entry: Mapping[str, Any]) -> None:
    verdict = entry.get("verdict")
    reason = entry.get("reason")
    message = _xml_safe(_text(reason) if reason not in (None, "") else f"verdict: {verdict}")
    if verdict == "pass":
        return
    if verdict in SKIPPED_VERDICTS:
        suite.skipped += 1
        ET.SubElement(case, "skipped", message=f"{verdict}: {message}")
        return
    if verdict == "fail":
        suite.failures += 1
        outcome = ET.SubElement(case, "failure", message=message, type="fail")
    elif verdict == "inconclusive":
        suite.errors += 1
        outcome = ET.SubElement(case, "error", message=message, type="inconclusive")
    else:
        suite.errors += 1
        outcome = ET.SubElement(
            case,
            "error",
            message=_xml_safe(f"unknown verdict {verdict!r} (treated as an error)"),
            type="invalid-verdict",
        )
    outcome.text = _xml_safe(json.dumps(dict(entry), ensure_ascii=False, indent=2, sort_keys=True))


def _set_counts(suite: _Suite) -> None:
    element = suite.element
    element.set("tests", str(suite.tests))
    element.set("failures", str(suite.failures))
    element.set("errors", str(suite.errors))
    element.set("skipped", str(suite.skipped))
    element.set("time", f"{suite.time:.3f}")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else canonical_json(value)


def _xml_safe(text: str) -> str:
    return _XML_ILLEGAL.sub(lambda match: f"#x{ord(match.group()):02X}", text)
