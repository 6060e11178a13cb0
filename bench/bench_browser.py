"""Browser channel figures: seconds per observation (median, p95) and the wall time of a full
browser assessment of the reference site.

    .venv/bin/python bench/bench_browser.py [--workers N] [-- PYTEST-ARGS]

It runs `harness assess --channel browser` (the site is started on a free loopback port) and
reads the durations back from the run's evidence, like an assessor would.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from harness import controls
from harness.evidence import read_entries

SURFACE_CONTROLS = {c.id for c in controls.catalog().values() if c.surface}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="2")
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "harness.cli", "assess", "--channel", "browser", "--out", out,
             "-n", args.workers, "--seed", "11", "--", "-q", *args.pytest_args],
            capture_output=True, text=True, check=False,
        )
        wall = time.perf_counter() - started
        runs = list(Path(out).iterdir())
        if not runs:
            sys.exit(f"no run was written:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        durations = sorted(
            e["duration_s"] for e in read_entries(runs[0])
            if e["entry_type"] == "observation" and e["control"] in SURFACE_CONTROLS
            and e.get("duration_s") is not None
        )
    if not durations:
        sys.exit("no timed observation in the run")
    p95 = durations[min(len(durations) - 1, round(0.95 * (len(durations) - 1)))]
    print(f"exit code: {done.returncode}")
    print(f"observations: {len(durations)} with {args.workers} worker(s)")
    print(f"seconds per browser observation: median {statistics.median(durations):.2f}, "
          f"p95 {p95:.2f}, max {durations[-1]:.2f}")
    print(f"full browser assessment wall time: {wall:.1f}s "
          f"({len(durations) / wall:.2f} observations/s)")


if __name__ == "__main__":
    main()
