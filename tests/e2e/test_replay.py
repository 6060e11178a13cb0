"""Replay, diff and signatures on a real run: a one-fault run of the reference site, replayed
with its faults and without them, diffed, signed and tampered with.

The run is the session's `bio_fault_run` (A5.4-NICKNAME and A5.4-BIO through the API, the
`unfiltered-bio` fault on): seconds per run, so the whole module costs three short assessments.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import cli
from harness.evidence import read_run_info
from harness.evidence.sign import keygen
from harness.verdicts import EXIT_FAIL, EXIT_NOT_INTACT, EXIT_PASS, EXIT_REGRESSION

from .runs import SharedRun, control_verdicts

BIO, NICKNAME = "A5.4-BIO", "A5.4-NICKNAME"


def replay(run_dir: Path, out: Path, *args: str) -> tuple[int, Path, str]:
    """`harness replay RUN --out OUT ARGS` in a subprocess; the exit code, the new run, the
    output."""
    done = subprocess.run([sys.executable, "-m", "harness.cli", "replay", str(run_dir),
                           "--out", str(out), *args],
                          capture_output=True, text=True, timeout=600, check=False)
    runs = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(runs) == 1, done.stdout + done.stderr
    return done.returncode, runs[0], done.stdout + done.stderr


@pytest.fixture(scope="module")
def fixed(bio_fault_run: SharedRun, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[int, Path, str]:
    """The one-fault run replayed on a reference site without faults."""
    return replay(bio_fault_run.run_dir, tmp_path_factory.mktemp("fixed"), "--no-faults")


def test_the_fault_run_fails_its_control(bio_fault_run: SharedRun) -> None:
    assert bio_fault_run.code == EXIT_FAIL, bio_fault_run.output[-3000:]
    assert control_verdicts(bio_fault_run.run_dir) == {BIO: "fail", NICKNAME: "pass"}


def test_a_replay_without_faults_and_diff_show_the_control_fixed(
        bio_fault_run: SharedRun, fixed: tuple[int, Path, str],
        capsys: pytest.CaptureFixture[str]) -> None:
    code, run_dir, output = fixed
    assert code == EXIT_PASS, output[-3000:]
    assert "the same cases planned and observed" in output
    info, original = read_run_info(run_dir), read_run_info(bio_fault_run.run_dir)
    assert info["replay_of"]["run_id"] == bio_fault_run.run_dir.name
    assert info["seed"] == original["seed"]
    assert info["reference_faults"] == []
    assert [c["sha256"] for c in info["corpora"]] == [c["sha256"] for c in original["corpora"]]
    assert control_verdicts(run_dir) == {BIO: "pass", NICKNAME: "pass"}

    assert cli.main(["diff", str(bio_fault_run.run_dir), str(run_dir), "--json"]) == EXIT_PASS
    found = json.loads(capsys.readouterr().out)
    assert [(c["kind"], c["control"]) for c in found["controls"]] == [("fix", BIO)]
    fixes = {c["case"] for c in found["cases"] if c["kind"] == "fix"}
    assert fixes == {"api:bio/create/canary-zh-a", "api:bio/create/canary-latin-a",
                     "api:bio/edit/canary-zh-a", "api:bio/edit/canary-latin-a"}
    assert found["counts"]["cases"]["regression"] == 0
    # The other way round, the same change is a regression, and the gate says so.
    assert cli.main(["diff", str(run_dir), str(bio_fault_run.run_dir)]) == EXIT_REGRESSION
    assert f"regression {BIO}: pass -> fail" in capsys.readouterr().out


def test_a_replay_keeps_the_recorded_faults(bio_fault_run: SharedRun, tmp_path: Path) -> None:
    code, run_dir, output = replay(bio_fault_run.run_dir, tmp_path)
    assert code == EXIT_FAIL, output[-3000:]
    assert read_run_info(run_dir)["reference_faults"] == ["unfiltered-bio"]
    assert control_verdicts(run_dir) == control_verdicts(bio_fault_run.run_dir)
    assert cli.main(["diff", str(bio_fault_run.run_dir), str(run_dir)]) == EXIT_PASS


def test_a_signed_run_with_one_changed_artifact_fails_verify(
        bio_fault_run: SharedRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(bio_fault_run.run_dir, run_dir)
    private, public = keygen(tmp_path / "assessor")
    assert cli.main(["sign", str(run_dir), "--key", str(private)]) == EXIT_PASS
    assert cli.main(["verify", str(run_dir), "--key", str(public)]) == EXIT_PASS
    artifact = next(p for p in sorted((run_dir / "artifacts").rglob("exchanges.json")))
    artifact.write_text(artifact.read_text(encoding="utf-8").replace("200", "201", 1),
                        encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["verify", str(run_dir), "--key", str(public)]) == EXIT_NOT_INTACT
    assert "sha256 mismatch (file altered)" in capsys.readouterr().out
