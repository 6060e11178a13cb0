"""Offline verification of a run directory: the hash chain, the manifest, every file.

An assessor runs this on a copied run to prove that nothing was altered, removed, reordered,
inserted or added after the run. The first problem is named precisely (file, line, what broke).
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import EvidenceError, NotARunError

from .chain import (
    EVIDENCE_FILE,
    EVIDENCE_KEY_ENV,
    GENESIS_HASH,
    LATEST_NAME,
    MANIFEST_FILE,
    MANIFEST_VERSION,
    RUN_INFO_FILE,
    canonical_json,
    entry_hash,
    evidence_key,
    file_sha256,
    list_run_files,
    manifest_hmac,
    read_latest,
    validate_run_id,
)

MAX_LINE_PROBLEMS = 20
"""Line problems listed one by one before the rest are summarised in a single entry."""


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of `verify_run`: ok only when `problems` is empty; warnings never fail a run."""

    ok: bool
    problems: tuple[str, ...]
    warnings: tuple[str, ...]
    lines: int


@dataclass(frozen=True)
class ChainTail:
    """Where an intact chain ends, so a reopened store can continue it."""

    lines: int
    last_hash: str | None
    size: int


def verify_run(run_dir: Path) -> VerifyResult:
    """Verify a run: each evidence line, then the manifest and its HMAC, then every file.

    Checks, in order: every line is canonical JSON whose `hash` matches its content, whose
    `prev` is the previous line's hash and whose `seq` follows; the manifest exists, is well
    formed and (with `HARNESS_EVIDENCE_KEY` set) authentic; its `chain_head` and `lines` match
    the log; every listed file exists with its SHA-256; no unlisted file exists.
    """
    return verify_with_tail(run_dir)[0]


def verify_with_tail(run_dir: Path) -> tuple[VerifyResult, ChainTail]:
    """`verify_run` plus where the chain ends (used by `RunStore.open`).

    Raises NotARunError when `run_dir` is not a directory holding any run file: that is a wrong
    argument, not a run that fails verification.
    """
    run_dir = _require_run(Path(run_dir))
    problems: list[str] = []
    warnings: list[str] = []
    tail = check_chain(run_dir / EVIDENCE_FILE, problems)
    manifest = _load_manifest(run_dir / MANIFEST_FILE, problems, warnings)
    if manifest is not None:
        if tail is not None:
            _check_head(manifest, tail, problems)
        _check_files(run_dir, manifest["files"], problems, evidence_missing=tail is None)
    if tail is None:
        tail = ChainTail(0, None, 0)
    result = VerifyResult(not problems, tuple(problems), tuple(warnings), tail.lines)
    return result, tail


def resolve_run(arg: str, reports_dir: Path) -> Path:
    """Find a run from a CLI argument: a run directory path, a run id under `reports_dir`, or
    "latest". Raises EvidenceError saying what was tried when nothing matches.
    """
    reports_dir = Path(reports_dir)
    if arg == LATEST_NAME:
        try:
            run_id = read_latest(reports_dir)
        except (OSError, UnicodeDecodeError) as exc:
            raise EvidenceError(f"{reports_dir / LATEST_NAME} is unreadable: {exc}") from None
        if run_id is None:
            raise EvidenceError(
                f"no latest run: {reports_dir / LATEST_NAME} does not exist; finish a run "
                "first or pass a run id or directory"
            )
        try:
            validate_run_id(run_id)
        except EvidenceError as exc:
            raise EvidenceError(f"{reports_dir / LATEST_NAME} is corrupt: {exc}") from exc
        candidate = reports_dir / run_id
        if not _is_dir(candidate):
            raise EvidenceError(
                f"{reports_dir / LATEST_NAME} names run {run_id!r} but {candidate} does not exist"
            )
        return _require_run(candidate)
    as_path = Path(arg)
    if arg and _is_dir(as_path):
        return _require_run(as_path)
    candidate = reports_dir / arg
    if arg and as_path.name == arg and _is_dir(candidate):
        return _require_run(candidate)
    raise NotARunError(
        f"run {arg!r} not found: it is not a directory and {candidate} does not exist; pass a "
        f"run directory, a run id under {reports_dir}, or {LATEST_NAME!r}"
    )


