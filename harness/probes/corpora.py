"""Corpora: an organisation's own keyword lists and sample texts, validated, pinned and sampled.

A corpus is a CSV (with a header) or JSONL file; each row has `text`, `category` (a code of the
Ecosystem Provisions taxonomy in `harness/data/categories.yaml`), `expect` (`must_block` or
`must_allow`) and optionally `lang`, `id` and `note`. Organisation corpora stay out of git (see
`fixtures/corpora/README.md`); a run pins each one by the SHA-256 of its bytes, so an assessor can
tell whether the file they hold is the one the run sent.

A corpus is read as a stream, line by line, with bounded memory: a row whose text is longer than
`max_case_chars` (`MAX_CASE_CHARS` by default, the policy's key of that name otherwise) is
refused with its line before anything is sent, and so is a file over `MAX_CORPUS_ROWS` rows or
`MAX_CORPUS_BYTES` bytes.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO, Any

from harness.errors import ConfigError
from harness.readers import load_yaml_file, parse_yaml
from harness.resources import bundled

CATEGORIES_PATH = Path(__file__).parents[1] / "data" / "categories.yaml"
CORPORA_DIR = bundled("fixtures") / "corpora"
MUST_BLOCK, MUST_ALLOW = "must_block", "must_allow"
EXPECTS = (MUST_BLOCK, MUST_ALLOW)
BENIGN = "BENIGN"
FIELDS = ("text", "category", "expect", "lang", "id", "note")
REQUIRED = ("text", "category", "expect")
SUFFIXES = (".csv", ".jsonl")
_LANG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")
_MAX_PROBLEMS_SHOWN = 20
MAX_CASE_CHARS = 4096
"""Longest row text (in characters) a corpus may carry unless the policy says otherwise. Real
posts and comments are far shorter, and every variant, observer read and evidence line repeats
a case, so a longer row is refused when the corpus is loaded."""
MAX_CASE_CHARS_LIMIT = 1_000_000
"""The largest `max_case_chars` a policy may set."""
MAX_CORPUS_ROWS = 100_000
"""Rows a corpus may have: they are all held in memory for sampling."""
MAX_CORPUS_BYTES = 64 << 20
"""Bytes a corpus file may have (64 MiB)."""
_BYTES_PER_CHAR = 12  # the longest JSON form of one character: a surrogate pair of \u escapes
_LINE_OVERHEAD = 64 << 10  # what a line may carry besides its text (the other fields)


@dataclass(frozen=True)
class Category:
    """One category code with a short title (`kind`: illegal, negative or control)."""

    code: str
    title: str
    kind: str


@cache
def categories() -> dict[str, Category]:
    """Category codes in taxonomy order: ECO6.1..ECO6.11, ECO7.1..ECO7.9, BENIGN."""
    raw = parse_yaml(CATEGORIES_PATH.read_text(encoding="utf-8"))
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


def select_corpora(given: Iterable[Path | str], profile: Path | str | None = None, *,
                   max_case_chars: int = MAX_CASE_CHARS) -> list[Corpus]:
    """The corpora a run sends: `given` (from `--corpus`), else the profile's `corpora:` list
    (paths relative to the profile file), else the shipped canary sample. Each is loaded and
    validated, so a bad path or row is a usage error before anything is sent."""
    paths = [Path(p) for p in given]
    if not paths and profile is not None and _is_file(Path(profile)):
        raw, _ = load_yaml_file(Path(profile), "target profile")
        listed = (raw.get("corpora") or []) if isinstance(raw, dict) else []
        if not isinstance(listed, list) or not all(isinstance(p, str) for p in listed):
            raise ConfigError(f"{profile}: corpora must be a list of file paths")
        paths = [Path(profile).parent / p for p in listed]
    loaded = [load_corpus(path, max_case_chars=max_case_chars)
              for path in (paths or [DEFAULT_CORPUS])]
    unique: dict[str, Corpus] = {}
    for corpus in loaded:
        unique.setdefault(corpus.sha256, corpus)
    return list(unique.values())


def organisation_corpora(corpora: Iterable[Corpus]) -> list[Corpus]:
    """The corpora of the organisation among a run's: every one but the shipped canary sample
    (what a run uses when it is given none). With any, they drive every Article 5(4) case;
    without, the canaries do."""
    default = DEFAULT_CORPUS.resolve()
    return [corpus for corpus in corpora if corpus.path.resolve() != default]


def pin(corpus: Corpus) -> dict[str, object]:
    """What `run.json` records of a corpus a run used."""
    return {"name": corpus.name, "path": str(corpus.path.resolve()), "sha256": corpus.sha256,
            "rows": len(corpus.rows)}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, the pin a run records for each corpus (read in chunks)."""
    from harness.evidence.chain import file_sha256 as chunked  # noqa: PLC0415 (no import cycle)

    try:
        return chunked(Path(path))
    except OSError as exc:
        raise ConfigError(f"corpus {path} cannot be read: {exc.strerror or exc}") from None


