"""Redaction of secrets before anything reaches a run directory.

Design rule (section 5, Safety): passwords, cookies, tokens and Authorization headers never reach
evidence. Known secret values are the primary defence; secret-bearing field names and common
textual shapes (header lines, `"token": "..."`, `password=...`, `Bearer ...`) catch what the caller
did not register.

Anti-forgery tokens get the same care: the values of hidden form inputs (and of inputs and
`<meta>` tags named like csrf, _token, authenticity_token, xsrf) are replaced in HTML, in
HTML carried inside JSON strings (HAR bodies), in Playwright trace DOM snapshots (attribute
objects) and in HAR name/value pairs. A token-shaped value found that way is also learnt as a
secret, so the same value is scrubbed wherever else it shows (a form body, a URL, a header).
"""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

import ahocorasick

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 4
"""Shorter values are ignored: replacing them everywhere would shred ordinary evidence."""

ANTI_FORGERY_KEYS = (
    "csrf", "_csrf", "csrf_token", "csrfmiddlewaretoken", "x-csrf-token", "x-csrftoken", "xsrf",
    "_xsrf", "xsrf_token", "x-xsrf-token", "_token", "authenticity_token",
    "__requestverificationtoken",
)
"""Names of anti-forgery (CSRF) fields in Django, Rails, Laravel, ASP.NET, Tornado and others."""

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
        "session",
        *ANTI_FORGERY_KEYS,
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
    "x-csrftoken",
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
    # \"csrf\": \"...\" in JSON text carried inside a JSON string (a HAR's JSON body).
    (
        re.compile(rf'(?i)(\\"(?:{_KEYS_RE})\\"\s*:\s*\\")(?:(?!\\").)*(\\")'),
        rf"\1{REDACTED}\2",
    ),
    # {"name": "Cookie", "value": "..."}: HAR headers, cookies and form params, trace attributes.
    (
        re.compile(rf'(?i)("name"\s*:\s*"(?:{_KEYS_RE})"\s*,\s*"value"\s*:\s*)'
                   r'"(?:[^"\\]|\\.)*"'),
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
        self._automaton: Any = None
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
            self._automaton = None

    def __len__(self) -> int:
        """Number of registered secret forms (for diagnostics; the values are never exposed)."""
        return len(self._secrets)

    def redact_text(self, text: str) -> str:
        """Return `text` with every secret value and secret-shaped fragment replaced.

        Token-shaped values of hidden and anti-forgery fields in `text` are learnt first (see
        `learn`), so they are replaced here and in everything redacted afterwards.
        """
        self.learn(text)
        text = self._replace(text)
        # Every field pattern needs a ':' or '=' and the token one "Bearer": most strings of an
        # observation (verdicts, roles, reasons) have none and skip the regexes.
        if ":" in text or "=" in text or "Bearer" in text:
            for regex, replacement in _TEXT_PATTERNS:
                text = regex.sub(replacement, text)
        return scrub_hidden_fields(text)

    def learn(self, text: str) -> None:
        """Register, as secrets, the token-shaped values of hidden inputs, of anti-forgery
        inputs, `<meta name="csrf-token">` tags and fields (csrf, _token, xsrf, ...) in `text`."""
        for value in _field_values(text):
            self.add_secret(value)

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
        return self._replace(key) if isinstance(key, str) else key

    def _replace(self, text: str) -> str:
        """`text` with every stretch that any known secret covers replaced by one marker:
        overlapping secrets go together, so no piece of either is left."""
        automaton = self._automaton_now()
        if automaton is None:
            return text
        spans: list[list[int]] = []
        for end, length in sorted(automaton.iter(text), key=lambda hit: hit[0] - hit[1]):
            start = end - length + 1
            if spans and start < spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end + 1)
            else:
                spans.append([start, end + 1])
        if not spans:
            return text
        parts, last = [], 0
        for start, end in spans:
            parts += [text[last:start], REDACTED]
            last = end
        parts.append(text[last:])
        return "".join(parts)

    def _automaton_now(self) -> Any:
        """The secrets as an Aho-Corasick automaton (one pass over a text, however many
        secrets: a regular expression of thousands of alternatives took 0.3 s a 10 kB text),
        built again after a secret is added."""
        with self._lock:
            if self._automaton is None and self._secrets:
                automaton = ahocorasick.Automaton()
                for value in self._secrets:
                    automaton.add_word(value, len(value))
                automaton.make_automaton()
                self._automaton = automaton
            return self._automaton


def _is_sensitive_key(name: str) -> bool:
    return _norm_key(name) in _SENSITIVE_NORMALISED


# --- hidden and anti-forgery fields -------------------------------------------------------------

