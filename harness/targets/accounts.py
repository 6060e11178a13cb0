"""Accounts on the target: its naming rule, the e-mail address of every account the harness
makes, and the accounts made beforehand (the profile's `accounts` section).

Every name the harness makes (a persona's, a fresh author's, a rate case's) fits the site's
naming rule, so that no case fails for its author's name. Content sent *as* a name (the
account-name and nickname surfaces) is judged against the same rule by `Naming.refusal`: what
cannot fit is never cut into a different probe (see `harness.probes.cases.Case.for_naming`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, HarnessError
from harness.readers import load_yaml_file
from harness.targets.templates import MissingVariable, render

DEFAULT_EMAIL = "{account_name}@example.test"
# Without a naming rule a name keeps this much of its benign base before its unique tail.
DEFAULT_BASE_CHARS = 16
PROVISIONED_KEYS = ("account_name", "password", "email")
# Roles an account made beforehand can play (a fresh author is made per case; anonymous has none).
PROVISIONED_ROLES = ("viewer", "reporter", "group_owner", "moderator", "admin")


@dataclass(frozen=True)
class Naming:
    """The site's rule for account names (pattern, length) and nicknames (length)."""

    pattern: str | None = None
    min_length: int = 1
    max_length: int | None = None
    nickname_max_length: int | None = None

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | None) -> Naming:
        spec = spec or {}
        return cls(pattern=spec.get("pattern"), min_length=int(spec.get("min_length", 1)),
                   max_length=spec.get("max_length"),
                   nickname_max_length=spec.get("nickname_max_length"))

    @property
    def declared(self) -> bool:
        return self != Naming()

    def describe(self, surface: str = "account_name") -> str:
        """The rule for a surface in words, as verdicts quote it."""
        if surface == "nickname":
            return f"nicknames of at most {self.nickname_max_length} characters"
        length = (f"{self.min_length}-{self.max_length} characters" if self.max_length
                  else f"at least {self.min_length} characters")
        return f"account names of {length}" + (
            f" matching {self.pattern}" if self.pattern else "")

    def refusal(self, surface: str, text: str) -> str | None:
        """Why `text` cannot be this surface's value under the rule; None when it can (and for
        every surface the rule says nothing of)."""
        problems = []
        if surface == "account_name":
            if len(text) < self.min_length:
                problems.append(f"shorter than {self.min_length}")
            if self.max_length is not None and len(text) > self.max_length:
                problems.append(f"longer than {self.max_length}")
            if self.pattern is not None and re.fullmatch(self.pattern, text) is None:
                problems.append(f"does not match {self.pattern}")
        elif surface == "nickname" and self.nickname_max_length is not None \
                and len(text) > self.nickname_max_length:
            problems.append(f"longer than {self.nickname_max_length}")
        if not problems:
            return None
        return f"{text!r} ({len(text)} characters) is {' and '.join(problems)}"

    def fit(self, surface: str, bodies: Iterable[str], tail: str) -> str | None:
        """The first `body + tail` the rule accepts, each body cut to the room the rule
        leaves (without a length rule: DEFAULT_BASE_CHARS); None when none is accepted."""
        limit = self.max_length if surface == "account_name" else self.nickname_max_length
        room = DEFAULT_BASE_CHARS if limit is None else limit - len(tail)
        for body in dict.fromkeys(bodies):
            text = body[:max(room, 0)].strip() + tail
            if self.refusal(surface, text) is None:
                return text
        return None

    def account_name(self, base: str, unique: str) -> str:
        """A name made of a benign `base` and a tail that keeps it apart from every other the
        run makes: `unique` itself when it fits, else a digest of it (letters and digits)."""
        tails = [f"_{unique}", unique]
        for size in (10, 8, 6):
            digest = _digest(unique, size)
            tails += [f"_{digest}", digest]
        alnum = re.sub(r"[^A-Za-z0-9]", "", base) or "user"
        bodies = (base, alnum, alnum.lower(), alnum.upper(), alnum.lower() + "user")
        for tail in (form for each in tails for form in (each, each.upper())):
            name = self.fit("account_name", bodies, tail)
            if name is not None:
                return name
        raise ConfigError(f"accounts.naming: the harness cannot make a name from {base!r} that "
                          f"fits the rule ({self.describe()})")

    def nickname(self, text: str) -> str:
        """A persona's nickname cut to the rule's length (a benign name stays benign)."""
        if self.nickname_max_length is None:
            return text
        return text[:self.nickname_max_length].strip() or text[:self.nickname_max_length]


