"""Shards: deterministic shares of a plan, and merges that verify and never pass on less."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import cli
from harness.errors import ConfigError
from harness.evidence import EVIDENCE_KEY_ENV, RunStore, read_entries, read_run_info, verify_run
from harness.shards import merge, parse_shard, share
from harness.verdicts import (
    EXIT_FAIL,
    EXIT_INTERRUPTED,
    EXIT_PASS,
    EXIT_USAGE,
    Plan,
    PlannedTest,
    Verdict,
    judge_run,
)
from harness.waivers import gate_record

POST, BIO = "A5.4-POST", "A5.4-BIO"
TESTS = [PlannedTest(f"t{i}", (POST if i % 2 else BIO,), "api", None, f"c{i}")
         for i in range(7)]


@pytest.fixture(autouse=True)
def _no_evidence_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(EVIDENCE_KEY_ENV, raising=False)


@pytest.mark.parametrize("text", ["0/3", "4/3", "1", "a/b", "1/0", "-1/2"])
def test_a_bad_shard_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="--shard"):
        parse_shard(text)


@given(st.sets(st.text(min_size=1, max_size=8), max_size=40), st.integers(1, 6))
def test_shares_partition_the_plan_whatever_its_order(tests: set[str], count: int) -> None:
    shares = [share(tests, i, count) for i in range(1, count + 1)]
    assert set().union(*shares) == tests
    assert sum(len(s) for s in shares) == len(tests)
    assert max(map(len, shares)) - min(map(len, shares)) <= 1
    assert shares == [share(sorted(tests, reverse=True), i, count) for i in range(1, count + 1)]


def _shard(reports: Path, index: int, count: int, *, fail: str | None = None,
           seed: int = 7, operator: str = "ci") -> Path:
    """A shard run as `harness assess --shard` records it: the whole plan, its share observed."""
    store = RunStore.create(reports, run_id=f"shard-{index}-of-{count}-{seed}-{operator}")
    store.append({"entry_type": "run_start", "seed": seed})
    store.append({"entry_type": "gate", **gate_record((), (), operator)})
    store.append(Plan((POST, BIO), ("api",), tuple(TESTS), shard=(index, count)).evidence())
    mine = share((t.test for t in TESTS), index, count)
    for test in TESTS:
        if test.test in mine:
            store.append({"entry_type": "observation", "control": test.controls[0],
                          "channel": "api", "case_id": test.case, "test": test.test,
                          "verdict": "fail" if test.test == fail else "pass"})
    store.append({"entry_type": "run_end", "complete": True})
    store.write_run_info({"seed": seed, "complete": True, "corpora": [],
                          "policy": {"path": None, "sha256": None}})
    store.finalize()
    return store.path


def _verdicts(run_dir: Path) -> dict[str, str]:
    return {c.control: c.verdict.value for c in judge_run(read_entries(run_dir)).controls}


def test_a_shard_alone_never_passes(tmp_path: Path) -> None:
    run = judge_run(read_entries(_shard(tmp_path, 1, 3)))
    assert run.exit_code == EXIT_FAIL
    assert "shard 1/3" in run.why
    assert {c.verdict for c in run.controls} == {Verdict.INCONCLUSIVE}


def test_the_merge_of_every_shard_is_judged_over_the_whole_plan(tmp_path: Path) -> None:
    shards = [_shard(tmp_path / "shards", i, 3) for i in (1, 2, 3)]
    run_dir, verdict, found = merge(shards, tmp_path / "merged")
    assert verdict.exit_code == EXIT_PASS, verdict.why
    assert _verdicts(run_dir) == {POST: "pass", BIO: "pass"}
    assert verify_run(run_dir).ok
    lines = [e for e in read_entries(run_dir) if e["entry_type"] == "shard"]
    assert [(e["index"], e["intact"]) for e in lines] == [(1, True), (2, True), (3, True)]
    assert all(len(e["manifest_sha256"]) == 64 for e in lines)
    info = read_run_info(run_dir)
    assert info["complete"] is True
    assert [m["run_id"] for m in info["merged_from"]] == [s.name for s in shards]
    assert {s.problem for s in found} == {None}


def test_a_failure_in_one_shard_fails_the_merged_run(tmp_path: Path) -> None:
    shards = [_shard(tmp_path, i, 3, fail="t1") for i in (1, 2, 3)]
    run_dir, verdict, _ = merge(shards, tmp_path / "merged")
    assert _verdicts(run_dir)[POST] == "fail"
    assert verdict.exit_code == EXIT_FAIL


def test_a_missing_shard_leaves_the_merged_run_incomplete(tmp_path: Path) -> None:
    shards = [_shard(tmp_path, i, 3) for i in (1, 3)]
    run_dir, verdict, _ = merge(shards, tmp_path / "merged")
    assert verdict.exit_code == EXIT_INTERRUPTED
    assert not read_run_info(run_dir)["complete"]
    assert "shard 2/3 missing" in read_run_info(run_dir)["interrupted"]
    assert Verdict.PASS.value not in _verdicts(run_dir).values()


def test_an_altered_shard_is_not_counted_and_leaves_the_merge_incomplete(
        tmp_path: Path) -> None:
    shards = [_shard(tmp_path, i, 3) for i in (1, 2, 3)]
    (shards[1] / "run.json").write_text("{}", encoding="utf-8")
    run_dir, verdict, found = merge(shards, tmp_path / "merged")
    assert verdict.exit_code == EXIT_INTERRUPTED
    assert "does not verify" in (found[1].problem or "")
    shard_lines = [e for e in read_entries(run_dir) if e["entry_type"] == "shard"]
    assert shard_lines[1]["intact"] is False
    observed = {e["test"] for e in read_entries(run_dir) if e["entry_type"] == "observation"}
    assert not observed & share((t.test for t in TESTS), 2, 3)


def test_shards_of_different_runs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a shard of the same plan"):
        merge([_shard(tmp_path, 1, 2), _shard(tmp_path, 2, 2, seed=8)], tmp_path / "merged")
    with pytest.raises(ConfigError, match="both shard 1"):
        merge([tmp_path / "shard-1-of-2-7-ci", _shard(tmp_path / "again", 1, 2)],
              tmp_path / "merged")
    with pytest.raises(ConfigError, match="not a shard of the same plan"):
        merge([tmp_path / "shard-1-of-2-7-ci", _shard(tmp_path, 2, 2, operator="eve")],
              tmp_path / "merged")


def test_cli_merge_prints_each_shard_and_the_verdict(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shards = [str(_shard(tmp_path, i, 2)) for i in (1, 2)]
    assert cli.main(["merge", *shards, "--out", str(tmp_path / "merged")]) == EXIT_PASS
    out = capsys.readouterr().out
    assert "shard 1/2" in out
    assert "shard 2/2" in out
    assert "merged run:" in out


@pytest.mark.parametrize("text", ["0/3", "2"])
def test_assess_refuses_a_bad_shard_before_anything_starts(
        text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pytest, "main", lambda *a, **k: pytest.fail("pytest must not start"))
    assert cli.main(["assess", "--shard", text, "--out", str(tmp_path)]) == EXIT_USAGE
    assert not any(tmp_path.iterdir())
