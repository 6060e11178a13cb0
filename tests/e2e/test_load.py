"""The load channel end to end: `harness load` in a subprocess, as a user runs it, on short
stages (three of 3 s, 1 to 16 users). The clean reference site passes both load controls with
the reconciliation in its evidence; each load-only fault fails its own control, at a loaded
stage (never the no-load one), and leaves the other control passing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.controls import A5_4_UNDER_LOAD, A5_6_INTAKE_UNDER_LOAD
from harness.evidence import read_entries, verify_run
from harness.evidence.redact import REDACTED

from .runs import BOARD_PROFILE, RunningBoard, control_verdicts

SHORT = """grace_seconds: 1
load: {users: 16, spawn_rate: 16, seconds: 9, stages: 3, canaries_per_stage: 20}
"""
FAULTS = {"filter-fails-open-under-load": A5_4_UNDER_LOAD,
          "reports-dropped-when-busy": A5_6_INTAKE_UNDER_LOAD}


def harness_load(tmp_path: Path, *args: str) -> tuple[int, Path, str]:
    """`harness load` on the short policy into tmp_path; exit code, run directory, output."""
    policy = tmp_path / "load-policy.yaml"
    policy.write_text(SHORT, encoding="utf-8")
    out = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "load", "--policy", str(policy), "--out", str(out),
         "--seed", "7", *args], capture_output=True, text=True, timeout=300, check=False)
    runs = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(runs) == 1, done.stdout[-2000:] + done.stderr[-2000:]
    return done.returncode, runs[0], done.stdout + done.stderr


def stage_observations(run_dir: Path, control: str) -> list[dict]:
    return [e for e in read_entries(run_dir)
            if e["entry_type"] == "observation" and e["control"] == control]


def test_clean_site_passes_both_load_controls_with_the_reconciliation_in_evidence(tmp_path):
    code, run_dir, output = harness_load(tmp_path)
    assert code == 0, output[-3000:]
    assert control_verdicts(run_dir) == {A5_4_UNDER_LOAD: "pass", A5_6_INTAKE_UNDER_LOAD: "pass"}
    assert verify_run(run_dir).ok
    assert "load stages" in output
    assert "no-load (1 user)" in output
    intake = stage_observations(run_dir, A5_6_INTAKE_UNDER_LOAD)
    assert [o["details"]["stage"]["users"] for o in intake] == [1, 8, 16]
    assert all(o["details"]["receipts"] > 0 and o["details"]["lost"] == [] for o in intake)
    leaks = stage_observations(run_dir, A5_4_UNDER_LOAD)
    assert all(o["details"]["canaries"] == 20 and o["details"]["leaked"] == 0 for o in leaks)
    artifacts = intake[0]["details"]["artifacts"]
    reconciliation = run_dir / artifacts["reconciliation"]
    assert json.loads(reconciliation.read_text(encoding="utf-8"))["queue"] is not None
    stats = run_dir / artifacts["stages"]
    assert (stats.parent.parent / "locust" / "locust.json").is_file()


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_load_fault_fails_its_control_at_a_loaded_stage(fault, tmp_path):
    code, run_dir, output = harness_load(tmp_path, "--reference-fault", fault)
    expected = FAULTS[fault]
    assert code == 1, output[-3000:]
    verdicts = control_verdicts(run_dir)
    assert verdicts[expected] == "fail"
    assert {c: v for c, v in verdicts.items() if c != expected} == \
        {c: "pass" for c in FAULTS.values() if c != expected}
    failed = [o for o in stage_observations(run_dir, expected) if o["verdict"] == "fail"]
    assert failed
    assert all(o["details"]["stage"]["index"] > 0 for o in failed)  # never the no-load stage
    assert f"{expected} broke at stage" in output


# --- a pages-only site: Corkboard through its form posts -------------------------------------

# Two stages of 3 s, 1 then 4 users; four canaries a stage are the fewest that clear the
# policy's limit of 0.5 (a fixed limit, which also fails a site whose filter never works): a
# quota of six lets a loaded machine fall short by two and still show a pass (with stages of
# 2 s, a machine running three assessments beside it sent only three through one user).
BOARD_SHORT = """grace_seconds: 1
load: {users: 4, spawn_rate: 8, seconds: 6, stages: 2, canaries_per_stage: 6,
       leak_rate_max: 0.5}
