"""Settings: defaults < [tool.harness] < HARNESS_* environment < command line; checked once."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.settings import Settings


def _project(tmp_path: Path, table: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f"[tool.harness]\n{table}", encoding="utf-8")
    return tmp_path


def test_defaults_when_nothing_is_given(tmp_path: Path) -> None:
    settings = Settings.resolve({}, project=tmp_path, environ={})
    assert (settings.channel, settings.controls, settings.seed) == ("api", (), None)
    assert settings.starts_reference
    assert set(settings.sources.values()) == {"default"}


def test_each_layer_overrides_the_one_below(tmp_path: Path) -> None:
    project = _project(tmp_path, 'channel = "browser"\ncontrols = ["A5.4-*"]\nseed = 3\n'
                                 'policy = "policies/strict.yaml"\n')
    environ = {"HARNESS_CHANNEL": "all", "HARNESS_CONTROLS": "A5.6-*,A5.3-*"}
    settings = Settings.resolve({"channel": "api"}, project=project, environ=environ)
    assert settings.channel == "api"
    assert settings.sources["channel"] == "command line"
    assert settings.controls == ("A5.6-*", "A5.3-*")
    assert settings.sources["controls"] == "environment"
    assert settings.seed == 3
    assert settings.policy == tmp_path / "policies" / "strict.yaml"  # relative to the file
    assert settings.sources["policy"] == "pyproject"


def test_pytest_ini_keys_sit_with_the_project_layer(tmp_path: Path) -> None:
    settings = Settings.resolve({}, project=tmp_path, environ={"HARNESS_CHANNEL": "browser"},
                                ini={"channel": "all", "policy": "p.yaml"})
    assert settings.channel == "browser"
    assert settings.policy == Path("p.yaml")


def test_a_base_url_or_another_profile_means_no_reference_site(tmp_path: Path) -> None:
    assert not Settings.resolve({"base_url": "http://127.0.0.1:8000"}, project=tmp_path,
                                environ={}).starts_reference
    assert not Settings.resolve({"profile": tmp_path / "x.yaml"}, project=tmp_path,
                                environ={}).starts_reference


@pytest.mark.parametrize(("table", "message"), [
    ('channnel = "api"\n', "unknown harness setting 'channnel'"),
    ("seed = \"seven\"\n", "seed: expected a whole number"),
    ("controls = 5\n", "controls: expected a list"),
    ("[tool.harness\n", "cannot read [tool.harness]"),
])
def test_bad_project_settings_are_refused_naming_them(tmp_path: Path, table: str,
                                                      message: str) -> None:
    project = tmp_path
    (project / "pyproject.toml").write_text(
        table if table.startswith("[") else f"[tool.harness]\n{table}", encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        Settings.resolve({}, project=project, environ={})


@pytest.mark.parametrize(("given", "message"), [
    ({"channel": "pages"}, "channel 'pages'"),
    ({"base_url": "http://127.0.0.1:99999"}, "99999"),
    ({"controls": ["A9.9-*"]}, "matches no control"),
    ({"policy": "/no/such/policy.yaml"}, "policy.yaml"),
])
def test_check_refuses_bad_input_before_anything_starts(tmp_path: Path, given: dict,
                                                        message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.resolve(given, project=tmp_path, environ={}).check()


def test_check_loads_the_policy_and_corpora_once(tmp_path: Path) -> None:
    checked = Settings.resolve({}, project=tmp_path, environ={}).check()
    assert checked.policy.grace_seconds >= 0
    assert checked.corpora
