"""Interrupted runs: SIGINT or SIGTERM at seeded random moments of API and browser assessments.

Each interrupted run must exit 130, verify to its last line, say `complete: false` in run.json
and leave no process behind (reference site, Playwright driver, Chromium): every process the
run started carries a tag in its environment, and none may be alive once it has exited.
Resumed with `harness assess --resume RUN`, it must give the verdicts of an uninterrupted run
with the same seed.
"""

from __future__ import annotations

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
# Every surface case (RECORDS is observed by each of them) through the API: a few seconds.
API_SCOPE = ("--channel", "api", "--control", "A5.4-RECORDS")
# Report controls on each reportable kind, through the pages.
BROWSER_SCOPE = ("--channel", "browser", "--control", "A5.6-ENTRY-POINTS")
POINTS = [("api", signal.SIGINT if i % 2 else signal.SIGTERM) for i in range(16)] + [
    ("browser", signal.SIGTERM if i % 2 else signal.SIGINT) for i in range(4)]
DELAYS = {"api": (0.3, 7.0), "browser": (1.0, 25.0)}


@dataclass
class Outcome:
    code: int
    run_dir: Path | None
    tag: str
    output: str


def _assess(out: Path, *args: str, signum: int | None = None,
            delay: float = 0.0) -> Outcome:
    """`harness assess` in a subprocess of its own; with `signum`, sent after `delay` s."""
    tag = uuid.uuid4().hex
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "assess", "--out", str(out), "--seed", "11",
         "--policy", str(FAST_POLICY), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "HARNESS_TEST_TAG": tag}, start_new_session=True,
    )
    if signum is not None:
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signum)
    output, _ = process.communicate(timeout=300)
    runs = sorted(p for p in out.iterdir() if p.is_dir()) if out.exists() else []
    return Outcome(process.returncode, runs[-1] if runs else None, tag, output)


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


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """The verdicts of uninterrupted runs of both scopes, with the same seed."""
    found = {}
    for channel, scope in (("api", API_SCOPE), ("browser", BROWSER_SCOPE)):
        outcome = _assess(tmp_path_factory.mktemp(f"clean-{channel}"), *scope)
        assert outcome.code == EXIT_PASS, outcome.output[-3000:]
        assert outcome.run_dir is not None
        found[channel] = _verdicts(outcome.run_dir)
    return found


def test_random_interrupts_seal_the_run_and_leave_nothing_running(
        tmp_path: Path, clean: dict[str, dict[str, str]]) -> None:
    draw = random.Random(SEED)
    interrupted: list[str] = []
    wanted = {"api": 2, "browser": 1}  # runs to resume, per channel
    for index, (channel, signum) in enumerate(POINTS):
        delay = round(draw.uniform(*DELAYS[channel]), 2)
        scope = API_SCOPE if channel == "api" else BROWSER_SCOPE
        outcome = _assess(tmp_path / f"run-{index}", *scope, signum=signum, delay=delay)
        where = f"point {index} ({channel}, {signal.Signals(signum).name} at {delay}s)"
        assert _none_left(outcome.tag) == [], f"{where}: processes left behind"
        if outcome.code == EXIT_PASS:
            continue  # it finished before the signal came
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
            assert {c: verdicts[c] for c in clean[channel]} == clean[channel], where
            assert _none_left(outcome.tag) == []
            wanted[channel] -= 1
    assert len(interrupted) >= 16, interrupted
    assert wanted == {"api": 0, "browser": 0}, "too few interrupted runs to resume"
