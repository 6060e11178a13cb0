"""Shards: one plan run as N deterministic shares, and the shares joined back into one run.

`harness assess --shard I/N` records the whole plan (marked with its shard) and runs only the
planned tests of share I: the tests sorted by id, dealt round-robin, so every host computing the
plan for the same scope deals alike. A shard alone never passes: its plan's other shares are
planned and not observed.

`harness merge RUN... --out DIR` verifies each shard and joins them into a new run: the whole
plan, one `shard` line per shard (its run id and the SHA-256 of its manifest), every observation
and scope violation of the intact shards, their artifacts, and the one judge's verdicts over the
whole plan. A shard missing, altered (it does not verify), incomplete, or not of the same plan
leaves the merged run sealed incomplete, never passing.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, EvidenceError
from harness.evidence.chain import MANIFEST_FILE, RESERVED_FIELDS, file_sha256
from harness.evidence.store import RunStore, new_run_id, read_entries
from harness.evidence.verify import read_run_info, verify_run
from harness.verdicts import RunVerdict, policy_gate, recorded_gates
from harness.waivers import GATE

SHARD_RE = re.compile(r"(\d+)/(\d+)")
CARRIED = ("observation", "scope_violation", "network_refusal")
"""The entry types a merge carries over from each shard (the rest it writes itself)."""


def parse_shard(text: str) -> tuple[int, int]:
    """`I/N` as (I, N), with 1 <= I <= N."""
    match = SHARD_RE.fullmatch(text.strip())
    if match is None:
        raise ConfigError(f"--shard {text!r}: expected I/N, e.g. 2/3")
    index, count = int(match[1]), int(match[2])
    if not 1 <= index <= count:
        raise ConfigError(f"--shard {text!r}: I must be between 1 and N")
    return index, count


def share(tests: Iterable[str], index: int, count: int) -> set[str]:
    """The planned tests of share `index` of `count`: sorted by id, dealt round-robin."""
    return {test for number, test in enumerate(sorted(set(tests))) if number % count == index - 1}


@dataclass(frozen=True)
class Shard:
    """One shard run as the merge found it: what it is and why it cannot count, if so."""

    run_dir: Path
    manifest_sha256: str | None
    problem: str | None
    info: Mapping[str, Any] = field(default_factory=dict)
    entries: tuple[dict[str, Any], ...] = ()
    plan: Mapping[str, Any] = field(default_factory=dict)
    index: int = 0  # 0: not known (a shard that does not verify is not read)
    count: int = 0

    def evidence(self) -> dict[str, Any]:
        return {"entry_type": "shard", "run_id": self.run_dir.name, "path": str(self.run_dir),
                "index": self.index or None, "count": self.count or None,
                "manifest_sha256": self.manifest_sha256,
                "chain_head": self.entries[-1]["hash"] if self.entries else None,
                "intact": self.problem is None, "problem": self.problem}


def read_shard(run_dir: Path) -> Shard:
    """A shard run, verified; one that does not verify is kept with its problem, unread."""
    manifest = run_dir / MANIFEST_FILE
    digest = file_sha256(manifest) if manifest.is_file() else None
    result = verify_run(run_dir)
    if not result.ok:
        return Shard(run_dir, digest, f"does not verify: {result.problems[0]}")
    entries = tuple(read_entries(run_dir))
    plan = next((e for e in entries if e["entry_type"] == "plan"), {})
    position = plan.get("shard") or {}
    problem = None
    if not position:
        problem = "not a shard (its plan has no --shard I/N)"
    elif not entries[-1].get("complete", False) or entries[-1]["entry_type"] != "run_end":
        problem = "incomplete (resume it, then merge)"
    return Shard(run_dir, digest, problem, read_run_info(run_dir), entries, plan,
                 position.get("index", 0), position.get("count", 0))


def merge(runs: Sequence[Path], reports_dir: Path) -> tuple[Path, RunVerdict, list[Shard]]:
    """Join shard runs into a new run under `reports_dir`; returns its directory, its verdict
    and the shards as found. Nothing is written when no shard is intact."""
    from harness.evidence.recorder import seal_run  # noqa: PLC0415 (recorder imports pytest)

    shards = [read_shard(Path(run).resolve()) for run in runs]  # `latest` is a link
    intact = [s for s in shards if s.problem is None]
    if not intact:
        raise EvidenceError("no shard is intact: " + "; ".join(
            f"{s.run_dir}: {s.problem}" for s in shards))
    first = intact[0]
    _check_alike(first, intact)
    count = first.count
    missing = sorted(set(range(1, count + 1)) - {s.index for s in intact})
    why = "; ".join([*(f"shard {i}/{count} missing" for i in missing),
                     *(f"{s.run_dir.name}: {s.problem}" for s in shards if s.problem)])
    store = RunStore.create(reports_dir, new_run_id())
    store.append({"entry_type": "run_start", "seed": first.info.get("seed")})
    gate = next((e for e in first.entries if e["entry_type"] == GATE), None)
    if gate is not None:
        store.append(_carried(gate))
    store.append(_carried({**first.plan, "shard": None}))
    for shard in shards:
        store.append(shard.evidence())
    for shard in sorted(intact, key=lambda s: s.index):
        # A shard's lines are made durable together: a merge that stops is redone whole.
        store.append_many(_carried(entry) for entry in shard.entries
                          if entry["entry_type"] in CARRIED)
        _copy_artifacts(shard.run_dir, store)
    rates = [e for s in intact for e in s.entries if e["entry_type"] == "rate"]
    gate_of = recorded_gates(rates, policy_gate(_policy(first.info)))
    merged_from = [{k: v for k, v in s.evidence().items() if k != "entry_type"} for s in shards]

    def info(complete: bool, reason: str, verdict: RunVerdict,
             counts: Mapping[str, int]) -> dict[str, Any]:
        kept = {k: v for k, v in first.info.items()
                if k not in ("args", "resumed", "interrupted", "started", "finished", "shard",
                             "replay_of")}
        return {**kept, "run_id": store.run_id, "complete": complete,
                "interrupted": reason or None, "exit_status": verdict.exit_code,
                "counts": dict(counts), "merged_from": merged_from}

    verdict, _ = seal_run(store, complete=not why, why=why, info=info, gate_of=gate_of)
    return store.path, verdict, shards


def _check_alike(first: Shard, shards: list[Shard]) -> None:
    """Refuse shards of different plans, seeds, pins, gates (waivers) or shard counts: no merge
    can make them one run."""
    def key(shard: Shard) -> tuple[Any, ...]:
        tests = sorted(t["test"] for t in shard.plan.get("tests", ()))
        pins = tuple((shard.info.get(k) or {}).get("sha256") for k in ("profile", "policy"))
        corpora = tuple(c.get("sha256") for c in shard.info.get("corpora", ()))
        gate = next(({k: v for k, v in e.items() if k not in (*RESERVED_FIELDS, "time")}
                     for e in shard.entries if e["entry_type"] == GATE), None)
        return (tests, shard.plan.get("controls"), shard.plan.get("channels"), shard.count,
                shard.info.get("seed"), pins, corpora, repr(gate))

    for shard in shards[1:]:
        if key(shard) != key(first):
            raise ConfigError(f"{shard.run_dir} is not a shard of the same plan as "
                              f"{first.run_dir} (plan, scope, seed, pins or shard count differ)")
    seen: dict[int, Path] = {}
    for shard in shards:
        if shard.index in seen:
            raise ConfigError(f"{shard.run_dir} and {seen[shard.index]} are both shard "
                              f"{shard.index}")
        seen[shard.index] = shard.run_dir


def _carried(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An entry as the merged chain takes it: its own time kept, its chain fields the new
    store's."""
    return {k: v for k, v in entry.items() if k not in RESERVED_FIELDS}


def _copy_artifacts(run_dir: Path, store: RunStore) -> None:
    """Copy a shard's artifacts under the same relative paths (each test's own folder), so
    the observations' artifact links hold in the merged run."""
    root = run_dir / "artifacts"
    if not root.is_dir():
        return
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        target = store.artifact_path(relative)
        if target.exists():
            raise EvidenceError(f"artifact {relative} is in two shards; they overlap")
        shutil.copyfile(path, target)


def _policy(info: Mapping[str, Any]) -> Any:
    """The policy the shards pinned, for rate cells no shard recorded a gate for."""
    from harness.policy import load_policy  # noqa: PLC0415

    pinned = info.get("policy") or {}
    path = pinned.get("path")
    unchanged = bool(path) and Path(path).is_file() and file_sha256(Path(path)) == pinned.get(
        "sha256")
    return load_policy(path if unchanged else None)
