"""Corpora: loading CSV and JSONL, validation errors that name file, line and field, SHA-256
pinning, stratified deterministic sampling, and the shipped corpora."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.probes.canaries import lexicon
from harness.probes.corpora import (
    CORPORA_DIR,
    Corpus,
    CorpusError,
    Row,
    categories,
    list_corpora,
    load_corpus,
    sample,
    sample_corpus,
    show_corpus,
)

CANARY_SAMPLE = CORPORA_DIR / "canary-sample.jsonl"
OVERBLOCKING = CORPORA_DIR / "overblocking.jsonl"
Write = Callable[..., Path]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """Write a corpus file into tmp_path: JSONL from dicts, or any text as given."""

    def write(content: str | list[dict[str, object]], name: str = "org.jsonl") -> Path:
        path = tmp_path / name
        if isinstance(content, list):
            content = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in content)
        path.write_text(content, encoding="utf-8")
        return path

    return write


def _row(**fields: object) -> dict[str, object]:
    return {"text": "审核金丝雀甲", "category": "ECO6.5", "expect": "must_block", **fields}


# --- the taxonomy ----------------------------------------------------------------------------


def test_categories_are_the_ecosystem_provisions_items_and_benign() -> None:
    codes = list(categories())
    assert codes == ([f"ECO6.{i}" for i in range(1, 12)] + [f"ECO7.{i}" for i in range(1, 10)]
                     + ["BENIGN"])
    assert all(c.title and "\n" not in c.title for c in categories().values())


def test_every_canary_category_is_in_the_taxonomy() -> None:
    assert {c.category for c in lexicon().values()} <= set(categories())


# --- loading ---------------------------------------------------------------------------------


def test_a_jsonl_corpus_loads_with_defaults(write: Write) -> None:
    path = write([_row(id="a1", lang="zh", note="n"), _row(category="ECO7.4")])
    corpus = load_corpus(path)
    assert corpus.name == "org"
    first, second = corpus.rows
    assert first == Row("a1", "审核金丝雀甲", "ECO6.5", "must_block", "zh", "n", "org", 1)
    assert second.id == "org:2"
    assert second.lang is None
    assert second.note is None
    assert corpus.by_category == {"ECO6.5": 1, "ECO7.4": 1}
    assert corpus.by_expect == {"must_block": 2, "must_allow": 0}
    assert corpus.counts == {("ECO6.5", "must_block"): 1, ("ECO7.4", "must_block"): 1}


def test_a_csv_corpus_loads_with_quoting_bom_and_empty_optional_cells(write: Write) -> None:
    text = ("\ufeffid,text,category,expect,lang,note\n"
            'k1,"Canary Wharf, London",BENIGN,must_allow,en,place name\n'
            "k2,审核金丝雀乙,ECO7.4,must_block,,\n")
    corpus = load_corpus(write(text, "org.csv"))
    assert [r.text for r in corpus.rows] == ["Canary Wharf, London", "审核金丝雀乙"]
    assert corpus.rows[1].lang is None
    assert corpus.rows[1].line == 3


def test_blank_jsonl_lines_are_skipped_and_lines_still_count(write: Write) -> None:
    path = write("\n" + json.dumps(_row()) + "\n\n" + json.dumps(_row(id="x")) + "\n")
    assert [r.line for r in load_corpus(path).rows] == [2, 4]


# --- validation ------------------------------------------------------------------------------


INVALID_ROWS = [
    (_row(category="ECO8.1"), "category", "unknown category 'ECO8.1'"),
    (_row(category=None), "category", "missing category"),
    (_row(expect="block"), "expect", "bad expect 'block'"),
    (_row(text="  "), "text", "missing text"),
    ({"category": "ECO6.5", "expect": "must_block"}, "text", "missing text"),
    (_row(lang="Chinese"), "lang", "bad language tag"),
    (_row(category="BENIGN"), "expect", "must be must_allow"),
    (_row(expected="must_block"), "expected", "unknown field"),
    (_row(text=5), "text", "must be a string"),
    (_row(id=""), "id", "empty id"),
]


@pytest.mark.parametrize(("bad", "field", "message"), INVALID_ROWS)
def test_jsonl_validation_names_file_line_and_field(
    write: Write, bad: dict[str, object], field: str, message: str
) -> None:
    path = write([_row(id="ok"), bad])
    with pytest.raises(CorpusError) as caught:
        load_corpus(path)
    (problem,) = caught.value.problems
    assert (problem.path, problem.line, problem.field) == (path, 2, field)
    assert message in problem.message
    assert f"{path}:2: field {field!r}: " in str(caught.value)


@pytest.mark.parametrize(("line", "field", "message"), [
    ("x,,ECO6.5,must_block", "text", "missing text"),
    ("x,t,ECO9.9,must_block", "category", "unknown category"),
    ("x,t,ECO6.5,must_show", "expect", "bad expect"),
    ("a1,t,ECO6.5,must_block", "id", "duplicate id 'a1' (first on line 2)"),
    ("x,t,ECO6.5,must_block,extra", "-", "more values than"),
])
def test_csv_validation_names_file_line_and_field(
    write: Write, line: str, field: str, message: str
) -> None:
    path = write(f"id,text,category,expect\na1,t,ECO6.5,must_block\n{line}\n", "org.csv")
    with pytest.raises(CorpusError) as caught:
        load_corpus(path)
    (problem,) = caught.value.problems
    assert (problem.path, problem.line, problem.field) == (path, 3, field)
    assert message in problem.message


@pytest.mark.parametrize(("header", "field", "message"), [
    ("id,text,expect", "category", "lacks this required column"),
    ("text,category,expect,severity", "severity", "unknown column"),
])
def test_csv_header_problems_are_on_line_one(
    write: Write, header: str, field: str, message: str
) -> None:
    path = write(f"{header}\n", "org.csv")
    with pytest.raises(CorpusError) as caught:
        load_corpus(path)
    assert [(p.line, p.field) for p in caught.value.problems] == [(1, field)]
    assert message in caught.value.problems[0].message


def test_duplicate_ids_name_both_lines(write: Write) -> None:
    path = write([_row(id="k"), _row(id="j"), _row(id="k")])
    with pytest.raises(CorpusError, match=re.escape(f"{path}:3: field 'id': duplicate id 'k' "
                                                    "(first on line 1)")):
        load_corpus(path)


def test_every_problem_is_reported_at_once(write: Write) -> None:
    path = write([_row(category="X"), _row(expect="y"), _row(), _row(text="")])
    with pytest.raises(CorpusError) as caught:
        load_corpus(path)
    assert [(p.line, p.field) for p in caught.value.problems] == [
        (1, "category"), (2, "expect"), (4, "text")]


@pytest.mark.parametrize(("content", "line", "message"), [
    ('{"text": "a", \n', 1, "not valid JSON"),
    ('["a", "ECO6.5", "must_block"]\n', 1, "JSON object"),
    ("", 0, "no rows"),
])
def test_malformed_jsonl_is_refused(write: Write, content: str, line: int, message: str) -> None:
    with pytest.raises(CorpusError) as caught:
        load_corpus(write(content))
    assert caught.value.problems[0].line == line
    assert message in caught.value.problems[0].message


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "org.jsonl"
    path.write_bytes(json.dumps(_row()).encode() + b"\n" + "审核".encode("gbk") + b"\n")
    with pytest.raises(CorpusError, match=r"org\.jsonl:2: .*not UTF-8"):
        load_corpus(path)


def test_unknown_suffix_and_missing_file_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.csv or \.jsonl"):
        load_corpus(tmp_path / "org.xlsx")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_corpus(tmp_path / "absent.jsonl")


# --- pinning ---------------------------------------------------------------------------------


def test_a_corpus_is_pinned_by_the_sha256_of_its_bytes(write: Write) -> None:
    path = write([_row(id="a"), _row(id="b")])
    pinned = load_corpus(path).sha256
    assert pinned == hashlib.sha256(path.read_bytes()).hexdigest()
    assert load_corpus(path).sha256 == pinned
    path.write_bytes(path.read_bytes().replace(b'"id": "b"', b'"id":  "b"'))
    assert load_corpus(path).rows == load_corpus(path).rows
    assert load_corpus(path).sha256 != pinned, "any byte change changes the pin"


# --- sampling --------------------------------------------------------------------------------


def _big(write: Write) -> Corpus:
    sizes = {("ECO6.5", "must_block"): 60, ("ECO7.4", "must_block"): 30,
             ("ECO6.9", "must_block"): 9, ("ECO6.8", "must_block"): 1, ("BENIGN", "must_allow"): 50}
    rows = [_row(id=f"{cat}-{expect}-{i}", category=cat, expect=expect, text=f"t{i}")
            for (cat, expect), n in sizes.items() for i in range(n)]
    return load_corpus(write(rows))


def test_sampling_is_deterministic_and_seeded(write: Write) -> None:
    corpus = _big(write)
    assert sample(corpus, 20, seed=1) == sample(corpus, 20, seed=1)
    assert sample(corpus, 20, seed=1) != sample(corpus, 20, seed=2)


def test_sampling_is_stratified_by_category_and_expectation(write: Write) -> None:
    corpus = _big(write)
    picked = sample(corpus, 30, seed=5)
    assert len(picked) == len({r.id for r in picked}) == 30
    got = Counter((r.category, r.expect) for r in picked)
    assert set(got) == set(corpus.counts), "every stratum is represented"
    for key, size in corpus.counts.items():
        share = 1 + 25 * (size - 1) / (150 - 5)  # one each, the rest in proportion
        assert abs(got[key] - share) < 1, (key, got[key], share)
    assert [r.line for r in picked] == sorted(r.line for r in picked), "file order"


def test_sampling_filters_by_expectation(write: Write) -> None:
    corpus = _big(write)
    assert {r.expect for r in sample(corpus, 10, seed=3, expect="must_allow")} == {"must_allow"}
    assert len(sample(corpus, 10, seed=3, expect="must_block")) == 10


def test_small_samples_take_distinct_strata_and_large_ones_everything(write: Write) -> None:
    corpus = _big(write)
    few = sample(corpus, 3, seed=9)
    assert len({(r.category, r.expect) for r in few}) == 3
    assert sample(corpus, 1000, seed=9) == list(corpus.rows)
    assert sample(corpus, 0, seed=9) == []


def test_bad_sample_arguments_are_refused(write: Write) -> None:
    corpus = _big(write)
    with pytest.raises(ConfigError, match=">= 0"):
        sample(corpus, -1, seed=1)
    with pytest.raises(ConfigError, match="must_block or must_allow"):
        sample(corpus, 5, seed=1, expect="block")


# --- listing, showing, sampling for the CLI --------------------------------------------------


def test_list_corpora_shows_valid_and_invalid_files(write: Write, tmp_path: Path) -> None:
    write([_row()], "good.jsonl")
    write("text,category,expect\nt,NOPE,must_block\n", "bad.csv")
    write("ignored", "notes.txt")
    infos = {info.name: info for info in list_corpora([tmp_path])}
    assert set(infos) == {"good", "bad"}
    assert infos["good"].error is None
    assert infos["good"].rows == 1
    assert infos["good"].sha256 in (hashlib.sha256((tmp_path / "good.jsonl").read_bytes())
                                    .hexdigest(),)
    assert infos["bad"].error is not None
    assert "unknown category" in infos["bad"].error
    assert "INVALID" in infos["bad"].summary()
    assert "1 rows" in infos["good"].summary()
    with pytest.raises(ConfigError, match="does not exist"):
        list_corpora([tmp_path / "absent"])


def test_show_and_sample_corpus_return_lines() -> None:
    shown = show_corpus(CANARY_SAMPLE)
    assert any(load_corpus(CANARY_SAMPLE).sha256 in line for line in shown)
    assert any(line.startswith("ECO6.5") for line in shown)
    lines = sample_corpus(CANARY_SAMPLE, 5, seed=4, expect="must_block")
    assert len(lines) == 5
    assert all(json.loads(line)["expect"] == "must_block" for line in lines)


# --- the shipped corpora -------------------------------------------------------------------


def test_the_shipped_corpora_are_listed_and_valid() -> None:
    infos = {info.name: info for info in list_corpora()}
    assert {"canary-sample", "overblocking"} <= set(infos)
    assert all(info.error is None for info in infos.values())


def test_the_canary_sample_uses_only_canary_terms() -> None:
    corpus = load_corpus(CANARY_SAMPLE)
    terms = {c.text: c.category for c in lexicon().values()}
    blocked = [r for r in corpus.rows if r.expect == "must_block"]
    assert blocked
    assert len(blocked) < len(corpus.rows)
    for row in blocked:
        found = [term for term in terms if term in row.text]
        assert len(found) == 1, row.id
        assert terms[found[0]] == row.category, row.id
    for row in corpus.rows:
        if row.expect == "must_allow":
            assert row.category == "BENIGN"
            assert not any(term in row.text for term in terms)
    assert {t for t in terms if any(t in r.text for r in blocked)} == set(terms)


def _normalised(text: str) -> str:
    """What a thorough filter compares: NFKC, case folded, simplified, letters and digits only."""
    from opencc import OpenCC

    folded = OpenCC("t2s").convert(unicodedata.normalize("NFKC", text)).casefold()
    return re.sub(r"[\W_]+", "", folded)


def test_the_overblocking_bank_is_benign_and_never_carries_a_canary() -> None:
    corpus = load_corpus(OVERBLOCKING)
    assert len(corpus.rows) >= 60
    assert {(r.category, r.expect) for r in corpus.rows} == {("BENIGN", "must_allow")}
    assert all(r.note and r.lang in ("zh", "en") for r in corpus.rows)
    canaries = [_normalised(c.text) for c in lexicon().values()]
    for row in corpus.rows:
        assert not any(c in _normalised(row.text) for c in canaries), row.id


def test_the_overblocking_bank_covers_each_kind_of_risky_look() -> None:
    notes = " ".join(r.note or "" for r in load_corpus(OVERBLOCKING).rows)
    for kind in ("personal name", "place name", "审核", "金丝雀", "甲", "rule", "news"):
        assert kind in notes, kind


def test_organisation_corpora_stay_out_of_git() -> None:
    ignore = (CORPORA_DIR / ".gitignore").read_text(encoding="utf-8").split()
    assert ignore[ignore.index("*"):] == ["*", "!.gitignore", "!README.md", "!SOURCES.md",
                                          "!canary-sample.jsonl", "!overblocking.jsonl"]
    sources = (CORPORA_DIR / "SOURCES.md").read_text(encoding="utf-8")
    for shipped in ("canary-sample.jsonl", "overblocking.jsonl", "confusables.tsv",
                    "common_hanzi.txt", "decompositions.tsv", "categories.yaml"):
        assert shipped in sources
