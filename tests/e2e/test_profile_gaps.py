"""What a profile leaves out is never a pass: a channel with no steps for a surface, and a
scope that the run's channels cannot observe at all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from harness import reference
from harness.evidence import read_entries
from harness.targets.profile import REFERENCE_PROFILE
from harness.verdicts import EXIT_EMPTY, EXIT_FAIL

ROOT = Path(__file__).parents[2]


def _assess(out: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "harness.cli", "assess", "--out", str(out),
                           "--seed", "5", *args], capture_output=True, text=True, timeout=600,
                          check=False, env={**os.environ, **(env or {})}, cwd=ROOT)
    return done.returncode, done.stdout + done.stderr


def test_surfaces_without_api_steps_leave_the_evasion_rates_inconclusive(tmp_path: Path) -> None:
    # The reference site's profile as a pages-only site would write it: no api surfaces.
    profile = yaml.safe_load(REFERENCE_PROFILE.read_text(encoding="utf-8"))
    profile["api"]["surfaces"] = {}
    path = tmp_path / "pages-only.yaml"
    path.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    with reference.start() as site:
        code, output = _assess(tmp_path / "runs", "--profile", str(path), "--base-url",
                               site.url, "--channel", "api", "--control", "A5.4-EVASION-*",
                               env={reference.ADMIN_TOKEN_ENV: site.admin_token})
    assert code == EXIT_FAIL, output[-3000:]
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir() and not p.is_symlink()]
    verdicts = {e["control"]: (e["verdict"], e["reason"]) for e in read_entries(run_dir)
                if e["entry_type"] == "control"}
    assert verdicts
    for control, (verdict, reason) in verdicts.items():
        assert verdict == "inconclusive", (control, reason)
    cells = [e for e in read_entries(run_dir) if e["entry_type"] == "observation"]
    assert cells
    assert all("describes no api steps" in e["reason"] for e in cells)


def test_a_scope_no_channel_of_the_run_observes_is_nothing_assessed(tmp_path: Path) -> None:
    code, output = _assess(tmp_path / "runs", "--channel", "api", "--control", "A5.6-PUBLISHED")
    assert code == EXIT_EMPTY, output[-3000:]
    assert "nothing assessed" in output
    assert "every gating control passed" not in output
