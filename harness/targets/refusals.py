"""How a target says no: moderation refusals apart from validation errors.

A site refuses a submission for many reasons. Only a refusal for its content is a moderation
disposition (`rejected`); a refusal for the format, size, length or charset of the input
(`invalid`) says nothing about moderation, and a refusal the profile does not describe at all
is an `error`. Both leave the case inconclusive, never a pass (DESIGN 5).

A profile describes refusals as rules, site-wide (`api.rejected`, `api.validation`,
`browser.rejected`, `browser.validation`) and per surface (the same keys in a surface's
section). A rule matches when every condition it gives holds: `status` (one of these codes),
`json` (each JSON path has a value matching its regular expression), `text` (a regular
expression found in the response body, or in the page's visible text), `selector` (an element
visible on the page; browser only). Validation rules are tried first, the surface's before the
site's, then the rejected rules the same way: a refusal a validation rule describes is never
taken for moderation, however broad a `rejected` rule is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError
from harness.targets.templates import lookup, lookup_one

ACCEPTED = "accepted"
REJECTED = "rejected"
INVALID = "invalid"
ERROR = "error"
# Where an API error body usually says what went wrong, tried in order.
MESSAGE_KEYS = ("message", "detail", "error_description", "error")
MESSAGE_CHARS = 200


@dataclass(frozen=True)
class Rule:
    """One kind of refusal the profile describes."""

    kind: str  # REJECTED or INVALID
    name: str
    status: frozenset[int] = frozenset()
    json: tuple[tuple[str, re.Pattern[str]], ...] = ()
    text: re.Pattern[str] | None = None
    selector: Any = None
    message: str | None = None  # JSON path of the site's own message

    @property
    def needs_text(self) -> bool:
        return self.text is not None

    def matches(self, status: int | None, document: Any = None, text: str | None = None,
                visible: Callable[[Any], bool] | None = None) -> bool:
        """Whether an answer fits this rule; `visible` tells whether a locator shows (pages)."""
        if self.status and status not in self.status:
            return False
        for path, pattern in self.json:
            if not any(pattern.search(str(value)) for value in lookup(document, path)):
                return False
        if self.text is not None and not (text and self.text.search(text)):
            return False
        if self.selector is not None:
            return visible is not None and visible(self.selector)
        return True


@dataclass(frozen=True)
class Refusal:
    """What a submission's answer was: its outcome and, for a refusal, which rule and what the
    site said."""

    outcome: str
    rule: str | None = None
    message: str | None = None

    @property
    def reason(self) -> str:
        """The rule's name and the site's message, as a verdict's reason quotes them."""
        parts = [part for part in (self.rule, self.message) if part]
        return ": ".join(dict.fromkeys(parts)) or self.outcome


def _pattern(value: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(value)
    except re.error as exc:
        raise ConfigError(f"{where}: {value!r} is not a regular expression: {exc}") from None


def parse_rules(specs: Any, kind: str, where: str) -> tuple[Rule, ...]:
    """Rules from a profile's list (a single mapping is one rule: the browser's older form)."""
    if not specs:
        return ()
    if isinstance(specs, Mapping):
        specs = [specs]
    rules = []
    for index, spec in enumerate(specs):
        at = f"{where}[{index}]"
        rules.append(Rule(
            kind=kind, name=str(spec.get("name", kind)),
            status=frozenset(spec.get("status", ())),
            json=tuple((path, _pattern(pattern, f"{at}.json.{path}"))
                       for path, pattern in spec.get("json", {}).items()),
            text=_pattern(spec["text"], f"{at}.text") if "text" in spec else None,
            selector=spec.get("selector"), message=spec.get("message"),
        ))
    return tuple(rules)


class RefusalRules:
    """A channel's refusal rules, site-wide and per surface, in the order they are tried."""

    def __init__(self, section: Mapping[str, Any], where: str) -> None:
        self.site = {kind: parse_rules(section.get(key), kind, f"{where}.{key}")
                     for key, kind in (("validation", INVALID), ("rejected", REJECTED))}
        self.surfaces: dict[str, dict[str, tuple[Rule, ...]]] = {}
        for name, surface in (section.get("surfaces") or {}).items():
            self.surfaces[name] = {
                kind: parse_rules(surface.get(key), kind, f"{where}.surfaces.{name}.{key}")
                for key, kind in (("validation", INVALID), ("rejected", REJECTED))}

    def for_surface(self, surface: str | None) -> list[Rule]:
        """Validation rules (the surface's, then the site's), then rejected rules likewise."""
        own = self.surfaces.get(surface or "", {})
        return [rule for kind in (INVALID, REJECTED)
                for rule in (*own.get(kind, ()), *self.site[kind])]

    def every(self) -> list[Rule]:
        """Every rule of every scope (a page is checked before its surface is known)."""
        return [rule for rules in (self.site, *self.surfaces.values())
                for kind in (INVALID, REJECTED) for rule in rules.get(kind, ())]

    def first(self, surface: str | None, fits: Callable[[Rule], bool]) -> Rule | None:
        """The first rule for the surface that `fits`."""
        return next((rule for rule in self.for_surface(surface) if fits(rule)), None)


def api_message(rule: Rule | None, document: Any, body: str | None) -> str | None:
    """What an API error answer says: the rule's message path, a usual key, or the body."""
    if rule is not None and rule.message:
        found = lookup_one(document, rule.message)
        if found is not None:
            return str(found)[:MESSAGE_CHARS]
    if isinstance(document, Mapping):
        for key in MESSAGE_KEYS:
            if isinstance(document.get(key), str) and document[key]:
                return document[key][:MESSAGE_CHARS]
    return " ".join((body or "").split())[:MESSAGE_CHARS] or None