# A tag's attribute and its value: "...", '...', \"...\" (HTML in a JSON string) or bare.
_ATTR = re.compile(r"""([\w:.-]+)(\s*=\s*)(?:(\\?")(.*?)\3|(\\?')(.*?)\5|([^\s"'\\>]+))""", re.S)
_TAG = re.compile(r"<(input|meta)\b[^>]*>", re.I)
# A trace snapshot's attribute object of a hidden input: {"type":"hidden",...,"value":"..."}.
_HIDDEN_OBJECT = re.compile(r'\{[^{}]*"type"\s*:\s*"hidden"[^{}]*\}', re.I)
_OBJECT_VALUE = re.compile(r'("(?:value|__playwright_value_)"\s*:\s*)"((?:[^"\\]|\\.)*)"')
_ANTI_FORGERY_KEYS = _key_alternation(ANTI_FORGERY_KEYS)
_ANTI_FORGERY_HINT = re.compile(r"(?i)csrf|xsrf|_token|verificationtoken")
# An anti-forgery field's value in JSON, JSON inside a JSON string, a name/value pair or a form.
_ANTI_FORGERY_FIELD = re.compile(
    rf'(?i)(?:"(?:{_ANTI_FORGERY_KEYS})"\s*:\s*"|\\"(?:{_ANTI_FORGERY_KEYS})\\"\s*:\s*\\"'
    rf'|"name"\s*:\s*"(?:{_ANTI_FORGERY_KEYS})"\s*,\s*"value"\s*:\s*"'
    rf"|(?<![\w-])(?:{_ANTI_FORGERY_KEYS})=)([\w\-.~+/=:%]+)"
)
_TOKEN_CHARS = re.compile(r"[\w\-.~+/=:%]+")


def _token_like(value: str, *, strict: bool) -> bool:
    """Whether `value` looks like a generated token rather than a word or an id. `strict`
    (for hidden fields with an ordinary name) asks for 16+ characters mixing upper case, lower
    case and digits, which item ids, hex digests and UUIDs do not."""
    if REDACTED in value or not _TOKEN_CHARS.fullmatch(value):
        return False
    kinds = sum(any(test(c) for c in value) for test in (str.islower, str.isupper, str.isdigit))
    return len(value) >= 16 and kinds == 3 if strict else len(value) >= 8 and kinds >= 2


def _tag_fields(tag: str) -> tuple[dict[str, str], list[re.Match[str]]]:
    attrs = list(_ATTR.finditer(tag))
    values = {m.group(1).lower(): _attr_value(m) for m in attrs}
    return values, attrs


def _attr_value(match: re.Match[str]) -> str:
    for group in (4, 6, 7):
        if match.group(group) is not None:
            return match.group(group)
    return ""


def _secret_attribute(tag_name: str, values: dict[str, str]) -> tuple[str | None, bool]:
    """Which attribute of an input or meta tag holds a secret, and whether its name says so."""
    named = _is_sensitive_key(values.get("name", "") or values.get("property", ""))
    if tag_name == "meta":
        return ("content", True) if named else (None, False)
    if named or values.get("type", "").lower() == "hidden":
        return "value", named
    return None, False


def _field_values(text: str) -> list[str]:
    """Token-shaped values of hidden and anti-forgery fields in `text` (see `Redactor.learn`)."""
    found: list[str] = []
    if "<" in text:
        for tag in _TAG.finditer(text):
            values, _ = _tag_fields(tag.group(0))
            attribute, named = _secret_attribute(tag.group(1).lower(), values)
            value = values.get(attribute or "", "")
            if attribute and _token_like(value, strict=not named):
                found.append(value)
    if "hidden" in text:
        for obj in _HIDDEN_OBJECT.finditer(text):
            found.extend(v.group(2) for v in _OBJECT_VALUE.finditer(obj.group(0))
                         if _token_like(v.group(2), strict=True))
    if _ANTI_FORGERY_HINT.search(text):
        found.extend(m.group(1) for m in _ANTI_FORGERY_FIELD.finditer(text)
                     if _token_like(m.group(1), strict=False))
    return found


def scrub_hidden_fields(text: str) -> str:
    """`text` with the values of hidden inputs, anti-forgery inputs and `<meta name=csrf-token>`
    tags replaced (in HTML, HTML inside JSON strings, and trace snapshot attribute objects)."""
    if "<" in text:
        text = _TAG.sub(_scrub_tag, text)
    if "hidden" in text:
        text = _HIDDEN_OBJECT.sub(
            lambda obj: _OBJECT_VALUE.sub(rf'\1"{REDACTED}"', obj.group(0)), text)
    return text


def _scrub_tag(tag: re.Match[str]) -> str:
    values, attrs = _tag_fields(tag.group(0))
    attribute, _ = _secret_attribute(tag.group(1).lower(), values)
    if attribute is None:
        return tag.group(0)
    out, last = [], 0
    source = tag.group(0)
    for match in attrs:
        if match.group(1).lower() != attribute:
            continue
        group = next(g for g in (4, 6, 7) if match.group(g) is not None)
        out += [source[last:match.start(group)], REDACTED]
        last = match.end(group)
    return "".join([*out, source[last:]])
