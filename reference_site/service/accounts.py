"""Accounts: registration, log-in and log-out, tokens and sessions, and the account lookup."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from reference_site.audit import RequestContext, sha256_hex
from reference_site.db import insert_row
from reference_site.errors import BadRequest, Conflict, Forbidden, Unauthorized
from reference_site.service.common import (
    ACCOUNT_NAME_MAX,
    NICKNAME_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
    Core,
    User,
    acting,
    limit,
    text_field,
    timestamp,
)
from reference_site.service.screening import Screening

PASSWORD_ITERATIONS = 10_000


def hash_password(password: str, salt: bytes | None = None) -> str:
    """PBKDF2-HMAC-SHA256 with a random salt, stored as `pbkdf2_sha256$iterations$salt$hash`."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PASSWORD_ITERATIONS)
    return f"pbkdf2_sha256${PASSWORD_ITERATIONS}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches a hash made by hash_password."""
    try:
        _scheme, iterations, salt, expected = stored.split("$")
        digest = hashlib.pbkdf2_hmac(
            "sha256", password.encode(), bytes.fromhex(salt), int(iterations)
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


def account_key(name: str) -> str:
    """The form account names are compared in: NFKC and case-folded."""
    return unicodedata.normalize("NFKC", name).casefold()


def valid_account_name(name: str) -> bool:
    """1-40 characters, each a Unicode letter (with its marks), a decimal digit, '_' or '-'."""
    return 1 <= len(name) <= ACCOUNT_NAME_MAX and all(
        ch in "_-" or unicodedata.category(ch) == "Nd" or unicodedata.category(ch)[0] in "LM"
        for ch in name
    )


def check_account_name(name: str) -> None:
    """Refuse (BadRequest) an account name valid_account_name does not accept."""
    if not valid_account_name(name):
        raise BadRequest(
            "account_name must be 1-40 letters, digits, '_' or '-'", field="account_name"
        )


@contextmanager
def unique_account_name() -> Iterator[None]:
    """Turn the clash of a write with an existing account name into Conflict."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise Conflict(
            "that account name is taken", code="account_name_taken", field="account_name"
        ) from exc


def _attempted(payload: Mapping[str, Any]) -> str | None:
    """The account name a registration or login attempt names, for its audit record."""
    name = payload.get("account_name")
    return name[:200] if isinstance(name, str) else None


def _issue(conn: sqlite3.Connection, user_id: int, kind: str) -> str:
    """A new API token (kind 'api') or web session (kind 'web'), stored hashed."""
    token = secrets.token_urlsafe(32)
    insert_row(conn, "credentials", {
        "token_sha256": sha256_hex(token), "kind": kind, "user_id": user_id,
        "created_at": timestamp(),
    })
    return token


class Accounts:
    """Who is calling, and the accounts they open, log in to and out of."""

    def __init__(self, core: Core, screening: Screening) -> None:
        self.core = core
        self.screening = screening

    def user_for_token(self, token: str | None, kind: str = "api") -> User | None:
        """The account an API token (kind 'api') or web session (kind 'web') belongs to."""
        if not token:
            return None
        row = self.core.db.one(
            "SELECT u.* FROM credentials c JOIN users u ON u.id = c.user_id"
            " WHERE c.token_sha256 = ? AND c.kind = ? AND u.banned = 0",
            (sha256_hex(token), kind),
        )
        return None if row is None else User.from_row(row)

    def user(self, user_id: int) -> User:
        """A visible (not banned) account, or NotFound."""
        return User.from_row(self.core.db.found(
            "SELECT * FROM users WHERE id = ? AND banned = 0", (user_id,), f"no user {user_id}"
        ))

    def register(
        self, ctx: RequestContext, payload: Mapping[str, Any], kind: str = "api"
    ) -> dict[str, Any]:
        """Create an account (name, password, optional nickname) and log it in."""
        with self.core.audit.action(ctx, "register", _attempted(payload)) as act:
            name = text_field(payload, "account_name")
            password = text_field(payload, "password")
            nickname = text_field(payload, "nickname", required=False, allow_empty=True) or ""
            act.content("account_name", name)
            if nickname.strip():
                act.content("nickname", nickname)
            else:
                nickname = name
            self.screening.text("account_name", name)
            self.screening.text("nickname", nickname)
            check_account_name(name)
            limit("nickname", nickname, NICKNAME_MAX)
            if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
                raise BadRequest(
                    f"password must be {PASSWORD_MIN}-{PASSWORD_MAX} characters", field="password"
                )
            now, password_hash = timestamp(), hash_password(password)
            with unique_account_name(), self.core.db.transaction() as conn:
                user_id = insert_row(conn, "users", {
                    "account_name": name, "account_key": account_key(name),
                    "password_hash": password_hash, "nickname": nickname,
                    "created_at": now, "updated_at": now,
                })
                token = _issue(conn, user_id, kind)
            act.target(user_id)
            return {"user_id": user_id, "account_name": name, "token": token}

    def login(
        self, ctx: RequestContext, payload: Mapping[str, Any], kind: str = "api"
    ) -> dict[str, Any]:
        """Exchange account name and password for a token (or a web session)."""
        with self.core.audit.action(ctx, "login", _attempted(payload)) as act:
            name = text_field(payload, "account_name")
            password = text_field(payload, "password")
            row = self.core.db.one(
                "SELECT * FROM users WHERE account_key = ?", (account_key(name),)
            )
            if row is None or not verify_password(password, row["password_hash"]):
                raise Unauthorized("wrong account name or password", code="invalid_credentials")
            if row["banned"]:
                raise Forbidden("this account has been closed", code="account_closed")
            act.account = row["account_name"]
            act.target(row["id"])
            with self.core.db.transaction() as conn:
                token = _issue(conn, row["id"], kind)
            return {"token": token, "user_id": row["id"]}

    def logout(self, ctx: RequestContext, actor: User | None, token: str | None) -> None:
        """Revoke one token or session."""
        with self.core.audit.action(ctx, "logout") as act:
            acting(act, actor)
            with self.core.db.transaction() as conn:
                conn.execute(
                    "DELETE FROM credentials WHERE token_sha256 = ?", (sha256_hex(token or ""),)
                )
