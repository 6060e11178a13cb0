"""Generality: a third site, pages only (tests/sites/board, Corkboard), is assessed from its
profile alone through the browser: sign-up through the e-mail activation link the site mails to
the harness's SMTP sink, handles of 3-20 characters, a provisioned moderator who reads the
report queue and the audit log from HTML pages, reports without a receipt, posts that cannot be
edited. The clean site fails no control; each of its faults fails its own control."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness import controls
from harness.evidence import read_entries, verify_run

from .runs import (
    BOARD_DIR,
    BOARD_PROFILE,
    FAST_POLICY,
    RunningBoard,
    board_faults,
    control_verdicts,
    observed_all_pass,
)

ROOT = Path(__file__).parents[2]
SURFACE_CONTROLS = {c.surface: c.id for c in controls.catalog().values() if c.surface}
ABSENT_SURFACES = {"account_name", "remark", "forward"}
IMPLEMENTED = set(SURFACE_CONTROLS) - ABSENT_SURFACES
# Every control Corkboard's profile describes, and the ones it declares absent. Out of scope:
# the evasion and over-blocking rates (its filter normalises only a little, as its docstring
# says; rates are the reference site's subject), and timeliness, which needs a status the
# reporter can follow (Corkboard gives no receipt: the profile says so).
OWN = ["A5.4-RECORDS", "A5.4-RETENTION", "A5.3-LOG-FIELDS", "A5.4-PROPAGATION",
       "A5.6-PUBLISHED", "A5.6-ENTRY-POINTS", "A5.6-INTAKE"]
NOT_APPLICABLE = [SURFACE_CONTROLS[s] for s in sorted(ABSENT_SURFACES)] + ["A5.6-APPEAL"]
SCOPE = [SURFACE_CONTROLS[s] for s in sorted(IMPLEMENTED)] + OWN + NOT_APPLICABLE
# Each fault's run: its control, narrowed (-k) to the cases that show it, to keep it cheap.
ONE_CANARY = "create and canary-zh-a"
FAULT_RUNS = {
    "nickname-unscreened": ONE_CANARY,
    "about-unscreened": ONE_CANARY,
    "portrait-unscreened": ONE_CANARY,
    "club-name-unscreened": ONE_CANARY,
    "club-about-unscreened": ONE_CANARY,
    "club-logo-unscreened": ONE_CANARY,
    "note-unscreened": ONE_CANARY,
    "reply-unscreened": ONE_CANARY,
    "wall-unscreened": ONE_CANARY,
    "refusals-unlogged": f"post and {ONE_CANARY}",
    "log-without-port": f"post and {ONE_CANARY}",
    "short-retention": "",
    "takedown-leaves-listing": "post",
    "bare-complaint-page": "",
    "no-report-link-on-replies": "comment",
    "reports-dropped": "received and post",
}


BOARD_FAULTS = board_faults()


def harness(site: RunningBoard, *args: str,
            timeout: float = 1500) -> subprocess.CompletedProcess[str]:
    """The `harness` command with the site's environment."""
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True,
                          text=True, timeout=timeout, check=False, env=site.env, cwd=ROOT)


def assess(site: RunningBoard, out: Path, scope: list[str], *args: str
           ) -> tuple[int, Path | None, str]:
    """`harness assess` of Corkboard from its profile through its pages; exit code, run
    directory and output."""
    done = harness(site, "assess", "--profile", str(BOARD_PROFILE), "--base-url", site.url,
                   "--out", str(out), "--policy", str(FAST_POLICY), "--seed", "7",
                   "--channel", "browser",
                   *(arg for control in scope for arg in ("--control", control)), *args)
    runs = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()] \
        if out.exists() else []
    return done.returncode, (runs[0] if runs else None), done.stdout + done.stderr


def test_every_fault_has_a_run():
    assert set(FAULT_RUNS) == set(BOARD_FAULTS)
    assert set(BOARD_FAULTS.values()) <= set(SCOPE), "a fault breaks a control out of scope"


def _not_applicable_where_absent(run_dir: Path, *, narrowed: bool = False) -> dict[str, str]:
    """The run's control verdicts, having checked that the absent things did not apply: every
    case of theirs observed is not_applicable, and so is the control, or (a run narrowed with
    `-k`, which left some of their cases unobserved) inconclusive short of its plan."""
    verdicts = control_verdicts(run_dir)
    absent = {(e["control"], e["verdict"]) for e in read_entries(run_dir)
              if e["entry_type"] == "observation" and e["control"] in NOT_APPLICABLE}
    assert {verdict for _, verdict in absent} == {"not_applicable"}, absent
    allowed = {"not_applicable", "inconclusive"} if narrowed else {"not_applicable"}
    assert {verdicts.get(c) for c in NOT_APPLICABLE} <= allowed, verdicts
    edits = {e["surface"]: e["verdict"] for e in read_entries(run_dir)
             if e["entry_type"] == "observation" and e.get("mode") == "edit"
             and e.get("surface") in ("post", "comment", "group_message")}
    assert set(edits.values()) <= {"not_applicable"}, edits
    return verdicts