def read_run_info(run_dir: Path) -> dict[str, Any]:
    """The `run.json` of a run as a mapping; EvidenceError naming the file when it is missing,
    unreadable, not JSON or not an object (NotARunError when `run_dir` is not a run at all)."""
    path = _require_run(Path(run_dir)) / RUN_INFO_FILE
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise EvidenceError(f"{path}: missing; the run never wrote its metadata") from None
    except OSError as exc:
        raise EvidenceError(f"{path}: unreadable ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise EvidenceError(f"{path}: not UTF-8 (byte offset {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise EvidenceError(f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON "
                            f"({exc.msg})") from None
    except RecursionError:
        raise EvidenceError(f"{path}: not valid JSON (nested too deeply)") from None
    if not isinstance(value, dict):
        raise EvidenceError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):  # a name too long, or with a NUL
        return False


def _require_run(path: Path) -> Path:
    """`path` if it is a directory holding a run file, else NotARunError."""
    if not _is_dir(path):
        raise NotARunError(f"{path} is not a run directory: it is not a directory")
    if not any(_exists(path / name) for name in (EVIDENCE_FILE, MANIFEST_FILE, RUN_INFO_FILE)):
        raise NotARunError(
            f"{path} is not a run directory: it has no {EVIDENCE_FILE}, {MANIFEST_FILE} "
            f"or {RUN_INFO_FILE}"
        )
    return path


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def check_chain(path: Path, problems: list[str]) -> ChainTail | None:
    """Check every line of an evidence log, appending problems; where the chain ends."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        problems.append(f"{EVIDENCE_FILE}: missing")
        return None
    except OSError as exc:
        problems.append(f"{EVIDENCE_FILE}: unreadable ({exc})")
        return None
    # prev_hash/prev_seq are None after an unreadable line: the next line cannot be judged.
    prev_hash: str | None = GENESIS_HASH
    prev_seq: int | None = -1
    count = size = reported = 0
    with handle:
        for number, raw in enumerate(handle, start=1):
            count, size = number, size + len(raw)
            entry, problem = _check_line(raw, number, prev_hash, prev_seq)
            if problem is not None:
                reported += 1
                if reported <= MAX_LINE_PROBLEMS:
                    problems.append(f"{EVIDENCE_FILE} line {number}: {problem}")
            recorded = entry.get("hash") if entry is not None else None
            prev_hash = recorded if isinstance(recorded, str) else None
            seq = entry.get("seq") if entry is not None else None
            prev_seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
    if reported > MAX_LINE_PROBLEMS:
        problems.append(f"{EVIDENCE_FILE}: {reported - MAX_LINE_PROBLEMS} more lines with problems")
    return ChainTail(count, prev_hash, size)


def _check_line(
    raw: bytes, number: int, prev_hash: str | None, prev_seq: int | None
) -> tuple[dict[str, Any] | None, str | None]:
    """Parse one line and return it with its first problem, checked in order of precision."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not valid UTF-8"
    body = text[:-1] if text.endswith("\n") else text
    try:
        entry = json.loads(body)
    except ValueError:
        return None, "not valid JSON"
    except RecursionError:
        return None, "not valid JSON (nested too deeply)"
    if not isinstance(entry, dict):
        return None, "not a JSON object"
    recorded = entry.get("hash")
    if not isinstance(recorded, str):
        return entry, "no hash field"
    try:
        canonical = canonical_json(entry)
        actual = entry_hash(entry)
    except ValueError:
        return entry, "not valid JSON (NaN or Infinity)"
    except RecursionError:
        return entry, "not valid JSON (nested too deeply)"
    except UnicodeEncodeError:
        return entry, "not valid UTF-8 (a lone surrogate escape)"
    if actual != recorded:
        return entry, "hash mismatch (line altered)"
    if canonical != body:
        return entry, "not in canonical form (line altered)"
    if not text.endswith("\n"):
        return entry, "no trailing newline (incomplete write)"
    problem = _check_link(entry, number, prev_hash, prev_seq)
    if problem is None and not isinstance(entry.get("entry_type"), str):
        problem = "no entry_type"
    return entry, problem


def _check_link(
    entry: dict[str, Any], number: int, prev_hash: str | None, prev_seq: int | None
) -> str | None:
    if prev_hash is not None and entry.get("prev") != prev_hash:
        if number == 1:
            return "prev is not the chain start (lines removed from the start)"
        return f"prev does not match line {number - 1} (line removed or reordered)"
    seq = entry.get("seq")
    if prev_seq is not None and seq != prev_seq + 1:
        return f"seq is {seq!r}, expected {prev_seq + 1} (line removed, inserted or reordered)"
    return None


def _load_manifest(path: Path, problems: list[str], warnings: list[str]) -> dict[str, Any] | None:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{MANIFEST_FILE}: missing (run never finalized, or manifest deleted)")
        return None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        problems.append(f"{MANIFEST_FILE}: not valid JSON ({exc})")
        return None
    except RecursionError:
        problems.append(f"{MANIFEST_FILE}: not valid JSON (nested too deeply)")
        return None
    malformed = _manifest_shape_problem(manifest)
    if malformed is not None:
        problems.append(f"{MANIFEST_FILE}: {malformed}")
        return None
    key = evidence_key()
    recorded = manifest.get("hmac")
    if recorded is not None:
        if key is None:
            warnings.append(
                f"manifest hmac present but {EVIDENCE_KEY_ENV} not set; cannot authenticate"
            )
        elif not isinstance(recorded, str) or not hmac.compare_digest(
            recorded.encode("utf-8", "surrogatepass"), _expected_hmac(manifest, key)
        ):
            problems.append(
                f"{MANIFEST_FILE}: hmac mismatch (manifest altered, or wrong {EVIDENCE_KEY_ENV})"
            )
    elif key is not None:
        problems.append(
            f"{MANIFEST_FILE}: no hmac although {EVIDENCE_KEY_ENV} is set (manifest "
            "unauthenticated: sealed without a key, or hmac stripped)"
        )
    return manifest


def _expected_hmac(manifest: dict[str, Any], key: str) -> bytes:
    """The manifest's HMAC as bytes; empty (never equal) for a manifest the writer could not
    have produced (NaN, a lone surrogate)."""
    try:
        return manifest_hmac(manifest, key).encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        return b""


def _manifest_shape_problem(manifest: Any) -> str | None:
    if not isinstance(manifest, dict):
        return "malformed (expected a JSON object)"
    if manifest.get("version") != MANIFEST_VERSION:
        return f"unsupported version {manifest.get('version')!r}, expected {MANIFEST_VERSION}"
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(name, str) and isinstance(digest, str) for name, digest in files.items()
    ):
        return "malformed ('files' must map paths to sha256 strings)"
    if not isinstance(manifest.get("chain_head"), str):
        return "malformed ('chain_head' must be a string)"
    lines = manifest.get("lines")
    if not isinstance(lines, int) or isinstance(lines, bool):
        return "malformed ('lines' must be an integer)"
    return None


def _check_head(manifest: dict[str, Any], tail: ChainTail, problems: list[str]) -> None:
    if tail.last_hash is not None and manifest["chain_head"] != tail.last_hash:
        problems.append(
            f"{MANIFEST_FILE}: chain_head does not match the last line "
            "(lines truncated or appended)"
        )
    if manifest["lines"] != tail.lines:
        problems.append(
            f"{MANIFEST_FILE}: line count {manifest['lines']} does not match "
            f"{EVIDENCE_FILE} ({tail.lines} lines)"
        )


def _check_files(
    run_dir: Path, listed: dict[str, str], problems: list[str], *, evidence_missing: bool
) -> None:
    # Only files found by walking the run are hashed, so manifest paths cannot point outside.
    on_disk = list_run_files(run_dir)
    for relpath, digest in sorted(listed.items()):
        path = on_disk.get(relpath)
        if path is None:
            if not (relpath == EVIDENCE_FILE and evidence_missing):
                problems.append(f"{relpath}: missing (listed in manifest)")
        else:
            try:
                actual = file_sha256(path)
            except OSError as exc:
                problems.append(f"{relpath}: unreadable ({exc.strerror or exc})")
                continue
            if actual != digest:
                problems.append(f"{relpath}: sha256 mismatch (file altered)")
    for relpath in on_disk:
        if relpath not in listed:
            problems.append(f"{relpath}: not in manifest (file added)")
