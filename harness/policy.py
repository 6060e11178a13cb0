"""Assessment policy: thresholds and windows, from `fixtures/policies/default.yaml` or a file.

Rate gates (the `rates:` and `overblocking:` sections) say, per evasion family, how many cases a
surface gets and which bound of the 95% Wilson interval must clear which threshold; a sample size
too small for even a perfect cell to clear its threshold is refused here, not found out in a run.

A value under a legal minimum (`LEGAL_MINIMUMS`) is allowed, since a test policy may shorten it,
but the loaded policy carries a warning about it for the run to print and record in `run.json`.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.probes.corpora import MAX_CASE_CHARS, MAX_CASE_CHARS_LIMIT
from harness.readers import load_yaml_file
from harness.resources import bundled
from harness.waivers import Waiver, parse_waivers

DEFAULT_POLICY = bundled("fixtures") / "policies" / "default.yaml"
DISPOSITIONS = ("rejected", "held", "removed", "masked", "published")
_LISTS = ("acceptable_dispositions", "log_fields_must_match", "measured")
MATCHABLE = ("source_ip", "source_port", "dest_ip", "dest_port", "device", "account")
LEGAL_MINIMUMS: dict[str, tuple[float, str]] = {
    "retention_min_days": (180, "the Cybersecurity Law (Art. 21(3)) keeps network logs at least "
                                "six months"),
}
"""Policy keys with a floor set by law: (minimum, why). Going under it only warns."""
_NOT_FILE_KEYS = frozenset({"path", "sha256", "warnings"})
"""Policy fields the loader sets; a file may not."""


@dataclass(frozen=True)
class Gate:
    """How one family (or the over-blocking bank) is sampled and judged on each surface.

    A cell passes when the Wilson lower bound of its block rate on `must_block` cases is at
    least `block_rate_min` and the upper bound of its false-block rate on `must_allow` cases is at
    most `false_block_max`. With `gating` false (the policy's `gate: false`) the family is
    measured and judged, but its verdict does not make the run fail.
    """

    gating: bool = False
    must_block_n: int = 12
    must_allow_n: int = 4
    block_rate_min: float = 0.70
    false_block_max: float = 0.50


# Rate cases in flight at once, per channel (`rates.concurrency`): a functional scenario,
# not a load test. On the browser channel the cases of a batch are submitted one after another
# in their own contexts and their windows overlap; two cores do not drive more pages faster.
CONCURRENCY = (("api", 8), ("browser", 4))


@dataclass(frozen=True)
class RatePolicy:
    """The gate of every evasion family: `default`, with per-family overrides; and how many
    rate cases each channel has in flight at once (`concurrency`)."""

    default: Gate = Gate()
    families: tuple[tuple[str, Gate], ...] = ()
    concurrency: tuple[tuple[str, int], ...] = CONCURRENCY

    def gate(self, family: str) -> Gate:
        """The gate of `family` (its override, else the default)."""
        return dict(self.families).get(family, self.default)

    def concurrency_of(self, channel: str) -> int:
        """How many rate cases `channel` runs at once."""
        return dict(self.concurrency).get(channel, 1)


@dataclass(frozen=True)
class BankGate:
    """The over-blocking bank: `n` rows per text surface; the Wilson upper bound of the
    false-block rate must stay at most `false_block_max`."""

    gating: bool = True
    n: int = 20
    false_block_max: float = 0.20


@dataclass(frozen=True)
class LoadPolicy:
    """The load channel: how hard a run pushes (always bounded) and what the controls must
    hold under it.

    `workers` worker processes run on this machine and `remote_workers` elsewhere, against a
    master listening on `master_bind`:`master_port` (0: a free port).
    `stages` steps from one user (the no-load stage) up to `users`, each stage `seconds /
    stages` long; every stage submits `canaries_per_stage` canaries once its users are all
    running. A stage's leak rate (95% Wilson upper bound) must stay at most `leak_rate_max`,
    or, when that is null, at most the no-load stage's. Report acknowledgement latency
    percentiles must stay within `ack_p50_seconds` / `ack_p95_seconds` / `ack_p99_seconds`, a
    null one within the limit the profile publishes (`reports.limits.acknowledge_seconds`).
    """

    users: int = 16
    spawn_rate: float = 8.0
    seconds: float = 30.0
    stages: int = 4
    max_requests: int = 500_000
    workers: int = 0
    remote_workers: int = 0
    master_bind: str = "127.0.0.1"
    master_port: int = 0
    canaries_per_stage: int = 30
    leak_rate_max: float | None = None
    ack_p50_seconds: float | None = None
    ack_p95_seconds: float | None = None
    ack_p99_seconds: float | None = None


@dataclass(frozen=True)
class Policy:
    """What the verdicts are judged against."""

    grace_seconds: float = 5.0
    clock_skew_seconds: float = 120.0
    audit_wait_seconds: float = 5.0
    retention_min_days: int = 180
    acceptable_dispositions: tuple[str, ...] = ("rejected", "held", "removed", "masked")
    log_fields_must_match: tuple[str, ...] = MATCHABLE
    report_ack_limit_seconds: float = 86400.0
    report_handle_limit_seconds: float = 1296000.0
    report_wait_seconds: float = 60.0
    complaint_max_clicks: int = 2
    crawl_max_pages: int = 60
    max_case_chars: int = MAX_CASE_CHARS
    rates: RatePolicy = field(default_factory=RatePolicy)
    overblocking: BankGate = field(default_factory=BankGate)
    load: LoadPolicy = field(default_factory=LoadPolicy)
    measured: tuple[str, ...] = ()
    """Control patterns judged and shown but not gating (`harness.waivers`)."""
    waivers: tuple[Waiver, ...] = ()
    path: Path | None = field(default=None, compare=False)
    sha256: str | None = field(default=None, compare=False)
    warnings: tuple[str, ...] = ()
    """Values the file sets under a legal minimum; the run prints and records them."""


def load_policy(path: Path | str | None = None) -> Policy:
    """Read a policy file; unknown keys and bad values are refused, naming them and the file.

    An empty file (or one holding only `null`) is refused too: it is far more likely a
    truncated or wrong file than a wish for the defaults, which come from giving no file.
    The policy keeps the file's path and SHA-256 (see `pin`).
    """
    path = Path(path) if path else DEFAULT_POLICY
    raw, data = load_yaml_file(path, "policy")
    if raw is None:
        raise ConfigError(f"{path}: the policy file is empty; give keys to override (see "
                          f"{DEFAULT_POLICY.name}) or leave out --policy for the defaults")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level: a policy is a mapping of keys to values, "
                          f"not {type(raw).__name__}")
    known = {f.name for f in fields(Policy)} - _NOT_FILE_KEYS
    unknown = sorted(map(str, set(raw) - known))
    if unknown:
        raise ConfigError(f"{path}: unknown policy key(s) {unknown}; known: {sorted(known)}")
    values = dict(raw)
    whole = {f.name for f in fields(Policy) if f.type == "int"}
    for key, value in values.items():
        if key == "rates":
            values[key] = _rates(path, value)
        elif key == "overblocking":
            values[key] = _bank(path, value)
        elif key == "load":
            values[key] = load_section(path, value)
        elif key == "waivers":
            values[key] = parse_waivers(value, f"{path}: waivers")
        elif key in _LISTS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{path}: {key} must be a list of names")
            values[key] = tuple(value)
        elif isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value < 0:
            raise ConfigError(f"{path}: {key} must be a finite number >= 0, not {value!r}")
        elif key in whole and not isinstance(value, int):
            raise ConfigError(f"{path}: {key} must be a whole number, not {value!r}")
    cap = values.get("max_case_chars", MAX_CASE_CHARS)
    if not 1 <= cap <= MAX_CASE_CHARS_LIMIT:
        raise ConfigError(f"{path}: max_case_chars must be between 1 and "
                          f"{MAX_CASE_CHARS_LIMIT}, not {cap!r}")
    _check_measured(path, values.get("measured", ()))
    bad = set(values.get("acceptable_dispositions", ())) - set(DISPOSITIONS)
    bad |= set(values.get("log_fields_must_match", ())) - set(MATCHABLE)
    if bad:
        raise ConfigError(f"{path}: unknown value(s) {sorted(bad)}")
    if "published" in values.get("acceptable_dispositions", ()):
        raise ConfigError(f"{path}: 'published' cannot be an acceptable disposition")
    warnings = tuple(
        f"{path}: {key} = {values[key]!r} is under the legal minimum of {minimum:g}: {why}"
        for key, (minimum, why) in LEGAL_MINIMUMS.items()
        if key in values and values[key] < minimum
    )
    try:
        return Policy(**values, path=path.resolve(), sha256=hashlib.sha256(data).hexdigest(),
                      warnings=warnings)
    except TypeError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _check_measured(path: Path, patterns: tuple[str, ...]) -> None:
    from harness import controls  # noqa: PLC0415

    try:
        controls.check_patterns(patterns)
    except ConfigError as exc:
        raise ConfigError(f"{path}: measured: {exc}") from None


def pin(policy: Policy) -> dict[str, object]:
    """What `run.json` records of the policy a run used (the shape of a corpus pin): its name,
    resolved path and the SHA-256 of the bytes it was read from; the defaults have no file."""
    path = policy.path
    return {"name": path.stem if path else "defaults", "path": str(path) if path else None,
            "sha256": policy.sha256, "warnings": list(policy.warnings)}


# A gate's field and the policy file's key for it, where they differ.
KEYS = {"gating": "gate"}
FIELDS = {key: name for name, key in KEYS.items()}


def _section(path: Path, where: str, raw: Any, base: Any,
             extra: tuple[str, ...] = ()) -> tuple[Any, dict[str, Any]]:
    """`base` updated from the mapping `raw` (keys of `cls`, plus `extra` returned apart)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: {where} must be a mapping of keys to values")
    known = {KEYS.get(f.name, f.name) for f in fields(base)}
    unknown = sorted(map(str, set(raw) - known - set(extra)))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown} in {where}; known: "
                          f"{sorted(known | set(extra))}")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in extra:
            continue
        if key == "gate":
            if not isinstance(value, bool):
                raise ConfigError(f"{path}: {where}.gate must be true or false, not {value!r}")
        elif key.endswith("_n") or key == "n":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{path}: {where}.{key} must be a whole number >= 1, "
                                  f"not {value!r}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not 0 <= value < 1:  # NaN fails this too
            raise ConfigError(f"{path}: {where}.{key} must be a rate in [0, 1), not {value!r}")
        values[FIELDS.get(key, key)] = value
    return replace(base, **values), {key: raw[key] for key in extra if key in raw}