@dataclass(frozen=True)
class AccountRules:
    """What the profile says of accounts: naming, e-mail template, where mail arrives, and
    accounts made beforehand (role -> account_name, password, email)."""

    naming: Naming = field(default_factory=Naming)
    email: str = DEFAULT_EMAIL
    mail: Mapping[str, Any] | None = None
    provisioned: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def from_profile(cls, data: Mapping[str, Any]) -> AccountRules:
        spec = data.get("accounts") or {}
        provisioned = spec.get("provisioned") or {}
        return cls(naming=Naming.from_spec(spec.get("naming")),
                   email=spec.get("email", DEFAULT_EMAIL), mail=spec.get("mail"),
                   provisioned={role: dict(account) for role, account in provisioned.items()
                                if role != "file"})

    def email_for(self, account: Mapping[str, Any]) -> str:
        """The `{email}` of an account: the profile's template filled with its details."""
        try:
            return str(render(self.email, account))
        except MissingVariable as missing:
            raise ConfigError(f"accounts.email {self.email!r} names {{{missing.name}}}, which "
                              "an account does not have (it has "
                              f"{', '.join(sorted(account))})") from None


def _digest(text: str, size: int) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode().lower()[:size]


def check_accounts(data: dict[str, Any], path: Path, secrets: list[str]) -> None:
    """Check the `accounts` section of a resolved profile and read its secrets file into it
    (`provisioned.file`, relative to the profile): a bad pattern, lengths that cannot hold,
    a rule no name can meet, a missing or malformed file are refused before any request."""
    spec = data.get("accounts")
    if not spec:
        return
    naming = spec.get("naming") or {}
    if "pattern" in naming:
        try:
            re.compile(naming["pattern"])
        except re.error as exc:
            raise ConfigError(f"{path}: accounts.naming.pattern {naming['pattern']!r} is not "
                              f"a regular expression: {exc}") from None
    low, high = naming.get("min_length", 1), naming.get("max_length")
    if high is not None and low > high:
        raise ConfigError(f"{path}: accounts.naming: min_length {low} is above max_length "
                          f"{high}")
    rules = AccountRules.from_profile(data)
    try:
        rules.email_for({"account_name": rules.naming.account_name("sample", "ab12")})
    except HarnessError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    smtp = (spec.get("mail") or {}).get("smtp")
    if smtp is not None:
        try:
            smtp["port"] = int(smtp.get("port", 0))
            if not 0 <= smtp["port"] <= 65535:
                raise ValueError(smtp["port"])
        except ValueError:
            raise ConfigError(f"{path}: accounts.mail.smtp.port {smtp.get('port')!r} is not a "
                              "port number (0 picks a free one)") from None
    provisioned = spec.get("provisioned") or {}
    if "file" in provisioned:
        provisioned.update(_secrets_file(path.parent / provisioned.pop("file")))
    secrets.extend(str(account["password"]) for account in provisioned.values()
                   if account.get("password"))


def _secrets_file(path: Path) -> dict[str, dict[str, str]]:
    """Role -> account from a YAML secrets file; every account needs a name and a password."""
    data, _ = load_yaml_file(path, "secrets file")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a secrets file maps roles to accounts "
                          "({account_name, password, email})")
    found = {}
    for role, account in data.items():
        if role not in PROVISIONED_ROLES:
            raise ConfigError(f"{path}: {role!r} is not a role an account made beforehand can "
                              f"play; roles: {', '.join(PROVISIONED_ROLES)}")
        if not isinstance(account, dict) or not {"account_name", "password"} <= set(account):
            raise ConfigError(f"{path}: {role}: an account needs account_name and password")
        unknown = set(account) - set(PROVISIONED_KEYS)
        if unknown:
            raise ConfigError(f"{path}: {role}: unknown key {', '.join(sorted(unknown))}; "
                              f"allowed: {', '.join(PROVISIONED_KEYS)}")
        found[str(role)] = {key: str(value) for key, value in account.items()}
    return found
