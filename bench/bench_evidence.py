"""Evidence figures: the cost of writing one observation (redaction, hash chain, fsync) and of
`harness verify` on a large synthetic run.

    .venv/bin/python bench/bench_evidence.py [--appends N] [--observations N] [--artifacts N]

The appends go through `RunStore.append` as a run writes them (each line fsynced); the large run
is laid down the same way without the per-line fsync (its lines and hashes are the store's own,
only the waiting for the disk is skipped), then sealed and verified as an assessor would.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).parents[1]))

from harness.evidence import RunStore, verify_run


def observation(i: int) -> dict[str, object]:
    """An observation line the size of a real one (a case, two actors' sightings)."""
    return {
        "entry_type": "observation", "control": "A5.4-POST", "surface": "post",
        "channel": "api", "case_id": f"post/create/canary-zh-a/{i}", "expect": "must_block",
        "verdict": "pass", "reason": "rejected; not shown to anonymous, viewer",
        "disposition": "rejected", "test": f"scenarios/a5_4/test_surfaces.py::test[{i}]",
        "details": {"sightings": [
            {"role": role, "request": "GET /api/posts/{item_id}", "visible": False,
             "status": 404, "url": f"http://127.0.0.1:8000/api/posts/{i}", "artifacts": []}
            for role in ("viewer", "anonymous")],
            "case": {"surface": "post", "mode": "create", "probe": "canary-zh-a",
                     "content": f"审核金丝雀甲 tag{i:06d}"}},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=500)
    parser.add_argument("--observations", type=int, default=100_000)
    parser.add_argument("--artifacts", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-evidence-") as scratch:
        root = Path(scratch)
        store = RunStore.create(root, "appends")
        times = []
        for i in range(args.appends):
            started = time.perf_counter()
            store.append(observation(i))
            times.append(time.perf_counter() - started)
        times.sort()
        print(f"append with fsync: median {statistics.median(times) * 1000:.2f} ms, "
              f"p95 {times[int(len(times) * 0.95)] * 1000:.2f} ms per observation "
              f"({args.appends} lines)")

        big = RunStore.create(root, "big")
        started = time.perf_counter()
        with mock.patch.object(os, "fsync", return_value=None):
            for i in range(args.observations):
                big.append(observation(i))
            for i in range(args.artifacts):
                big.write_artifact(f"case-{i}/exchanges.json", f'{{"n": {i}}}')
            big.finalize()
        laid = time.perf_counter() - started
        print(f"append without fsync: {laid / args.observations * 1e6:.1f} us per observation "
              f"({args.observations} lines, {args.artifacts} artifacts, {laid:.1f} s)")
        size = (big.path / "evidence.jsonl").stat().st_size
        started = time.perf_counter()
        result = verify_run(big.path)
        took = time.perf_counter() - started
        assert result.ok, result.problems
        print(f"verify: {took:.2f} s for {result.lines} lines ({size / 1e6:.1f} MB) and "
              f"{args.artifacts} artifacts (goal: under 10 s)")


if __name__ == "__main__":
    main()
