"""Run store, hash chain, manifest and verification: every kind of tampering is named."""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from harness.errors import EvidenceError, NotARunError
from harness.evidence import (
    EVIDENCE_KEY_ENV,
    GENESIS_HASH,
    REDACTED,
    Redactor,
    RunStore,
    canonical_json,
    entry_hash,
    read_entries,
    resolve_run,
    verify_run,
)

TIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


@pytest.fixture(autouse=True)
def _no_evidence_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(EVIDENCE_KEY_ENV, raising=False)


def _observation(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "entry_type": "observation",
        "control": "A5.4-NICKNAME",
        "surface": "nickname",
        "case_id": f"case-{i}",
        "verdict": "pass",
        **extra,
    }


def _make_run(reports: Path, lines: int = 5, run_id: str = "run-1") -> RunStore:
    store = RunStore.create(reports, run_id=run_id)
    store.write_run_info({"seed": 1234, "target": "reference"})
    for i in range(lines):
        store.append(_observation(i))
    store.write_artifact("screens/shot.png", b"\x89PNG\r\n\x1a\n\x00fake")
    store.write_artifact("requests/log.txt", "GET /profile 200\n")
    store.finalize()
    return store


def _lines(run_dir: Path) -> list[str]:
    return (run_dir / "evidence.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)


def _write_lines(run_dir: Path, lines: list[str]) -> None:
    (run_dir / "evidence.jsonl").write_text("".join(lines), encoding="utf-8")


def _forge(prev_line: str, **fields: Any) -> str:
    """A well-formed line chained to `prev_line`, as an attacker with the format would write."""
    prev = json.loads(prev_line)
    entry = {"entry_type": "observation", "time": prev["time"], "seq": prev["seq"] + 1}
    entry.update(fields, prev=prev["hash"])
    entry["hash"] = entry_hash(entry)
    return canonical_json(entry) + "\n"


# --- creation and the chain -------------------------------------------------------------------


def test_created_run_verifies_and_lines_are_chained(tmp_path: Path) -> None:
    store = _make_run(tmp_path, lines=3)
    result = verify_run(store.path)
    assert result.ok, result.problems
    assert result.problems == ()
    assert result.warnings == ()
    assert result.lines == 3

    prev = GENESIS_HASH
    for seq, raw in enumerate(_lines(store.path)):
        entry = json.loads(raw)
        assert raw == canonical_json(entry) + "\n"
        assert entry["seq"] == seq
        assert entry["prev"] == prev
        assert entry["hash"] == entry_hash(entry)
        body = {k: v for k, v in entry.items() if k != "hash"}
        expected = hashlib.sha256(
            json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
        ).hexdigest()
        assert entry["hash"] == expected
        assert TIME_RE.fullmatch(entry["time"])
        prev = entry["hash"]

    manifest = json.loads((store.path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["version"] == 1
    assert manifest["chain_head"] == prev == store.chain_head
    assert manifest["lines"] == 3
    assert "hmac" not in manifest
    assert list(manifest["files"]) == [
        "artifacts/requests/log.txt",
        "artifacts/screens/shot.png",
        "evidence.jsonl",
        "run.json",
    ]
    assert (
        manifest["files"]["run.json"]
        == hashlib.sha256((store.path / "run.json").read_bytes()).hexdigest()
    )


def test_append_returns_stored_entry_and_entries_reads_back(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path)
    first = store.append(
        {"entry_type": "note", "text": "héllo 你好", "time": "2024-01-01T00:00:00Z"}
    )
    second = store.append({"entry_type": "note", "n": 2})
    assert first["time"] == "2024-01-01T00:00:00Z"
    assert second["prev"] == first["hash"]
    assert list(store.entries()) == [first, second]
    assert list(read_entries(store.path)) == [first, second]
    assert "你好" in (store.path / "evidence.jsonl").read_text(encoding="utf-8")
    assert store.lines == 2


def test_default_run_id_and_existing_dir_refused(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path)
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", store.run_id)
    assert store.path == tmp_path / store.run_id
    with pytest.raises(EvidenceError, match="already exists"):
        RunStore.create(tmp_path, run_id=store.run_id)


@pytest.mark.parametrize("run_id", ["", "../x", "a/b", "latest", ".hidden", "x" * 200])
def test_unsafe_run_ids_refused(tmp_path: Path, run_id: str) -> None:
    with pytest.raises(EvidenceError, match="invalid run id"):
        RunStore.create(tmp_path, run_id=run_id)


def test_append_validates_entries(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path)
    with pytest.raises(EvidenceError, match="entry_type"):
        store.append({"verdict": "pass"})
    with pytest.raises(EvidenceError, match="set by the store"):
        store.append({"entry_type": "x", "seq": 5})
    with pytest.raises(EvidenceError, match="not JSON-serialisable"):
        store.append({"entry_type": "x", "blob": b"bytes"})
    with pytest.raises(EvidenceError, match="not JSON-serialisable"):
        store.append({"entry_type": "x", "rate": float("nan")})
    stored = store.append({"entry_type": "x", "path": Path("a/b"), "tags": {"b", "a"}})
    assert stored["path"] == str(Path("a/b"))
    assert stored["tags"] == ["a", "b"]
    assert verify_run(store.path).lines == 1


def test_foreign_writer_detected(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path)
    store.append({"entry_type": "x"})
    with (store.path / "evidence.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"entry_type":"intruder"}\n')
    with pytest.raises(EvidenceError, match="another writer"):
        store.append({"entry_type": "x"})
    with pytest.raises(EvidenceError, match="changed outside the store"):
        store.finalize()


# --- tampering with evidence.jsonl -----------------------------------------------------------


@pytest.mark.parametrize("line_no", [1, 3, 5])
def test_altered_character_names_the_line(tmp_path: Path, line_no: int) -> None:
    store = _make_run(tmp_path, lines=5)
    lines = _lines(store.path)
    lines[line_no - 1] = lines[line_no - 1].replace("case-", "casE-", 1)
    _write_lines(store.path, lines)
    result = verify_run(store.path)
    assert not result.ok
    assert result.problems[0] == f"evidence.jsonl line {line_no}: hash mismatch (line altered)"
    assert "evidence.jsonl: sha256 mismatch (file altered)" in result.problems


def test_whitespace_change_is_detected(tmp_path: Path) -> None:
    store = _make_run(tmp_path, lines=3)
    lines = _lines(store.path)
    lines[1] = lines[1].replace(",", ", ", 1)
    _write_lines(store.path, lines)
    result = verify_run(store.path)
    assert result.problems[0] == "evidence.jsonl line 2: not in canonical form (line altered)"


def test_rewritten_line_with_recomputed_hash_breaks_the_next_link(tmp_path: Path) -> None:
    store = _make_run(tmp_path, lines=4)
    lines = _lines(store.path)
    entry = json.loads(lines[1])
    entry["verdict"] = "fail"
    entry["hash"] = entry_hash(entry)
    lines[1] = canonical_json(entry) + "\n"
    _write_lines(store.path, lines)
    result = verify_run(store.path)
    assert result.problems[0] == (
        "evidence.jsonl line 3: prev does not match line 2 (line removed or reordered)"
    )


def test_deleted_middle_line(tmp_path: Path) -> None:
    store = _make_run(tmp_path, lines=8)
    lines = _lines(store.path)
    del lines[6]  # line 7
    _write_lines(store.path, lines)
    result = verify_run(store.path)
    assert result.problems[0] == (
        "evidence.jsonl line 7: prev does not match line 6 (line removed or reordered)"
    )
    # One broken link, not a cascade of complaints about every later line.
    line_problems = [p for p in result.problems if p.startswith("evidence.jsonl line")]
    assert line_problems == [result.problems[0]]
    assert result.lines == 7


def test_deleted_first_line(tmp_path: Path) -> None:
    store = _make_run(tmp_path, lines=3)
    _write_lines(store.path, _lines(store.path)[1:])
    result = verify_run(store.path)
    assert result.problems[0] == (
        "evidence.jsonl line 1: prev is not the chain start (lines removed from the start)"
    )


def test_truncated_last_line(tmp_path: Path) -> None:
    store = _make_run(tmp_path, lines=3)
    _write_lines(store.path, _lines(store.path)[:-1])
    result = verify_run(store.path)
    assert result.problems[0] == (
        "manifest.json: chain_head does not match the last line (lines truncated or appended)"
    )
    assert "manifest.json: line count 3 does not match evidence.jsonl (2 lines)" in result.problems


def test_reordered_lines(tmp_path: Path) -> None:
    store = _make_run(tmp_path, lines=4)
    lines = _lines(store.path)
    lines[1], lines[2] = lines[2], lines[1]
    _write_lines(store.path, lines)
    result = verify_run(store.path)
    assert result.problems[0] == (
        "evidence.jsonl line 2: prev does not match line 1 (line removed or reordered)"
    )


def test_forged_line_appended_without_manifest_update(tmp_path: Path) -> None:
    store = _make_run(tmp_path, lines=3)
    lines = _lines(store.path)
    lines.append(_forge(lines[-1], verdict="pass", control="A5.4-POST"))
    _write_lines(store.path, lines)
    result = verify_run(store.path)
    assert not result.ok
    assert result.problems[0] == (
        "manifest.json: chain_head does not match the last line (lines truncated or appended)"
    )
    assert "manifest.json: line count 3 does not match evidence.jsonl (4 lines)" in result.problems
    assert "evidence.jsonl: sha256 mismatch (file altered)" in result.problems


def test_forged_line_inserted_in_the_middle(tmp_path: Path) -> None:
    store = _make_run(tmp_path, lines=4)
    lines = _lines(store.path)
    lines.insert(2, _forge(lines[1], verdict="pass"))
    _write_lines(store.path, lines)
    result = verify_run(store.path)
    assert result.problems[0] == (
        "evidence.jsonl line 4: prev does not match line 3 (line removed or reordered)"
    )


def test_garbage_line(tmp_path: Path) -> None:
    store = _make_run(tmp_path, lines=4)
    lines = _lines(store.path)
    lines[2] = "this is not json\n"
    _write_lines(store.path, lines)
    result = verify_run(store.path)
    assert result.problems[0] == "evidence.jsonl line 3: not valid JSON"
    with pytest.raises(EvidenceError, match="line 3: not valid JSON"):
        list(read_entries(store.path))


def test_torn_last_line(tmp_path: Path) -> None:
    store = _make_run(tmp_path, lines=2)
    path = store.path / "evidence.jsonl"
    path.write_bytes(path.read_bytes() + b'{"entry_type":"obs')
    result = verify_run(store.path)
    assert result.problems[0] == "evidence.jsonl line 3: not valid JSON"


# --- tampering with files and the manifest ---------------------------------------------------


def test_altered_artifact(tmp_path: Path) -> None:
    store = _make_run(tmp_path)
    (store.path / "artifacts/screens/shot.png").write_bytes(b"\x89PNG other")
    result = verify_run(store.path)
    assert result.problems == ("artifacts/screens/shot.png: sha256 mismatch (file altered)",)


def test_removed_artifact(tmp_path: Path) -> None:
    store = _make_run(tmp_path)
    (store.path / "artifacts/requests/log.txt").unlink()
    result = verify_run(store.path)
    assert result.problems == ("artifacts/requests/log.txt: missing (listed in manifest)",)


def test_added_artifact(tmp_path: Path) -> None:
    store = _make_run(tmp_path)
    (store.path / "artifacts/z").write_text("planted", encoding="utf-8")
    result = verify_run(store.path)
    assert result.problems == ("artifacts/z: not in manifest (file added)",)


def test_altered_run_info(tmp_path: Path) -> None:
    store = _make_run(tmp_path)
    (store.path / "run.json").write_text('{"seed": 1}\n', encoding="utf-8")
    assert verify_run(store.path).problems == ("run.json: sha256 mismatch (file altered)",)


def test_missing_manifest_and_missing_dir(tmp_path: Path) -> None:
    store = _make_run(tmp_path)
    (store.path / "manifest.json").unlink()
    result = verify_run(store.path)
    assert result.problems[0].startswith("manifest.json: missing")
    with pytest.raises(NotARunError, match="not a directory"):
        verify_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotARunError, match=r"has no evidence\.jsonl"):
        verify_run(tmp_path / "empty")


def test_manifest_path_outside_run_is_not_read(tmp_path: Path) -> None:
    store = _make_run(tmp_path)
    (tmp_path / "outside.txt").write_text("x", encoding="utf-8")
    manifest_path = store.path / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["files"]["../outside.txt"] = hashlib.sha256(b"x").hexdigest()
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    result = verify_run(store.path)
    assert result.problems == ("../outside.txt: missing (listed in manifest)",)


def test_finalize_again_after_more_appends(tmp_path: Path) -> None:
    store = _make_run(tmp_path, lines=2)
    store.append(_observation(9))
    assert not verify_run(store.path).ok
    manifest = store.finalize()
    assert manifest["lines"] == 3
    assert verify_run(store.path).ok


# --- artifacts --------------------------------------------------------------------------------


def test_artifact_paths_are_confined(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path)
    assert store.artifact_path("t", "a/b.png") == store.path / "artifacts" / "t" / "a" / "b.png"
    assert (store.path / "artifacts" / "t" / "a").is_dir()
    for bad in (("..", "x"), ("a/../../x",), ("/etc/passwd",), ("C:\\x",), ("\\x",), ("",)):
        with pytest.raises(EvidenceError):
            store.artifact_path(*bad)
    with pytest.raises(EvidenceError):
        store.write_artifact("../escape.txt", "x")
    outside = tmp_path / "outside"
    outside.mkdir()
    (store.path / "artifacts" / "evil").symlink_to(outside, target_is_directory=True)
    with pytest.raises(EvidenceError, match="escapes"):
        store.artifact_path("evil", "sub", "x.txt")
    assert not (outside / "sub").exists()


def test_write_artifact_returns_relpath_and_refuses_overwrite(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path)
    assert store.write_artifact("a/b.txt", "one") == "artifacts/a/b.txt"
    with pytest.raises(EvidenceError, match="already exists"):
        store.write_artifact("a/b.txt", "two")
    store.write_artifact("a/b.txt", "two", overwrite=True)
    assert (store.path / "artifacts/a/b.txt").read_text(encoding="utf-8") == "two"
    with pytest.raises(EvidenceError, match="text=False"):
        store.write_artifact("c.txt", "str", text=False)


# --- redaction --------------------------------------------------------------------------------

PASSWORD = "hunter2-S3cret!"
TOKEN = "tok_9f8e7d6c5b4a"


def _all_bytes(run_dir: Path) -> dict[str, bytes]:
    return {
        p.relative_to(run_dir).as_posix(): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()
    }


def test_secret_never_reaches_any_file(tmp_path: Path) -> None:
    redactor = Redactor()
    redactor.add_secret(PASSWORD)
    redactor.add_secret(TOKEN)
    store = RunStore.create(tmp_path, run_id="r", redactor=redactor)
    store.write_run_info(
        {"actors": {"author": {"user": "alice", "password": PASSWORD}}, "note": f"pw {PASSWORD}"}
    )
    store.append(
        {
            "entry_type": "observation",
            "request": {
                "headers": {"Authorization": f"Bearer {TOKEN}", "Cookie": "sid=abc123456"},
                "body": f"login with {PASSWORD} please",
                "url": f"https://x.test/api?access_token={TOKEN}",
            },
            "list": [PASSWORD, {"nested": f"[{PASSWORD}]"}],
            f"key-{TOKEN}": "value",
        }
    )
    store.write_artifact(
        "requests/log.txt",
        f"POST /login\nAuthorization: Basic dXNlcjpwYXNz\n\nuser=alice&password={PASSWORD}\n",
    )
    store.write_artifact("requests/log.json", json.dumps({"token": TOKEN}).encode())
    quoted = PASSWORD.replace("!", "%21")
    store.write_artifact("requests/form.log", f"password={quoted}".encode())
    store.finalize()

    files = _all_bytes(store.path)
    assert set(files) >= {"run.json", "evidence.jsonl", "manifest.json"}
    for name, data in files.items():
        for secret in (PASSWORD, TOKEN, quoted, "dXNlcjpwYXNz", "abc123456"):
            assert secret.encode() not in data, f"{secret!r} leaked into {name}"
    assert REDACTED.encode() in files["evidence.jsonl"]
    assert verify_run(store.path).ok


def test_redactor_structures() -> None:
    redactor = Redactor([PASSWORD, "abc", ""])  # short and empty values are ignored
    source = {
        "Authorization": "Basic xyz",
        "X-Admin-Token": "admin-token-value",
        "set_cookie": ["a=b"],
        "PASSWORD": None,
        "session": {"sid": "s"},
        "user": "abc",
        "text": f"x{PASSWORD}y",
        "tuple": (PASSWORD, 3),
        "headers": [{"name": "Cookie", "value": "sid=1"}, {"name": "Accept", "value": "*/*"}],
        "n": 5,
    }
    out = redactor.redact(source)
    assert out == {
        "Authorization": REDACTED,
        "X-Admin-Token": REDACTED,
        "set_cookie": REDACTED,
        "PASSWORD": None,
        "session": REDACTED,
        "user": "abc",
        "text": f"x{REDACTED}y",
        "tuple": (REDACTED, 3),
        "headers": [{"name": "Cookie", "value": REDACTED}, {"name": "Accept", "value": "*/*"}],
        "n": 5,
    }
    assert source["text"] == f"x{PASSWORD}y"  # input untouched


def test_redactor_longest_secret_first_and_bytes() -> None:
    redactor = Redactor(["abcd", "abcdefgh"])
    assert redactor.redact_text("xxabcdefghxx") == f"xx{REDACTED}xx"
    data = b"\xff\xfe raw abcd \x00"
    assert redactor.redact_bytes(data) == b"\xff\xfe raw " + REDACTED.encode() + b" \x00"
    assert redactor.redact_text("Bearer authentication is used") == "Bearer authentication is used"
    assert redactor.redact_text("Authorization: Bearer a.b.c-123456") == (
        f"Authorization: {REDACTED}"
    )


def test_binary_artifact_kept_byte_for_byte(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, redactor=Redactor([PASSWORD]))
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    relpath = store.write_artifact("shot.png", data)
    assert (store.path / relpath).read_bytes() == data


# --- reopening --------------------------------------------------------------------------------


def test_reopen_and_append_keeps_the_chain(tmp_path: Path) -> None:
    first = _make_run(tmp_path, lines=3)
    head = first.chain_head
    store = RunStore.open(first.path)
    assert store.run_id == first.run_id
    assert store.lines == 3
    entry = store.append({"entry_type": "report", "name": "article6"})
    assert entry["seq"] == 3
    assert entry["prev"] == head
    store.write_artifact("later.txt", "more")
    store.finalize()
    result = verify_run(store.path)
    assert result.ok, result.problems
    assert result.lines == 4


@pytest.mark.parametrize("damage", ["line", "artifact", "manifest"])
def test_open_refuses_a_broken_run(tmp_path: Path, damage: str) -> None:
    store = _make_run(tmp_path, lines=3)
    if damage == "line":
        lines = _lines(store.path)
        lines[1] = lines[1].replace("case-1", "case-X")
        _write_lines(store.path, lines)
        expected = "line 2: hash mismatch"
    elif damage == "artifact":
        (store.path / "artifacts/requests/log.txt").write_text("edited", encoding="utf-8")
        expected = "sha256 mismatch"
    else:
        (store.path / "manifest.json").unlink()
        expected = "manifest.json: missing"
    with pytest.raises(EvidenceError, match=expected):
        RunStore.open(store.path)
    with pytest.raises(EvidenceError, match="not a directory"):
        RunStore.open(tmp_path / "absent")


# --- hmac -------------------------------------------------------------------------------------


def test_hmac_with_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EVIDENCE_KEY_ENV, "k3y-for-tests")
    store = _make_run(tmp_path)
    manifest = json.loads((store.path / "manifest.json").read_text(encoding="utf-8"))
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["hmac"])
    assert verify_run(store.path).ok

    monkeypatch.setenv(EVIDENCE_KEY_ENV, "another-key")
    assert verify_run(store.path).problems[0].startswith("manifest.json: hmac mismatch")

    monkeypatch.delenv(EVIDENCE_KEY_ENV)
    result = verify_run(store.path)
    assert result.ok
    assert result.warnings == (
        "manifest hmac present but HARNESS_EVIDENCE_KEY not set; cannot authenticate",
    )


def test_hmac_detects_a_resealed_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EVIDENCE_KEY_ENV, "k3y-for-tests")
    store = _make_run(tmp_path, lines=3)
    # The attacker appends a forged line and rewrites the manifest, but has no key.
    lines = _lines(store.path)
    lines.append(_forge(lines[-1], verdict="pass"))
    _write_lines(store.path, lines)
    manifest_path = store.path / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["files"]["evidence.jsonl"] = hashlib.sha256(
        (store.path / "evidence.jsonl").read_bytes()
    ).hexdigest()
    manifest["chain_head"] = json.loads(lines[-1])["hash"]
    manifest["lines"] = 4
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert verify_run(store.path).problems == (
        "manifest.json: hmac mismatch (manifest altered, or wrong HARNESS_EVIDENCE_KEY)",
    )
    del manifest["hmac"]
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert verify_run(store.path).problems[0].startswith("manifest.json: no hmac although")


