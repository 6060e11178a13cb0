"""Reading the harness's own input files (profiles, policies) so that bad bytes never crash it.

Every failure is a ConfigError naming the file and, where the parser knows it, the line and
column; a file too large, nested too deeply or expanding (YAML aliases) past a sane size is
refused before any code walks it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError

MAX_CONFIG_BYTES = 1 << 20
"""A profile or policy is a few kilobytes; anything over 1 MiB is refused unread."""
MAX_CONFIG_NODES = 100_000
"""Values in a loaded document, counting each use of a YAML alias again (a "billion laughs"
file of a few lines would otherwise make every later walk take forever)."""
MAX_CONFIG_DEPTH = 64
"""Nesting levels a loaded document may have."""
# libyaml's loader where PyYAML has it (ten times faster: every run reads its profile, policy,
# catalog and lexicon, in the controller and in each worker), else the pure-Python one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    """`yaml.safe_load`, with libyaml when it is there."""
    return yaml.load(text, Loader=_LOADER)  # a safe loader: no Python objects


def read_config_bytes(path: Path, what: str) -> bytes:
    """The bytes of the `what` file (e.g. "policy") at `path`, refusing unreadable or huge ones."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: the {what} is larger than {MAX_CONFIG_BYTES} bytes; "
                          f"a {what} file is small YAML")
    return data


def load_yaml_bytes(data: bytes, path: Path, what: str) -> Any:
    """Parse `data` (the bytes of `path`) as UTF-8 YAML; ConfigError with the line when it is not.

    The document is also checked for size and depth (see MAX_CONFIG_NODES, MAX_CONFIG_DEPTH).
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: line {line}: the {what} is not UTF-8 text "
                          f"(byte {data[exc.start]:#04x} at offset {exc.start})") from None
    try:
        document = parse_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        place = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        if "nesting depth" in problem:  # libyaml's own limit
            raise ConfigError(f"{path}: {place}the {what} is nested too deeply to read") \
                from None
        raise ConfigError(f"{path}: {place}not valid YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, such as NUL
        line = text[: exc.position].count("\n") + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or " ")
        raise ConfigError(f"{path}: line {line}: not valid YAML: the character U+{char:04X} "
                          "is not allowed") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise ConfigError(f"{path}: the {what} is nested too deeply to read") from None
    _check_shape(document, path, what)
    return document


def load_yaml_file(path: Path, what: str) -> tuple[Any, bytes]:
    """The parsed YAML of `path` and the exact bytes it came from (for a SHA-256 pin)."""
    data = read_config_bytes(path, what)
    return load_yaml_bytes(data, path, what), data


def describe_path(parts: list[Any] | tuple[Any, ...]) -> str:
    """A key path as `a.b[2].c`, or "the top level" for an empty one."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the top level"


def _check_shape(document: Any, path: Path, what: str) -> None:
    """Refuse documents too large (aliases counted at every use) or too deep, iteratively."""
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(document, 0, ())]
    seen = 0
    while stack:
        node, depth, where = stack.pop()
        seen += 1
        if seen > MAX_CONFIG_NODES:
            raise ConfigError(f"{path}: the {what} expands to more than {MAX_CONFIG_NODES} "
                              "values (YAML aliases count at every use); refusing it")
        if depth > MAX_CONFIG_DEPTH:
            raise ConfigError(f"{path}: {describe_path(list(where))}: nested more than "
                              f"{MAX_CONFIG_DEPTH} levels deep")
        if isinstance(node, dict):
            stack.extend((value, depth + 1, (*where, key)) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((value, depth + 1, (*where, i)) for i, value in enumerate(node))