def load_corpus(path: Path | str, *, max_case_chars: int = MAX_CASE_CHARS) -> Corpus:
    """Read and validate a CSV or JSONL corpus; raise CorpusError listing every problem.

    The file is streamed: a line too long to hold a `max_case_chars` text is refused as soon as
    it is met, without reading the rest of it.
    """
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise ConfigError(f"corpus {path}: expected a .csv or .jsonl file")
    if isinstance(max_case_chars, bool) or not isinstance(max_case_chars, int) \
            or not 1 <= max_case_chars <= MAX_CASE_CHARS_LIMIT:
        raise ConfigError(f"max_case_chars must be a whole number from 1 to "
                          f"{MAX_CASE_CHARS_LIMIT}, not {max_case_chars!r}")
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ConfigError(f"corpus {path} cannot be read: {exc.strerror or exc}") from None
    digest = hashlib.sha256()
    problems: list[Problem] = []
    with handle:
        size = _size(handle)
        if size > MAX_CORPUS_BYTES:
            raise CorpusError([Problem(path, 0, "-", f"the file has {size} bytes, over the "
                                                     f"limit of {MAX_CORPUS_BYTES}; split it")])
        lines = _lines(path, handle, digest, max_case_chars)
        records = _csv_records if path.suffix == ".csv" else _jsonl_records
        rows = _validate(path, records(path, lines, problems), problems, max_case_chars)
    if not rows and not problems:
        problems.append(Problem(path, 0, "-", "the corpus has no rows"))
    if problems:
        raise CorpusError(problems)
    return Corpus(path.stem, path, digest.hexdigest(), tuple(rows))


def _size(handle: IO[bytes]) -> int:
    try:
        return os.fstat(handle.fileno()).st_size
    except OSError:
        return 0


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long, or with a NUL
        return False


def _lines(path: Path, handle: IO[bytes], digest: Any, max_case_chars: int) -> Iterator[str]:
    """The file's lines, decoded, endings kept; every byte read goes into `digest`.

    A line longer than a row with a `max_case_chars` text could be, the file past
    `MAX_CORPUS_BYTES`, or a line that is not UTF-8, stops the reading with a CorpusError.
    """
    limit = max_case_chars * _BYTES_PER_CHAR + _LINE_OVERHEAD
    total = number = 0
    while raw := handle.readline(limit + 1):
        number += 1
        total += len(raw)
        if len(raw) > limit:
            raise CorpusError([Problem(
                path, number, "text", f"the line is longer than {limit} bytes, which no row "
                f"within the limit of {max_case_chars} characters per case needs "
                "(max_case_chars in the policy); refused without reading the rest")])
        if total > MAX_CORPUS_BYTES:
            raise CorpusError([Problem(path, number, "-", f"the file is over the limit of "
                                                          f"{MAX_CORPUS_BYTES} bytes; split it")])
        digest.update(raw)
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CorpusError([Problem(path, number, "-", "the file is not UTF-8")]) from None
        yield line[1:] if number == 1 and line.startswith("\ufeff") else line  # spreadsheet BOM


