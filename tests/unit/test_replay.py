"""Replay: the recorded command line rebuilt with the recorded seed, corpora and policy by
SHA-256, the target and faults chosen, and a comparison of what was sent with what was."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from harness import reference
from harness.errors import ConfigError, EvidenceError
from harness.evidence import EVIDENCE_KEY_ENV, RunStore
from harness.evidence.chain import file_sha256
from harness.probes.corpora import CORPORA_DIR
from harness.replay import REPLACED, compare, prepare, replay_link
from harness.targets.profile import REFERENCE_PROFILE

SCENARIOS = str(Path(__file__).parents[2] / "scenarios")


@pytest.fixture(autouse=True)
def _no_evidence_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(EVIDENCE_KEY_ENV, raising=False)
    monkeypatch.setattr(reference, "list_faults", lambda: {
        "unfiltered-bio": ("A5.4-BIO", "bios"), "unfiltered-post": ("A5.4-POST", "posts")})


def _pin(path: Path) -> dict[str, Any]:
    return {"path": str(path), "sha256": file_sha256(path)}


def _recorded(tmp_path: Path, name: str = "old", *, faults: tuple[str, ...] = ("unfiltered-bio",),
              observations: list[dict[str, Any]] | None = None, **info: Any) -> Path:
    """A sealed run as `harness assess` records it: its run.json and command line."""
    corpus = tmp_path / "corpus.jsonl"
    if not corpus.exists():
        shutil.copyfile(CORPORA_DIR / "canary-sample.jsonl", corpus)
    store = RunStore.create(tmp_path / "reports", run_id=name)
    run_info = {
        "seed": 7, "channel": "api", "controls": ["A5.4-BIO"], "reference_faults": list(faults),
        "profile": _pin(REFERENCE_PROFILE), "policy": {"path": None, "sha256": None},
        "corpora": [_pin(corpus)], "settings": {"base_url": "default"},
        "target": {"base_url": "http://127.0.0.1:4321"},
        "args": [SCENARIOS, "--target-profile", str(REFERENCE_PROFILE), "--run-dir",
                 str(store.path), "--channel", "api", "-p", "no:cacheprovider",
                 *(a for f in faults for a in ("--reference-fault", f)), "--control",
                 "A5.4-BIO", "--seed", "7", "-n", "2", "-k", "create"],
        **info,
    }
    store.write_run_info(run_info)
    store.append({"entry_type": "plan", "controls": ["A5.4-BIO"], "channels": ["api"],
                  "tests": [{"test": "t1", "controls": ["A5.4-BIO"]}]})
    for line in observations or ():
        store.append(line)
    store.append({"entry_type": "run_end", "complete": True})
    store.finalize()
    return store.path


def _option(args: list[str], name: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args) if arg == name]


def test_a_replay_runs_the_recorded_command_with_its_seed_and_faults(tmp_path: Path) -> None:
    old = _recorded(tmp_path)
    found = prepare(old, tmp_path / "new")
    assert _option(found.args, "--seed") == ["7"]
    assert _option(found.args, "--reference-fault") == ["unfiltered-bio"]
    assert _option(found.args, "--corpus") == [str(tmp_path / "corpus.jsonl")]
    assert _option(found.args, "--replay-of") == [str(old)]
    assert _option(found.args, "--run-dir") == [str(found.run_dir)]
    assert found.run_dir.parent == (tmp_path / "new").resolve()
    assert _option(found.args, "-n") == ["2"]
    assert _option(found.args, "-k") == ["create"]  # the recorded narrowing, as it was
    assert "--base-url" not in found.args  # a new reference site, not the recorded port
    for option in REPLACED:
        assert len(_option(found.args, option)) <= 1 or option in ("--control", "--corpus")


def test_no_faults_and_other_faults_replace_the_recorded_ones(tmp_path: Path) -> None:
    old = _recorded(tmp_path)
    assert prepare(old, tmp_path, no_faults=True).faults == ()
    assert "--reference-fault" not in prepare(old, tmp_path, no_faults=True).args
    other = prepare(old, tmp_path, faults=["unfiltered-post"])
    assert _option(other.args, "--reference-fault") == ["unfiltered-post"]
    with pytest.raises(ConfigError, match="contradict"):
        prepare(old, tmp_path, faults=["unfiltered-post"], no_faults=True)


def test_faults_need_the_reference_site(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="apply only to a replay on the embedded reference"):
        prepare(_recorded(tmp_path), tmp_path, base_url="http://127.0.0.1:9", no_faults=True)


def test_a_changed_corpus_is_refused(tmp_path: Path) -> None:
    old = _recorded(tmp_path)
    with (tmp_path / "corpus.jsonl").open("a", encoding="utf-8") as handle:
        handle.write("\n")
    with pytest.raises(ConfigError, match=r"corpus .*corpus.jsonl \(SHA-256 differs"):
        prepare(old, tmp_path)


def test_a_changed_policy_is_refused(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("grace_seconds: 1\n", encoding="utf-8")
    old = _recorded(tmp_path, policy={**_pin(policy), "name": "policy"})
    policy.write_text("grace_seconds: 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="policy"):
        prepare(old, tmp_path)


def test_a_run_that_does_not_verify_is_not_replayed(tmp_path: Path) -> None:
    old = _recorded(tmp_path)
    (old / "run.json").write_text("{}", encoding="utf-8")
    with pytest.raises(EvidenceError, match="does not verify"):
        prepare(old, tmp_path)


def test_a_merged_run_is_not_replayed_as_one(tmp_path: Path) -> None:
    old = _recorded(tmp_path, args=[])
    with pytest.raises(ConfigError, match="shard by shard"):
        prepare(old, tmp_path)


def test_the_link_names_the_replayed_run_and_its_manifest(tmp_path: Path) -> None:
    old = _recorded(tmp_path)
    link = replay_link(old)
    assert link["run_id"] == "old"
    assert link["manifest_sha256"] == file_sha256(old / "manifest.json")


def _observation(test: str, control: str, content: str, **details: Any) -> dict[str, Any]:
    case = {"surface": "bio", "mode": "create", "probe": "canary-zh-a", "variant": "identity",
            "expect": "must_block", "content_sha256": content, **details}
    return {"entry_type": "observation", "test": test, "control": control, "channel": "api",
            "case_id": "bio/create/canary-zh-a", "verdict": "pass", "details": {"case": case}}


def test_compare_finds_cases_sent_differently_missing_or_new(tmp_path: Path) -> None:
    old = _recorded(tmp_path, "old", observations=[
        _observation("t1", "A5.4-BIO", "aa"), _observation("t1", "A5.4-RECORDS", "aa")])
    same = _recorded(tmp_path, "same", observations=[_observation("t1", "A5.4-BIO", "aa")])
    other = _recorded(tmp_path, "other", observations=[_observation("t1", "A5.4-BIO", "bb"),
                                                       _observation("t2", "A5.4-BIO", "cc")])
    # Which controls a case gave evidence for is the target's doing, not the replay's.
    assert compare(old, same) == []
    problems = compare(old, other)
    assert any("1 case(s) observed that the run did not" in p for p in problems)
    assert any("1 case(s) sent differently" in p for p in problems)
    assert any("recorded case(s) not observed" in p for p in compare(other, old))


def test_the_replay_option_is_refused_on_a_run_never_sealed(tmp_path: Path) -> None:
    run = tmp_path / "unsealed"
    run.mkdir()
    (run / "evidence.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(EvidenceError, match="only a sealed run"):
        replay_link(run)
