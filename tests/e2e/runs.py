"""What the e2e tests share: running `harness assess` in a subprocess, the reference site's
faults (listed once per process), runs made once per session and shared, the catalog's groups
of controls, and what they read back from a run's evidence."""

from __future__ import annotations

import fcntl
import functools
import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from harness import controls, reference
from harness.evidence import read_entries
from harness.policy import load_policy

FAST_POLICY = Path(__file__).with_name("fast-policy.yaml")
BOARD_DIR = Path(__file__).parents[1] / "sites" / "board"
BOARD_PROFILE = BOARD_DIR / "profile.yaml"
BOARD_URL_LINE = re.compile(r"Corkboard listening on (http://127\.0\.0\.1:\d+)")
# A scope of seconds with one failing control: the replay, diff, signature and shard tests.
BIO_FAULT_SCOPE = ("--control", "A5.4-NICKNAME", "--control", "A5.4-BIO",
                   "--reference-fault", "unfiltered-bio")

AUTOMATED = frozenset(c.id for c in controls.catalog().values() if c.automated)
SURFACE_CONTROLS = {c.id: c.surface for c in controls.catalog().values() if c.surface}
RATE_CONTROLS = frozenset(
    {c.id for c in controls.catalog().values() if c.families} | {controls.A5_4_OVERBLOCK})
# Rate controls whose families the policy only measures: they show their true rate and verdict
# but gate nothing, so no fault is needed to show that they can fail a run.
MEASURED = frozenset(c.id for c in controls.catalog().values() if c.families and not any(
    load_policy(FAST_POLICY).rates.gate(family).gating for family in c.families))
# Controls observed only under load (tests/e2e/test_load.py shows their faults).
LOAD = frozenset(c.id for c in controls.catalog().values() if tuple(c.channels) == ("load",))
REPORTING = frozenset(c for c in AUTOMATED if c.startswith("A5.6-")) - LOAD
STRICT = AUTOMATED - RATE_CONTROLS - REPORTING - LOAD
# Faults that fail no control (transport faults, honest reads, tolerated ones).
NOT_FAILING = (reference.INCONCLUSIVE, reference.TOLERATED)


@functools.cache
def faults() -> dict[str, tuple[str, str]]:
    """The reference site's faults (name -> control, description): one subprocess per test
    process, however many modules parametrize over them."""
    return reference.list_faults()


@functools.cache
def board_faults() -> dict[str, str]:
    """Corkboard's faults (name -> control), as `app.py --list-faults` prints them: one
    subprocess per test process."""
    done = subprocess.run([sys.executable, str(BOARD_DIR / "app.py"), "--list-faults"],
                          capture_output=True, text=True, check=True, timeout=60)
    return dict(line.split()[:2] for line in done.stdout.splitlines() if line.strip())


def assess(out: Path, *args: str) -> tuple[int, Path | None, str]:
    """Run `harness assess` into `out` (seed 7, the fast policy); returns the exit code, the
    run directory and the output."""
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "assess", "--out", str(out), "--seed", "7",
         "--policy", str(FAST_POLICY), *args],
        capture_output=True, text=True, timeout=900, check=False,
    )
    runs = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()] \
        if out.exists() else []
    return done.returncode, (runs[0] if runs else None), done.stdout + done.stderr


@dataclass(frozen=True)
class SharedRun:
    """An assessment made once per session: exit code, run directory and output."""

    code: int
    run_dir: Path
    output: str


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_assess(factory: pytest.TempPathFactory, name: str, *args: str) -> SharedRun:
    """`assess(out, *args)` once per pytest session, whichever worker asks first."""
    base = factory.getbasetemp()
    # Under xdist each worker's basetemp is a folder of the session's own.
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared-runs"
    root.mkdir(exist_ok=True)
    result = root / f"{name}.json"
    with _locked(root / f"{name}.lock"):
        if not result.exists():
            code, run_dir, output = assess(root / name, *args)
            assert run_dir is not None, output[-3000:]
            result.write_text(json.dumps({"code": code, "run_dir": str(run_dir),
                                          "output": output}), encoding="utf-8")
    found = json.loads(result.read_text(encoding="utf-8"))
    return SharedRun(found["code"], Path(found["run_dir"]), found["output"])


def control_verdicts(run_dir: Path) -> dict[str, str]:
    """Each judged control's verdict."""
    return {e["control"]: e["verdict"] for e in read_entries(run_dir)
            if e["entry_type"] == "control"}


def observed_all_pass(run_dir: Path, control: str | None = None) -> None:
    """A run narrowed on purpose (`-k`) to keep the suite's time in bounds: every case it did
    observe passed (or did not apply), and a control left short of its plan says so, as
    "k of n planned cases observed", never passing."""
    for entry in read_entries(run_dir):
        if control is not None and entry.get("control") != control:
            continue
        if entry["entry_type"] == "observation":
            assert entry["verdict"] in ("pass", "not_applicable"), (entry["control"],
                                                                    entry["reason"])
        elif entry["entry_type"] == "control" and entry["verdict"] not in (
                "pass", "not_applicable"):  # not_applicable: the profile declares it absent
            assert entry["verdict"] == "inconclusive", (entry["control"], entry["reason"])
            assert "planned cases observed" in entry["reason"], entry["reason"]


SITE_START_TIMEOUT = 30.0


def _lines(stream: IO[str], into: queue.Queue[str | None]) -> None:
    """Forward a pipe's lines to a queue (None at its end), so reads can have a deadline."""
    for line in stream:
        into.put(line)
    into.put(None)


def start_site(command: list[str], env: dict[str, str], url_line: re.Pattern[str],
               log: Path, name: str) -> tuple[subprocess.Popen[str], str]:
    """Start a test site that prints its URL (the first group of `url_line`) on stdout once it
    listens; its stderr goes to `log`. Fails the test, with the log's tail, when it exits or
    says nothing within SITE_START_TIMEOUT."""
    with log.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                   env=env)
    lines: queue.Queue[str | None] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    deadline = time.monotonic() + SITE_START_TIMEOUT
    while True:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            stop_site(process)
            pytest.fail(f"{name} printed no URL within {SITE_START_TIMEOUT:g}s")
        if line is None:
            pytest.fail(f"{name} exited ({process.wait()}): {log.read_text()[-2000:]}")
        found = url_line.search(line)
        if found:
            return process, found.group(1)


def stop_site(process: subprocess.Popen[str]) -> None:
    """Stop a test site: terminate, then kill if it lingers."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True)
class RunningBoard:
    """A Corkboard subprocess (tests/sites/board): its URL, and the environment its profile
    reads."""

    url: str
    env: dict[str, str]


def free_port() -> int:
    """A loopback port free when asked (for a server the test tells which port to use)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
