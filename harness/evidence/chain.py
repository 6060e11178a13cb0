"""Canonical JSON, hashing and run-directory layout shared by the store and the verifier.

Writer and verifier must agree byte for byte on what is hashed, so these rules live in one place.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

from harness.errors import EvidenceError

EVIDENCE_FILE = "evidence.jsonl"
RUN_INFO_FILE = "run.json"
MANIFEST_FILE = "manifest.json"
SIGNATURE_FILE = "manifest.sig"  # a detached signature over the manifest (evidence/sign.py)
ARTIFACTS_DIR = "artifacts"
LATEST_NAME = "latest"
MANIFEST_VERSION = 1
GENESIS_HASH = "0" * 64
"""The `prev` of the first line, and the `chain_head` of a run with no lines."""
EVIDENCE_KEY_ENV = "HARNESS_EVIDENCE_KEY"
RESERVED_FIELDS = frozenset({"seq", "prev", "hash"})
"""Entry fields only the store may set."""

_CHUNK = 1 << 20
_RUN_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def canonical_json(obj: Any) -> str:
    """Serialise `obj` the one way that is hashed: sorted keys, no spaces, UTF-8 text kept."""
    return json.dumps(
        obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def pretty_json(obj: Any) -> str:
    """Serialise `obj` for human readers (run.json, manifest.json): indented, sorted, UTF-8."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def entry_hash(entry: Mapping[str, Any]) -> str:
    """Hash of one evidence line: SHA-256 of the canonical JSON of the entry without `hash`."""
    body = {key: value for key, value in entry.items() if key != "hash"}
    return sha256_hex(canonical_json(body).encode("utf-8"))


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks so large videos do not fill memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def evidence_key() -> str | None:
    """The manifest HMAC key from `HARNESS_EVIDENCE_KEY`, or None when unset or empty."""
    return os.environ.get(EVIDENCE_KEY_ENV) or None


def manifest_hmac(manifest: Mapping[str, Any], key: str) -> str:
    """HMAC-SHA256 over the canonical JSON of the manifest without its `hmac` field."""
    body = {name: value for name, value in manifest.items() if name != "hmac"}
    message = canonical_json(body).encode("utf-8")
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def utc_now_iso() -> str:
    """Current time as ISO 8601 UTC with a `Z` suffix and microseconds."""
    now = dt.datetime.now(dt.timezone.utc)
    return now.isoformat(timespec="microseconds").replace("+00:00", "Z")


def list_run_files(run_dir: Path) -> dict[str, Path]:
    """Every regular file under `run_dir` except the manifest and its signature, keyed by
    forward-slash relpath.

    Symbolic links to directories are not followed, so a run cannot pull in outside trees.
    """
    found: dict[str, Path] = {}
    for root, dirs, files in os.walk(run_dir, followlinks=False):
        dirs.sort()
        for name in files:
            path = Path(root, name)
            relpath = path.relative_to(run_dir).as_posix()
            if relpath not in (MANIFEST_FILE, SIGNATURE_FILE) and path.is_file():
                found[relpath] = path
    return dict(sorted(found.items()))


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary sibling and `os.replace`, fsyncing both.

    A crash leaves either the old file or the new one, never a torn manifest or report.
    """
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
    replaced = False
    try:
        with tmp.open("xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        replaced = True
    finally:  # whatever stopped the write (a signal included), no temporary file is left
        if not replaced:
            tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable where the platform allows it (POSIX)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def to_json_value(obj: Any, what: str = "entry") -> Any:
    """Convert `obj` to plain JSON data (dict/list/str/int/float/bool/None) or raise.

    Datetimes, paths, enums, sets and dataclasses are converted; bytes and other objects are
    refused so that what is hashed is exactly what is read back. Lone surrogates, which UTF-8
    cannot carry, are kept visible as backslash escapes.
    """
    try:
        value = json.loads(json.dumps(obj, default=_json_default, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise EvidenceError(
            f"{what} is not JSON-serialisable: {exc}; convert the value to str/int/float/"
            "bool/list/dict, or store binary data with write_artifact"
        ) from exc
    try:
        canonical_json(value).encode("utf-8")
    except UnicodeEncodeError:
        value = _escape_surrogates(value)
    return value


def _json_default(obj: Any) -> Any:
    if isinstance(obj, dt.datetime):
        if obj.tzinfo is not None:
            obj = obj.astimezone(dt.timezone.utc)
            return obj.isoformat(timespec="microseconds").replace("+00:00", "Z")
        return obj.isoformat()
    if isinstance(obj, dt.date | dt.time):
        return obj.isoformat()
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, set | frozenset):
        items = list(obj)
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=repr)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def _escape_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list):
        return [_escape_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_escape_surrogates(k): _escape_surrogates(v) for k, v in value.items()}
    return value


def validate_run_id(run_id: str) -> str:
    """Return `run_id` if it is a safe single directory name, else raise EvidenceError."""
    if not isinstance(run_id, str) or not _RUN_ID_RE.fullmatch(run_id) or run_id == LATEST_NAME:
        raise EvidenceError(
            f"invalid run id {run_id!r}: expected 1-128 characters from [A-Za-z0-9._-], "
            f"starting with a letter or digit, and not {LATEST_NAME!r}"
        )
    return run_id


def read_latest(reports_dir: Path) -> str | None:
    """The run id `reports_dir/latest` names (symlink or text file), or None if absent."""
    link = Path(reports_dir) / LATEST_NAME
    if link.is_symlink():
        return Path(os.readlink(link)).name
    if link.is_file():
        return link.read_text(encoding="utf-8").strip() or None
    return None


def update_latest(reports_dir: Path, run_id: str) -> None:
    """Point `reports_dir/latest` at `run_id`, replacing any old link atomically.

    A relative symlink where the platform allows it, else a text file holding the run id.
    """
    reports_dir = Path(reports_dir)
    link = reports_dir / LATEST_NAME
    tmp = reports_dir / f".{LATEST_NAME}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        os.symlink(run_id, tmp, target_is_directory=True)
    except (OSError, NotImplementedError):
        atomic_write(link, run_id.encode("utf-8"))
        return
    try:
        os.replace(tmp, link)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise EvidenceError(
            f"cannot update {link}: {exc}; remove it if it is not a link left by the harness"
        ) from exc
    fsync_dir(reports_dir)
