"""Load figures: requests per second that the harness's Locust users reach against one
reference endpoint, beside wrk (Debian's) on the same endpoint in the same run, and 2 Locust
workers against 1.

Three clients read `GET /api/complaint-contacts` (no database: the client's cost shows) on a
reference site started for the run, one after the other, each for `--seconds` with `--users`
connections: wrk; Locust's plain `FastHttpUser` (`self.client.get`); and the harness's own
path, the profile's request rendered by `ApiTarget` and sent over `LocustTransport` (what the
load scenario's users do). The harness path then runs again in Locust's distributed mode with
one master and 2 workers. The machine's cores are shared by the site and the client, so the
figures are of this machine, not of the harness alone.

    .venv/bin/python bench/bench_load.py [--seconds S] [--users N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from harness import reference
from harness.load.plan import LoadPlan, stages_for
from harness.load.runner import free_port
from harness.targets.profile import REFERENCE_PROFILE

ENDPOINT = "/api/complaint-contacts"
LOCUSTFILE = f'''
from locust import FastHttpUser, constant, task

from harness.load.users import RUN, LocustTransport
from harness.targets.api import Actor, ApiTarget


class HarnessReader(FastHttpUser):
    """The harness's path: the request rendered by ApiTarget, sent by Locust."""

    wait_time = constant(0)

    def on_start(self):
        self.target = ApiTarget(RUN.profile, transport=LocustTransport(self.client),
                                read_retries=0, unreachable_after=0)
        self.actors = {{"anonymous": Actor("anonymous", "bench")}}

    @task
    def read(self):
        self.target.request({{"method": "GET", "path": "{ENDPOINT}", "as": "anonymous"}}, {{}},
                            self.actors)


class RawReader(FastHttpUser):
    """Locust alone."""

    wait_time = constant(0)

    @task
    def read(self):
        self.client.get("{ENDPOINT}")
'''


def wrk(url: str, seconds: int, users: int) -> float:
    done = subprocess.run(["wrk", "-t2", f"-c{users}", f"-d{seconds}s", url],
                          capture_output=True, text=True, check=True)
    return float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))


def locust(folder: Path, url: str, user: str, *, seconds: int, users: int, workers: int = 0,
           env: dict[str, str] | None = None) -> float:
    """Requests per second of one Locust run (from its final JSON stats)."""
    stats = folder / f"{user}-{workers}"
    base = [sys.executable, "-m", "locust", "-f", str(folder / "locustfile.py"),
            "--harness-plan", str(folder / "plan.json"), "--loglevel", "ERROR"]
    main = [*base, "--headless", "--host", url, "-u", str(users), "-r", str(users),
            "-t", f"{seconds}s", "--only-summary", "--json-file", str(stats), user]
    workers_run = []
    if workers:
        port = str(free_port())
        main += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
                 "--expect-workers", str(workers)]
        workers_run = [subprocess.Popen(
            [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", port, user],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(workers)]
    subprocess.run(main, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    for process in workers_run:
        process.wait(timeout=30)
    entries = json.loads(stats.with_suffix(".json").read_text(encoding="utf-8"))
    total = sum(e["num_requests"] for e in entries)
    start = min(e["start_time"] for e in entries)
    end = max(e["last_request_timestamp"] for e in entries)
    return total / (end - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--users", type=int, default=16)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench_load: wrk is not installed (apt-get install wrk, or make bench)")
    site = reference.start([])
    try:
        url = site.url
        env = {**os.environ, reference.ADMIN_TOKEN_ENV: site.admin_token}
        with tempfile.TemporaryDirectory(prefix="bench-load-") as scratch:
            folder = Path(scratch)
            (folder / "locustfile.py").write_text(LOCUSTFILE, encoding="utf-8")
            LoadPlan(base_url=url, profile=str(REFERENCE_PROFILE),
                     stages=stages_for(2, 2, 10), spawn_rate=10.0, max_requests=10**9,
                     canaries_per_stage=1, seed=0, out=scratch).write(folder / "plan.json")
            figures = {
                "wrk": wrk(url + ENDPOINT, args.seconds, args.users),
                "locust FastHttpUser": locust(folder, url, "RawReader", seconds=args.seconds,
                                              users=args.users, env=env),
                "harness users, 1 process": locust(folder, url, "HarnessReader",
                                                   seconds=args.seconds, users=args.users,
                                                   env=env),
                "harness users, 2 workers": locust(folder, url, "HarnessReader",
                                                   seconds=args.seconds, users=args.users,
                                                   workers=2, env=env),
            }
    finally:
        site.stop()
    print(f"GET {ENDPOINT}, {args.users} connections/users, {args.seconds} s each, "
          f"{os.cpu_count()} cores shared with the site")
    for name, rps in figures.items():
        print(f"  {name:<26} {rps:>9.0f} req/s")
    harness = figures["harness users, 1 process"]
    print(f"  harness users / wrk: {harness / figures['wrk']:.3f}; harness users / Locust "
          f"FastHttpUser: {harness / figures['locust FastHttpUser']:.3f}; "
          f"2 workers / 1 process: {figures['harness users, 2 workers'] / harness:.2f}")


if __name__ == "__main__":
    main()
