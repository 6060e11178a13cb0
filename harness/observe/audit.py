"""Finding the target's audit record of a write and checking its Article 5(3) fields."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from harness.policy import Policy
from harness.targets.api import Exchange
from harness.targets.templates import lookup

LOG_FIELD_NAMES = ("account", "time", "operation", "source_ip", "source_port", "dest_ip",
                   "dest_port", "device")
CONTENT = "content"  # in a content hash template: what the write submitted
HASH_ALGORITHMS = ("sha256", "sha1", "md5", "sha512")


@dataclass(frozen=True)
class ContentHash:
    """How the target hashes a write's content in its audit record: the hex digest of
    `fields` joined by `joiner`, each a record field by its harness name or `content` (what
    was submitted: UTF-8 text or image bytes). The plain `sha256` of a profile is
    `ContentHash()`: the SHA-256 of the content alone."""

    fields: tuple[str, ...] = (CONTENT,)
    joiner: str = ""
    algorithm: str = "sha256"

    @classmethod
    def of(cls, audit: Mapping[str, Any]) -> ContentHash | None:
        """The profile's `content_hash` (a name or a template); None when the target keeps
        none (`none`)."""
        declared = audit.get("content_hash", "sha256")
        if declared == "none":
            return None
        if isinstance(declared, str):
            return cls(algorithm=declared)
        return cls(fields=tuple(declared["fields"]), joiner=str(declared.get("joiner", "")),
                   algorithm=str(declared.get("algorithm", "sha256")))

    def digest(self, record: Mapping[str, Any], content: bytes) -> str | None:
        """The hash this record should carry for `content`; None when the record lacks one of
        the template's fields (it cannot be the write's record)."""
        parts = []
        for name in self.fields:
            if name == CONTENT:
                parts.append(content)
                continue
            value = record.get(name)
            if value in (None, ""):
                return None
            parts.append(str(value).encode("utf-8"))
        return hashlib.new(self.algorithm, self.joiner.encode("utf-8").join(parts)).hexdigest()

    def matches(self, record: Mapping[str, Any], content: bytes) -> bool:
        """Whether the record's `content_hash` is this content's (case-insensitive hex)."""
        kept = record.get("content_hash")
        wanted = self.digest(record, content)
        return isinstance(kept, str) and wanted is not None and kept.lower() == wanted


@dataclass(frozen=True)
class FieldCheck:
    """The outcome of checking one record against the request it should describe."""

    missing: tuple[str, ...]
    mismatched: tuple[str, ...]
    details: dict[str, Any]
    unverified: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.missing and not self.mismatched and not self.unverified


def records_in(document: Any, audit: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Audit records of a read, re-keyed to the harness's field names."""
    fields = audit["fields"]
    records = []
    for raw in lookup(document, audit["records"]):
        for record in raw if isinstance(raw, list) else [raw]:
            if isinstance(record, Mapping):
                records.append({name: record.get(key) for name, key in fields.items()})
    return records


def own_records(
    document: Any, audit: Mapping[str, Any], *, matched: Iterable[Mapping[str, Any]] = (),
    accounts: Collection[str] = (), devices: Collection[str] = (),
) -> tuple[list[Any], int]:
    """The raw records of an audit read that are the harness's own, and how many were dropped.

    A record is kept when it is one `matched` for the case (records as `records_in` gives them)
    or its account or device is one of the harness's personas'. Everything else belongs to
    other users (their addresses, device ids) and must not reach evidence.
    """
    fields = audit["fields"]
    wanted = [dict(record) for record in matched]
    kept: list[Any] = []
    dropped = 0
    for raw in lookup(document, audit["records"]):
        for record in raw if isinstance(raw, list) else [raw]:
            if not isinstance(record, Mapping):
                dropped += 1
                continue
            keyed = {name: record.get(key) for name, key in fields.items()}
            if keyed in wanted or keyed.get("account") in accounts \
                    or keyed.get("device") in devices:
                kept.append(record)
            else:
                dropped += 1
    return kept, dropped