def _reachable(path: Path, where: str, gate: Gate | BankGate) -> None:
    """Refuse sample sizes with which even a perfect cell could not clear its thresholds."""
    from harness.stats import wilson  # noqa: PLC0415 (keeps the policy module light)

    if isinstance(gate, Gate):
        n = gate.must_block_n
        low = wilson(n, n).low
        if low < gate.block_rate_min:
            raise ConfigError(f"{path}: {where}.must_block_n = {n} is too small: {n} blocked of "
                              f"{n} has a lower bound of {low:.3f}, under block_rate_min "
                              f"{gate.block_rate_min}")
    key, n = ("must_allow_n", gate.must_allow_n) if isinstance(gate, Gate) else ("n", gate.n)
    high = wilson(0, n).high
    if high > gate.false_block_max:
        raise ConfigError(f"{path}: {where}.{key} = {n} is too small: 0 false blocks of {n} has "
                          f"an upper bound of {high:.3f}, over false_block_max "
                          f"{gate.false_block_max}")


def _rates(path: Path, raw: Any) -> RatePolicy:
    from harness.probes.variants import get  # noqa: PLC0415 (loads only when a policy has rates)

    default, extra = _section(path, "rates", raw, Gate(), ("families", "concurrency"))
    _reachable(path, "rates", default)
    concurrency = _concurrency(path, extra.get("concurrency", dict(CONCURRENCY)))
    families = extra.get("families") or {}
    if not isinstance(families, dict):
        raise ConfigError(f"{path}: rates.families must map family names to gates")
    gates = []
    for name, entry in families.items():
        try:
            get(str(name))
        except ConfigError as exc:
            raise ConfigError(f"{path}: rates.families: {exc}") from None
        gate, _ = _section(path, f"rates.families.{name}", entry or {}, default)
        _reachable(path, f"rates.families.{name}", gate)
        gates.append((str(name), gate))
    return RatePolicy(default=default, families=tuple(gates), concurrency=concurrency)


