"""A test's live evidence writes its artifacts through the run store's guards: confined to
its folder, redacted as text, never overwritten; a test run again into the same run (a
resumed run) writes a folder of its own."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.errors import EvidenceError
from harness.evidence.artifacts import ArtifactWriter
from harness.evidence.recorder import OBSERVATION
from harness.evidence.redact import Redactor
from harness.evidence.scenario import Inconclusive, ScenarioEvidence
from harness.verdicts import Observation, Verdict

NODE = "scenarios/a5_4/test_surfaces.py::test_surface[post-create-canary-zh-a-api]"
SECRET = "s3cret-token-value"


def _evidence(run_dir: Path | None) -> ScenarioEvidence:
    item = SimpleNamespace(nodeid=NODE, user_properties=[])
    return ScenarioEvidence(item, run_dir)  # type: ignore[arg-type]


def test_artifacts_are_redacted_and_stay_in_the_tests_folder(tmp_path: Path) -> None:
    evidence = _evidence(tmp_path)
    evidence.add_secrets([SECRET])
    path = evidence.artifact("exchanges.json", f'{{"token": "{SECRET}"}}')
    assert path == f"artifacts/{evidence.folder}/exchanges.json"
    assert SECRET not in (tmp_path / path).read_text(encoding="utf-8")
    assert evidence.artifact("probe.png", b"\x89PNG\x00" + SECRET.encode(), text=False)
    for bad in ("../escape.txt", "/etc/passwd", "a/../../x.txt"):
        with pytest.raises(EvidenceError):
            evidence.artifact(bad, "x")
    assert not (tmp_path / "escape.txt").exists()


def test_an_artifact_is_never_overwritten(tmp_path: Path) -> None:
    evidence = _evidence(tmp_path)
    evidence.artifact("exchanges.json", "first")
    with pytest.raises(EvidenceError, match="already exists"):
        evidence.artifact("exchanges.json", "second")
    assert (tmp_path / "artifacts" / evidence.folder / "exchanges.json").read_text() == "first"


def test_a_planted_symlink_cannot_lead_an_artifact_out_of_the_run(tmp_path: Path) -> None:
    run_dir, outside = tmp_path / "run", tmp_path / "outside"
    outside.mkdir()
    evidence = _evidence(run_dir)
    (run_dir / "artifacts").mkdir(parents=True)
    (run_dir / "artifacts" / evidence.folder).symlink_to(outside)
    other = _evidence(run_dir)  # its folder exists (as a link): it writes one of its own
    assert other.folder == f"{evidence.folder}~2"
    assert other.artifact("x.txt", "inside")
    with pytest.raises(EvidenceError, match="escapes"):
        ArtifactWriter(run_dir, Redactor(), evidence.folder).path("x.txt")
    assert not list(outside.iterdir())


def test_a_test_run_again_keeps_what_its_earlier_attempt_wrote(tmp_path: Path) -> None:
    first = _evidence(tmp_path)
    first.artifact("01-viewer.html", "<p>first attempt</p>")
    again = _evidence(tmp_path)
    path = again.artifact("01-viewer.html", "<p>second attempt</p>")
    assert path == f"artifacts/{first.folder}~2/01-viewer.html"
    assert "first" in (tmp_path / "artifacts" / first.folder / "01-viewer.html").read_text()


def test_outside_a_recorded_run_nothing_is_written() -> None:
    assert _evidence(None).artifact("exchanges.json", "[]") is None


def test_observations_go_to_the_controller_redacted_and_judge_the_test(tmp_path: Path) -> None:
    evidence = _evidence(tmp_path)
    evidence.add_secrets([SECRET])
    evidence.record([Observation("A5.4-POST", "post", "api", "c", "must_block",
                                 Verdict.INCONCLUSIVE, f"timed out with {SECRET}")])
    evidence.flush()
    [(name, line)] = evidence.item.user_properties
    assert name == OBSERVATION
    assert SECRET not in line
    assert json.loads(line)["test"] == NODE
    with pytest.raises(Inconclusive, match=r"A5\.4-POST"):
        evidence.judge()
    with pytest.raises(Inconclusive, match="no observation"):
        _evidence(None).judge()