def audit_evidence(
    read: Exchange, audit: Mapping[str, Any], *, matched: Iterable[Mapping[str, Any]] = (),
    accounts: Collection[str] = (), devices: Collection[str] = (),
) -> Exchange:
    """`read` (an audit interface read) as evidence may keep it: its body holds only the
    harness's own records (see `own_records`) and a note of how many others were dropped.
    A body that is not the JSON the profile describes is withheld whole."""
    if read.document is None:
        note = "audit response withheld from evidence: not JSON, so other users' records " \
            "could not be told apart"
        return replace(read, response_body=note, document=None, content=None)
    kept, dropped = own_records(read.document, audit, matched=matched, accounts=accounts,
                                devices=devices)
    body = {"records": kept, "dropped_records": dropped,
            "note": f"{dropped} record(s) of other users dropped; only the harness's own kept"}
    return replace(read, response_body=json.dumps(body, ensure_ascii=False), document=body,
                   content=None)


def find_record(
    records: Sequence[Mapping[str, Any]], *, content: bytes | None,
    content_hash: ContentHash | None, exchange: Exchange, account: str | None,
    by_time: bool = True,
) -> Mapping[str, Any] | None:
    """The record of this write: the content's hash as the target makes it (`content_hash`,
    when it keeps one), best from the same source port; else the record of the same account
    from the same source port that is closest in time (a write of several fields may be
    hashed on another field). A disposal must be found by its hash (`by_time=False`): its
    record has to identify the content."""
    same_port = [r for r in records if _as_int(r.get("source_port")) == exchange.client_port]
    if content_hash is not None and content is not None:
        by_hash = [r for r in records if content_hash.matches(r, content)]
        same = {id(r) for r in same_port}
        chosen = [r for r in by_hash if id(r) in same] or by_hash
        if chosen:
            return chosen[-1]
    if not by_time or account is None or exchange.client_port is None:
        return None
    sent = _parse_time(exchange.started)
    mine = [r for r in same_port if r.get("account") == account and _parse_time(r.get("time"))]
    if sent is None or not mine:
        return None
    return min(mine, key=lambda r: abs((_parse_time(r.get("time")) - sent).total_seconds()))


def check_fields(
    record: Mapping[str, Any], exchange: Any, *, device_id: str, account: str | None,
    policy: Policy, unknowable: Collection[str] = (),
) -> FieldCheck:
    """Every 5(3) field present; those the policy names equal what the harness used, except
    those the channel cannot observe (a browser does not tell its source port)."""
    missing = tuple(name for name in LOG_FIELD_NAMES if record.get(name) in (None, ""))
    expected: dict[str, Any] = {
        "source_ip": exchange.client_ip, "source_port": exchange.client_port,
        "dest_ip": exchange.server_ip, "dest_port": exchange.server_port,
        "device": device_id, "account": account,
    }
    mismatched, unverified = [], []
    for name in policy.log_fields_must_match:
        if name in unknowable:
            continue
        want, got = expected.get(name), record.get(name)
        if name == "account" and want is None:
            continue  # the caller knows no single expected account (a rename under test)
        if want is None:
            unverified.append(name)  # the harness does not know what it used: cannot judge
            continue
        if got in (None, ""):
            continue
        same = _as_int(got) == want if name.endswith("_port") else str(got) == str(want)
        if not same:
            mismatched.append(name)
    if "time" not in missing and not _time_plausible(record["time"], exchange, policy):
        mismatched.append("time")
    return FieldCheck(
        missing=missing, mismatched=tuple(mismatched), unverified=tuple(unverified),
        details={"expected": expected, "record": dict(record)},
    )


def _parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time with a zone, or None (a time without a zone cannot be compared)."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _time_plausible(value: Any, exchange: Exchange, policy: Policy) -> bool:
    logged, sent = _parse_time(value), _parse_time(exchange.started)
    if logged is None or sent is None:
        return False
    skew = timedelta(seconds=policy.clock_skew_seconds)
    return sent - skew <= logged <= sent + timedelta(seconds=exchange.elapsed_s) + skew


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