def _jsonl_records(path: Path, lines: Iterable[str],
                   problems: list[Problem]) -> Iterator[tuple[int, dict[str, object]]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(path, number, "-", f"not valid JSON ({exc.msg})"))
            continue
        except RecursionError:
            problems.append(Problem(path, number, "-", "not valid JSON (nested too deeply)"))
            continue
        if not isinstance(record, dict):
            problems.append(Problem(path, number, "-", "expected a JSON object per line"))
            continue
        yield number, record


def _csv_records(path: Path, lines: Iterable[str],
                 problems: list[Problem]) -> Iterator[tuple[int, dict[str, object]]]:
    reader = csv.DictReader(lines)
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        problems.append(Problem(path, reader.line_num, "-", f"not valid CSV ({exc})"))
        return
    problems.extend(Problem(path, 1, name, "the header lacks this required column")
                    for name in REQUIRED if name not in header)
    problems.extend(Problem(path, 1, name, f"unknown column; the columns are {', '.join(FIELDS)}")
                    for name in header if name not in FIELDS)
    if problems:
        return
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a quoted field over the csv module's size limit
            problems.append(Problem(path, reader.line_num, "-", f"not valid CSV ({exc})"))
            return
        if None in record:
            problems.append(Problem(path, reader.line_num, "-",
                                    f"more values than the {len(header)} header columns"))
            continue
        # Empty cells of optional columns mean "absent", as a missing key does in JSONL.
        yield reader.line_num, {k: v for k, v in record.items() if v not in (None, "")}


def _validate(path: Path, records: Iterable[tuple[int, dict[str, object]]],
              problems: list[Problem], max_case_chars: int = MAX_CASE_CHARS) -> list[Row]:
    known = categories()
    rows: list[Row] = []
    first_line: dict[str, int] = {}
    for line, record in records:
        if len(rows) >= MAX_CORPUS_ROWS:
            problems.append(Problem(path, line, "-", f"more than {MAX_CORPUS_ROWS} rows; "
                                                     "split the corpus"))
            break
        bad = _check(path, line, record, known, max_case_chars)
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
           known: dict[str, Category], max_case_chars: int = MAX_CASE_CHARS) -> list[Problem]:
    """Every problem of one record, each naming its field."""
    problems = [Problem(path, line, key, f"unknown field; the fields are {', '.join(FIELDS)}")
                for key in record if key not in FIELDS]
    for key, value in record.items():
        if key in FIELDS and value is not None and not isinstance(value, str):
            problems.append(Problem(path, line, key, f"must be a string, not {_short(value)}"))
        elif isinstance(value, str) and not _encodable(value):
            problems.append(Problem(path, line, key, "holds a lone surrogate escape (such as "
                                                     "\\ud800), which is not a character"))
    if problems:
        return problems
    text, category, expect = (record.get(key) for key in REQUIRED)
    if not text or not str(text).strip():
        problems.append(Problem(path, line, "text", "missing text"))
    elif len(str(text)) > max_case_chars:
        problems.append(Problem(path, line, "text", f"{len(str(text))} characters, over the "
                                                    f"limit of {max_case_chars} per case "
                                                    "(max_case_chars in the policy)"))
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
        problems.append(Problem(path, line, "expect", f"{BENIGN} rows are benign cases and must "
                                                      f"be {MUST_ALLOW}"))
    lang = record.get("lang")
    if lang is not None and not _LANG.fullmatch(str(lang)):
        problems.append(Problem(path, line, "lang", f"bad language tag {lang!r}; expected a "
                                                    "BCP 47 tag such as zh, en or zh-Hant"))
    if "id" in record and not str(record["id"]).strip():
        problems.append(Problem(path, line, "id", "empty id; omit it to use file:line"))
    return problems


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _short(value: object) -> str:
    """`repr` of a bad value, cut so that a huge one does not flood the message."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


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
