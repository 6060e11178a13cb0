"""The plugin's command-line options (one group), their ini keys and its markers."""

from __future__ import annotations

import importlib.util

import pytest

from harness.settings import CHANNELS

MARKERS = (
    "control(id): the catalog control a scenario gives evidence for",
    "surface(name): the Article 5(4) surface a scenario submits to",
    "channel(name): the channel a scenario drives the target through",
    "one_channel: observed once, on the first selected channel the profile describes",
)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    group = parser.getgroup("harness", "moderation conformance harness")
    group.addoption("--target-profile", dest="harness_profile", metavar="FILE",
                    help="target profile (YAML); default: the embedded reference site")
    # pytest-playwright registers --base-url itself (dest base_url); share it, don't twin it.
    if pluginmanager.is_blocked("playwright") or importlib.util.find_spec(
            "pytest_playwright") is None:
        group.addoption("--base-url", dest="base_url", metavar="URL",
                        help="base URL of the target (overrides the profile's)")
    group.addoption("--seed", dest="harness_seed", type=int, metavar="N",
                    help="run seed (default: random, printed in the header)")
    group.addoption("--run-dir", dest="harness_run_dir", metavar="DIR",
                    help="write the run's evidence here (default: reports/<run-id>)")
    group.addoption("--resume-run", dest="harness_resume", action="store_true",
                    help="finish the interrupted run in --run-dir: run only the planned tests "
                    "its evidence lacks, appending to the same chain")
    group.addoption("--channel", dest="harness_channel", choices=CHANNELS,
                    help="channel(s) to assess through (default: api)")
    group.addoption("--browser-path", dest="harness_browser_path", metavar="FILE",
                    help="Chromium executable for the browser channel (or $HARNESS_BROWSER); "
                    "default: Playwright's own, else Debian's /usr/lib/chromium/chromium")
    group.addoption("--policy", dest="harness_policy", metavar="FILE",
                    help="assessment policy (default: fixtures/policies/default.yaml)")
    group.addoption("--control", dest="harness_controls", action="append", default=[],
                    metavar="PATTERN", help="assess only the controls matching this shell-style "
                    "pattern, e.g. 'A5.6-*' (repeatable; default: every control)")
    group.addoption("--reference-fault", dest="harness_faults", action="append", default=[],
                    metavar="NAME", help="start the reference site with this fault (repeatable)")
    group.addoption("--corpus", dest="harness_corpora", action="append", default=[],
                    metavar="FILE", help="a corpus (CSV or JSONL) whose must_block rows the "
                    "evasion scenarios send (repeatable; default: the profile's `corpora`, else "
                    "fixtures/corpora/canary-sample.jsonl)")
    group.addoption("--waivers", dest="harness_waivers", metavar="FILE",
                    help="waivers (YAML: control, reason, approver, expires) recorded in the "
                    "run's gate with the policy's own `waivers:`")
    group.addoption("--shard", dest="harness_shard", metavar="I/N",
                    help="run only share I of N of the plan (`harness merge` joins the shards)")
    group.addoption("--replay-of", dest="harness_replay_of", metavar="RUN",
                    help="the run this one replays, linked in run.json as `replay_of`")
    for name, help_text in (
        ("harness_target_profile", "default for --target-profile"),
        ("harness_channel", "default for --channel"),
        ("harness_policy", "default for --policy"),
    ):
        parser.addini(name, help_text, default=None)
    parser.addini("harness_tracing", "browser traces: on, off, retain-on-failure (pytest-"
                  "playwright's --tracing, when given, wins)", default="retain-on-failure")
    parser.addini("harness_screenshots", "screenshots and DOM of observing pages: last (the DOM "
                  "of every read, a screenshot of each actor's decisive one), on, off, "
                  "on-failure", default="last")
    parser.addini("harness_har", "HAR of every browser context: on, off, retain-on-failure",
                  default="retain-on-failure")


def register_markers(config: pytest.Config) -> None:
    """Declare the plugin's markers (the suite runs with --strict-markers)."""
    for line in MARKERS:
        config.addinivalue_line("markers", line)


def tracing_policy(config: pytest.Config) -> str:
    """pytest-playwright's --tracing when given on the command line, else the ini value."""
    given = any(arg == "--tracing" or arg.startswith("--tracing=")
                for arg in config.invocation_params.args)
    if given:
        return str(config.getoption("tracing"))
    return str(config.getini("harness_tracing"))
