"""The detection matrix: the clean reference site passes every automated control, and each
fault makes its own control fail. Each case runs `harness assess` end to end in a subprocess,
as a user would, and reads the verdicts back from the run's evidence.

The clean run is the session's one (`clean_api_run`, every automated control through the API).
`make test` runs each strict fault scoped to its own control, and checks that of everything its
cases observed (their A5.4-RECORDS and A5.3-LOG-FIELDS observations too) only its own control
failed. `make test-full` (`pytest --full`) adds the cross-check that each fault, assessed over
every strict control, fails exactly its own control and no other.

Rate controls (evasion families, the over-blocking bank) have their own matrix in
test_evasion_matrix.py, and the Article 5(6) controls theirs in test_reporting_faults.py; the
fault runs here are scoped to the other controls, since a surface that checks nothing also lets
every evasion through on that surface."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import defaultdict

import pytest

from harness import controls, reference
from harness.evidence import read_entries, verify_run
from harness.verdicts import EXIT_NOT_INTACT

from .runs import (
    AUTOMATED,
    MEASURED,
    NOT_FAILING,
    STRICT,
    SURFACE_CONTROLS,
    assess,
    control_verdicts,
    faults,
)

NOT_RATES = [arg for control in sorted(STRICT) for arg in ("--control", control)]
MATRIX = sorted(name for name, (control, text) in faults().items() if control in STRICT
                and not text.startswith((reference.BROWSER_ONLY, *NOT_FAILING)))
# Controls every surface case observes: a fault of theirs shows on one surface's cases.
PER_WRITE = {"A5.4-RECORDS", "A5.3-LOG-FIELDS"}


def scope(control: str) -> list[str]:
    """What a fault's run assesses in `make test`: its own control; for a control every write
    observes, the post surface's cases only (a failed case fails the control, however narrow
    the run)."""
    if control in PER_WRITE:
        return ["--control", control, "--", "-k", "post- and api"]
    return ["--control", control]


def test_every_automated_control_has_a_fault():
    covered = {control for control, text in faults().values() if not text.startswith(NOT_FAILING)}
    missing = AUTOMATED - MEASURED - covered
    assert not missing, f"controls without a fault: {sorted(missing)}"


def test_every_strict_control_has_a_fault_in_the_matrix():
    assert {faults()[name][0] for name in MATRIX} == STRICT


def test_clean_site_passes_every_control_and_its_run_verifies(clean_api_run, tmp_path):
    code, run_dir, output = clean_api_run.code, clean_api_run.run_dir, clean_api_run.output
    assert code == 0, output[-3000:]
    verdicts = control_verdicts(run_dir)
    # Controls only pages can observe (e.g. published complaint contacts) are outside an API run.
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
    first = next(n for n, line in enumerate(lines) if '"verdict": "pass"' in line
                 or '"verdict":"pass"' in line)  # the first passing observation
    lines[first] = lines[first].replace('"pass"', '"fail"', 1)
    (copy / "evidence.jsonl").write_text("".join(lines), encoding="utf-8")
    result = verify_run(copy)
    assert not result.ok
    assert f"line {first + 1}" in result.problems[0]
    verify = subprocess.run([sys.executable, "-m", "harness.cli", "verify", str(copy)],
                            capture_output=True, text=True, check=False)
    assert verify.returncode == EXIT_NOT_INTACT
    assert f"line {first + 1}" in verify.stdout


@pytest.mark.parametrize("fault", MATRIX)
def test_fault_fails_its_control(fault, tmp_path):
    expected = faults()[fault][0]
    code, run_dir, output = assess(tmp_path / "reports", "--reference-fault", fault,
                                   *scope(expected))
    assert code == 1, output[-3000:]
    assert run_dir is not None
    assert control_verdicts(run_dir) == {expected: "fail"}, output[-3000:]
    # Its cases observe other controls too (records, log fields): none of those fails.
    failing = {e["control"] for e in read_entries(run_dir)
               if e["entry_type"] == "observation" and e["verdict"] == "fail"}
    assert failing == {expected}, output[-3000:]


@pytest.mark.full
@pytest.mark.parametrize("fault", MATRIX)
def test_fault_fails_exactly_its_control(fault, tmp_path):
    expected = faults()[fault][0]
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
