"""Assessment policy: thresholds and windows, from `fixtures/policies/default.yaml` or a file."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from harness.errors import ConfigError

DEFAULT_POLICY = Path(__file__).parents[1] / "fixtures" / "policies" / "default.yaml"
DISPOSITIONS = ("rejected", "held", "removed", "masked", "published")
_LISTS = ("acceptable_dispositions", "log_fields_must_match")
MATCHABLE = ("source_ip", "source_port", "dest_ip", "dest_port", "device", "account")


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
        if key in _LISTS:
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
