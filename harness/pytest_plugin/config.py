"""The run's inputs as the plugin sees them, each resolved once per process and kept in
`config.stash`: the settings, the policy, the corpora, the profile, the selected channels."""

from __future__ import annotations

import os

import pytest

from harness.errors import HarnessError
from harness.policy import Policy, load_policy
from harness.probes.corpora import Corpus, select_corpora
from harness.readers import load_yaml_file
from harness.settings import CHANNELS, Checked, Settings
from harness.targets.profile import Profile, load_profile

from .keys import CORPORA_KEY, POLICY_KEY, SECTIONS_KEY, SETTINGS_KEY, SITE_KEY


def harness_settings(config: pytest.Config) -> Settings:
    """The run's settings, resolved once per process from the options, the `HARNESS_*`
    environment, `[tool.harness]` and pytest's ini keys (see `harness.settings`)."""
    if SETTINGS_KEY not in config.stash:
        ini = {"profile": config.getini("harness_target_profile"),
               "channel": config.getini("harness_channel"),
               "policy": config.getini("harness_policy")}
        given = {"profile": config.getoption("harness_profile"),
                 "base_url": config.getoption("base_url", None),
                 "channel": config.getoption("harness_channel"),
                 "controls": config.getoption("harness_controls"),
                 "reference_faults": config.getoption("harness_faults"),
                 "corpora": config.getoption("harness_corpora"),
                 "policy": config.getoption("harness_policy"),
                 "seed": config.getoption("harness_seed"),
                 "browser_path": config.getoption("harness_browser_path")}
        checked = next((p for p in config.pluginmanager.get_plugins()
                        if isinstance(p, Checked)), None)
        if checked is not None:  # `harness assess` checked them already: not twice
            config.stash[SETTINGS_KEY] = checked.settings
            config.stash[POLICY_KEY] = checked.policy
            config.stash[CORPORA_KEY] = checked.corpora
            return checked.settings
        try:
            settings = Settings.resolve(given, project=config.rootpath,
                                        ini={k: v for k, v in ini.items() if v})
        except HarnessError as exc:
            raise pytest.UsageError(str(exc)) from None
        if settings.channel not in CHANNELS:
            raise pytest.UsageError(f"channel {settings.channel!r} (from the "
                                    f"{settings.sources['channel']}): expected one of "
                                    f"{', '.join(CHANNELS)}")
        config.stash[SETTINGS_KEY] = settings
    return config.stash[SETTINGS_KEY]


def run_policy(config: pytest.Config) -> Policy:
    """The run's policy, read once per process; a bad one is a usage error."""
    if POLICY_KEY not in config.stash:
        try:
            config.stash[POLICY_KEY] = load_policy(harness_settings(config).policy)
        except HarnessError as exc:
            raise pytest.UsageError(str(exc)) from None
    return config.stash[POLICY_KEY]


def run_corpora(config: pytest.Config) -> list[Corpus]:
    """The corpora this run sends (`--corpus`, else the profile's, else the canary sample),
    loaded once per process (a bad one is a usage error); scenarios choose their cases from
    them at collection."""
    if CORPORA_KEY not in config.stash:
        try:
            settings = harness_settings(config)
            config.stash[CORPORA_KEY] = select_corpora(
                settings.corpora, settings.profile_path,
                max_case_chars=run_policy(config).max_case_chars)
        except HarnessError as exc:
            raise pytest.UsageError(str(exc)) from None
    return config.stash[CORPORA_KEY]


def run_profile(config: pytest.Config) -> Profile:
    """The run's profile pointed at its target (the reference site's URL and admin token when
    the controller started it)."""
    settings = harness_settings(config)
    url, environ = config.stash.get(SITE_KEY, (settings.base_url, {}))
    return load_profile(settings.profile_path, base_url=url or settings.base_url,
                        environ={**os.environ, **environ})


def declared_profile(config: pytest.Config) -> Profile:
    """The run's profile as declared, before the run's target is known (its base URL a
    placeholder): what the controller reads of it, such as its secrets and its mail sink."""
    _, environ = config.stash.get(SITE_KEY, (None, {}))
    return load_profile(harness_settings(config).profile_path, base_url="http://127.0.0.1",
                        environ={**os.environ, **environ})


def profile_secrets(config: pytest.Config) -> list[str]:
    """The values of the profile's ${ENV} references, so the controller can redact them too
    (under xdist it never loads the profile itself)."""
    try:
        return list(declared_profile(config).secrets)
    except HarnessError:
        return []


def profile_sections(config: pytest.Config) -> frozenset[str]:
    """The top-level sections of the run's profile (read once, unvalidated: the profile is
    validated when the target is made)."""
    sections = config.stash.get(SECTIONS_KEY, None)
    if sections is None:
        try:
            data, _ = load_yaml_file(harness_settings(config).profile_path, "target profile")
        except HarnessError as exc:
            raise pytest.UsageError(str(exc)) from None
        sections = config.stash[SECTIONS_KEY] = frozenset(
            data if isinstance(data, dict) else ())
    return sections


def selected_channels(config: pytest.Config) -> tuple[str, ...]:
    """The channels this run assesses through (`--channel all` is every one). A pages-only
    profile (no `api` section) is assessed through its pages: the API is left out of `all`
    (which keeps the load channel: its users drive the browser steps as form posts) and of
    the default channel, and asking for the API by name is a usage error."""
    settings = harness_settings(config)
    channels = settings.channels
    if "api" not in channels or "api" in profile_sections(config):
        return channels
    if settings.channel == "api" and settings.sources.get("channel", "default") != "default":
        raise pytest.UsageError(
            f"{settings.profile_path}: channel api (from the {settings.sources['channel']}), but "
            "the profile has no api section: a pages-only site is assessed through its pages "
            "(--channel browser)")
    return tuple(name for name in channels if name != "api") or ("browser",)
