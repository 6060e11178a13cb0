"""Variable substitution and JSON lookups shared by every channel's declarative steps.

Templates use `{name}` for case and actor variables. A string that is exactly one placeholder
keeps the variable's own type (bytes for an image, a number), so `files: {file: "{image}"}` works.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class MissingVariable(KeyError):
    """A template names a variable the case does not have (yet), e.g. the id of a refused item."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def render(value: Any, variables: Mapping[str, Any]) -> Any:
    """Substitute `{name}` placeholders in strings, recursively through dicts and lists."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole:
            return _lookup_var(whole.group(1), variables)
        return _PLACEHOLDER.sub(lambda m: str(_lookup_var(m.group(1), variables)), value)
    if isinstance(value, Mapping):
        return {key: render(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, variables) for item in value]
    return value


def _lookup_var(name: str, variables: Mapping[str, Any]) -> Any:
    try:
        found = variables[name]
    except KeyError:
        raise MissingVariable(name) from None
    if found is None:
        raise MissingVariable(name)
    return found


def lookup(document: Any, path: str) -> list[Any]:
    """Values at a dotted path (`items.0.id`, `users.*.avatar_url`); empty when absent."""
    current = [document]
    for part in path.split("."):
        following: list[Any] = []
        for node in current:
            if part == "*":
                if isinstance(node, list):
                    following.extend(node)
                elif isinstance(node, Mapping):
                    following.extend(node.values())
            elif isinstance(node, Mapping) and part in node:
                following.append(node[part])
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                following.append(node[int(part)])
        current = following
    return [value for value in current if value is not None]


def lookup_one(document: Any, path: str) -> Any | None:
    """The first value at a dotted path, or None."""
    found = lookup(document, path)
    return found[0] if found else None


# The keys that name a step's kind, in the order a step is told by (a request has `method`).
STEP_KINDS = ("register", "mail", "goto", "fill", "upload", "choose", "check", "click",
              "accept_dialog", "wait_for", "read")


def step_kind(spec: Mapping[str, Any]) -> str:
    """What a declarative step does: `register`, `mail`, `goto`, `click`, ... or, for an
    HTTP request, its method."""
    if "method" in spec:
        return str(spec["method"])
    return next((kind for kind in STEP_KINDS if kind in spec),
                next((key for key in spec if key != "as"), "step"))


def describe_step(spec: Mapping[str, Any]) -> str:
    """A step as a person reads it in an error: its kind and its locator, page or request,
    e.g. `click {role: button, name: Register}` or `POST /api/posts`."""
    kind = step_kind(spec)
    if "method" in spec:
        return f"{kind} {spec.get('path') or spec.get('url', '')}"
    arg = spec.get(kind)
    if kind == "mail":
        return f"mail to {arg.get('to', '{email}')} with a link matching {arg.get('link')!r}"
    if kind in ("fill", "upload", "choose"):
        return f"{kind} {describe_locator(arg['field'])}"
    if kind == "wait_for":
        return "wait_for " + ", ".join(
            f"{key} {describe_locator(value) if key == 'selector' else repr(value)}"
            for key, value in arg.items())
    if kind == "read":
        return "read " + ("the URL" if arg.get("url") else describe_locator(
            arg.get("selector", "")))
    if kind in ("click", "check"):
        return f"{kind} {describe_locator(arg)}"
    return f"{kind} {arg}" if isinstance(arg, str) else kind


def describe_locator(locator: Any) -> str:
    """A locator as the profile wrote it: a CSS selector, or `{role: button, name: Send}`."""
    if isinstance(locator, Mapping):
        return "{" + ", ".join(f"{key}: {value}" for key, value in locator.items()) + "}"
    return repr(locator)


def step_label(action: str, index: int, spec: Mapping[str, Any]) -> str:
    """Which step of which action: `register step 3 (click {role: button, name: Go})`."""
    return f"{action} step {index} ({describe_step(spec)})"
