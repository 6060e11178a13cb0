"""Readers never crash on bad input: every fault is a ConfigError (profiles, corpora, policies)
or an EvidenceError (runs) naming the file and the place, never another exception type.

Property tests are bounded and derandomized so the suite stays fast and CI deterministic.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import cli
from harness.errors import ConfigError, EvidenceError, NotARunError
from harness.evidence import RunStore, read_entries, read_run_info, resolve_run, verify_run
from harness.evidence import verify as verify_module
from harness.policy import DEFAULT_POLICY, load_policy
from harness.probes import corpora
from harness.probes.corpora import (
    MAX_CASE_CHARS,
    CorpusError,
    load_corpus,
    select_corpora,
)
from harness.readers import MAX_CONFIG_NODES
from harness.targets.profile import REFERENCE_PROFILE, load_profile

# The example counts keep the whole module to a few seconds (the deadline and the seed are the
# suite's profile, tests/conftest.py).
BOUNDED = settings(max_examples=40)

SCALARS = (st.none() | st.booleans() | st.integers() | st.floats()
           | st.text(max_size=12) | st.dates())
STRUCTURES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4),
    max_leaves=16,
)
BYTES = st.binary(max_size=512) | st.text(max_size=200).map(lambda t: t.encode("utf-8"))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the module; each example overwrites its file (tmp_path is per test, and
    Hypothesis runs many examples in one test)."""
    return tmp_path_factory.mktemp("bad-input")


