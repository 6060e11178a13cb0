"""Rate cases through the pages: seconds per case at each browser concurrency, for a filter that
blocks every case (nothing to wait for) and one that lets them all through (each leak is read
again when its grace window ends, so overlapping windows is what concurrency buys).

    .venv/bin/python bench/bench_rates_browser.py [--cases N] [--concurrency 1 2 4 8]

The target is the reference site through its pages alone (its profile without `api`, the post
and comment surfaces), the case family's must_block cells, the default grace window; the
figure is the time from the run's plan (collection done) to its observations (written when the
test ends; it includes signing the viewer up once) over the cases.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parents[1]))

from harness import reference
from harness.evidence import read_entries
from harness.targets.profile import REFERENCE_PROFILE

KEPT = ("post", "comment")


def _profile(folder: Path) -> Path:
    data = yaml.safe_load(REFERENCE_PROFILE.read_text(encoding="utf-8"))
    data.pop("api")
    for surface in data["browser"]["surfaces"]:
        if surface not in KEPT:
            data["browser"]["surfaces"][surface] = {"absent": "not measured"}
    path = folder / "pages-only.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _policy(folder: Path, cases: int, concurrency: int) -> Path:
    path = folder / f"policy-{concurrency}.yaml"
    path.write_text(yaml.safe_dump({"rates": {
        "concurrency": {"browser": concurrency}, "must_block_n": cases, "must_allow_n": 4,
        "block_rate_min": 0.5, "false_block_max": 0.5}}), encoding="utf-8")
    return path


def measure(fault: str | None, cases: int, concurrency: int, folder: Path) -> tuple[int, float]:
    """Cases observed and seconds per case of one run of the case family's must_block test."""
    out = folder / f"run-{fault}-{concurrency}"
    with reference.start([fault] if fault else []) as site:
        done = subprocess.run([sys.executable, "-m", "harness.cli", "assess", "--out", str(out),
                        "--profile", str(_profile(folder)), "--base-url", site.url,
                        "--policy", str(_policy(folder, cases, concurrency)),
                        "--control", "A5.4-EVASION-CASE", "--", "-k", "case-must_block"],
                              capture_output=True, text=True, check=False, timeout=1800)
    runs = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()] \
        if out.exists() else []
    if not runs:
        raise SystemExit(f"the run did not start:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    (run_dir,) = runs
    entries = list(read_entries(run_dir))
    if not any(e["entry_type"] == "observation" for e in entries):
        raise SystemExit(f"no observation:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    seen = [e for e in entries if e["entry_type"] == "observation"
            and e["surface"] in KEPT and e["verdict"] != "not_applicable"]
    def at(kind: str) -> datetime:
        return max(datetime.fromisoformat(e["time"].replace("Z", "+00:00"))
                   for e in entries if e["entry_type"] == kind)

    span = (at("observation") - at("plan")).total_seconds()
    return len(seen), span / max(len(seen), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=9, help="must_block cases per surface")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()
    print(f"rate cases through the pages ({' and '.join(KEPT)}, {args.cases} each, "
          "default grace window)")
    print(f"{'filter':<22} {'concurrency':>11} {'cases':>6} {'s/case':>8} {'wall s':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for fault, label in ((None, "blocks every case"), ("skip-casefold", "lets them through")):
            for concurrency in args.concurrency:
                started = time.perf_counter()
                seen, per_case = measure(fault, args.cases, concurrency, Path(tmp))
                wall = time.perf_counter() - started
                print(f"{label:<22} {concurrency:>11} {seen:>6} {per_case:>8.2f} {wall:>8.1f}")


if __name__ == "__main__":
    main()