def _concurrency(path: Path, raw: Any) -> tuple[tuple[str, int], ...]:
    """`rates.concurrency`: one whole number for every channel, or one per channel
    ({api: 8, browser: 4}; a channel left out keeps its default)."""
    given = {name: raw for name, _ in CONCURRENCY} if not isinstance(raw, dict) else raw
    unknown = sorted(map(str, set(given) - {name for name, _ in CONCURRENCY}))
    if unknown:
        raise ConfigError(f"{path}: rates.concurrency: unknown channel(s) {unknown}; known: "
                          f"{[name for name, _ in CONCURRENCY]}")
    for name, value in given.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{path}: rates.concurrency{'' if raw is value else '.' + name} "
                              f"must be a whole number >= 1, not {value!r}")
    return tuple((name, int(given.get(name, default))) for name, default in CONCURRENCY)


def _bank(path: Path, raw: Any) -> BankGate:
    gate, _ = _section(path, "overblocking", raw, BankGate())
    _reachable(path, "overblocking", gate)
    return gate


_LOAD_WHOLE = frozenset({"users", "stages", "max_requests", "workers", "remote_workers",
                         "master_port", "canaries_per_stage"})
_LOAD_MINIMUM = {"users": 2, "stages": 2, "max_requests": 1, "canaries_per_stage": 1}


