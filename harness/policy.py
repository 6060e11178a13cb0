"""Assessment policy: thresholds and windows, from `fixtures/policies/default.yaml` or a file.

Rate gates (the `rates:` and `overblocking:` sections) say, per evasion family, how many cases a
surface gets and which bound of the 95% Wilson interval must clear which threshold; a sample size
too small for even a perfect cell to clear its threshold is refused here, not found out in a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError

DEFAULT_POLICY = Path(__file__).parents[1] / "fixtures" / "policies" / "default.yaml"
DISPOSITIONS = ("rejected", "held", "removed", "masked", "published")
_LISTS = ("acceptable_dispositions", "log_fields_must_match")
MATCHABLE = ("source_ip", "source_port", "dest_ip", "dest_port", "device", "account")


@dataclass(frozen=True)
class Gate:
    """How one family (or the over-blocking bank) is sampled and judged on each surface.

    A cell passes when the Wilson lower bound of its block rate on `must_block` cases is at
    least `block_rate_min` and the upper bound of its false-block rate on `must_allow` cases is at
    most `false_block_max`. With `gate` false the family is measured and judged, but its verdict
    does not make the run fail.
    """

    gate: bool = False
    must_block_n: int = 12
    must_allow_n: int = 4
    block_rate_min: float = 0.70
    false_block_max: float = 0.50


@dataclass(frozen=True)
class RatePolicy:
    """The gate of every evasion family: `default`, with per-family overrides."""

    default: Gate = Gate()
    families: tuple[tuple[str, Gate], ...] = ()

    def gate(self, family: str) -> Gate:
        """The gate of `family` (its override, else the default)."""
        return dict(self.families).get(family, self.default)


@dataclass(frozen=True)
class BankGate:
    """The over-blocking bank: `n` rows per text surface; the Wilson upper bound of the
    false-block rate must stay at most `false_block_max`."""

    gate: bool = True
    n: int = 20
    false_block_max: float = 0.20


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
    rates: RatePolicy = field(default_factory=RatePolicy)
    overblocking: BankGate = field(default_factory=BankGate)


def load_policy(path: Path | str | None = None) -> Policy:
    """Read a policy file; unknown keys and bad values are refused, naming them and the file."""
    path = Path(path) if path else DEFAULT_POLICY
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read policy {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a policy is a mapping of keys to values")
    known = {f.name for f in fields(Policy)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown policy key(s) {unknown}; known: {sorted(known)}")
    values = dict(raw)
    for key, value in values.items():
        if key == "rates":
            values[key] = _rates(path, value)
        elif key == "overblocking":
            values[key] = _bank(path, value)
        elif key in _LISTS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{path}: {key} must be a list of names")
            values[key] = tuple(value)
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"{path}: {key} must be a number >= 0, not {value!r}")
    bad = set(values.get("acceptable_dispositions", ())) - set(DISPOSITIONS)
    bad |= set(values.get("log_fields_must_match", ())) - set(MATCHABLE)
    if bad:
        raise ConfigError(f"{path}: unknown value(s) {sorted(bad)}")
    if "published" in values.get("acceptable_dispositions", ()):
        raise ConfigError(f"{path}: 'published' cannot be an acceptable disposition")
    try:
        return Policy(**values)
    except TypeError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _section(path: Path, where: str, raw: Any, base: Any,
             extra: tuple[str, ...] = ()) -> tuple[Any, dict[str, Any]]:
    """`base` updated from the mapping `raw` (keys of `cls`, plus `extra` returned apart)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: {where} must be a mapping of keys to values")
    known = {f.name for f in fields(base)}
    unknown = sorted(set(raw) - known - set(extra))
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
                or not 0 <= value < 1:
            raise ConfigError(f"{path}: {where}.{key} must be a rate in [0, 1), not {value!r}")
        values[key] = value
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

    default, extra = _section(path, "rates", raw, Gate(), ("families",))
    _reachable(path, "rates", default)
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
    return RatePolicy(default=default, families=tuple(gates))


def _bank(path: Path, raw: Any) -> BankGate:
    gate, _ = _section(path, "overblocking", raw, BankGate())
    _reachable(path, "overblocking", gate)
    return gate
