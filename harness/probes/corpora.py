"""Corpora: an organisation's own keyword lists and sample texts, validated, pinned and sampled.

A corpus is a CSV (with a header) or JSONL file; each row has `text`, `category` (a code of the
Ecosystem Provisions taxonomy in `harness/data/categories.yaml`), `expect` (`must_block` or
`must_allow`) and optionally `lang`, `id` and `note`. Organisation corpora stay out of git (see
`fixtures/corpora/README.md`); a run pins each one by the SHA-256 of its bytes, so an assessor can
tell whether the file they hold is the one the run sent.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from harness.errors import ConfigError

CATEGORIES_PATH = Path(__file__).parents[1] / "data" / "categories.yaml"
CORPORA_DIR = Path(__file__).parents[2] / "fixtures" / "corpora"
MUST_BLOCK, MUST_ALLOW = "must_block", "must_allow"
EXPECTS = (MUST_BLOCK, MUST_ALLOW)
BENIGN = "BENIGN"
FIELDS = ("text", "category", "expect", "lang", "id", "note")
REQUIRED = ("text", "category", "expect")
SUFFIXES = (".csv", ".jsonl")
_LANG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")
_MAX_PROBLEMS_SHOWN = 20


@dataclass(frozen=True)
class Category:
    """One category code with a short title (`kind`: illegal, negative or control)."""

    code: str
    title: str
    kind: str


@cache
def categories() -> dict[str, Category]:
    """Category codes in taxonomy order: ECO6.1..ECO6.11, ECO7.1..ECO7.9, BENIGN."""
    raw = yaml.safe_load(CATEGORIES_PATH.read_text(encoding="utf-8"))
    return {c["code"]: Category(c["code"], c["title"], c["kind"]) for c in raw["categories"]}


@dataclass(frozen=True)
class Row:
    """One probe from a corpus; `corpus` and `line` say where it came from."""

    id: str
    text: str
    category: str
    expect: str
    lang: str | None
    note: str | None
    corpus: str
    line: int


@dataclass(frozen=True)
class Problem:
    """One validation failure: file, line (1-based; 0 for the whole file) and field."""

    path: Path
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: field {self.field!r}: {self.message}"


class CorpusError(ConfigError):
    """A corpus file is invalid; `problems` lists every failure found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "\n  ".join(str(p) for p in problems[:_MAX_PROBLEMS_SHOWN])
        more = len(problems) - _MAX_PROBLEMS_SHOWN
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"invalid corpus ({len(problems)} problem(s)); the format is in "
                         f"fixtures/corpora/README.md:\n  {shown}{tail}")


@dataclass(frozen=True)
class Corpus:
    """A loaded corpus: its rows and the SHA-256 of the exact file bytes they came from."""

    name: str
    path: Path
    sha256: str
    rows: tuple[Row, ...]

    @property
    def by_category(self) -> dict[str, int]:
        """Row counts per category, in taxonomy order."""
        counts = Counter(row.category for row in self.rows)
        return {code: counts[code] for code in categories() if counts[code]}

    @property
    def by_expect(self) -> dict[str, int]:
        """Row counts per expectation (both keys always present)."""
        counts = Counter(row.expect for row in self.rows)
        return {expect: counts[expect] for expect in EXPECTS}

    @property
    def counts(self) -> dict[tuple[str, str], int]:
        """Row counts per (category, expect), in taxonomy order."""
        counts = Counter((row.category, row.expect) for row in self.rows)
        return {(c, e): counts[c, e] for c in categories() for e in EXPECTS if counts[c, e]}


DEFAULT_CORPUS = CORPORA_DIR / "canary-sample.jsonl"
OVERBLOCKING_BANK = CORPORA_DIR / "overblocking.jsonl"