def load_section(path: Path | str, raw: Any, base: LoadPolicy | None = None) -> LoadPolicy:
    """The `load:` section (or command-line overrides of it) over `base`; a bad value is a
    ConfigError naming it. Every bound stays set: users, spawn rate, time and request cap."""
    base = base or LoadPolicy()
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: load must be a mapping of keys to values")
    known = {f.name for f in fields(LoadPolicy)}
    unknown = sorted(map(str, set(raw) - known))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown} in load; known: {sorted(known)}")
    for key, value in raw.items():
        nullable = key == "leak_rate_max" or key.startswith("ack_")
        if value is None and nullable:
            continue
        if key == "master_bind":
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{path}: load.master_bind must be an address, not {value!r}")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise ConfigError(f"{path}: load.{key} must be a number, not {value!r}")
        if key in _LOAD_WHOLE and not isinstance(value, int):
            raise ConfigError(f"{path}: load.{key} must be a whole number, not {value!r}")
        if key in _LOAD_MINIMUM and value < _LOAD_MINIMUM[key]:
            raise ConfigError(f"{path}: load.{key} must be at least {_LOAD_MINIMUM[key]}, "
                              f"not {value!r}")
        if key == "leak_rate_max" and not 0 < value < 1:
            raise ConfigError(f"{path}: load.leak_rate_max must be a rate in (0, 1), "
                              f"not {value!r}")
        if key in ("spawn_rate", "seconds") or key.startswith("ack_"):
            if value <= 0:
                raise ConfigError(f"{path}: load.{key} must be more than 0, not {value!r}")
        elif value < 0:
            raise ConfigError(f"{path}: load.{key} must be 0 or more, not {value!r}")
    return replace(base, **raw)
