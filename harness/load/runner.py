"""Running Locust as a subprocess (never inside the harness's own process): one process, or
Locust's distributed mode with one master and K workers on this machine, and a live display of
its progress while it runs.

The run is bounded twice: by the plan (stages, request cap) that the Locust processes follow,
and by a wall-clock deadline here, past which every process is stopped.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from harness.errors import HarnessError
from harness.load.plan import PROGRESS_FILE, PROJECT, RECORDS_FILE, WORKER_ENV, LoadPlan

LOCUSTFILE = PROJECT / "scenarios" / "load" / "locustfile.py"
STATS_PREFIX = "locust"
POLL_SECONDS = 0.25
START_GRACE_S = 60.0  # Locust's start-up and workers joining, beyond the plan's own time
STOP_GRACE_S = 20.0  # its users' last requests and the stats written, after the plan's end

Progress = Callable[[dict[str, Any]], None]


class LoadRunError(HarnessError):
    """Locust could not be started, or ended without running the plan."""


@dataclass
class LoadResult:
    """What a Locust run left: its records, final statistics, progress lines and log."""

    out: Path
    exit_code: int
    records: list[dict[str, Any]] = field(default_factory=list)
    stats: list[dict[str, Any]] = field(default_factory=list)
    progress: list[dict[str, Any]] = field(default_factory=list)
    timed_out: bool = False

    @property
    def log(self) -> str:
        return "".join(path.read_text(encoding="utf-8", errors="replace")[-4000:]
                       for path in sorted(self.out.glob("*.log")))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def commands(plan: LoadPlan, plan_file: Path, locustfile: Path = LOCUSTFILE
             ) -> list[list[str]]:
    """The Locust command lines of a plan: the master (or the single process) first, then one
    per local worker. Users, spawn rate and time come from the plan's shape (Locust ignores
    `--users`, `--spawn-rate` and `--run-time` under a shape); the deadline of `run_load` bounds
    the run besides."""
    out = Path(plan.out)
    main = [*_locust(locustfile), "--harness-plan", str(plan_file), "--headless", "--host",
            plan.base_url, "--only-summary", "--stop-timeout", "5",
            "--csv", str(out / STATS_PREFIX), "--json-file", str(out / STATS_PREFIX),
            "--exit-code-on-error", "0"]
    if not plan.distributed:
        return [main]
    port = plan.master_port or free_port()
    master = [*main, "--master", "--master-bind-host", plan.master_bind, "--master-bind-port",
              str(port), "--expect-workers", str(plan.workers + plan.remote_workers),
              "--expect-workers-max-wait", str(int(START_GRACE_S))]
    return [master, *(worker_command("127.0.0.1", port, locustfile)
                      for _ in range(plan.workers))]


def worker_command(master_host: str, master_port: int, locustfile: Path = LOCUSTFILE
                   ) -> list[str]:
    """A worker's command line: the master hands it the plan (on this host or any other)."""
    return [*_locust(locustfile), "--worker", "--master-host", master_host, "--master-port",
            str(master_port)]


def _locust(locustfile: Path) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(locustfile), "--loglevel", "WARNING"]


def run_load(plan: LoadPlan, environ: Mapping[str, str] | None = None,
             progress: Progress | None = None, note: Callable[[str], None] | None = None,
             locustfile: Path = LOCUSTFILE) -> LoadResult:
    """Run the plan with Locust and collect what it wrote; `progress` gets each progress line
    (stage, users, requests per second, failures, elapsed, remaining) as it comes, and `note`
    the command to start each worker elsewhere with, when the plan waits for some."""
    out = Path(plan.out)
    out.mkdir(parents=True, exist_ok=True)
    plan_file = plan.write(out / "plan.json")
    env = {**(environ or os.environ), "PYTHONUNBUFFERED": "1"}
    processes: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []
    try:
        for number, command in enumerate(commands(plan, plan_file, locustfile)):
            name = "master" if number == 0 and plan.workers else (
                f"worker-{number - 1}" if plan.workers else "locust")
            log = (out / f"{name}.log").open("wb")
            own = {**env, WORKER_ENV: str(max(0, number - 1))}
            try:
                process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                           env=own, start_new_session=True)
            except OSError as exc:
                log.close()
                raise LoadRunError(f"cannot start Locust: {exc}") from None
            processes.append((process, log))
        if plan.remote_workers and note is not None:
            port = commands_port(processes[0][0].args)
            shown = worker_command("<this-host>", port, LOCUSTFILE.relative_to(PROJECT))
            note(f"waiting {START_GRACE_S:.0f} s for {plan.remote_workers} worker(s); on each, "
                 f"in a checkout of this project: python {' '.join(shown[1:])}")
        timed_out = _follow(processes[0][0], out, plan, progress)
    finally:
        for process, log in processes:
            _stop(process)
            log.close()
    master = processes[0][0]
    return LoadResult(out=out, exit_code=master.returncode, records=_read_lines(out / RECORDS_FILE),
                      stats=_read_stats(out), progress=_read_lines(out / PROGRESS_FILE),
                      timed_out=timed_out)


def commands_port(command: list[str]) -> int:
    """The port a master command binds."""
    return int(command[command.index("--master-bind-port") + 1])


def _follow(master: subprocess.Popen[bytes], out: Path, plan: LoadPlan,
            progress: Progress | None) -> bool:
    """Wait for the master, handing on progress lines; True when the deadline stopped it."""
    deadline = time.monotonic() + plan.seconds + START_GRACE_S + STOP_GRACE_S
    seen = 0
    while True:
        lines = _read_lines(out / PROGRESS_FILE)
        if progress is not None:
            for line in lines[seen:]:
                progress(line)
        seen = len(lines)
        if master.poll() is not None:
            return False
        if time.monotonic() >= deadline:
            return True
        time.sleep(POLL_SECONDS)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End a Locust process (and the greenlet pool under it) that is still running."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except (ProcessLookupError, PermissionError):
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _read_lines(path: Path) -> list[dict[str, Any]]:
    """The complete JSON lines of a file another process may still be writing."""
    if not path.is_file():
        return []
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            lines.append(json.loads(raw))
        except json.JSONDecodeError:
            break  # a line being written
    return lines




def _read_stats(out: Path) -> list[dict[str, Any]]:
    path = out / f"{STATS_PREFIX}.json"
    if not path.is_file():
        return []
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return []
    return found if isinstance(found, list) else []