"""


def board_load(site: RunningBoard, tmp_path: Path) -> tuple[int, Path, str]:
    """`harness load` of Corkboard from its profile; exit code, run directory, output."""
    policy = tmp_path / "board-load-policy.yaml"
    policy.write_text(BOARD_SHORT, encoding="utf-8")
    out = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "load", "--profile", str(BOARD_PROFILE),
         "--base-url", site.url, "--policy", str(policy), "--out", str(out), "--seed", "7"],
        capture_output=True, text=True, timeout=300, check=False, env=site.env)
    runs = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()] \
        if out.exists() else []
    assert len(runs) == 1, done.stdout[-2000:] + done.stderr[-2000:]
    return done.returncode, runs[0], done.stdout + done.stderr


def test_a_pages_only_site_passes_both_load_controls_through_its_form_posts(start_board,
                                                                           tmp_path):
    code, run_dir, output = board_load(start_board(), tmp_path)
    assert code == 0, output[-3000:]
    assert control_verdicts(run_dir) == {A5_4_UNDER_LOAD: "pass", A5_6_INTAKE_UNDER_LOAD: "pass"}
    assert verify_run(run_dir).ok
    leaks = stage_observations(run_dir, A5_4_UNDER_LOAD)
    assert [o["details"]["stage"]["users"] for o in leaks] == [1, 4]
    assert all(o["details"]["canaries"] >= 4 and o["details"]["leaked"] == 0 for o in leaks)
    assert leaks[0]["details"]["plan"]["steps"] == "browser"
    assert all(o["details"]["benign_ok"] > 0 for o in leaks)
    intake = stage_observations(run_dir, A5_6_INTAKE_UNDER_LOAD)
    assert all(o["details"]["receipts"] > 0 and o["details"]["lost"] == [] for o in intake)
    artifacts = leaks[0]["details"]["artifacts"]
    canaries = json.loads((run_dir / artifacts["canaries"]).read_text(encoding="utf-8"))
    assert {s["role"] for c in canaries for s in c["sightings"]} == {"viewer", "anonymous"}
    assert all(c["outcome"] == "rejected" for c in canaries)  # the board's filter refused them
    reconciliation = json.loads((run_dir / artifacts["reconciliation"]).read_text(
        encoding="utf-8"))
    assert reconciliation["queue"]["records"], "the harness's own reports were not kept"
    plan = (run_dir / artifacts["stages"]).parent.parent / "locust" / "plan.json"
    password = json.loads(plan.read_text(encoding="utf-8"))["accounts"][0]["password"]
    assert password == REDACTED  # the users' accounts' secrets
    cleanup = [e for e in read_entries(run_dir) if e["entry_type"] == "cleanup"]
    assert len([e for e in cleanup if e["kind"] == "account" and e["outcome"] == "ok"]) >= 8


def test_a_pages_only_sites_faults_fail_the_load_controls(start_board, tmp_path):
    """In one run, to keep the suite short: a filter that fails open only while the board is
    busy (its load-only fault) fails A5.4-UNDER-LOAD at the loaded stage and never the
    no-load one; reports that never reach the queue fail A5.6-INTAKE-UNDER-LOAD."""
    site = start_board("notes-unscreened-when-busy", "reports-dropped")
    code, run_dir, output = board_load(site, tmp_path)
    assert code == 1, output[-3000:]
    assert control_verdicts(run_dir) == {A5_4_UNDER_LOAD: "fail", A5_6_INTAKE_UNDER_LOAD: "fail"}
    leaks = {o["details"]["stage"]["index"]: o
             for o in stage_observations(run_dir, A5_4_UNDER_LOAD)}
    assert leaks[0]["verdict"] == "pass", leaks[0]["reason"]
    assert leaks[1]["verdict"] == "fail", leaks[1]["reason"]
    assert leaks[1]["details"]["leaked"] > 0
    failed = [o for o in stage_observations(run_dir, A5_6_INTAKE_UNDER_LOAD)
              if o["verdict"] == "fail"]
    assert failed
    assert all(o["details"]["lost"] for o in failed)
    assert "reports filed (no receipt: found by their reason text) are not in the moderator's " \
        "queue (lost)" in failed[0]["reason"]
    assert f"{A5_4_UNDER_LOAD} broke at stage 1" in output
    assert f"{A5_6_INTAKE_UNDER_LOAD} broke at" in output
