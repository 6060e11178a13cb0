"""Target profiles: validation messages name the key, where it is and the file."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.errors import ConfigError, UnsafeTargetError
from harness.targets.profile import (
    REFERENCE_PROFILE,
    SURFACES,
    Profile,
    check_allowed,
    load_profile,
)

BASE = "http://127.0.0.1:8123"
REFERENCE_TEXT = REFERENCE_PROFILE.read_text(encoding="utf-8")
POST_CREATE_STEP = (
    '{method: POST, path: /api/posts, as: author, json: {text: "{content}"}, '
    "extract: {post_id: id}}"
)


@pytest.fixture
def admin_token(monkeypatch: pytest.MonkeyPatch) -> str:
    token = "reference-admin-token-for-tests"
    monkeypatch.setenv("REFERENCE_ADMIN_TOKEN", token)
    return token


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    assert old in REFERENCE_TEXT, f"fixture text changed: {old!r} not found"
    path = tmp_path / "variant.yaml"
    path.write_text(REFERENCE_TEXT.replace(old, new, 1), encoding="utf-8")
    return path


def _refusal(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_profile(path, base_url=BASE)
    message = str(info.value)
    assert str(path) in message
    return message


# --- the real reference profile ---------------------------------------------------------------


def test_reference_profile_loads(admin_token: str) -> None:
    profile = load_profile(REFERENCE_PROFILE, base_url=BASE + "/")
    assert isinstance(profile, Profile)
    assert profile.name == "reference-site"
    assert profile.base_url == BASE  # trailing slash dropped
    assert profile.allowed_hosts == ("127.0.0.1", "localhost")
    assert profile.path == REFERENCE_PROFILE.resolve()


def test_reference_profile_describes_every_surface(admin_token: str) -> None:
    profile = load_profile(REFERENCE_PROFILE, base_url=BASE)
    assert set(profile.api["surfaces"]) == set(SURFACES)
    for surface in SURFACES:
        assert profile.surface(surface) is not None
    assert profile.surface("no-such-surface") is None


def test_reference_profile_hash_is_of_file_bytes(admin_token: str) -> None:
    profile = load_profile(REFERENCE_PROFILE, base_url=BASE)
    assert profile.sha256 == hashlib.sha256(REFERENCE_PROFILE.read_bytes()).hexdigest()


def test_env_reference_is_resolved_and_collected_as_secret(admin_token: str) -> None:
    profile = load_profile(REFERENCE_PROFILE, base_url=BASE)
    assert profile.api["admin_headers"]["X-Admin-Token"] == admin_token
    assert admin_token in profile.secrets


def test_profile_repr_does_not_show_resolved_secrets(admin_token: str) -> None:
    # `secrets` is repr=False; the same values inside `data` must not leak through repr either
    # (a repr reaches tracebacks with --showlocals and assertion messages).
    profile = load_profile(REFERENCE_PROFILE, base_url=BASE)
    assert admin_token not in repr(profile)


def test_load_does_not_mutate_between_calls(admin_token: str) -> None:
    first = load_profile(REFERENCE_PROFILE, base_url=BASE)
    second = load_profile(REFERENCE_PROFILE, base_url="http://localhost:1")
    assert first.base_url == BASE
    assert second.base_url == "http://localhost:1"


# --- misspelt and missing keys ----------------------------------------------------------------


def test_misspelt_top_level_key(tmp_path: Path, admin_token: str) -> None:
    message = _refusal(_variant(tmp_path, "allowed_hosts:", "allowed_host:"))
    assert "'allowed_host'" in message
    assert "did you mean 'allowed_hosts'" in message
    assert "top level" in message


def test_misspelt_key_in_api_section(tmp_path: Path, admin_token: str) -> None:
    message = _refusal(_variant(tmp_path, "  settle_seconds:", "  settle_second:"))
    assert "'settle_second'" in message
    assert "did you mean 'settle_seconds'" in message
    assert " in api;" in message


def test_misspelt_key_in_a_surface(tmp_path: Path, admin_token: str) -> None:
    path = _variant(tmp_path, "    post:\n      create:", "    post:\n      craete:")
    message = _refusal(path)
    assert "'craete'" in message
    assert "did you mean 'create'" in message
    assert "api.surfaces.post" in message


def test_misspelt_key_in_a_step(tmp_path: Path, admin_token: str) -> None:
    path = _variant(tmp_path, POST_CREATE_STEP, POST_CREATE_STEP.replace("{method:", "{methd:"))
    message = _refusal(path)
    assert "'methd'" in message
    assert "did you mean 'method'" in message
    assert "api.surfaces.post.create[0]" in message


def test_misspelt_optional_key_in_a_step(tmp_path: Path, admin_token: str) -> None:
    path = _variant(tmp_path, POST_CREATE_STEP, POST_CREATE_STEP.replace("json:", "jsn:"))
    message = _refusal(path)
    assert "'jsn'" in message
    assert "did you mean 'json'" in message
    assert "api.surfaces.post.create[0]" in message


def test_misspelt_audit_field(tmp_path: Path, admin_token: str) -> None:
    path = _variant(tmp_path, "      source_port: source_port", "      source_prt: source_port")
    message = _refusal(path)
    assert "'source_prt'" in message
    assert "did you mean 'source_port'" in message
    assert "api.audit.fields" in message


def test_misspelt_surface_name_is_named_with_a_hint(tmp_path: Path, admin_token: str) -> None:
    message = _refusal(_variant(tmp_path, "    post:\n", "    posts:\n"))
    assert "'posts'" in message
    assert "api.surfaces" in message
    assert "did you mean 'post'" in message


def test_missing_required_top_level_key(tmp_path: Path, admin_token: str) -> None:
    message = _refusal(_variant(tmp_path, "name: reference-site\n", ""))
    assert "missing key 'name'" in message
    assert "top level" in message


def test_missing_required_key_in_a_surface(tmp_path: Path, admin_token: str) -> None:
    path = _variant(tmp_path, "    post:\n      create:", "    post:\n      prepare:")
    message = _refusal(path)
    assert "missing key 'create'" in message
    assert "api.surfaces.post" in message


def test_missing_required_key_in_audit(tmp_path: Path, admin_token: str) -> None:
    message = _refusal(_variant(tmp_path, "    records: records\n", ""))
    assert "missing key 'records'" in message
    assert "api.audit" in message


def test_bad_value_names_its_location(tmp_path: Path, admin_token: str) -> None:
    path = _variant(tmp_path, POST_CREATE_STEP, "{method: FETCH, path: /api/posts, as: author}")
    message = _refusal(path)
    assert "api.surfaces.post.create[0].method" in message
    assert "FETCH" in message


def test_absent_surface_needs_no_steps(
    write_profile: Callable[..., Path], minimal_profile: str
) -> None:
    text = minimal_profile + "    remark:\n      absent: the service has no remarks\n"
    profile = load_profile(write_profile(text), base_url=BASE)
    assert profile.surface("remark") == {"absent": "the service has no remarks"}


def test_not_yaml_is_refused(write_profile: Callable[..., Path]) -> None:
    path = write_profile("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_profile(path, base_url=BASE)


def test_not_a_mapping_is_refused(write_profile: Callable[..., Path]) -> None:
    path = write_profile("- just\n- a list\n")
    with pytest.raises(ConfigError, match="a profile is a mapping"):
        load_profile(path, base_url=BASE)


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read target profile"):
        load_profile(tmp_path / "missing.yaml", base_url=BASE)


# --- environment, base_url and allowed hosts --------------------------------------------------


def test_missing_env_var_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REFERENCE_ADMIN_TOKEN", raising=False)
    with pytest.raises(ConfigError) as info:
        load_profile(REFERENCE_PROFILE, base_url=BASE)
    message = str(info.value)
    assert "REFERENCE_ADMIN_TOKEN" in message
    assert "api.admin_headers.X-Admin-Token" in message
    assert str(REFERENCE_PROFILE) in message


def test_no_base_url_is_refused(admin_token: str) -> None:
    with pytest.raises(ConfigError, match="no base_url") as info:
        load_profile(REFERENCE_PROFILE)
    assert not isinstance(info.value, UnsafeTargetError)


def test_base_url_from_the_file(
    write_profile: Callable[..., Path], minimal_profile: str
) -> None:
    text = minimal_profile.replace("base_url: null", "base_url: http://127.0.0.1:9999/")
    profile = load_profile(write_profile(text))
    assert profile.base_url == "http://127.0.0.1:9999"


def test_base_url_argument_overrides_the_file(
    write_profile: Callable[..., Path], minimal_profile: str
) -> None:
    text = minimal_profile.replace("base_url: null", "base_url: http://127.0.0.1:9999")
    profile = load_profile(write_profile(text), base_url="http://127.0.0.1:1234")
    assert profile.base_url == "http://127.0.0.1:1234"


def test_host_not_allowed_is_unsafe(admin_token: str) -> None:
    with pytest.raises(UnsafeTargetError) as info:
        load_profile(REFERENCE_PROFILE, base_url="https://staging.example.com")
    assert "staging.example.com" in str(info.value)
    assert "allowed_hosts" in str(info.value)


def test_non_http_base_url_is_refused(admin_token: str) -> None:
    with pytest.raises(ConfigError, match="not an http"):
        load_profile(REFERENCE_PROFILE, base_url="ftp://127.0.0.1/")


def test_secrets_from_every_env_reference(
    write_profile: Callable[..., Path], minimal_profile: str, tiny_admin_token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TINY_DEVICE", "device-secret-77")
    text = minimal_profile.replace('"{device_id}"', '"${TINY_DEVICE}"')
    profile = load_profile(write_profile(text), base_url=BASE)
    assert set(profile.secrets) == {tiny_admin_token, "device-secret-77"}
    assert profile.api["headers"]["X-Device-Id"] == "device-secret-77"


def test_profile_without_env_references_has_no_secrets(
    write_profile: Callable[..., Path], minimal_profile: str
) -> None:
    text = minimal_profile.replace('"${TINY_ADMIN_TOKEN}"', "fixed")
    assert load_profile(write_profile(text), base_url=BASE).secrets == ()


def test_check_allowed_accepts_listed_hosts() -> None:
    check_allowed("http://localhost:80/x", ["localhost"], "p.yaml")
    with pytest.raises(UnsafeTargetError, match=r"p\.yaml"):
        check_allowed("http://127.0.0.2/", ["127.0.0.1"], "p.yaml")


def test_a_key_that_is_not_a_name_is_refused_with_where_it_is(tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text("name: odd\nallowed_hosts: [127.0.0.1]\nbrowser:\n  register: []\n"
                    "  surfaces: {}\n  timeouts: {1: 5}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"browser\.timeouts: the key 1 is not a name"):
        load_profile(path, base_url="http://127.0.0.1")