def select_corpora(given: Iterable[Path | str], profile: Path | str | None = None) -> list[Corpus]:
    """The corpora a run sends: `given` (from `--corpus`), else the profile's `corpora:` list
    (paths relative to the profile file), else the shipped canary sample. Each is loaded and
    validated, so a bad path or row is a usage error before anything is sent."""
    paths = [Path(p) for p in given]
    if not paths and profile is not None and Path(profile).is_file():
        try:
            raw = yaml.safe_load(Path(profile).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read profile {profile}: {exc}") from None
        listed = (raw.get("corpora") or []) if isinstance(raw, dict) else []
        paths = [Path(profile).parent / str(p) for p in listed]
    loaded = [load_corpus(path) for path in (paths or [DEFAULT_CORPUS])]
    unique: dict[str, Corpus] = {}
    for corpus in loaded:
        unique.setdefault(corpus.sha256, corpus)
    return list(unique.values())


def pin(corpus: Corpus) -> dict[str, object]:
    """What `run.json` records of a corpus a run used."""
    return {"name": corpus.name, "path": str(corpus.path.resolve()), "sha256": corpus.sha256,
            "rows": len(corpus.rows)}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, the pin a run records for each corpus."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_corpus(path: Path | str) -> Corpus:
    """Read and validate a CSV or JSONL corpus; raise CorpusError listing every problem."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise ConfigError(f"corpus {path}: expected a .csv or .jsonl file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"corpus {path} cannot be read: {exc}") from exc
    try:
        text = data.decode("utf-8-sig")  # tolerate the BOM spreadsheet programs write
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CorpusError([Problem(path, line, "-", "the file is not UTF-8")]) from exc
    problems: list[Problem] = []
    records = _csv_records if path.suffix == ".csv" else _jsonl_records
    rows = _validate(path, records(path, text, problems), problems)
    if not rows and not problems:
        problems.append(Problem(path, 0, "-", "the corpus has no rows"))
    if problems:
        raise CorpusError(problems)
    return Corpus(path.stem, path, hashlib.sha256(data).hexdigest(), tuple(rows))


def _jsonl_records(path: Path, text: str,
                   problems: list[Problem]) -> Iterator[tuple[int, dict[str, object]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(path, number, "-", f"not valid JSON ({exc.msg})"))
            continue
        if not isinstance(record, dict):
            problems.append(Problem(path, number, "-", "expected a JSON object per line"))
            continue
        yield number, record


def _csv_records(path: Path, text: str,
                 problems: list[Problem]) -> Iterator[tuple[int, dict[str, object]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    problems.extend(Problem(path, 1, name, "the header lacks this required column")
                    for name in REQUIRED if name not in header)
    problems.extend(Problem(path, 1, name, f"unknown column; the columns are {', '.join(FIELDS)}")
                    for name in header if name not in FIELDS)
    if problems:
        return
    for record in reader:
        if None in record:
            problems.append(Problem(path, reader.line_num, "-",
                                    f"more values than the {len(header)} header columns"))
            continue
        # Empty cells of optional columns mean "absent", as a missing key does in JSONL.
        yield reader.line_num, {k: v for k, v in record.items() if v not in (None, "")}


def _validate(path: Path, records: Iterable[tuple[int, dict[str, object]]],
              problems: list[Problem]) -> list[Row]:
    known = categories()
    rows: list[Row] = []
    first_line: dict[str, int] = {}
    for line, record in records:
        bad = _check(path, line, record, known)
        if bad:
            problems.extend(bad)
            continue
        row_id = str(record.get("id") or f"{path.stem}:{line}")
        if row_id in first_line:
            problems.append(Problem(path, line, "id", f"duplicate id {row_id!r} (first on line "
                                                      f"{first_line[row_id]})"))
            continue
        first_line[row_id] = line
        rows.append(Row(
            id=row_id, text=str(record["text"]), category=str(record["category"]),
            expect=str(record["expect"]), lang=_optional(record, "lang"),
            note=_optional(record, "note"), corpus=path.stem, line=line,
        ))
    return rows


def _optional(record: dict[str, object], key: str) -> str | None:
    value = record.get(key)
    return None if value is None else str(value)


def _check(path: Path, line: int, record: dict[str, object],
           known: dict[str, Category]) -> list[Problem]:
    """Every problem of one record, each naming its field."""
    problems = [Problem(path, line, key, f"unknown field; the fields are {', '.join(FIELDS)}")
                for key in record if key not in FIELDS]
    for key, value in record.items():
        if key in FIELDS and value is not None and not isinstance(value, str):
            problems.append(Problem(path, line, key, f"must be a string, not {value!r}"))
    if problems:
        return problems
    text, category, expect = (record.get(key) for key in REQUIRED)
    if not text or not str(text).strip():
        problems.append(Problem(path, line, "text", "missing text"))
    if category is None:
        problems.append(Problem(path, line, "category", "missing category"))
    elif category not in known:
        problems.append(Problem(path, line, "category",
                                f"unknown category {category!r}; expected one of "
                                "ECO6.1..ECO6.11, ECO7.1..ECO7.9 or BENIGN (see "
                                "harness/data/categories.yaml)"))
    if expect not in EXPECTS:
        problems.append(Problem(path, line, "expect", f"bad expect {expect!r}; expected "
                                                      f"{MUST_BLOCK} or {MUST_ALLOW}"))
    elif category == BENIGN and expect != MUST_ALLOW:
        problems.append(Problem(path, line, "expect", f"{BENIGN} rows are controls and must "
                                                      f"be {MUST_ALLOW}"))
    lang = record.get("lang")
    if lang is not None and not _LANG.fullmatch(str(lang)):
        problems.append(Problem(path, line, "lang", f"bad language tag {lang!r}; expected a "
                                                    "BCP 47 tag such as zh, en or zh-Hant"))
    if "id" in record and not str(record["id"]).strip():
        problems.append(Problem(path, line, "id", "empty id; omit it to use file:line"))
    return problems


def _rank(seed: int, key: str) -> bytes:
    return hashlib.sha256(f"{seed}:{key}".encode()).digest()


def sample(corpus: Corpus, n: int, seed: int, expect: str | None = None) -> list[Row]:
    """`n` rows (all of them if there are fewer), stratified by (category, expect), in file order.

    Each stratum gets a share proportional to its size and at least one row while `n` allows;
    within a stratum, rows are ranked by a hash of the seed and their id, so the choice depends
    only on the seed and the pinned file, never on a global random generator.
    """
    if n < 0:
        raise ConfigError(f"sample size must be >= 0, got {n}")
    if expect is not None and expect not in EXPECTS:
        raise ConfigError(f"expect must be {MUST_BLOCK} or {MUST_ALLOW}, got {expect!r}")
    pool = [row for row in corpus.rows if expect is None or row.expect == expect]
    if n >= len(pool):
        return pool
    strata: dict[tuple[str, str], list[Row]] = {}
    for row in pool:
        strata.setdefault((row.category, row.expect), []).append(row)
    quotas = _allocate(n, {key: len(rows) for key, rows in strata.items()}, seed)
    chosen = [row for key, rows in strata.items()
              for row in sorted(rows, key=lambda r: _rank(seed, r.id))[: quotas[key]]]
    return sorted(chosen, key=lambda row: row.line)


def _allocate(n: int, sizes: dict[tuple[str, str], int], seed: int) -> dict[tuple[str, str], int]:
    """Split `n` (< total) over strata: one each first, the rest by largest remainder."""
    keys = sorted(sizes)
    if n < len(keys):
        picked = sorted(keys, key=lambda key: _rank(seed, "/".join(key)))[:n]
        return {key: int(key in picked) for key in keys}
    spare = {key: sizes[key] - 1 for key in keys}
    rest, room = n - len(keys), sum(spare.values())
    exact = {key: rest * spare[key] / room if room else 0.0 for key in keys}
    quotas = {key: 1 + int(exact[key]) for key in keys}
    leftover = n - sum(quotas.values())
    for key in sorted(keys, key=lambda k: (-(exact[k] - int(exact[k])), k))[:leftover]:
        quotas[key] += 1
    return quotas


@dataclass(frozen=True)
class CorpusInfo:
    """What `harness corpus list` shows for one file: its pin and size, or why it is invalid."""

    name: str
    path: Path
    sha256: str
    rows: int
    by_expect: dict[str, int]
    error: str | None = None

    def summary(self) -> str:
        """One line for a listing."""
        if self.error is not None:
            return f"{self.name}  INVALID  {self.path}: {self.error.splitlines()[0]}"
        return (f"{self.name}  {self.rows} rows ({_per_expect(self.by_expect)})  "
                f"sha256 {self.sha256[:16]}  {self.path}")


def _per_expect(counts: dict[str, int]) -> str:
    return ", ".join(f"{expect} {count}" for expect, count in counts.items())


def list_corpora(dirs: Iterable[Path | str] = (CORPORA_DIR,)) -> list[CorpusInfo]:
    """Every .csv and .jsonl corpus in `dirs` (not recursive), invalid ones included."""
    infos = []
    for directory in map(Path, dirs):
        if not directory.is_dir():
            raise ConfigError(f"corpus directory {directory} does not exist")
        for path in sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES):
            try:
                corpus = load_corpus(path)
            except ConfigError as exc:
                infos.append(CorpusInfo(path.stem, path, file_sha256(path), 0, {}, str(exc)))
                continue
            infos.append(CorpusInfo(corpus.name, path, corpus.sha256, len(corpus.rows),
                                    corpus.by_expect))
    return infos


def show_corpus(path: Path | str) -> list[str]:
    """Lines describing a corpus: its pin, and rows per category and expectation."""
    corpus = load_corpus(path)
    known, counts = categories(), corpus.counts
    lines = [
        f"corpus  {corpus.name}",
        f"path    {corpus.path}",
        f"sha256  {corpus.sha256}",
        f"rows    {len(corpus.rows)} ({_per_expect(corpus.by_expect)})",
        "",
        f"{'category':<9} {MUST_BLOCK:>10} {MUST_ALLOW:>10}  title",
    ]
    for code in corpus.by_category:
        block, allow = (counts.get((code, expect), 0) for expect in EXPECTS)
        lines.append(f"{code:<9} {block:>10} {allow:>10}  {known[code].title}")
    return lines


def sample_corpus(path: Path | str, n: int, seed: int, expect: str | None = None) -> list[str]:
    """The rows `sample` picks, one JSON object per line (what a run would send)."""
    return [json.dumps({"id": row.id, "category": row.category, "expect": row.expect,
                        "lang": row.lang, "text": row.text, "note": row.note},
                       ensure_ascii=False)
            for row in sample(load_corpus(path), n, seed, expect)]
