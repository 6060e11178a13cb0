"""Shards of a real run: the session's one-fault run (`bio_fault_run`, two surface controls
through the API) assessed again in three shards, merged, and compared with the unsharded run.
Each shard costs a few seconds; the merges run in-process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness import cli
from harness.evidence import read_entries, verify_run
from harness.evidence.chain import file_sha256
from harness.verdicts import EXIT_FAIL, EXIT_INTERRUPTED

from .runs import BIO_FAULT_SCOPE, SharedRun, control_verdicts, shared_assess


@pytest.fixture(scope="session")
def shards(tmp_path_factory: pytest.TempPathFactory) -> list[SharedRun]:
    """The one-fault run's scope assessed as shards 1/3, 2/3 and 3/3 (once per session, under
    xdist too, as the tests of this module may land on several workers)."""
    return [shared_assess(tmp_path_factory, f"bio-fault-shard-{index}-of-3", *BIO_FAULT_SCOPE,
                          "--shard", f"{index}/3") for index in (1, 2, 3)]


def _merge(runs: list[Path], out: Path) -> tuple[int, Path]:
    code = cli.main(["merge", *map(str, runs), "--out", str(out)])
    merged = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(merged) == 1
    return code, merged[0]


def _observed(run_dir: Path) -> set[tuple[str, str, str, str]]:
    return {(e["test"], e["control"], e["case_id"], e["verdict"]) for e in read_entries(run_dir)
            if e["entry_type"] == "observation"}


def test_a_shard_alone_never_passes(shards: list[SharedRun]) -> None:
    for index, shard in enumerate(shards, start=1):
        assert shard.code == EXIT_FAIL, shard.output[-3000:]
        assert f"shard {index}/3, judged over the whole plan" in shard.output
        # Each control's eight cases are dealt over the three shards: none is whole in one.
        assert "pass" not in control_verdicts(shard.run_dir).values()


def test_three_shards_merge_to_the_unsharded_verdicts(
        bio_fault_run: SharedRun, shards: list[SharedRun], tmp_path: Path) -> None:
    code, merged = _merge([shard.run_dir for shard in shards], tmp_path)
    assert code == bio_fault_run.code == EXIT_FAIL
    assert control_verdicts(merged) == control_verdicts(bio_fault_run.run_dir)
    assert _observed(merged) == _observed(bio_fault_run.run_dir)
    assert verify_run(merged).ok
    recorded = {e["run_id"]: e["manifest_sha256"] for e in read_entries(merged)
                if e["entry_type"] == "shard"}
    assert recorded == {s.run_dir.name: file_sha256(s.run_dir / "manifest.json") for s in shards}
    # It reports like any other run.
    assert cli.main(["report", str(merged)]) == EXIT_FAIL


def test_a_missing_or_altered_shard_leaves_the_merge_incomplete(
        shards: list[SharedRun], tmp_path: Path) -> None:
    runs = [shard.run_dir for shard in shards]
    code, merged = _merge([runs[0], runs[2]], tmp_path / "missing")
    assert code == EXIT_INTERRUPTED
    assert "pass" not in control_verdicts(merged).values()

    altered = tmp_path / "altered" / runs[1].name
    shutil.copytree(runs[1], altered)
    exchanges = next(iter(sorted((altered / "artifacts").rglob("exchanges.json"))))
    exchanges.write_text("[]", encoding="utf-8")
    code, merged = _merge([runs[0], altered, runs[2]], tmp_path / "merged")
    assert code == EXIT_INTERRUPTED
    lines = [e for e in read_entries(merged) if e["entry_type"] == "shard"]
    assert [e["intact"] for e in lines] == [True, False, True]
    assert "pass" not in control_verdicts(merged).values()
