"""The audit log: one record per write request, allowed or refused (Article 5(3) and 5(4)).

Every write runs inside `AuditLog.action(...)`. The record is written when the block ends, so a
refusal anywhere inside it (bad input, no credentials, prohibited content, a crash) is recorded
with the same fields as a success: account, time, operation, surface, object, source and
destination address and port, user agent, device id, content hash, decision and reason. A write
that submits several content fields (a registration with a nickname, a group with its
introduction) gets one record per field, so each piece of content can be found by its hash.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.requests import Request

from reference_site.db import Database
from reference_site.errors import BadRequest, ServiceError

RETENTION_DAYS = 180
SHORT_RETENTION_DAYS = 30  # what the `short-retention` fault configures
MAX_QUERY_LIMIT = 50_000
DEFAULT_QUERY_LIMIT = 5_000

_FIELDS = (
    "account", "time", "operation", "surface", "object_id", "source_ip", "source_port",
    "dest_ip", "dest_port", "user_agent", "device_id", "content_sha256", "decision", "reason",
)


def utc_now() -> datetime:
    """The current time, in UTC."""
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a 'Z', fixed width so stored times sort as text."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 time; naive times are taken as UTC. Raises ValueError."""
    text = text.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"  # Python 3.10's fromisoformat does not accept 'Z'
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def sha256_hex(content: str | bytes) -> str:
    """SHA-256 of submitted content: UTF-8 text or raw image bytes."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class RequestContext:
    """Where a request came from and went to, plus a refusal found before the service ran.

    `refusal` holds a problem with the request itself (a malformed body, a failed CSRF check);
    the audited action raises it first thing, so it is recorded under the right operation.
    """

    source_ip: str | None = None
    source_port: int | None = None
    dest_ip: str | None = None
    dest_port: int | None = None
    user_agent: str | None = None
    device_id: str | None = None
    base_url: str = "http://127.0.0.1/"
    refusal: ServiceError | None = None
    via_page: bool = False  # a form of the site's pages, not the JSON API

    @classmethod
    def from_request(cls, request: Request, refusal: ServiceError | None = None) -> RequestContext:
        """Addresses from the TCP connection itself; forwarding headers are not trusted."""
        client = request.scope.get("client") or (None, None)
        server = request.scope.get("server") or (None, None)
        return cls(
            source_ip=client[0],
            source_port=client[1],
            dest_ip=server[0],
            dest_port=server[1],
            user_agent=request.headers.get("user-agent"),
            # The client's own device id; browsers without one get a long-lived cookie.
            device_id=request.headers.get("x-device-id") or request.cookies.get("device_id"),
            base_url=str(request.base_url),
            refusal=refusal,
        )


@dataclass
class Action:
    """What one write did, filled in by the service as it goes.

    Each content field the request submitted gets its own record (same request fields,
    decision and reason), so every piece of published text or image can be traced by its hash.
    """

    operation: str
    account: str | None = None
    object_id: str | None = None
    decision: str = "allowed"
    reason: str | None = None
    surface: str | None = None  # the surface of a write that submitted no content
    contents: dict[str | None, str] = field(default_factory=dict)  # surface -> sha256

    def content(self, surface: str | None, value: str | bytes) -> None:
        """Record submitted content (hashed) and the surface it was submitted to."""
        self.contents[surface] = sha256_hex(value)

    def target(self, object_id: object) -> None:
        """Record the id of the object written."""
        self.object_id = None if object_id is None else str(object_id)


class AuditLog:
    """Append-only records of write requests, with a retention period."""

    def __init__(
        self,
        db: Database,
        *,
        keep_source_port: bool = True,
        keep_refusals: bool = True,
        retention_days: int = RETENTION_DAYS,
    ):
        self.db = db
        self.keep_source_port = keep_source_port
        self.keep_refusals = keep_refusals
        self.retention_days = retention_days

    @contextmanager
    def action(
        self, ctx: RequestContext, operation: str, account: str | None = None
    ) -> Iterator[Action]:
        """Audit the enclosed write: `allowed` if the block completes, `rejected` if it raises."""
        act = Action(operation=operation, account=account)
        done, refusal = False, None
        try:
            if ctx.refusal is not None:
                raise ctx.refusal
            yield act
            done = True
        except ServiceError as exc:
            refusal = exc.audit_reason
            raise
        finally:  # whatever stopped the write, it is recorded as rejected, with what stopped it
            if not done:
                error = getattr(sys.exc_info()[0], "__name__", "unknown")
                act.decision, act.reason = "rejected", refusal or f"internal_error: {error}"
            self.record(ctx, act)

    def record(self, ctx: RequestContext, act: Action) -> None:
        """Append the action's records (unless the configuration drops them; see the faults)."""
        if act.decision != "allowed" and not self.keep_refusals:
            return
        common = {
            "account": act.account,
            "time": iso(utc_now()),
            "operation": act.operation,
            "object_id": act.object_id,
            "source_ip": ctx.source_ip,
            "source_port": ctx.source_port if self.keep_source_port else None,
            "dest_ip": ctx.dest_ip,
            "dest_port": ctx.dest_port,
            "user_agent": ctx.user_agent,
            "device_id": ctx.device_id,
            "decision": act.decision,
            "reason": act.reason,
        }
        contents = list(act.contents.items()) or [(act.surface, None)]
        rows = [
            [{**common, "surface": surface, "content_sha256": digest}[f] for f in _FIELDS]
            for surface, digest in contents
        ]
        columns = ", ".join(_FIELDS)
        marks = ", ".join("?" for _ in _FIELDS)
        with self.db.transaction() as conn:
            conn.executemany(f"INSERT INTO audit ({columns}) VALUES ({marks})", rows)

    def query(
        self, since: str | None = None, account: str | None = None, limit: str | int | None = None
    ) -> list[dict[str, Any]]:
        """Records at or after `since` (ISO 8601), optionally for one account, oldest first;
        past the limit, the most recent ones (a busy log must not hide the latest writes)."""
        clauses, params = [], []
        if since:
            try:
                clauses.append("time >= ?")
                params.append(iso(parse_iso(since)))
            except ValueError as exc:
                raise BadRequest(f"since is not an ISO 8601 time: {since!r}") from exc
        if account:
            clauses.append("account = ?")
            params.append(account)
        try:
            count = DEFAULT_QUERY_LIMIT if limit in (None, "") else int(limit)
        except ValueError as exc:
            raise BadRequest(f"limit is not a number: {limit!r}") from exc
        if not 1 <= count <= MAX_QUERY_LIMIT:
            raise BadRequest(f"limit must be between 1 and {MAX_QUERY_LIMIT}")
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.all(
            f"SELECT * FROM (SELECT id, {', '.join(_FIELDS)} FROM audit {where}"
            " ORDER BY time DESC, id DESC LIMIT ?) ORDER BY time, id",
            [*params, count],
        )
        return [dict(row) for row in rows]

    def purge_expired(self) -> int:
        """Delete records older than the retention period; return how many went."""
        cutoff = iso(utc_now() - timedelta(days=self.retention_days))
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM audit WHERE time < ?", (cutoff,)).rowcount

    def policy(self) -> dict[str, Any]:
        """The published retention policy."""
        return {"retention_days": self.retention_days}
