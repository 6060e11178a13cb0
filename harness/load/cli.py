"""`harness load`: the load scenario alone, with the load bounds from the command line over
the policy's `load:` section; judged, recorded and gated like any assessment."""

from __future__ import annotations

import argparse
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.controls import A5_4_UNDER_LOAD, A5_6_INTAKE_UNDER_LOAD

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def duration(text: str) -> float:
    """Seconds from `90`, `90s`, `1m30s` or `1h` (Locust's own forms)."""
    found = _DURATION.match(text.strip())
    if not text.strip() or found is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 60, 60s, 1m30s)")
    hours, minutes, seconds = (float(part) if part else 0.0 for part in found.groups())
    return hours * 3600 + minutes * 60 + seconds


def add_parser(sub: Any) -> None:
    """Register `harness load` under the `harness` command's sub-commands."""
    load = sub.add_parser("load", help="assess the controls under bounded, stepped load "
                          "(Locust, in a subprocess)",
                          description="Step users up from a no-load stage against the target, "
                          "then check every canary and every receipt; bounds not given come "
                          "from the policy's `load:` section.")
    load.add_argument("--profile", type=Path, help="target profile (default: reference site)")
    load.add_argument("--base-url", help="base URL of the target (overrides the profile's)")
    load.add_argument("--users", type=int, metavar="N", help="users of the last stage")
    load.add_argument("--spawn-rate", type=float, metavar="R", help="users started per second")
    load.add_argument("--time", type=duration, metavar="T", help="duration of all the stages "
                      "(60, 60s, 1m30s)")
    load.add_argument("--workers", type=int, metavar="K", help="Locust's distributed mode on "
                      "this machine: one master and K worker processes (default: one process)")
    load.add_argument("--remote-workers", type=int, metavar="R", help="workers the master "
                      "also waits for, started on other hosts (it prints their command)")
    load.add_argument("--master-bind", metavar="ADDR", help="where the master listens for "
                      "workers (default 127.0.0.1; another host's workers need a reachable one)")
    load.add_argument("--master-port", type=int, metavar="P", help="the master's port "
                      "(default: a free one)")
    load.add_argument("--reference-fault", action="append", default=[], metavar="NAME",
                      help="start the reference site with this fault (repeatable)")
    load.add_argument("--policy", type=Path, help="assessment policy file")
    load.add_argument("--out", type=Path, help="reports directory (default: reports/)")
    load.add_argument("--seed", type=int, help="run seed (default: random)")
    load.set_defaults(func=cmd_load)


def cmd_load(args: argparse.Namespace) -> int:
    """Check the settings and the bounds, run the load scenario, say where a control broke."""
    from harness.cli import _parser, _pytest_args, _run_pytest  # noqa: PLC0415 (the command's)
    from harness.evidence import new_run_id  # noqa: PLC0415
    from harness.policy import load_section  # noqa: PLC0415
    from harness.resources import REPORTS_DIR, SCENARIOS_DIR  # noqa: PLC0415
    from harness.settings import Checked, Settings  # noqa: PLC0415

    settings = Settings.resolve({
        "profile": args.profile, "base_url": args.base_url, "channel": "load",
        "reference_faults": args.reference_fault, "policy": args.policy, "seed": args.seed,
        "reports_dir": args.out,
    }, project=Path.cwd())
    checked = settings.check()
    given = {"users": args.users, "spawn_rate": args.spawn_rate, "seconds": args.time,
             "workers": args.workers, "remote_workers": args.remote_workers,
             "master_bind": args.master_bind, "master_port": args.master_port}
    bounds = load_section("the command line", {k: v for k, v in given.items() if v is not None},
                          checked.policy.load)
    checked = Checked(settings, replace(checked.policy, load=bounds), checked.corpora)
    _check_plan(bounds)
    run_dir = (settings.reports_dir or REPORTS_DIR) / new_run_id()
    # An assessment's own options at their defaults (one pytest process: Locust has workers).
    found = _pytest_args(settings, _parser().parse_args(["assess"]), SCENARIOS_DIR, run_dir)
    code = _run_pytest(found, run_dir, checked)
    for line in broke_at(run_dir):
        print(line)
    return code


def _check_plan(bounds: Any) -> None:
    """Refuse stages too short for their users before anything starts."""
    from harness.load.plan import check_ramps, stages_for  # noqa: PLC0415

    check_ramps(stages_for(bounds.users, bounds.stages, bounds.seconds), bounds.spawn_rate)


def broke_at(run_dir: Path) -> list[str]:
    """For each load control that failed, the first stage it failed at, from the evidence."""
    from harness.evidence import read_entries  # noqa: PLC0415

    if not (run_dir / "evidence.jsonl").is_file():
        return []
    lines = []
    failed = [e for e in read_entries(run_dir) if e.get("entry_type") == "observation"
              and e.get("control") in (A5_4_UNDER_LOAD, A5_6_INTAKE_UNDER_LOAD)
              and e["verdict"] == "fail"]
    for control in (A5_4_UNDER_LOAD, A5_6_INTAKE_UNDER_LOAD):
        first = min((e for e in failed if e["control"] == control),
                    key=lambda e: e["details"]["stage"]["index"], default=None)
        if first is not None:
            lines.append(f"{control} broke at {first['reason']}")
    return lines