def test_without_key_no_hmac_and_no_warning(tmp_path: Path) -> None:
    store = _make_run(tmp_path)
    result = verify_run(store.path)
    assert result.ok
    assert result.warnings == ()


# --- latest and resolve_run -------------------------------------------------------------------


def test_latest_points_at_newest_run(tmp_path: Path) -> None:
    old = _make_run(tmp_path, run_id="run-a")
    new = _make_run(tmp_path, run_id="run-b")
    latest = tmp_path / "latest"
    assert latest.is_symlink()
    assert os.readlink(latest) == "run-b"
    assert latest.resolve() == new.path.resolve()
    assert resolve_run("latest", tmp_path) == tmp_path / "run-b"
    assert not list(tmp_path.glob(".latest.tmp-*"))

    reopened = RunStore.open(old.path)
    reopened.append({"entry_type": "note"})
    reopened.finalize()
    assert os.readlink(latest) == "run-b"  # reopening an old run does not hide the newer one

    again = RunStore.open(new.path)
    again.finalize()
    assert os.readlink(latest) == "run-b"


def test_latest_text_file_without_symlinks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_symlinks(*args: Any, **kwargs: Any) -> None:
        raise OSError("symbolic links are not supported")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    store = _make_run(tmp_path, run_id="run-t")
    latest = tmp_path / "latest"
    assert not latest.is_symlink()
    assert latest.read_text(encoding="utf-8") == "run-t"
    assert resolve_run("latest", tmp_path) == store.path


def test_resolve_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EvidenceError, match="no latest run"):
        resolve_run("latest", tmp_path)
    store = _make_run(tmp_path, run_id="run-x")
    assert resolve_run("run-x", tmp_path) == tmp_path / "run-x"
    assert resolve_run(str(store.path), tmp_path / "elsewhere") == store.path
    with pytest.raises(EvidenceError, match="not found"):
        resolve_run("run-missing", tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvidenceError, match="not a run directory"):
        resolve_run("empty", tmp_path)
    (tmp_path / "latest").unlink()
    (tmp_path / "latest").write_text("../../etc", encoding="utf-8")
    with pytest.raises(EvidenceError, match="corrupt"):
        resolve_run("latest", tmp_path)


# --- concurrency ------------------------------------------------------------------------------


def test_concurrent_appends_keep_a_valid_chain(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path)
    threads_n, per_thread = 8, 40
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                store.append(_observation(i, thread=t))
                if i % 10 == 0:
                    store.write_artifact(f"t{t}/{i}.txt", f"thread {t} item {i}")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    store.finalize()
    result = verify_run(store.path)
    assert result.ok, result.problems
    assert result.lines == threads_n * per_thread
    assert [e["seq"] for e in store.entries()] == list(range(threads_n * per_thread))
