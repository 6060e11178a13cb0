"""Redaction of secrets before anything reaches a run directory.

Design rule (section 5, Safety): passwords, cookies, tokens and Authorization headers never reach
evidence. Known secret values are the primary defence; secret-bearing field names and common
textual shapes (header lines, `"token": "..."`, `password=...`, `Bearer ...`) catch what the caller
did not register.
"""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 4
"""Shorter values are ignored: replacing them everywhere would shred ordinary evidence."""

SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "password",
        "passwd",
        "token",
        "access_token",
        "refresh_token",
        "x-admin-token",
        "x-api-key",
        "x-auth-token",
        "x-csrf-token",
        "x-xsrf-token",
        "api_key",
        "apikey",
        "secret",
        "client_secret",
        "csrf_token",
        "session",
    }
)
"""Field names (case-insensitive, `_` and `-` alike) whose values are always replaced."""

_HEADER_NAMES = (
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-admin-token",
    "x-api-key",
    "x-auth-token",
    "x-csrf-token",
    "x-xsrf-token",
)


def _norm_key(name: str) -> str:
    return name.strip().lower().replace("_", "-")


_SENSITIVE_NORMALISED = frozenset(_norm_key(name) for name in SENSITIVE_KEYS)


def _key_alternation(names: Iterable[str]) -> str:
    forms = {
        form for name in names for form in (name, name.replace("_", "-"), name.replace("-", "_"))
    }
    return "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))


_KEYS_RE = _key_alternation(SENSITIVE_KEYS)
_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # "Authorization: Basic ..." / "Cookie: ..." lines in request logs.
    (
        re.compile(rf"(?im)^([ \t]*(?:{_key_alternation(_HEADER_NAMES)})[ \t]*:[ \t]*)[^\r\n]+"),
        rf"\1{REDACTED}",
    ),
    # "password": "..." inside JSON text.
    (
        re.compile(rf'(?i)("(?:{_KEYS_RE})"\s*:\s*)"(?:[^"\\]|\\.)*"'),
        rf'\1"{REDACTED}"',
    ),
    # password=... in query strings, form bodies and cookie strings.
    (
        re.compile(rf"(?i)(?<![\w-])((?:{_KEYS_RE})=)[^&\s\"'<>;,#]+"),
        rf"\1{REDACTED}",
    ),
    # Bearer tokens anywhere (the lookahead spares prose such as "Bearer authentication").
    (
        re.compile(r"\b(Bearer\s+)(?=[\w\-.~+/]*[\d\-.~+/])[\w\-.~+/]{8,}=*"),
        rf"\1{REDACTED}",
    ),
)


class Redactor:
    """Replaces known secret values and secret-bearing fields everywhere before anything is written.

    Register every credential the run uses with `add_secret`; the store passes every entry,
    `run.json` and every text artifact through this object. Thread-safe.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for value in secrets:
            self.add_secret(value)

    def add_secret(self, value: str | None) -> None:
        """Register a secret value; empty, None and values under 4 characters are ignored.

        Its URL-, JSON- and HTML-encoded forms are registered too, since request logs carry
        secrets in those shapes.
        """
        if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
            return
        forms = {
            value,
            quote(value, safe=""),
            quote_plus(value),
            json.dumps(value)[1:-1],
            json.dumps(value, ensure_ascii=False)[1:-1],
            html.escape(value),
        }
        with self._lock:
            self._secrets.update(form for form in forms if len(form) >= MIN_SECRET_LENGTH)
            self._pattern = None

    def __len__(self) -> int:
        """Number of registered secret forms (for diagnostics; the values are never exposed)."""
        return len(self._secrets)

    def redact_text(self, text: str) -> str:
        """Return `text` with every secret value and secret-shaped fragment replaced."""
        pattern = self._compiled()
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        for regex, replacement in _TEXT_PATTERNS:
            text = regex.sub(replacement, text)
        return text

    def redact(self, obj: Any) -> Any:
        """Deep copy of dicts/lists/tuples/str with secrets replaced by "[REDACTED]".

        Values under a secret-bearing key (see SENSITIVE_KEYS) are replaced whatever their type,
        except None; HAR-style `{"name": "Cookie", "value": ...}` pairs are treated the same way.
        Other scalars are returned unchanged.
        """
        if isinstance(obj, str):
            return self.redact_text(obj)
        if isinstance(obj, Mapping):
            return self._redact_mapping(obj)
        if isinstance(obj, list):
            return [self.redact(item) for item in obj]
        if isinstance(obj, tuple):
            return tuple(self.redact(item) for item in obj)
        return obj

    def redact_bytes(self, data: bytes) -> bytes:
        """Redact a text artifact given as bytes; bytes that are not UTF-8 pass through intact."""
        text = data.decode("utf-8", "surrogateescape")
        return self.redact_text(text).encode("utf-8", "surrogateescape")

    def _redact_mapping(self, obj: Mapping[Any, Any]) -> dict[Any, Any]:
        har_name = obj.get("name")
        har_secret = isinstance(har_name, str) and "value" in obj and _is_sensitive_key(har_name)
        result: dict[Any, Any] = {}
        for key, value in obj.items():
            new_key = self._redact_key(key)
            sensitive = (isinstance(key, str) and _is_sensitive_key(key)) or (
                har_secret and key == "value"
            )
            if sensitive and value is not None:
                result[new_key] = REDACTED
            else:
                result[new_key] = self.redact(value)
        return result

    def _redact_key(self, key: Any) -> Any:
        if not isinstance(key, str):
            return key
        pattern = self._compiled()
        return pattern.sub(REDACTED, key) if pattern is not None else key

    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._secrets:
                # Longest first, so a secret containing another is replaced whole.
                ordered = sorted(self._secrets, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(value) for value in ordered))
            return self._pattern


def _is_sensitive_key(name: str) -> bool:
    return _norm_key(name) in _SENSITIVE_NORMALISED
