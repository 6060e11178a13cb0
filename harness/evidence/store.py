"""The run store: one directory per run with a hash-chained log, artifacts and a manifest.

Layout of `reports/<run-id>/`:

- `run.json`: run metadata, pretty-printed.
- `evidence.jsonl`: append-only, one canonical JSON object per line, each carrying `seq`, `time`,
  `prev` (hash of the previous line) and `hash`, so altering, removing, reordering or inserting a
  line breaks the chain.
- `artifacts/...`: screenshots, request logs and other files written through the store.
- `manifest.json`: SHA-256 of every other file, the chain head and line count, and an optional
  HMAC (`HARNESS_EVIDENCE_KEY`) so an assessor can prove nothing changed after the run.

Reports that live inside the run directory (for example `junit.xml`) must be written before
`finalize()`, or `finalize()` called again, so that the manifest covers them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from harness.errors import EvidenceError
from harness.interrupts import deferred

from .artifacts import ArtifactWriter
from .chain import (
    EVIDENCE_FILE,
    GENESIS_HASH,
    MANIFEST_FILE,
    MANIFEST_VERSION,
    RESERVED_FIELDS,
    RUN_INFO_FILE,
    atomic_write,
    canonical_json,
    entry_hash,
    evidence_key,
    file_sha256,
    fsync_dir,
    list_run_files,
    manifest_hmac,
    pretty_json,
    read_latest,
    to_json_value,
    update_latest,
    utc_now_iso,
    validate_run_id,
)
from .redact import Redactor
from .verify import check_chain, verify_with_tail


def new_run_id() -> str:
    """A fresh run id: UTC time `YYYYmmdd-HHMMSS-` plus 6 random hex digits."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


def read_entries(run_dir: Path) -> Iterator[dict[str, Any]]:
    """Yield the entries of `run_dir/evidence.jsonl` in order, without checking the chain.

    Renderers use this; `verify_run` is what proves the entries are intact.
    """
    return _read_lines(Path(run_dir) / EVIDENCE_FILE, limit=None)


def _read_lines(path: Path, limit: int | None) -> Iterator[dict[str, Any]]:
    try:
        handle = path.open("rb")
    except FileNotFoundError as exc:
        raise EvidenceError(f"{path}: missing; is this a run directory?") from exc
    except OSError as exc:
        raise EvidenceError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    with handle:
        consumed = 0
        for number, raw in enumerate(handle, start=1):
            if limit is not None and consumed >= limit:
                return
            consumed += len(raw)
            try:
                entry = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError) as exc:
                raise EvidenceError(
                    f"{EVIDENCE_FILE} line {number}: not valid JSON ({exc}); "
                    "run verify to see whether the run was altered"
                ) from exc
            if not isinstance(entry, dict):
                raise EvidenceError(f"{EVIDENCE_FILE} line {number}: not a JSON object")
            yield entry


