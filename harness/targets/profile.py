"""Target profiles: declarative YAML that tells the harness how to drive one service.

A profile is validated against `harness/data/profile.schema.yaml` before any request: a
misspelt or missing key is refused with the key, where it is, and the file named.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from harness.errors import ConfigError, UnsafeTargetError
from harness.readers import load_yaml_file, parse_yaml
from harness.resources import bundled
from harness.targets.accounts import AccountRules, check_accounts

SCHEMA_PATH = Path(__file__).parents[1] / "data" / "profile.schema.yaml"
PROFILES_DIR = bundled("fixtures") / "targets"
REFERENCE_PROFILE = PROFILES_DIR / "reference.yaml"
SURFACES = (
    "account_name", "nickname", "bio", "remark", "avatar", "group_name",
    "group_intro", "group_logo", "post", "comment", "forward", "group_message",
)
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Profile:
    """A validated profile with environment references resolved."""

    path: Path
    sha256: str
    data: dict[str, Any] = field(repr=False)
    base_url: str
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def api(self) -> dict[str, Any]:
        """The `api` section; empty for a pages-only site (its profile has none)."""
        return self.data.get("api", {})

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels the profile describes steps for: `api`, `browser` or both."""
        return tuple(name for name in ("api", "browser") if name in self.data)

    @property
    def accounts(self) -> AccountRules:
        """What the profile says of accounts: naming rule, {email}, mail, provisioned ones."""
        return AccountRules.from_profile(self.data)

    @property
    def allowed_hosts(self) -> tuple[str, ...]:
        return tuple(self.data["allowed_hosts"])

    def surface(self, name: str) -> dict[str, Any] | None:
        """The API section of a surface, or None when the profile does not describe it."""
        return self.api.get("surfaces", {}).get(name)

    def joiner(self, surface: str, channel: str) -> str:
        """How content is joined to its tag on a surface: the channel's own `joiner`, else the
        API section's (a property of the surface, the same on its pages), else a space."""
        for section in (self.data.get(channel, {}), self.api):
            spec = section.get("surfaces", {}).get(surface) or {}
            if "joiner" in spec:
                return str(spec["joiner"])
        return " "

    def item_type(self, kind: str, channel: str) -> str:
        """The site's own name for an item kind (`post`, `group`, ...), filled into {kind} and
        {item_type}: `reports.items.<kind>.type` of the channel's section, else the API's,
        else the harness's name."""
        for section in (self.data.get(channel, {}), self.api):
            spec = section.get("reports", {}).get("items", {}).get(kind)
            if isinstance(spec, dict) and "type" in spec:
                return str(spec["type"])
        return kind


@cache
def _schema() -> dict[str, Any]:
    return parse_yaml(SCHEMA_PATH.read_text(encoding="utf-8"))


def load_profile(path: Path | str, *, base_url: str | None = None,
                 environ: Mapping[str, str] | None = None) -> Profile:
    """Read, validate and resolve a profile; `base_url` overrides the file's own, and
    `${NAME}` references are resolved from `environ` (default: the process environment)."""
    path = Path(path)
    data, raw_text = load_yaml_file(path, "target profile")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level: a profile is a mapping with name, "
                          f"allowed_hosts and api or browser, not {type(data).__name__}")
    _validate(data, path)
    data = copy.deepcopy(data)
    if base_url:
        data["base_url"] = base_url
    if not data.get("base_url"):
        raise ConfigError(
            f"{path}: no base_url; give one with --base-url (or set base_url in the profile)"
        )
    secrets: list[str] = []
    data = _resolve_env(data, path, secrets, "", os.environ if environ is None else environ)
    check_accounts(data, path, secrets)
    data["base_url"] = data["base_url"].rstrip("/")
    check_allowed(data["base_url"], data["allowed_hosts"], path)
    return Profile(
        path=path.resolve(),
        sha256=hashlib.sha256(raw_text).hexdigest(),
        data=data,
        base_url=data["base_url"],
        secrets=tuple(secrets),
    )


def check_allowed(url: str, allowed_hosts: list[str] | tuple[str, ...], path: Path | str) -> None:
    """Refuse a URL whose host is not in the profile's allowed_hosts."""
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        hostname = None
    if hostname is None or parts.scheme not in ("http", "https"):
        raise ConfigError(f"{path}: base_url {url!r} is not an http(s) URL")
    if hostname not in allowed_hosts:
        raise UnsafeTargetError(
            f"{path}: host {hostname!r} is not in allowed_hosts {list(allowed_hosts)}; "
            "the harness sends content only to hosts the profile allows"
        )


def _validate(data: dict[str, Any], path: Path) -> None:
    where = _odd_key(data, ())
    if where is not None:  # the schema's keys are names; jsonschema cannot rank such errors
        raise ConfigError(f"{path}: {_where(where[:-1])}: the key {where[-1]!r} is not a name "
                          "(quote it if it is meant as one)")
    validator = jsonschema.Draft202012Validator(_schema())
    errors = list(validator.iter_errors(data))
    if not errors:
        return
    if not {"api", "browser"} & set(data):
        raise ConfigError(f"{path}: the top level: a profile needs an `api` section, a "
                          "`browser` section or both (how the harness drives the site)")
    # A misspelt key also shows as a missing one; naming the misspelling helps more.
    unknown = [e for e in errors if e.validator == "additionalProperties"]
    error = unknown[0] if unknown else best_match(errors)
    raise ConfigError(f"{path}: {_describe(error)}")


def _odd_key(value: Any, at: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """The path to the first mapping key that is not a string (YAML reads `1:` or `yes:` as a
    number or a boolean), or None."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return (*at, key)
            found = _odd_key(item, (*at, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _odd_key(item, (*at, index))
            if found is not None:
                return found
    return None


def _describe(error: ValidationError) -> str:
    """A one-line message naming the offending key and where it is."""
    while error.validator in ("oneOf", "anyOf") and error.context:
        error = best_match(error.context)
    where = _where(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(error.schema.get("properties", {}))
        unknown = [key for key in error.instance if key not in allowed]
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        return f"unknown key {', '.join(hints)} in {where}; allowed: {', '.join(allowed)}"
    if error.validator == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        key = missing.group(1) if missing else error.message
        return f"missing key {key!r} in {where}"
    if error.validator == "enum" and list(error.absolute_path)[:2] == ["api", "surfaces"] \
            and len(error.absolute_path) == 2:
        close = difflib.get_close_matches(str(error.instance), SURFACES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown surface {error.instance!r}{hint} in api.surfaces; known: " \
            + ", ".join(SURFACES)
    return f"{where}: {error.message}"


def _where(path: Iterator[Any] | Any) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the top level"


def _resolve_env(value: Any, path: Path, secrets: list[str], where: str,
                 environ: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            resolved = environ.get(name)
            if resolved is None:
                raise ConfigError(
                    f"{path}: environment variable {name} is not set (used at {where})"
                )
            secrets.append(resolved)
            return resolved
        return _ENV.sub(substitute, value)
    if isinstance(value, dict):
        return {
            key: _resolve_env(item, path, secrets, f"{where}.{key}" if where else str(key),
                              environ)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_resolve_env(item, path, secrets, f"{where}[{i}]", environ)
                for i, item in enumerate(value)]
    return value
