"""The assessment policy: the default file loads; unknown keys and bad values are refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.policy import DEFAULT_POLICY, DISPOSITIONS, MATCHABLE, Policy, load_policy


def _policy_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_policy_file_loads() -> None:
    policy = load_policy()
    assert isinstance(policy, Policy)
    assert policy.grace_seconds == 5
    assert policy.clock_skew_seconds == 120
    assert policy.retention_min_days == 180
    assert policy.acceptable_dispositions == ("rejected", "held", "removed", "masked")
    assert policy.log_fields_must_match == (
        "source_ip", "source_port", "dest_port", "device", "account",
    )


def test_default_is_the_shipped_file() -> None:
    assert DEFAULT_POLICY.is_file()
    assert load_policy(DEFAULT_POLICY) == load_policy(None)


def test_lists_become_tuples(tmp_path: Path) -> None:
    policy = load_policy(_policy_file(tmp_path, "acceptable_dispositions: [rejected]\n"))
    assert policy.acceptable_dispositions == ("rejected",)
    assert hash(policy)  # frozen and hashable


def test_empty_file_gives_dataclass_defaults(tmp_path: Path) -> None:
    assert load_policy(_policy_file(tmp_path, "")) == Policy()


def test_partial_file_keeps_other_defaults(tmp_path: Path) -> None:
    policy = load_policy(_policy_file(tmp_path, "grace_seconds: 1.5\n"))
    assert policy.grace_seconds == 1.5
    assert policy.clock_skew_seconds == Policy().clock_skew_seconds


def test_unknown_key_is_refused_naming_key_and_file(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, "grace_second: 5\n")
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    assert "grace_second" in str(info.value)
    assert str(path) in str(info.value)


def test_unknown_disposition_is_refused(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, "acceptable_dispositions: [rejected, hidden]\n")
    with pytest.raises(ConfigError, match="hidden"):
        load_policy(path)


def test_published_is_never_acceptable(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, "acceptable_dispositions: [rejected, published]\n")
    with pytest.raises(ConfigError, match="published"):
        load_policy(path)


def test_unknown_log_field_is_refused(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, "log_fields_must_match: [source_port, time]\n")
    with pytest.raises(ConfigError, match="time"):
        load_policy(path)


def test_every_matchable_field_and_disposition_is_accepted(tmp_path: Path) -> None:
    acceptable = [d for d in DISPOSITIONS if d != "published"]
    text = f"acceptable_dispositions: {acceptable}\nlog_fields_must_match: {list(MATCHABLE)}\n"
    policy = load_policy(_policy_file(tmp_path, text))
    assert policy.log_fields_must_match == MATCHABLE


def test_a_string_instead_of_a_list_is_refused(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, "acceptable_dispositions: rejected\n")
    with pytest.raises(ConfigError):
        load_policy(path)


def test_non_numeric_window_is_refused(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, "grace_seconds: soon\n")
    with pytest.raises(ConfigError, match="grace_seconds"):
        load_policy(path)


def test_negative_window_is_refused(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, "clock_skew_seconds: -3\n")
    with pytest.raises(ConfigError, match="clock_skew_seconds"):
        load_policy(path)


def test_a_policy_that_is_not_a_mapping_is_a_config_error(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, "- grace_seconds: 5\n")
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        load_policy(path)


def test_invalid_yaml_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read policy"):
        load_policy(_policy_file(tmp_path, "grace_seconds: [unclosed\n"))


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read policy"):
        load_policy(tmp_path / "nope.yaml")
