"""The settings of a run: one object, built once, shared by `harness assess` and the plugin.

Each value comes from the first of these that sets it: the command line, the `HARNESS_*`
environment, `[tool.harness]` in the project's `pyproject.toml` (or pytest's `harness_*` ini
keys), the defaults. `Settings.check()` validates everything a run needs (policy, control
patterns, corpora, profile, reference faults, browser) before anything is started or sent.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover (Python 3.10)
    import tomli as tomllib

CHANNELS = ("api", "browser", "load", "all")
# The channels a scenario that takes `channel` runs on when it names none of its own.
FUNCTIONAL_CHANNELS = ("api", "browser")
ENV_PREFIX = "HARNESS_"
# Environment names that differ from HARNESS_<FIELD>.
ENV_NAMES = {"browser_path": "HARNESS_BROWSER", "reports_dir": "HARNESS_REPORTS"}
LISTS = frozenset({"controls", "reference_faults", "corpora"})
PATHS = frozenset({"profile", "policy", "reports_dir"})
LAYERS = ("default", "pyproject", "environment", "command line")


def _reference_profile() -> Path:
    from harness.targets.profile import REFERENCE_PROFILE  # noqa: PLC0415

    return REFERENCE_PROFILE


@dataclass(frozen=True)
class Settings:
    """What a run is told: its target, scope, policy, corpora, seed and where evidence goes.

    `sources` names the layer each value came from (recorded in run.json)."""

    profile: Path | None = None  # None: the embedded reference site's profile
    base_url: str | None = None
    channel: str = "api"
    controls: tuple[str, ...] = ()
    reference_faults: tuple[str, ...] = ()
    corpora: tuple[Path, ...] = ()
    policy: Path | None = None
    seed: int | None = None
    browser_path: str | None = None
    reports_dir: Path | None = None
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def profile_path(self) -> Path:
        return self.profile or _reference_profile()

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels the run assesses through (`all` is every one)."""
        return ("api", "browser", "load") if self.channel == "all" else (self.channel,)

    @property
    def starts_reference(self) -> bool:
        """Whether the harness must start the embedded reference site (its profile, no URL)."""
        return self.base_url is None and (
            self.profile is None or self.profile.resolve() == _reference_profile().resolve())

    @classmethod
    def resolve(cls, given: Mapping[str, Any], *, project: Path | None = None,
                environ: Mapping[str, str] | None = None,
                ini: Mapping[str, Any] | None = None) -> Settings:
        """Settings from the layers: `given` (the command line; None or empty means unset) <
        over the environment < over `[tool.harness]` of `project`'s pyproject.toml (and pytest
        `ini` keys) < over the defaults."""
        environ = os.environ if environ is None else environ
        layers = [("pyproject", {**dict(ini or {}), **_pyproject(project)}),
                  ("environment", _environment(environ)),
                  ("command line", {k: v for k, v in given.items() if v not in (None, [], ())})]
        values: dict[str, Any] = {}
        sources = {f.name: "default" for f in fields(cls) if f.name != "sources"}
        for layer, found in layers:
            for name, value in found.items():
                if name not in sources:
                    raise ConfigError(f"{layer}: unknown harness setting {name!r}; known: "
                                      f"{', '.join(sorted(sources))}")
                values[name] = value
                sources[name] = layer
        return replace(cls(), **_typed(values), sources=sources)

    def check(self) -> Checked:
        """Validate every input of the run before anything starts: a bad one is a ConfigError
        naming it (exit 2), and nothing has been sent."""
        from harness import controls  # noqa: PLC0415
        from harness.policy import load_policy  # noqa: PLC0415
        from harness.probes.corpora import select_corpora  # noqa: PLC0415
        from harness.targets.profile import load_profile  # noqa: PLC0415

        if self.channel not in CHANNELS:
            raise ConfigError(f"channel {self.channel!r}: expected one of {', '.join(CHANNELS)}")
        if self.base_url:
            check_base_url(self.base_url)
        policy = load_policy(self.policy)
        controls.check_patterns(self.controls)
        corpora = select_corpora(self.corpora, self.profile_path,
                                 max_case_chars=policy.max_case_chars)
        if "browser" in self.channels:
            from harness.targets.browser import find_browser  # noqa: PLC0415

            find_browser(self.browser_path)
        if "load" in self.channels and importlib.util.find_spec("locust") is None:
            raise ConfigError("the load channel needs Locust: pip install -e '.[load]'")
        if self.reference_faults and not self.starts_reference:
            raise ConfigError("--reference-fault applies only when the harness starts the "
                              "reference site (no --profile, no --base-url)")
        if self.starts_reference:
            if self.reference_faults:
                _check_faults(self.reference_faults)
        else:
            load_profile(self.profile_path, base_url=self.base_url)
        return Checked(self, policy, corpora)


@dataclass(frozen=True, eq=False)  # hashed by identity: pytest registers it as a plugin
class Checked:
    """Settings that passed `check()`, with what checking them loaded."""

    settings: Settings
    policy: Any  # harness.policy.Policy
    corpora: list[Any]  # harness.probes.corpora.Corpus


def check_base_url(url: str) -> None:
    """Refuse a base URL that is not http(s)://HOST[:PORT][/PATH] with a valid port."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 (raises on a port out of range)
    except ValueError as exc:
        raise ConfigError(f"--base-url {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--base-url {url!r}: expected http(s)://HOST[:PORT][/PATH]")


def _check_faults(faults: Sequence[str]) -> None:
    from harness import reference  # noqa: PLC0415

    known = reference.list_faults()
    unknown = [name for name in faults if name not in known]
    if unknown:
        raise ConfigError(f"unknown reference fault(s) {unknown}; see "
                          "`harness serve-reference --list-faults`")


def _pyproject(project: Path | None) -> dict[str, Any]:
    """`[tool.harness]` of the nearest pyproject.toml at or above `project`, paths made
    relative to that file."""
    if project is None:
        return {}
    for folder in (project, *project.parents):
        path = folder / "pyproject.toml"
        if path.is_file():
            break
    else:
        return {}
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("harness", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read [tool.harness]: {exc}") from None
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.harness] must be a table")
    return {key: _relative(path.parent, key, value) for key, value in table.items()}


def _relative(base: Path, key: str, value: Any) -> Any:
    if key in PATHS and isinstance(value, str):
        return str(base / value)
    if key == "corpora" and isinstance(value, list):
        return [str(base / v) if isinstance(v, str) else v for v in value]
    return value


def _environment(environ: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name == "sources":
            continue
        name = ENV_NAMES.get(f.name, ENV_PREFIX + f.name.upper())
        value = environ.get(name)
        if value:
            found[f.name] = value.split(os.pathsep if f.name == "corpora" else ",") \
                if f.name in LISTS else value
    return found


def _typed(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values as the fields' types, refusing what cannot be one."""
    typed: dict[str, Any] = {}
    for name, value in values.items():
        if name in LISTS:
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list | tuple) or not all(isinstance(v, str | Path)
                                                             for v in items):
                raise ConfigError(f"setting {name}: expected a list of names, not {value!r}")
            typed[name] = tuple(Path(v) if name == "corpora" else str(v).strip()
                                for v in items if str(v).strip())
        elif name in PATHS:
            typed[name] = Path(value) if value else None
        elif name == "seed":
            try:
                typed[name] = int(value) if value is not None else None
            except (TypeError, ValueError):
                raise ConfigError(f"setting seed: expected a whole number, not {value!r}") \
                    from None
        else:
            typed[name] = str(value) if value is not None else None
    return typed
