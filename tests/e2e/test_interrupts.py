"""Interrupted runs: SIGINT or SIGTERM at seeded random moments of API and browser assessments.

Each interrupted run must exit 130, verify to its last line, say `complete: false` in run.json
and leave no process behind (reference site, Playwright driver, Chromium): every process the
run started carries a tag in its environment, and none may be alive once it has exited.
Resumed with `harness assess --resume RUN`, it must give the verdicts of an uninterrupted run
with the same seed. The scopes are small (the text surfaces through the API, one control through
the pages); the 13 seeded points land in start-up, planning and observing alike, on a loaded
machine as on an idle one.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.evidence import read_entries, verify_run
from harness.verdicts import EXIT_INTERRUPTED, EXIT_PASS

SEED = 20261201
FAST_POLICY = Path(__file__).with_name("fast-policy.yaml")
# The text surfaces through the API (80 cases, about 4 s, a third of it observing).
TEXT_SURFACES = ("ACCOUNT_NAME", "NICKNAME", "BIO", "REMARK", "GROUP_NAME", "GROUP_INTRO", "POST",
                 "COMMENT", "FORWARD", "GROUP_MESSAGE")
API_SCOPE = ("--channel", "api",
             *(arg for surface in TEXT_SURFACES for arg in ("--control", f"A5.4-{surface}")))
# Report controls on each reportable kind, through the pages (5 cases, about 12 s).
BROWSER_SCOPE = ("--channel", "browser", "--control", "A5.6-ENTRY-POINTS")
POINTS = [("api", signal.SIGINT if i % 2 else signal.SIGTERM) for i in range(10)] + [
    ("browser", signal.SIGTERM if i % 2 else signal.SIGINT) for i in range(3)]
# A point's moment, seeded, measured on the run itself so that a loaded machine moves it no
# more than an idle one: every third point lands in start-up (a fraction of the time an
# uninterrupted run took to write its first evidence line), the others once the run's evidence
# holds a seeded number of lines (the plan, then observations), short of its seal. The first
# such points of each channel, as many as it has runs to resume, land while it still observes
# (past its first observation, in the first half of them), whatever its line count.
STARTUP = (0.1, 1.0)
POLL_S = 0.05
TIMEOUT_S = 300


@dataclass
class Outcome:
    code: int
    run_dir: Path | None
    tag: str
    output: str
    first_line_s: float | None  # since the start: when the evidence got its first line
    signalled: bool


# The seal's lines (rate cells, the controls' verdicts, the ending): once the first is written,
# every case has been observed and the run is judged complete; a signal then changes nothing.
SEAL_LINES = ('"entry_type":"rate"', '"entry_type":"control"', '"entry_type":"run_end"')


def _evidence_lines(out: Path) -> tuple[int, bool]:
    """How many lines the run in `out` has written so far, and whether its seal has begun."""
    for evidence in out.glob("*/evidence.jsonl"):
        with contextlib.suppress(OSError):
            text = evidence.read_text(encoding="utf-8")
            return text.count("\n"), any(line in text for line in SEAL_LINES)
    return 0, False


def _assess(out: Path, *args: str, signum: int | None = None, delay: float | None = None,
            after_lines: int | None = None) -> Outcome:
    """`harness assess` in a subprocess of its own, watched through its evidence; with
    `signum`, sent `delay` s after its start, or once its evidence holds `after_lines` lines.
    A run already sealed is not signalled: it has ended."""
    tag = uuid.uuid4().hex
    log = out.with_suffix(".log")
    with log.open("w", encoding="utf-8") as sink:
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "assess", "--out", str(out), "--seed", "11",
             "--policy", str(FAST_POLICY), *args],
            stdout=sink, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "HARNESS_TEST_TAG": tag}, start_new_session=True,
        )
        first = None
        signalled = False
        while process.poll() is None:
            now = time.monotonic() - started
            lines, sealed = _evidence_lines(out)
            if lines and first is None:
                first = now
            due = (delay is not None and now >= delay) or \
                (after_lines is not None and lines >= after_lines)
            if signum is not None and not signalled and not sealed and due:
                process.send_signal(signum)
                signalled = True
            if now > TIMEOUT_S:
                process.kill()
                pytest.fail(f"harness assess ran past {TIMEOUT_S}s")
            time.sleep(POLL_S)
    runs = sorted(p for p in out.iterdir() if p.is_dir() and not p.is_symlink()) \
        if out.exists() else []
    return Outcome(process.returncode, runs[-1] if runs else None, tag,
                   log.read_text(encoding="utf-8"), first, signalled)


def _tagged(tag: str) -> list[str]:
    """Processes still alive whose environment carries the tag."""
    alive = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if f"HARNESS_TEST_TAG={tag}".encode() in environ.read_bytes():
                alive.append(environ.parent.name)
        except OSError:
            continue
    return alive


def _none_left(tag: str, deadline_s: float = 15.0) -> list[str]:
    deadline = time.monotonic() + deadline_s
    while (alive := _tagged(tag)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive


def _verdicts(run_dir: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for entry in read_entries(run_dir):
        if entry["entry_type"] == "control":
            found[entry["control"]] = entry["verdict"]
    return found


@dataclass
class Clean:
    """An uninterrupted run of a scope: its verdicts, when it wrote its first evidence line,
    how many lines it wrote before its seal."""

    verdicts: dict[str, str]
    first_line_s: float
    before_seal: int  # its lines before the seal's first
    observing: tuple[int, int]  # line counts at which it still has cases to observe


def _lines(run_dir: Path) -> tuple[int, tuple[int, int]]:
    """A run's lines before its seal, and the line counts from its first observation to the
    middle of its observations."""
    types = [entry["entry_type"] for entry in read_entries(run_dir)]
    seal = next(i for i, kind in enumerate(types) if kind in ("rate", "control", "run_end"))
    observed = [i + 1 for i, kind in enumerate(types) if kind == "observation"]
    return seal, (observed[0], max(observed[0], (observed[0] + observed[-1]) // 2))


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Clean]:
    """Uninterrupted runs of both scopes, with the same seed."""
    found = {}
    for channel, scope in (("api", API_SCOPE), ("browser", BROWSER_SCOPE)):
        outcome = _assess(tmp_path_factory.mktemp(f"clean-{channel}") / "run", *scope)
        assert outcome.code == EXIT_PASS, outcome.output[-3000:]
        assert outcome.run_dir is not None
        assert outcome.first_line_s is not None, outcome.output[-3000:]
        found[channel] = Clean(_verdicts(outcome.run_dir), outcome.first_line_s,
                               *_lines(outcome.run_dir))
    return found


def test_random_interrupts_seal_the_run_and_leave_nothing_running(
        tmp_path: Path, clean: dict[str, Clean]) -> None:
    draw = random.Random(SEED)
    interrupted: list[str] = []
    wanted = {"api": 2, "browser": 1}  # runs to resume, per channel
    observing = dict(wanted)  # points still to land while the run observes
    for index, (channel, signum) in enumerate(POINTS):
        run = clean[channel]
        delay = after_lines = None
        if index % 3 == 0:
            delay = round(draw.uniform(*STARTUP) * run.first_line_s, 2)
            moment = f"{delay}s"
        else:
            if observing[channel]:
                observing[channel] -= 1
                after_lines = draw.randint(*run.observing)
            else:
                after_lines = draw.randint(1, run.before_seal)
            moment = f"evidence line {after_lines} of {run.before_seal} before the seal"
        scope = API_SCOPE if channel == "api" else BROWSER_SCOPE
        outcome = _assess(tmp_path / f"run-{index}", *scope, signum=signum, delay=delay,
                          after_lines=after_lines)
        where = f"point {index} ({channel}, {signal.Signals(signum).name} at {moment})"
        assert _none_left(outcome.tag) == [], f"{where}: processes left behind"
        if not outcome.signalled:
            assert outcome.code == EXIT_PASS, f"{where}: {outcome.output[-3000:]}"
            continue  # it was sealed before its moment came
        assert outcome.code == EXIT_INTERRUPTED, f"{where}: {outcome.output[-3000:]}"
        interrupted.append(where)
        if outcome.run_dir is None:
            continue  # interrupted before the run directory existed: nothing to seal
        assert verify_run(outcome.run_dir).ok, f"{where}: {verify_run(outcome.run_dir).problems}"
        info = json.loads((outcome.run_dir / "run.json").read_text(encoding="utf-8"))
        assert info["complete"] is False, where
        # Resume the first interrupted runs of each channel that observed something.
        if wanted[channel] and info.get("counts", {}).get("observed_tests"):
            again = subprocess.run(
                [sys.executable, "-m", "harness.cli", "assess", "--resume",
                 str(outcome.run_dir)], capture_output=True, text=True, timeout=300,
                check=False, env={**os.environ, "HARNESS_TEST_TAG": outcome.tag})
            assert again.returncode == EXIT_PASS, f"{where}: {again.stdout[-3000:]}"
            assert verify_run(outcome.run_dir).ok
            verdicts = _verdicts(outcome.run_dir)
            expected = clean[channel].verdicts
            assert {c: verdicts[c] for c in expected} == expected, where
            assert _none_left(outcome.tag) == []
            wanted[channel] -= 1
    assert len(interrupted) >= 10, interrupted
    assert wanted == {"api": 0, "browser": 0}, "too few interrupted runs to resume"
