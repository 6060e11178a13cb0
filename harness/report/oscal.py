"""OSCAL assessment-results (`oscal/assessment-results.json`) built with compliance-trestle's
models, which validate every field as the document is made and again when it is read back.

One result per run: an observation per evidence observation (what was seen, its verdict, and
its relevant evidence: the artifacts and the evidence line), a finding per judged control
(`satisfied` only on a pass), and the run's files in back-matter with their SHA-256. UUIDs are
derived from the run id, so a report rebuilt from the same run is the same document.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from harness import __version__
from harness.controls import PARTIAL, catalog
from harness.evidence.chain import file_sha256
from harness.report.model import RunReport, artifact_paths, write_output
from harness.verdicts import ControlVerdict, Verdict

OSCAL_FILE = "oscal/assessment-results.json"
NAMESPACE = uuid.UUID("5e0d3c1a-8a4e-4f0b-9a51-1f9d2c7e6b10")  # the harness's uuid5 namespace
NS = "urn:moderation-harness:oscal"  # the namespace of the harness's own props
EVIDENCE_FILES = ("evidence.jsonl", "run.json", "manifest.json")
MEDIA = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
         ".webp": "image/webp", ".html": "text/html", ".json": "application/json",
         ".jsonl": "application/jsonl", ".zip": "application/zip", ".har": "application/json"}


def _time(value: Any, fallback: datetime) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return fallback
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return fallback


def _line(text: Any) -> str:
    """Text on one line, never empty (OSCAL titles and property values)."""
    return " ".join(str(text).split()) or "-"


class _Builder:
    """Builds one run's document; trestle's models are imported only here (they load slowly)."""

    def __init__(self, report: RunReport, out_file: Path) -> None:
        from trestle.oscal import common  # noqa: PLC0415

        self.oscal = common
        self.report = report
        self.base = Path(os.path.relpath(report.run_dir.resolve(),
                                         out_file.parent.resolve())).as_posix()
        self.started = _time(report.info.get("started"), datetime.now(timezone.utc))
        self.finished = _time(report.info.get("finished"), self.started)
        self.resources: dict[str, Any] = {}

    def uuid(self, *parts: Any) -> str:
        return str(uuid.uuid5(NAMESPACE, "/".join([self.report.run_id, *map(str, parts)])))

    def prop(self, name: str, value: Any) -> Any:
        return self.oscal.Property(name=name, value=_line(value), ns=NS)

    def resource(self, path: str) -> str:
        """The back-matter resource of a run file (made once), by its `#uuid` reference."""
        if path not in self.resources:
            digest = self.report.files.get(path) or file_sha256(self.report.run_dir / path)
            self.resources[path] = self.oscal.Resource(
                uuid=self.uuid("file", path), title=_line(path),
                rlinks=[self.oscal.Rlink(
                    href=PurePosixPath(self.base, path).as_posix(),
                    media_type=MEDIA.get(PurePosixPath(path).suffix.lower()),
                    hashes=[self.oscal.Hash(algorithm="SHA-256", value=digest)])])
        return f"#{self.resources[path].uuid}"

    def document(self) -> Any:
        from trestle.oscal import OSCAL_VERSION  # noqa: PLC0415
        from trestle.oscal.assessment_results import (  # noqa: PLC0415
            AssessmentResults,
            ImportAp,
        )

        evidence = self.resource(EVIDENCE_FILES[0])
        for path in EVIDENCE_FILES[1:]:
            self.resource(path)
        result = self.result(evidence)
        return AssessmentResults(
            uuid=self.uuid("assessment-results"),
            metadata=self.oscal.Metadata(
                title=_line(f"Assessment results of run {self.report.run_id}"),
                last_modified=self.finished, version=__version__, oscal_version=OSCAL_VERSION),
            import_ap=ImportAp(href=evidence, remarks="The run's plan is the `plan` line of "
                               "its evidence; no separate assessment plan document exists."),
            results=[result],
            back_matter=self.oscal.BackMatter(resources=list(self.resources.values())))

    def result(self, evidence: str) -> Any:
        from trestle.oscal.assessment_results import Result  # noqa: PLC0415

        report, oscal = self.report, self.oscal
        observations: list[Any] = []
        by_control: dict[str, list[str]] = {}
        for line in report.observations():
            observation = self.observation(line, evidence)
            observations.append(observation)
            by_control.setdefault(str(line["control"]), []).append(observation.uuid)
        findings = [self.finding(control, by_control.get(control.control, []))
                    for control in report.verdict.controls]
        judged = [c.control for c in report.verdict.controls]
        selected = judged or [row.control.id for row in report.rows()]
        target = report.info.get("target", {}).get("name") or "the target"
        return Result(
            uuid=self.uuid("result"), title=_line(f"Assessment run {report.run_id}"),
            description=(f"Conformance of {target} with Articles 5(3), 5(4) and 5(6): exit "
                         f"{report.verdict.exit_code}, {report.verdict.why}. Evidence: "
                         f"{report.trust}."),
            start=self.started, end=self.finished,
            props=[self.prop("run-id", report.run_id), self.prop("seed", report.info.get("seed")),
                   self.prop("exit-code", report.verdict.exit_code),
                   self.prop("complete", str(report.verdict.complete).lower()),
                   *(self.prop(f"{row.status.replace('_', '-')}-control", row.control.id)
                     for row in report.rows() if row.judged is None)],
            reviewed_controls=oscal.ReviewedControls(control_selections=[
                oscal.ControlSelections(include_controls=[
                    oscal.SelectControlById(control_id=c) for c in selected],
                    remarks=None if judged else "the run judged no control")]),
            observations=observations or None, findings=findings or None,
            remarks=("Controls the harness did not judge are listed as manual-control "
                     "properties (the assessor checks them) and not-assessed-control ones "
                     "(outside the run's scope); partial findings say what the assessor "
                     "completes."))

    def observation(self, line: Mapping[str, Any], evidence: str) -> Any:
        """One evidence observation, with the evidence line and its artifacts as evidence."""
        oscal = self.oscal
        relevant = [oscal.RelevantEvidence(
            href=evidence, description=_line(f"evidence.jsonl line {line.get('seq')}"),
            props=[self.prop("entry-hash", line.get("hash"))])]
        seen = dict.fromkeys([*artifact_paths(line), *self.report.traces(line)])
        relevant += [oscal.RelevantEvidence(href=self.resource(path), description=_line(path))
                     for path in seen if path in self.report.files]
        verdict = str(line["verdict"])
        return oscal.Observation(
            uuid=self.uuid("observation", line.get("seq")),
            title=_line(f"{line['control']} {line.get('channel')} {line['case_id']}"),
            description=_line(line.get("reason") or verdict),
            props=[self.prop(name, line[key]) for name, key in (
                ("control", "control"), ("verdict", "verdict"), ("channel", "channel"),
                ("surface", "surface"), ("case-id", "case_id"), ("expect", "expect"),
                ("disposition", "disposition")) if line.get(key) is not None],
            methods=["TEST"], types=["finding"] if verdict == Verdict.FAIL.value else None,
            relevant_evidence=relevant, collected=_time(line.get("time"), self.started))

    def finding(self, control: ControlVerdict, related: list[str]) -> Any:
        """One judged control: satisfied only when it passed; a partly automated one says in
        its remarks what the assessor completes."""
        oscal = self.oscal
        entry = catalog()[control.control]
        passed = control.verdict is Verdict.PASS
        reason = {Verdict.PASS: "pass", Verdict.FAIL: "fail"}.get(control.verdict, "other")
        return oscal.Finding(
            uuid=self.uuid("finding", control.control),
            title=_line(f"{control.control}: {control.verdict.value}"),
            description=_line(control.reason),
            props=[self.prop("verdict", control.verdict.value),
                   self.prop("gating", str(control.gating).lower()),
                   self.prop("planned", control.planned),
                   self.prop("observed", control.observed),
                   self.prop("automation", entry.automation)],
            target=oscal.FindingTarget(
                type="objective-id", target_id=control.control,
                status=oscal.ObjectiveStatus(
                    state="satisfied" if passed else "not-satisfied", reason=reason,
                    remarks=None if passed else _line(control.reason))),
            related_observations=[oscal.RelatedObservation(observation_uuid=u)
                                  for u in related] or None,
            remarks=f"for the assessor: {entry.assessor}" if entry.automation == PARTIAL
            else None)


def build(report: RunReport, out_file: Path) -> Any:
    """The run as a trestle `AssessmentResults`, validated as it is built; hrefs relative to
    `out_file`."""
    return _Builder(report, out_file).document()


def write_oscal(report: RunReport, out_dir: Path) -> Path:
    """Write `out_dir/oscal/assessment-results.json` and read it back through trestle, which
    refuses a document that does not validate; returns its path."""
    from trestle.oscal.assessment_results import AssessmentResults  # noqa: PLC0415

    out = Path(out_dir) / OSCAL_FILE
    document = build(report, out)
    write_output(out, document.oscal_serialize_json_bytes(pretty=True))
    AssessmentResults.oscal_read(out)
    return out
