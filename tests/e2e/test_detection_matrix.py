"""The detection matrix: the clean reference site passes every automated control, and each
fault makes exactly its own control fail. Each case runs `harness assess` end to end in a
subprocess, as a user would, and reads the verdicts back from the run's evidence.

Rate controls (evasion families, the over-blocking bank) have their own matrix in
test_evasion_matrix.py, and the Article 5(6) controls theirs in test_reporting_faults.py; the
fault runs here are scoped to the other controls, since a surface that checks nothing also lets
every evasion through on that surface."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from harness import controls, reference
from harness.evidence import read_entries, verify_run
from harness.policy import load_policy
from harness.verdicts import EXIT_NOT_INTACT

AUTOMATED = {c.id for c in controls.catalog().values() if c.automated}
SURFACE_CONTROLS = {c.id: c.surface for c in controls.catalog().values() if c.surface}
FAULTS = reference.list_faults()
FAST_POLICY = Path(__file__).with_name("fast-policy.yaml")
RATE_CONTROLS = {c.id for c in controls.catalog().values() if c.families} | {controls.OVERBLOCK}
# Rate controls whose families the policy only measures: they show their true rate and verdict
# but gate nothing, so no fault is needed to show that they can fail a run.
MEASURED = {c.id for c in controls.catalog().values() if c.families and not any(
    load_policy(FAST_POLICY).rates.gate(family).gate for family in c.families)}
REPORTING = {c for c in AUTOMATED if c.startswith("A5.6-")}
STRICT = AUTOMATED - RATE_CONTROLS - REPORTING
NOT_RATES = [arg for control in sorted(STRICT) for arg in ("--control", control)]
# Faults that fail no control (transport faults, test_transport_faults.py) are not in the matrix.
NOT_FAILING = (reference.INCONCLUSIVE, reference.TOLERATED)
MATRIX = sorted(name for name, (control, text) in FAULTS.items() if control in STRICT
                and not text.startswith((reference.BROWSER_ONLY, *NOT_FAILING)))
BROWSER_FAULTS = sorted(name for name, (control, text) in FAULTS.items()
                        if control in AUTOMATED and text.startswith(reference.BROWSER_ONLY))


def assess(out: Path, *args: str) -> tuple[int, Path | None, str]:
    """Run `harness assess` into `out`; returns exit code, run dir and output."""
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "assess", "--out", str(out), "--seed", "7",
         "--policy", str(FAST_POLICY), *args],
        capture_output=True, text=True, timeout=900, check=False,
    )
    runs = [p for p in out.iterdir() if p.is_dir()] if out.exists() else []
    return done.returncode, (runs[0] if runs else None), done.stdout + done.stderr


def control_verdicts(run_dir: Path) -> dict[str, str]:
    return {e["control"]: e["verdict"] for e in read_entries(run_dir)
            if e["entry_type"] == "control"}


def test_every_automated_control_has_a_fault():
    covered = {control for control, text in FAULTS.values() if not text.startswith(NOT_FAILING)}
    missing = AUTOMATED - MEASURED - covered
    assert not missing, f"controls without a fault: {sorted(missing)}"


def test_clean_site_passes_every_control_and_its_run_verifies(tmp_path):
    code, run_dir, output = assess(tmp_path / "reports")
    assert code == 0, output
    assert run_dir is not None
    verdicts = control_verdicts(run_dir)
    # Controls only pages can observe (e.g. published complaint channels) are outside an API run.
    gating = {c for c in AUTOMATED - MEASURED if controls.get(c).in_scope([], ["api"])}
    assert {c: verdicts.get(c) for c in gating} == dict.fromkeys(gating, "pass")
    assert set(verdicts) >= MEASURED  # measured families are judged and shown, not gated
    passing = defaultdict(set)
    for entry in read_entries(run_dir):
        if entry["entry_type"] == "observation" and entry["control"] in SURFACE_CONTROLS:
            passing[entry["verdict"]].add(entry["surface"])
    assert passing["pass"] == set(SURFACE_CONTROLS.values())
    assert verify_run(run_dir).ok

    copy = tmp_path / "tampered"
    shutil.copytree(run_dir, copy)
    lines = (copy / "evidence.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    lines[3] = lines[3].replace('"pass"', '"fail"', 1)
    (copy / "evidence.jsonl").write_text("".join(lines), encoding="utf-8")
    result = verify_run(copy)
    assert not result.ok
    assert "line 4" in result.problems[0]
    verify = subprocess.run([sys.executable, "-m", "harness.cli", "verify", str(copy)],
                            capture_output=True, text=True, check=False)
    assert verify.returncode == EXIT_NOT_INTACT
    assert "line 4" in verify.stdout


@pytest.mark.parametrize("fault", MATRIX)
def test_fault_fails_exactly_its_control(fault, tmp_path):
    expected = FAULTS[fault][0]
    code, run_dir, output = assess(tmp_path / "reports", "--reference-fault", fault, *NOT_RATES)
    assert code == 1, output
    assert run_dir is not None
    verdicts = control_verdicts(run_dir)
    failing = {c for c in STRICT if verdicts.get(c) != "pass"}
    assert failing == {expected}, output[-3000:]
    assert verdicts[expected] == "fail"


def test_dead_target_is_inconclusive_never_pass(tmp_path, monkeypatch):
    monkeypatch.setenv(reference.ADMIN_TOKEN_ENV, "not-a-real-token")
    code, run_dir, output = assess(tmp_path / "reports", "--base-url", "http://127.0.0.1:9",
                                   *NOT_RATES)
    assert code == 1, output
    assert run_dir is not None
    observations = [e for e in read_entries(run_dir) if e["entry_type"] == "observation"]
    assert observations
    assert {o["verdict"] for o in observations} == {"inconclusive"}
    assert set(control_verdicts(run_dir).values()) == {"inconclusive"}