def test_clean_board_fails_no_control(start_board, tmp_path):
    """Through the pages with the Chinese probes (the Latin ones take the same paths), to keep
    the suite's time in bounds: every case observed passes, and the controls left short of
    their plan say so. The fault runs below are narrowed to cases this run observes."""
    code, run_dir, output = assess(start_board(), tmp_path / "reports", SCOPE, "-n", "2",
                                   "--", "-k", "not latin and not benign-en")
    assert run_dir is not None, output[-4000:]
    assert verify_run(run_dir).ok
    assert code == 1, output[-4000:]
    observed_all_pass(run_dir)
    verdicts = _not_applicable_where_absent(run_dir, narrowed=True)
    for control in ("A5.4-RETENTION", "A5.4-PROPAGATION", "A5.6-PUBLISHED",
                    "A5.6-ENTRY-POINTS", "A5.6-INTAKE"):
        assert verdicts.get(control) == "pass", (control, verdicts)
    cleanup = [e for e in read_entries(run_dir) if e["entry_type"] == "cleanup"]
    assert cleanup, "the moderator deleted none of the accounts the run made"
    assert {(e["kind"], e["outcome"]) for e in cleanup} == {("account", "ok")}, cleanup


@pytest.mark.full
def test_clean_board_passes_every_control(start_board, tmp_path):
    """Every control passes but A5.3-LOG-FIELDS: through pages alone the source address and
    port are seen present, never compared with the harness's own, so it is inconclusive."""
    code, run_dir, output = assess(start_board(), tmp_path / "reports", SCOPE, "-n", "2")
    assert run_dir is not None, output[-4000:]
    assert verify_run(run_dir).ok
    verdicts = _not_applicable_where_absent(run_dir)
    assert code == 1, (verdicts, output[-4000:])
    assert {e["verdict"] for e in read_entries(run_dir) if e["entry_type"] == "observation"} \
        <= {"pass", "not_applicable"}
    expected = dict.fromkeys(set(SCOPE) - set(NOT_APPLICABLE), "pass")
    expected["A5.3-LOG-FIELDS"] = "inconclusive"
    assert {c: v for c, v in verdicts.items() if c in SCOPE and c not in NOT_APPLICABLE} == \
        expected, verdicts


# A fault that stops one surface's filter can change no other surface's cases: `make test`
# runs them all in one site, each surface's control failing there and only its own surface's
# cases failing; `make test-full` also runs each alone.
SURFACE_FAULTS = sorted(f for f in FAULT_RUNS
                        if BOARD_FAULTS[f] in SURFACE_CONTROLS.values())


def test_the_surface_faults_together_fail_each_its_own_surface(start_board, tmp_path):
    controls_ = sorted({BOARD_FAULTS[f] for f in SURFACE_FAULTS})
    assert len(controls_) == len(SURFACE_FAULTS)  # one surface each
    code, run_dir, output = assess(start_board(*SURFACE_FAULTS), tmp_path / "reports",
                                   controls_, "--", "-k", ONE_CANARY)
    assert run_dir is not None, output[-4000:]
    assert verify_run(run_dir).ok
    assert code == 1, output[-4000:]
    verdicts = control_verdicts(run_dir)
    assert {c: verdicts.get(c) for c in controls_} == dict.fromkeys(controls_, "fail"), verdicts
    failing = {e["surface"] for e in read_entries(run_dir) if e["entry_type"] == "observation"
               and e["verdict"] == "fail"}
    assert failing == {s for s, c in SURFACE_CONTROLS.items() if c in controls_}, failing


@pytest.mark.parametrize("fault", [
    pytest.param(fault, marks=pytest.mark.full) if fault in SURFACE_FAULTS else fault
    for fault in sorted(FAULT_RUNS)])
def test_each_fault_fails_its_own_control(start_board, tmp_path, fault):
    control = BOARD_FAULTS[fault]
    narrow = FAULT_RUNS[fault]
    code, run_dir, output = assess(start_board(fault), tmp_path / "reports", [control],
                                   *(("--", "-k", narrow) if narrow else ()))
    assert run_dir is not None, output[-4000:]
    assert verify_run(run_dir).ok
    verdicts = control_verdicts(run_dir)
    assert code == 1, output[-4000:]
    assert verdicts.get(control) == "fail", (fault, verdicts, output[-3000:])


def test_own_corpus_drives_the_surface_controls(start_board, tmp_path):
    """Given Corkboard's own corpus, the post control sends its rows, not the canaries."""
    code, run_dir, output = assess(start_board(), tmp_path / "reports", ["A5.4-POST"],
                                   "--corpus", str(BOARD_DIR / "corpus.jsonl"))
    assert run_dir is not None, output[-4000:]
    assert code == 0, output[-4000:]
    cases = {e["case_id"] for e in read_entries(run_dir) if e["entry_type"] == "observation"
             and e["control"] == "A5.4-POST" and e["verdict"] == "pass"}
    assert cases, output[-4000:]
    assert all(case.startswith("post/create/corpus:cork-") for case in cases), cases


# The clean run drives the same steps; `make test` checks the command on the reference site.
@pytest.mark.full
def test_profile_check_passes(start_board, tmp_path):
    site = start_board()
    site.env["COLUMNS"] = "200"  # the table's action column unfolded
    done = harness(site, "profile", "check", str(BOARD_PROFILE), "--base-url", site.url)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    for action in ("register (viewer)", "login (moderator)", "report post queue",
                   "moderation removal post", "moderation edit group", "complaint form",
                   "appeal", "retention", "cleanup"):
        assert action in done.stdout, (action, done.stdout[-4000:])
