"""The assessment policy: the default file loads; unknown keys and bad values are refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.policy import DEFAULT_POLICY, DISPOSITIONS, MATCHABLE, Policy, load_policy, pin


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


@pytest.mark.parametrize("text", ["", "\n# only a comment\n", "null\n", "~\n"])
def test_empty_file_is_refused_not_the_defaults(tmp_path: Path, text: str) -> None:
    path = _policy_file(tmp_path, text)
    with pytest.raises(ConfigError, match="empty") as info:
        load_policy(path)
    assert str(path) in str(info.value)


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
    path = _policy_file(tmp_path, "grace_seconds: [unclosed\n")
    with pytest.raises(ConfigError, match=r"line \d+, column \d+: not valid YAML") as info:
        load_policy(path)
    assert str(path) in str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read policy"):
        load_policy(tmp_path / "nope.yaml")


# --- rate gates -----------------------------------------------------------------------------

GATED_BY_DEFAULT = {"fullwidth", "case", "zero_width", "spacing", "homoglyph", "traditional"}


def test_default_policy_gates_the_families_a_normalising_filter_undoes() -> None:
    from harness.probes.variants import registry

    rates = load_policy().rates
    gated = {name for name in registry() if rates.gate(name).gating}
    assert gated == GATED_BY_DEFAULT
    assert not rates.gate("pinyin").gating  # measured, shown, never failing the run
    assert load_policy().overblocking.gating


def test_default_sample_sizes_let_a_perfect_cell_clear_its_threshold() -> None:
    from harness.probes.variants import registry
    from harness.stats import wilson

    policy = load_policy()
    for name in registry():
        gate = policy.rates.gate(name)
        assert wilson(gate.must_block_n, gate.must_block_n).low >= gate.block_rate_min, name
        assert wilson(0, gate.must_allow_n).high <= gate.false_block_max, name
    bank = policy.overblocking
    assert wilson(0, bank.n).high <= bank.false_block_max


def test_tc260_policy_has_the_reference_sizes_and_thresholds() -> None:
    policy = load_policy(DEFAULT_POLICY.with_name("tc260.yaml"))
    gate = policy.rates.gate("fullwidth")
    assert (gate.must_block_n, gate.must_allow_n) == (300, 300)
    assert (gate.block_rate_min, gate.false_block_max) == (0.95, 0.05)
    assert (policy.overblocking.n, policy.overblocking.false_block_max) == (300, 0.05)


def test_a_family_override_keeps_the_section_defaults(tmp_path: Path) -> None:
    text = ("rates:\n  must_block_n: 20\n  block_rate_min: 0.8\n"
            "  families:\n    pinyin: {gate: true}\n")
    rates = load_policy(_policy_file(tmp_path, text)).rates
    assert rates.gate("pinyin").gating
    assert rates.gate("pinyin").must_block_n == 20
    assert rates.gate("pinyin").block_rate_min == 0.8
    assert not rates.gate("case").gating


def test_a_composed_family_can_be_gated(tmp_path: Path) -> None:
    text = "rates:\n  families:\n    traditional+zero_width: {gate: true}\n"
    assert load_policy(_policy_file(tmp_path, text)).rates.gate("traditional+zero_width").gating


@pytest.mark.parametrize(("text", "named"), [
    ("rates:\n  must_block: 3\n", "must_block"),
    ("rates:\n  families:\n    case: {gates: true}\n", "gates"),
    ("overblocking:\n  size: 3\n", "size"),
    ("rates:\n  families:\n    leetspeak: {gate: true}\n", "leetspeak"),
])
def test_unknown_rate_keys_and_families_are_refused_naming_them_and_the_file(
        tmp_path: Path, text: str, named: str) -> None:
    path = _policy_file(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    assert named in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("text", [
    "rates:\n  gate: yes please\n",
    "rates:\n  must_block_n: 0\n",
    "rates:\n  must_block_n: 2.5\n",
    "rates:\n  block_rate_min: 1.5\n",
    "overblocking:\n  false_block_max: -0.1\n",
    "rates:\n  families: [case]\n",
])
def test_bad_rate_values_are_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError):
        load_policy(_policy_file(tmp_path, text))


@pytest.mark.parametrize(("text", "key"), [
    ("rates:\n  must_block_n: 5\n  block_rate_min: 0.7\n", "must_block_n"),
    ("rates:\n  must_allow_n: 3\n  false_block_max: 0.5\n", "must_allow_n"),
    ("rates:\n  families:\n    case: {must_block_n: 8}\n", "rates.families.case.must_block_n"),
    ("overblocking:\n  n: 10\n  false_block_max: 0.1\n", "overblocking.n"),
])
def test_sizes_that_could_never_clear_their_threshold_are_refused(
        tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(key)):
        load_policy(_policy_file(tmp_path, text))


# --- legal minimums, the case cap and the pin --------------------------------------------------


def test_retention_under_the_legal_minimum_loads_with_a_warning(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, "retention_min_days: 90\n")
    policy = load_policy(path)
    assert policy.retention_min_days == 90
    (warning,) = policy.warnings
    assert "retention_min_days = 90" in warning
    assert "180" in warning
    assert "Cybersecurity Law" in warning
    assert str(path) in warning


def test_the_shipped_policies_carry_no_warning() -> None:
    assert load_policy().warnings == ()
    assert load_policy(DEFAULT_POLICY.parent / "tc260.yaml").warnings == ()


def test_max_case_chars_defaults_and_is_configurable(tmp_path: Path) -> None:
    from harness.probes.corpora import MAX_CASE_CHARS

    assert Policy().max_case_chars == MAX_CASE_CHARS == load_policy().max_case_chars
    assert load_policy(_policy_file(tmp_path, "max_case_chars: 500\n")).max_case_chars == 500
    with pytest.raises(ConfigError, match="max_case_chars must be a whole number"):
        load_policy(_policy_file(tmp_path, "max_case_chars: 12.5\n"))


def test_pin_has_the_corpus_pin_shape(tmp_path: Path) -> None:
    import hashlib

    path = _policy_file(tmp_path, "grace_seconds: 2\nretention_min_days: 30\n")
    policy = load_policy(path)
    recorded = pin(policy)
    assert recorded["name"] == "policy"
    assert recorded["path"] == str(path.resolve())
    assert recorded["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert recorded["warnings"] == list(policy.warnings)
    assert len(recorded["warnings"]) == 1
    assert pin(Policy()) == {"name": "defaults", "path": None, "sha256": None, "warnings": []}


def test_pin_and_path_do_not_change_equality(tmp_path: Path) -> None:
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    assert load_policy(_policy_file(tmp_path, text)) == load_policy()