class RunStore:
    """Writes one run's evidence: `run.json`, the hash-chained `evidence.jsonl`, artifacts and
    the manifest. Build it with `create()` or `open()`; all methods are thread-safe.
    """

    path: Path
    run_id: str
    redactor: Redactor

    def __init__(
        self,
        path: Path,
        redactor: Redactor,
        *,
        reports_dir: Path,
        next_seq: int,
        last_hash: str,
        size: int,
        created: bool,
    ) -> None:
        """Internal: use `RunStore.create()` or `RunStore.open()`."""
        self.path = path
        self.run_id = path.name
        self.redactor = redactor
        self._reports_dir = reports_dir
        self._next_seq = next_seq
        self._last_hash = last_hash
        self._size = size
        self._created = created
        self._lock = threading.RLock()
        self._artifacts = ArtifactWriter(path, redactor)

    @classmethod
    def create(
        cls, reports_dir: Path, run_id: str | None = None, redactor: Redactor | None = None
    ) -> RunStore:
        """Create `reports_dir/<run_id>` with an empty evidence log; refuse an existing one."""
        reports_dir = Path(reports_dir).absolute()
        run_id = validate_run_id(run_id) if run_id is not None else new_run_id()
        path = reports_dir / run_id
        try:
            reports_dir.mkdir(parents=True, exist_ok=True)
            path.mkdir()
        except FileExistsError as exc:
            raise EvidenceError(
                f"run directory {path} already exists; pick another run id or use "
                "RunStore.open() to append to a finalized run"
            ) from exc
        except OSError as exc:
            raise EvidenceError(f"cannot create run directory {path}: {exc}") from exc
        (path / EVIDENCE_FILE).touch(exist_ok=False)
        fsync_dir(reports_dir)
        return cls(
            path,
            redactor if redactor is not None else Redactor(),
            reports_dir=reports_dir,
            next_seq=0,
            last_hash=GENESIS_HASH,
            size=0,
            created=True,
        )

    @classmethod
    def open(cls, run_dir: Path, redactor: Redactor | None = None) -> RunStore:
        """Reopen a finalized run to append more entries, continuing its chain.

        The whole run is verified first (chain, manifest, artifacts): a later `finalize()`
        re-hashes every file, so appending to a tampered run would launder the tampering.
        """
        run_dir = Path(run_dir).absolute()
        if not run_dir.is_dir():
            raise EvidenceError(f"cannot reopen {run_dir}: not a directory")
        result, tail = verify_with_tail(run_dir)
        if not result.ok:
            more = len(result.problems) - 1
            extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
            raise EvidenceError(
                f"cannot reopen {run_dir}: it does not verify: {result.problems[0]}{extra}; "
                "a broken run cannot be extended, start a new run"
            )
        return cls(
            run_dir,
            redactor if redactor is not None else Redactor(),
            reports_dir=run_dir.parent,
            next_seq=tail.lines,
            last_hash=tail.last_hash,
            size=tail.size,
            created=False,
        )

    @classmethod
    def recover(cls, run_dir: Path, redactor: Redactor | None = None) -> RunStore | None:
        """Reopen a run whose process ended before sealing it (no manifest): its chain is
        checked line by line and a torn last line, never acknowledged, is cut off. Returns
        None when the run was sealed (use `open`); raises when its chain is broken.
        """
        run_dir = Path(run_dir).absolute()
        log = run_dir / EVIDENCE_FILE
        if (run_dir / MANIFEST_FILE).exists() or not log.is_file():
            return None
        data = log.read_bytes()
        cut = len(data) - len(data.rsplit(b"\n", 1)[-1]) if not data.endswith(b"\n") else 0
        if cut:
            with log.open("r+b") as handle:
                handle.truncate(cut)
        problems: list[str] = []
        tail = check_chain(log, problems)
        if problems or tail is None:
            raise EvidenceError(f"cannot recover {run_dir}: {problems[0] if problems else ''}")
        return cls(
            run_dir,
            redactor if redactor is not None else Redactor(),
            reports_dir=run_dir.parent,
            next_seq=tail.lines,
            last_hash=tail.last_hash or GENESIS_HASH,
            size=tail.size,
            created=False,
        )

    @property
    def chain_head(self) -> str:
        """Hash of the last line written (64 zeros before the first)."""
        with self._lock:
            return self._last_hash

    @property
    def lines(self) -> int:
        """Number of lines in the evidence log."""
        with self._lock:
            return self._next_seq

    def write_run_info(self, info: Mapping[str, Any]) -> None:
        """Write `run.json` (redacted, pretty-printed), replacing any earlier version."""
        value = self.redactor.redact(to_json_value(dict(info), what="run info"))
        with self._lock:
            self._write_file(self.path / RUN_INFO_FILE, pretty_json(value).encode("utf-8"))

    def read_run_info(self) -> dict[str, Any]:
        """The contents of `run.json`."""
        path = self.path / RUN_INFO_FILE
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise EvidenceError(f"{path}: missing; call write_run_info() first") from exc
        except (UnicodeDecodeError, ValueError) as exc:
            raise EvidenceError(f"{path}: not valid JSON ({exc})") from exc
        if not isinstance(value, dict):
            raise EvidenceError(f"{path}: expected a JSON object, got {type(value).__name__}")
        return value

    def append(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """Redact `entry`, chain it (`seq`, `time` if absent, `prev`, `hash`) and write it durably.

        Returns the entry exactly as stored. `entry_type` is required; `seq`, `prev` and `hash`
        belong to the store and are refused.
        """
        return self.append_many([entry])[0]

    def append_many(self, entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """`append` for several entries, chained in order and made durable together (one
        write and one fsync): for bursts of small lines, such as a cleanup's."""
        prepared = [self._prepared(entry) for entry in entries]
        if not prepared:
            return []
        # A signal between the write and the bookkeeping would leave a log longer than the
        # store knows (and the run unsealable): it waits until the lines are down.
        with self._lock, deferred():
            seq, last, lines = self._next_seq, self._last_hash, []
            for stored in prepared:
                if stored.get("time") is None:
                    stored["time"] = utc_now_iso()
                stored["seq"], stored["prev"] = seq, last
                stored["hash"] = last = entry_hash(stored)
                lines.append((canonical_json(stored) + "\n").encode("utf-8"))
                seq += 1
            data = b"".join(lines)
            self._append_line(data)
            self._size += len(data)
            self._next_seq, self._last_hash = seq, last
        return prepared

    def _prepared(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """An entry checked and redacted, ready to be chained."""
        if not isinstance(entry, Mapping):
            raise EvidenceError(f"an entry must be a mapping, got {type(entry).__name__}")
        entry_type = entry.get("entry_type")
        if not isinstance(entry_type, str) or not entry_type:
            raise EvidenceError(
                f"an entry needs a non-empty string 'entry_type', got {entry_type!r}"
            )
        clash = sorted(RESERVED_FIELDS.intersection(entry))
        if clash:
            raise EvidenceError(f"entry fields {clash} are set by the store; remove them")
        return self.redactor.redact(to_json_value(dict(entry)))

    def entries(self) -> Iterator[dict[str, Any]]:
        """Yield the entries written so far (a snapshot: later appends are not included)."""
        with self._lock:
            size = self._size
        return _read_lines(self.path / EVIDENCE_FILE, limit=size)

    def artifact_path(self, *parts: str) -> Path:
        """A path under `artifacts/` for a file the caller writes itself (see
        `ArtifactWriter.path`)."""
        return self._artifacts.path(*parts)

    def write_artifact(
        self,
        relpath: str,
        data: bytes | str,
        *,
        text: bool | None = None,
        overwrite: bool = False,
    ) -> str:
        """Write a redacted artifact under `artifacts/` and return its run-relative path (see
        `ArtifactWriter.write`): confined to the run, never overwritten unless `overwrite`."""
        return self._artifacts.write(relpath, data, text=text, overwrite=overwrite)

    def finalize(self) -> dict[str, Any]:
        """Write `manifest.json` over every file of the run and update `reports/latest`.

        `latest` moves to a created run always, and to a reopened run only when it already
        named that run or did not exist, so reopening an old run never hides a newer one.
        May be called again after more appends. Returns the manifest.
        """
        with self._lock, self._artifacts.lock, deferred():
            self._check_log_untouched()
            files = {
                relpath: file_sha256(path) for relpath, path in list_run_files(self.path).items()
            }
            manifest: dict[str, Any] = {
                "version": MANIFEST_VERSION,
                "files": files,
                "chain_head": self._last_hash,
                "lines": self._next_seq,
            }
            key = evidence_key()
            if key is not None:
                manifest["hmac"] = manifest_hmac(manifest, key)
            self._write_file(self.path / MANIFEST_FILE, pretty_json(manifest).encode("utf-8"))
            if self._should_update_latest():
                update_latest(self._reports_dir, self.run_id)
        return manifest

    def _should_update_latest(self) -> bool:
        if self.path.parent != self._reports_dir:
            return False
        if self._created:
            return True
        current = read_latest(self._reports_dir)
        return current is None or current == self.run_id

    def _append_line(self, line: bytes) -> None:
        path = self.path / EVIDENCE_FILE
        try:
            with path.open("ab") as handle:
                actual = os.fstat(handle.fileno()).st_size
                if actual != self._size:
                    raise EvidenceError(
                        f"{path} is {actual} bytes but this store wrote {self._size}: another "
                        "writer touched the log; only one RunStore may write a run"
                    )
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise EvidenceError(f"cannot append to {path}: {exc}") from exc

    def _check_log_untouched(self) -> None:
        path = self.path / EVIDENCE_FILE
        try:
            actual = path.stat().st_size
        except OSError as exc:
            raise EvidenceError(f"cannot read {path}: {exc}") from exc
        if actual != self._size:
            raise EvidenceError(
                f"{path} is {actual} bytes but this store wrote {self._size}; refusing to "
                "seal a log that changed outside the store"
            )

    @staticmethod
    def _write_file(path: Path, data: bytes) -> None:
        try:
            atomic_write(path, data)
        except OSError as exc:
            raise EvidenceError(f"cannot write {path}: {exc}") from exc