@pytest.fixture(scope="module", autouse=True)
def _admin_token() -> Iterator[None]:
    """The reference profile's ${REFERENCE_ADMIN_TOKEN}, set once for the whole module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REFERENCE_ADMIN_TOKEN", "admin-token-for-tests")
        yield


def _raised(call: Callable[[], Any], error: type[Exception]) -> str | None:
    """The message of the `error` that `call` raises, or None when it succeeds; any other
    exception propagates and fails the test."""
    try:
        call()
    except error as exc:
        return str(exc)
    return None


def _refused(call: Callable[[], Any], error: type[Exception], path: Path) -> None:
    """`call` succeeds, or raises `error` with a message naming `path`."""
    message = _raised(call, error)
    assert message is None or str(path) in message or path.name in message, message


def _mutate(document: Any, steps: list[int], junk: Any) -> Any:
    """`document` with the node that `steps` lead to replaced by `junk` (a deep, partial copy)."""
    if not steps or not isinstance(document, dict | list) or not document:
        return junk
    keys = list(document) if isinstance(document, dict) else list(range(len(document)))
    key = keys[steps[0] % len(keys)]
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[key] = _mutate(document[key], steps[1:], junk)
    return copy


def _dump(value: Any) -> bytes:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False).encode("utf-8")


# --- profiles ---------------------------------------------------------------------------------


@BOUNDED
@given(data=BYTES)
def test_profile_bytes(scratch: Path, data: bytes) -> None:
    path = scratch / "profile.yaml"
    path.write_bytes(data)
    _refused(lambda: load_profile(path, base_url="http://127.0.0.1"), ConfigError, path)


@BOUNDED
@given(value=STRUCTURES)
def test_profile_structures(scratch: Path, value: Any) -> None:
    path = scratch / "profile.yaml"
    path.write_bytes(_dump(value))
    _refused(lambda: load_profile(path, base_url="http://127.0.0.1"), ConfigError, path)


@settings(BOUNDED, max_examples=15)  # validating the reference profile takes ~0.1 s
@given(steps=st.lists(st.integers(min_value=0, max_value=50), max_size=6), junk=STRUCTURES)
def test_profile_with_one_part_replaced(scratch: Path, steps: list[int], junk: Any) -> None:
    document = yaml.safe_load(REFERENCE_PROFILE.read_text(encoding="utf-8"))
    path = scratch / "profile.yaml"
    path.write_bytes(_dump(_mutate(document, steps, junk)))
    _refused(lambda: load_profile(path, base_url="http://127.0.0.1"), ConfigError, path)


def test_profile_not_utf8_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: tiny\nallowed_hosts: [127.0.0.1]\n# café\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"line 3: the target profile is not UTF-8") as info:
        load_profile(path)
    assert str(path) in str(info.value)


def test_select_corpora_with_a_profile_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"line 1: the target profile is not UTF-8"):
        select_corpora([], path)


def test_select_corpora_with_a_corpora_key_that_is_not_a_list(tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text("corpora: 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="corpora must be a list"):
        select_corpora([], path)


def test_profile_yaml_error_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: tiny\nallowed_hosts: [127.0.0.1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line \d+, column \d+: not valid YAML"):
        load_profile(path)


def test_profile_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"more than {MAX_CONFIG_NODES} values"):
        load_profile(path)


def test_profile_nested_too_deep(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("[" * 3000 + "]" * 3000, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"nested too deeply|nested more than"):
        load_profile(path)


def test_profile_base_url_that_urlsplit_rejects(tmp_path: Path) -> None:
    path = tmp_path / "ipv6.yaml"
    path.write_text("name: t\nbase_url: 'http://[::1'\nallowed_hosts: [x]\n"
                    "api: {register: {method: POST, path: /r}, surfaces: {}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not an http"):
        load_profile(path)


def test_profile_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read target profile"):
        load_profile(tmp_path)


# --- policies ---------------------------------------------------------------------------------


@BOUNDED
@given(data=BYTES)
def test_policy_bytes(scratch: Path, data: bytes) -> None:
    path = scratch / "policy.yaml"
    path.write_bytes(data)
    _refused(lambda: load_policy(path), ConfigError, path)


@BOUNDED
@given(value=STRUCTURES)
def test_policy_structures(scratch: Path, value: Any) -> None:
    path = scratch / "policy.yaml"
    path.write_bytes(_dump(value))
    _refused(lambda: load_policy(path), ConfigError, path)


@BOUNDED
@given(steps=st.lists(st.integers(min_value=0, max_value=50), max_size=4), junk=STRUCTURES)
def test_policy_with_one_part_replaced(scratch: Path, steps: list[int], junk: Any) -> None:
    document = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    path = scratch / "policy.yaml"
    path.write_bytes(_dump(_mutate(document, steps, junk)))
    _refused(lambda: load_policy(path), ConfigError, path)


@pytest.mark.parametrize(("text", "expected"), [
    ("1: 2\n", r"unknown policy key\(s\) \['1'\]"),
    ("rates: {1: 2}\n", r"unknown key\(s\) \['1'\] in rates"),
    ("grace_seconds: .nan\n", "grace_seconds must be a finite number"),
    ("grace_seconds: .inf\n", "grace_seconds must be a finite number"),
    ("crawl_max_pages: 2.5\n", "crawl_max_pages must be a whole number"),
    ("max_case_chars: 0\n", "max_case_chars must be between 1 and"),
    ("warnings: [x]\n", r"unknown policy key\(s\) \['warnings'\]"),
    ("rates: {families: [fullwidth]}\n", "rates.families must map"),
    ("- a\n", "the top level: a policy is a mapping"),
])
def test_policy_bad_values_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected) as info:
        load_policy(path)
    assert str(path) in str(info.value)


# --- corpora ----------------------------------------------------------------------------------

CORPUS_VALUES = st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.sampled_from(
    ["ECO6.1", "BENIGN", "must_block", "must_allow", "zh", "\ud800", "x" * (MAX_CASE_CHARS + 1)])
CORPUS_RECORDS = st.dictionaries(
    st.sampled_from(["text", "category", "expect", "lang", "id", "note", "other"]),
    CORPUS_VALUES, max_size=7)


@BOUNDED
@given(data=BYTES, suffix=st.sampled_from([".jsonl", ".csv"]))
def test_corpus_bytes(scratch: Path, data: bytes, suffix: str) -> None:
    path = scratch / f"corpus{suffix}"
    path.write_bytes(data)
    _refused(lambda: load_corpus(path), ConfigError, path)


@BOUNDED
@given(records=st.lists(CORPUS_RECORDS | STRUCTURES, min_size=1, max_size=5))
def test_corpus_jsonl_records(scratch: Path, records: list[Any]) -> None:
    path = scratch / "records.jsonl"
    path.write_text("\n".join(json.dumps(r, default=str) for r in records) + "\n",
                    encoding="utf-8")
    _refused(lambda: load_corpus(path), ConfigError, path)


@BOUNDED
@given(rows=st.lists(st.lists(st.text(max_size=10), max_size=5), max_size=5),
       header=st.lists(st.sampled_from(["text", "category", "expect", "lang", "x"]), max_size=5))
def test_corpus_csv_rows(scratch: Path, rows: list[list[str]], header: list[str]) -> None:
    out = io.StringIO()
    csv.writer(out).writerows([header, *rows])
    path = scratch / "rows.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    _refused(lambda: load_corpus(path), ConfigError, path)


def test_corpus_deep_json_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text("[" * 100_000 + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"deep\.jsonl:1: .*nested too deeply"):
        load_corpus(path)


def test_corpus_lone_surrogate_escape_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "surrogate.jsonl"
    path.write_text('{"text": "a\\ud800b", "category": "ECO6.1", "expect": "must_block"}\n',
                    encoding="utf-8")
    with pytest.raises(CorpusError, match=r"surrogate\.jsonl:1: field 'text': .*surrogate"):
        load_corpus(path)


def test_corpus_csv_field_over_the_csv_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    cell = "\n".join(["y" * 1000] * 200)  # one quoted field over many short lines
    path.write_text(f'text,category,expect\n"{cell}",ECO6.1,must_block\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"big\.csv:\d+: field '-': not valid CSV"):
        load_corpus(path, max_case_chars=1_000_000)


# --- the case cap -----------------------------------------------------------------------------

ROW = '{{"text": "{text}", "category": "ECO6.1", "expect": "must_block"}}\n'


def test_row_over_the_cap_is_refused_naming_file_line_and_limit(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    path.write_text(ROW.format(text="ok") + ROW.format(text="x" * (MAX_CASE_CHARS + 1)),
                    encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        load_corpus(path)
    message = str(info.value)
    assert f"{path}:2: field 'text'" in message
    assert f"limit of {MAX_CASE_CHARS}" in message
    assert "max_case_chars" in message


def test_row_at_the_cap_loads_and_the_cap_is_a_parameter(tmp_path: Path) -> None:
    path = tmp_path / "edge.jsonl"
    path.write_text(ROW.format(text="字" * MAX_CASE_CHARS), encoding="utf-8")
    assert len(load_corpus(path).rows[0].text) == MAX_CASE_CHARS
    with pytest.raises(CorpusError, match="limit of 100 per case"):
        load_corpus(path, max_case_chars=100)
    with pytest.raises(ConfigError, match="max_case_chars must be"):
        load_corpus(path, max_case_chars=0)


def test_csv_row_over_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text(f"text,category,expect\n{'x' * 101},ECO6.1,must_block\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"long\.csv:2: field 'text': 101 characters"):
        load_corpus(path, max_case_chars=100)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_20_mb_row_is_refused_with_bounded_memory(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"huge{suffix}"
    header = "" if suffix == ".jsonl" else "text,category,expect\n"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(header)
        handle.write(ROW.format(text="ok") if suffix == ".jsonl" else "ok,ECO6.1,must_block\n")
        handle.write('{"text": "' if suffix == ".jsonl" else "")
        for _ in range(20):
            handle.write("字" * (1 << 20) if suffix == ".jsonl" else "x" * (1 << 20))
        handle.write('", "category": "ECO6.1", "expect": "must_block"}\n' if suffix == ".jsonl"
                     else ",ECO6.1,must_block\n")
    assert os.path.getsize(path) > 20 << 20
    tracemalloc.start()
    try:
        with pytest.raises(CorpusError) as info:
            load_corpus(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    line = 2 if suffix == ".jsonl" else 3
    assert f"{path}:{line}: field 'text'" in str(info.value)
    assert f"{MAX_CASE_CHARS} characters per case" in str(info.value)
    assert peak < 8 << 20, f"peak {peak} bytes while refusing a 20 MB row"  # a sanity bound


def test_corpus_over_the_size_limit_is_refused_unread(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(corpora, "MAX_CORPUS_BYTES", 100)
    path = tmp_path / "big.jsonl"
    path.write_text(ROW.format(text="x") * 10, encoding="utf-8")
    with pytest.raises(CorpusError, match="over the limit of 100"):
        load_corpus(path)


def test_corpus_over_the_row_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(corpora, "MAX_CORPUS_ROWS", 3)
    path = tmp_path / "many.jsonl"
    path.write_text("".join(ROW.format(text=f"t{i}") for i in range(5)), encoding="utf-8")
    with pytest.raises(CorpusError, match=r"many\.jsonl:4: .*more than 3 rows"):
        load_corpus(path)


def test_streamed_pin_is_the_sha256_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "pin.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + ROW.format(text="a").rstrip().encode() + b"\r\n\n"
                     + ROW.format(text="b\u2028c").encode())
    corpus = load_corpus(path)
    assert corpus.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [row.text for row in corpus.rows] == ["a", "b\u2028c"]
    assert [row.line for row in corpus.rows] == [1, 3]


# --- runs -------------------------------------------------------------------------------------


def _run(reports: Path, run_id: str = "run-1") -> RunStore:
    store = RunStore.create(reports, run_id=run_id)
    store.write_run_info({"seed": 1, "target": "reference"})
    for i in range(3):
        store.append({"entry_type": "observation", "case_id": f"case-{i}", "verdict": "pass"})
    store.write_artifact("requests/log.txt", "GET / 200\n")
    store.finalize()
    return store


RUN_FILES = st.sampled_from(["evidence.jsonl", "manifest.json", "run.json"])


@BOUNDED
@given(name=RUN_FILES, data=BYTES | STRUCTURES.map(lambda v: json.dumps(v, default=str).encode()))
def test_run_files_replaced(tmp_path_factory: pytest.TempPathFactory, name: str,
                            data: bytes) -> None:
    store = _run(tmp_path_factory.mktemp("runs"))
    (store.path / name).write_bytes(data)
    result = verify_run(store.path)  # a damaged run is a result, not an exception
    assert not result.ok or (store.path / name).read_bytes() == data
    for problem in result.problems:
        assert isinstance(problem, str)
    for call in (lambda: list(read_entries(store.path)), lambda: read_run_info(store.path)):
        message = _raised(call, EvidenceError)
        assert message is None or "evidence.jsonl" in message or "run.json" in message, message


@BOUNDED
@given(lines=st.lists(BYTES | STRUCTURES.map(lambda v: json.dumps(v, default=str).encode()),
                      max_size=4))
def test_evidence_lines_appended(tmp_path_factory: pytest.TempPathFactory,
                                 lines: list[bytes]) -> None:
    store = _run(tmp_path_factory.mktemp("runs"))
    appended = b"\n".join(lines)
    with (store.path / "evidence.jsonl").open("ab") as handle:
        handle.write(appended)
    result = verify_run(store.path)
    assert result.ok == (not appended)
    message = _raised(lambda: list(read_entries(store.path)), EvidenceError)
    assert message is None or "evidence.jsonl line" in message, message


@BOUNDED
@given(arg=st.text(max_size=300))
def test_resolve_run_of_any_argument(scratch: Path, arg: str) -> None:
    found: list[Path] = []
    if _raised(lambda: found.append(resolve_run(arg, scratch)), EvidenceError) is None:
        assert found[0].is_dir()


def test_resolve_run_of_a_name_too_long_or_with_a_nul(tmp_path: Path) -> None:
    for arg in ("a" * 5000, "run\x00x", f"{tmp_path}/{'b' * 300}/c"):
        with pytest.raises(NotARunError):
            resolve_run(arg, tmp_path)


def test_a_folder_that_is_not_a_run_is_a_usage_error(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(b"\xff\xd8")
    for call in (lambda: resolve_run(str(folder), tmp_path), lambda: verify_run(folder),
                 lambda: read_run_info(folder)):
        with pytest.raises(NotARunError, match="is not a run directory") as info:
            call()
        assert isinstance(info.value, ConfigError)  # the CLI's usage error: exit 2
        assert isinstance(info.value, EvidenceError)
    assert cli.main(["verify", str(folder)]) == cli.EXIT_USAGE


def test_latest_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "latest").write_bytes(b"\xff\xfe")
    with pytest.raises(EvidenceError, match="latest"):
        resolve_run("latest", tmp_path)


def test_run_info_faults_name_the_file_and_line(tmp_path: Path) -> None:
    store = _run(tmp_path)
    info = store.path / "run.json"
    info.write_text('{\n  "seed": 1,\n  oops\n}\n', encoding="utf-8")
    with pytest.raises(EvidenceError, match=r"run\.json: line 3, column 3: not valid JSON"):
        read_run_info(store.path)
    info.write_text("[1, 2]\n", encoding="utf-8")
    with pytest.raises(EvidenceError, match="expected a JSON object, got list"):
        read_run_info(store.path)
    info.unlink()
    with pytest.raises(EvidenceError, match="missing"):
        read_run_info(store.path)


def test_verify_survives_deep_json_and_nan_in_the_manifest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _run(tmp_path)
    with (store.path / "evidence.jsonl").open("a", encoding="utf-8") as handle:
        handle.write("[" * 100_000 + "\n")
    assert any("nested too deeply" in p for p in verify_run(store.path).problems)
    manifest = json.loads((store.path / "manifest.json").read_text(encoding="utf-8"))
    manifest["hmac"], manifest["extra"] = "00", float("nan")
    (store.path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    monkeypatch.setenv("HARNESS_EVIDENCE_KEY", "k" * 16)
    assert any("hmac mismatch" in p for p in verify_run(store.path).problems)


def test_verify_reports_an_unreadable_artifact(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    store = _run(tmp_path)

    def unreadable(path: Path) -> str:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(verify_module, "file_sha256", unreadable)
    assert "artifacts/requests/log.txt: unreadable (Permission denied)" in verify_run(
        store.path).problems


# read_entries lives in harness/evidence/store.py, which only the lead edits: these show the two
# crashes left there (see the report); they turn into passes when it is fixed.


def test_read_entries_of_a_deeply_nested_line(tmp_path: Path) -> None:
    store = _run(tmp_path)
    with (store.path / "evidence.jsonl").open("a", encoding="utf-8") as handle:
        handle.write("[" * 100_000 + "\n")
    with pytest.raises(EvidenceError, match="line 4"):
        list(read_entries(store.path))


def test_read_entries_when_the_log_is_a_directory(tmp_path: Path) -> None:
    store = _run(tmp_path)
    (store.path / "evidence.jsonl").unlink()
    (store.path / "evidence.jsonl").mkdir()
    with pytest.raises(EvidenceError, match=r"evidence\.jsonl"):
        list(read_entries(store.path))
