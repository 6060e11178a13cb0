"""Gate figures: the cost of `harness merge` over shards, of signing and checking a signature,
and of `harness diff`, on synthetic runs laid down as the store writes them.

    .venv/bin/python bench/bench_gate.py [--cases N] [--shards K]

Each of the K shards records the whole plan of N cases and observes its share, one artifact
per case; the merge verifies every shard and writes the joined run (a shard's lines made durable
together), copies the artifacts and seals it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from harness.diff import diff_runs
from harness.evidence import RunStore, verify_run
from harness.evidence.sign import check_signature, keygen, load_private_key, load_public_key
from harness.evidence.sign import sign_run as sign
from harness.shards import merge, share
from harness.verdicts import Plan, PlannedTest


def lay_shard(root: Path, tests: list[PlannedTest], index: int, count: int) -> Path:
    """One shard run: the whole plan, its share observed (pass), one artifact per case."""
    store = RunStore.create(root, run_id=f"shard-{index}")
    store.append({"entry_type": "run_start", "seed": 7})
    store.append(Plan(("A5.4-POST",), ("api",), tuple(tests), shard=(index, count)).evidence())
    mine = share((t.test for t in tests), index, count)
    for test in tests:
        if test.test in mine:
            store.append({"entry_type": "observation", "control": "A5.4-POST",
                          "channel": "api", "case_id": test.case, "test": test.test,
                          "verdict": "pass", "reason": "rejected; not shown to viewer"})
            store.write_artifact(f"{test.test}/exchanges.json", '[{"status": 422}]')
    store.append({"entry_type": "run_end", "complete": True})
    store.write_run_info({"seed": 7, "complete": True, "corpora": [],
                          "policy": {"path": None, "sha256": None}})
    store.finalize()
    return store.path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--shards", type=int, default=3)
    args = parser.parse_args()
    os.environ.pop("HARNESS_EVIDENCE_KEY", None)
    tests = [PlannedTest(f"t{i:06d}", ("A5.4-POST",), "api", "post", f"post/create/{i}")
             for i in range(args.cases)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shards = [lay_shard(root / "shards", tests, i, args.shards)
                  for i in range(1, args.shards + 1)]
        started = time.perf_counter()
        merged, verdict, _ = merge(shards, root / "merged")
        took = time.perf_counter() - started
        print(f"merge of {args.shards} shards, {args.cases} cases and artifacts: {took:.2f} s "
              f"({1000 * took / args.cases:.2f} ms a case), exit {verdict.exit_code}")

        private, public = keygen(root / "key")
        started = time.perf_counter()
        sign(merged, load_private_key(private))
        signed = time.perf_counter()
        ok = check_signature(merged, load_public_key(public)).ok
        checked = time.perf_counter()
        intact = verify_run(merged).ok
        verified = time.perf_counter()
        print(f"sign {1000 * (signed - started):.1f} ms, check the signature "
              f"{1000 * (checked - signed):.1f} ms ({'valid' if ok else 'INVALID'}), verify the "
              f"run {1000 * (verified - checked):.0f} ms ({'intact' if intact else 'NOT intact'})"
              f"; manifest {(merged / 'manifest.json').stat().st_size // 1024} KiB")

        started = time.perf_counter()
        found = diff_runs(merged, merged)
        took = time.perf_counter() - started
        print(f"diff of two {args.cases}-case runs: {1000 * took:.0f} ms "
              f"({sum(len(c) for c in (found.controls, found.cases))} changes)")


if __name__ == "__main__":
    main()
