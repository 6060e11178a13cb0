"""Article 5(6) end to end: each reporting fault of the reference site fails its own control
among the A5.6 controls, and `harness followup` settles a pending timeliness check in the
same run's evidence, which still verifies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness import reference
from harness.evidence import read_entries, verify_run
from harness.followup import STATE_ENV

from .runs import FAST_POLICY, assess, control_verdicts, faults

A56 = sorted(c for c, _ in faults().values() if c.startswith("A5.6-"))
API_FAULTS = sorted(name for name, (control, text) in faults().items()
                    if control.startswith("A5.6-")
                    and not text.startswith((reference.BROWSER_ONLY, reference.LOAD_ONLY)))


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch):
    monkeypatch.setenv(STATE_ENV, str(tmp_path / "state"))


@pytest.mark.parametrize("fault", API_FAULTS)
def test_reporting_fault_fails_exactly_its_control(fault, tmp_path):
    expected = faults()[fault][0]
    code, run_dir, output = assess(tmp_path / "reports", "--reference-fault", fault,
                                   "--control", "A5.6-*", "-n", "2")
    assert code == 1, output[-3000:]
    assert run_dir is not None
    verdicts = control_verdicts(run_dir)
    assessed = {c for c in verdicts if c.startswith("A5.6-")}
    # Timeliness presupposes intake: a report that cannot be looked up cannot be followed.
    unobservable = {"A5.6-TIMELY"} if expected == "A5.6-INTAKE" else set()
    others = {c: verdicts[c] for c in assessed - {expected} if verdicts[c] != "pass"}
    assert set(others) <= unobservable, output[-3000:]
    assert set(others.values()) <= {"inconclusive"}, output[-3000:]
    assert verdicts[expected] == "fail"


def test_followup_settles_a_pending_check_in_the_same_evidence(tmp_path):
    policy = yaml.safe_load(FAST_POLICY.read_text(encoding="utf-8"))
    policy["report_wait_seconds"] = 0.2  # the site handles reports after about 1.5 s
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(policy), encoding="utf-8")
    site = reference.start([])
    env = {**os.environ, reference.ADMIN_TOKEN_ENV: site.admin_token}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "harness.cli", "assess", "--base-url", site.url,
             "--out", str(tmp_path / "reports"), "--seed", "11", "--policy", str(policy_file),
             "--control", "A5.6-TIMELY"],
            capture_output=True, text=True, timeout=600, check=False, env=env)
        assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
        run_dir = next(p for p in (tmp_path / "reports").iterdir() if p.is_dir())
        assert control_verdicts(run_dir)["A5.6-TIMELY"] == "inconclusive"
        pending = [e for e in read_entries(run_dir) if e["entry_type"] == "observation"]
        assert pending
        assert all(e["reason"].startswith("pending") for e in pending)
        state = list((tmp_path / "state").rglob("*.json"))
        assert len(state) == len(pending)
        tokens = [json.loads(path.read_text(encoding="utf-8"))["reporter"]["variables"]["token"]
                  for path in state]

        followup = subprocess.run(
            [sys.executable, "-m", "harness.cli", "followup", str(run_dir), "--wait", "20"],
            capture_output=True, text=True, timeout=300, check=False, env=env)
        assert followup.returncode == 0, followup.stdout[-3000:] + followup.stderr[-2000:]
    finally:
        site.stop()
    assert control_verdicts(run_dir)["A5.6-TIMELY"] == "pass"
    settled = [e for e in read_entries(run_dir)
               if e["entry_type"] == "observation" and e["details"].get("followup")]
    assert len(settled) == len(pending)
    assert all(e["verdict"] == "pass" for e in settled)
    assert all("fed_back" in e["details"]["timeline"]["events"] for e in settled)
    assert verify_run(run_dir).ok
    assert not list((tmp_path / "state").rglob("*.json"))  # settled checks are forgotten
    assert all(tokens)
    for path in Path(run_dir).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(token.encode() in data for token in tokens), path
