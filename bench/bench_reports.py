"""Article 5(6) figures: the acknowledgement and handling times the harness measures on the
reference site, and the harness's own cost per report flow.

Each flow makes an item (a benign post, or a must-block one planted through the moderator's
seeding interface), files a report as the viewer, and follows the ticket until the result is
fed back, as the A5.6-TIMELY scenario does. Times come from the flow's timeline (the target's
clock corrected by the measured offset). The harness's own cost is the CPU time of this
process per flow; the rest of a flow's wall time is waiting on the target and polling.

    .venv/bin/python bench/bench_reports.py [--flows N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from harness import reference
from harness.observe.flow import Session
from harness.observe.reports import ReportDesk
from harness.policy import load_policy
from harness.targets.api import ApiTarget
from harness.targets.profile import REFERENCE_PROFILE, load_profile


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=20, help="report flows (default: 20)")
    args = parser.parse_args()
    site = reference.start([])
    os.environ[reference.ADMIN_TOKEN_ENV] = site.admin_token
    try:
        profile = load_profile(REFERENCE_PROFILE, base_url=site.url)
        policy = load_policy()
        ack: list[float] = []
        handled: list[float] = []
        cpu: list[float] = []
        wall: list[float] = []
        offsets: list[float] = []
        with ApiTarget(profile) as api:
            session = Session.open(api, 5, "bench")
            for n in range(args.flows):
                desk = ReportDesk(session, policy, 1000 + n)
                started, cpu_started = time.perf_counter(), time.process_time()
                item = desk.plant() if n % 2 else desk.item("post")
                filing = desk.file(item, session.actors["viewer"], f"bench report {n}")
                timeline, _ = desk.follow(filing, time.monotonic() + 60)
                cpu.append(time.process_time() - cpu_started)
                wall.append(time.perf_counter() - started)
                if "fed_back" not in timeline.events:
                    raise SystemExit(f"flow {n}: not fed back within 60 s: {timeline.events}")
                ack.append(timeline.elapsed("acknowledged") or 0.0)
                handled.append(timeline.elapsed("handled") or 0.0)
                if filing.clock_offset_s is not None:
                    offsets.append(filing.clock_offset_s)
    finally:
        site.stop()
    print(f"report flows: {args.flows} (half benign, half planted must-block) on the reference "
          "site (desk: acknowledge after 0.5 s, decide after 1.5 s)")
    for name, values in (("acknowledgement", ack), ("handling + feedback", handled)):
        print(f"  {name:<20} median {statistics.median(values):6.3f} s   "
              f"p95 {_p95(values):6.3f} s")
    print(f"  flow wall time       median {statistics.median(wall):6.3f} s")
    print(f"  harness CPU per flow median {statistics.median(cpu) * 1000:6.1f} ms   "
          f"p95 {_p95(cpu) * 1000:6.1f} ms  "
          f"({statistics.median(cpu) / statistics.median(wall):.1%} of a flow's wall time)")
    if offsets:
        print(f"  clock offset target-harness: median {statistics.median(offsets) * 1000:+.1f} ms")


if __name__ == "__main__":
    main()
