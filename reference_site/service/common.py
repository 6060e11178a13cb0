"""What every domain of the service shares: field limits, the desk's pace, the account type,
the shared parts (`Core`), the caller checks and the readers of request payloads."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reference_site.audit import Action, AuditLog, iso, utc_now
from reference_site.db import Database, Row
from reference_site.errors import BadRequest, Unauthorized
from reference_site.faults import Faults
from reference_site.load import InFlight
from reference_site.moderation import Moderator

ACCOUNT_NAME_MAX = 40
NICKNAME_MAX = 40
BIO_MAX = 500
REMARK_MAX = 100
GROUP_NAME_MAX = 60
GROUP_INTRO_MAX = 500
POST_MAX = 5000
COMMENT_MAX = 2000
MESSAGE_MAX = 2000
REASON_MAX = 1000
NOTE_MAX = 1000
PASSWORD_MIN = 6
PASSWORD_MAX = 256
LIST_LIMIT = 50

LOGIN_FIRST = "log in first (Authorization: Bearer <token>)"
ADMIN_REFUSED = "the moderator token (X-Admin-Token) is missing or wrong"


@dataclass(frozen=True)
class ReportTimes:
    """The moderator desk's pace and the handling limit the site publishes, in seconds.

    The desk acknowledges a ticket (status `in_review`) `ack_seconds` after it was filed and
    decides it `handle_seconds` after it was filed; `limit_seconds` is the published promise.
    """

    ack_seconds: float = 0.5
    handle_seconds: float = 1.5
    limit_seconds: float = 30.0


DEFAULT_TIMES = ReportTimes()


@dataclass(frozen=True)
class User:
    """An account as the service sees it."""

    id: int
    account_name: str
    nickname: str
    bio: str
    avatar_sha256: str | None
    banned: bool
    created_at: str

    @classmethod
    def from_row(cls, row: Row) -> User:
        """The account in a row of `users`."""
        return cls(
            row["id"], row["account_name"], row["nickname"], row["bio"], row["avatar_sha256"],
            bool(row["banned"]), row["created_at"],
        )


@dataclass(frozen=True)
class Core:
    """The parts every domain works with: storage, the audit log, the moderation engine, the
    faults the site runs with, the moderator token, the desk's pace and the requests in flight
    (which the load-only faults read)."""

    db: Database
    audit: AuditLog
    moderator: Moderator
    faults: Faults
    admin_token: str
    times: ReportTimes = DEFAULT_TIMES
    in_flight: InFlight = field(default_factory=InFlight)

    def is_admin(self, token: str | None) -> bool:
        """Whether `token` is the moderator (admin) token."""
        return bool(token) and hmac.compare_digest(token.encode(), self.admin_token.encode())

    def require_admin(self, token: str | None) -> None:
        """Refuse (Unauthorized) a caller without the moderator token."""
        if not self.is_admin(token):
            raise Unauthorized(ADMIN_REFUSED)

    def admin(self, act: Action, token: str | None) -> None:
        """Refuse a caller without the moderator token; else audit the action as the moderator."""
        self.require_admin(token)
        act.account = "moderator"


def timestamp() -> str:
    """The current time as stored: ISO 8601 in UTC."""
    return iso(utc_now())


def logged_in(user: User | None) -> User:
    """The caller, or Unauthorized when nobody is logged in."""
    if user is None:
        raise Unauthorized(LOGIN_FIRST)
    return user


def acting(act: Action, user: User | None) -> User:
    """The logged-in caller, named as the account of the audited action."""
    user = logged_in(user)
    act.account = user.account_name
    return user


def text_field(
    payload: Mapping[str, Any], name: str, *, required: bool = True, allow_empty: bool = False
) -> str | None:
    """A string field: BadRequest if it is missing (when required), not a string or blank."""
    value = payload.get(name)
    if value is None:
        if required:
            raise BadRequest(f"{name} is required", field=name)
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string", field=name)
    if not allow_empty and not value.strip():
        raise BadRequest(f"{name} must not be empty", field=name)
    return value


def int_field(payload: Mapping[str, Any], name: str) -> int:
    """A required integer id field (digits in a string, as forms send them, are accepted)."""
    value = payload.get(name)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(f"{name} must be an integer id", field=name)
    return value


def choice_field(
    payload: Mapping[str, Any], name: str, choices: Iterable[str], default: str | None = None
) -> str:
    """A field that must be one of `choices` (required unless it has a default)."""
    value = text_field(payload, name, required=default is None) or default
    if value not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}", field=name)
    return value


def limit(name: str, value: str, maximum: int) -> None:
    """Refuse (BadRequest) a field longer than `maximum` characters."""
    if len(value) > maximum:
        raise BadRequest(f"{name} is longer than {maximum} characters", field=name)


def only_fields(payload: Mapping[str, Any], allowed: tuple[str, ...]) -> list[str]:
    """The fields of an update, in the order given; refuse unknown and empty updates."""
    unknown = [key for key in payload if key not in allowed]
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    fields = [key for key in payload if payload[key] is not None]
    if not fields:
        raise BadRequest(f"nothing to change; send one or more of: {', '.join(allowed)}")
    return fields
