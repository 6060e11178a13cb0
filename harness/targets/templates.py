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
