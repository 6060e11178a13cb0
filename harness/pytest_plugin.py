"""The pytest plugin: options, markers, fixtures, the inconclusive status and the run's evidence.

Scenarios ask for `target`, `actors` and `evidence`; the plugin writes what they observe to the
run directory. Under pytest-xdist, workers write artifacts and hand their observations to the
controller through `user_properties`; only the controller writes the hash-chained evidence.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import random
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness import __version__, controls, interrupts
from harness.cleanup import CREATED
from harness.errors import HarnessError, UnsafeTargetError
from harness.evidence import Redactor, new_run_id, read_entries
from harness.evidence.chain import atomic_write, canonical_json
from harness.evidence.recorder import (
    CONTROLS,
    NETWORK_REFUSAL,
    OBSERVATION,
    VIOLATION,
    RunRecorder,
    file_pin,
    plan_file,
    profile_name,
)
from harness.policy import Policy, load_policy
from harness.policy import pin as policy_pin
from harness.probes.corpora import (
    OVERBLOCKING_BANK,
    Corpus,
    load_corpus,
    pin,
    select_corpora,
)
from harness.probes.images import image_type
from harness.readers import load_yaml_file
from harness.resources import bundled, reports_home
from harness.seeds import derive_seed
from harness.settings import CHANNELS, FUNCTIONAL_CHANNELS, Checked, Settings
from harness.targets.base import Target
from harness.targets.profile import Profile, load_profile

if TYPE_CHECKING:  # the channels and flows load lazily: only what a run uses is imported
    from harness.observe.flow import Session
    from harness.targets.api import ApiTarget
    from harness.targets.browser import BrowserTarget
    from harness.targets.mail import Mailbox
from harness.verdicts import Observation, Plan, PlannedTest, Verdict

SCENARIOS_DIR = bundled("scenarios")
REPORTS_DIR = reports_home()
STATUS = "harness.status"
RECORDER = "harness-recorder"
RUN_DIR_KEY = pytest.StashKey[Path]()
RESUME_KEY = pytest.StashKey[bool]()
POLICY_KEY = pytest.StashKey[Policy]()
SETTINGS_KEY = pytest.StashKey[Settings]()
SITE_KEY = pytest.StashKey[tuple[str | None, dict[str, str]]]()  # the target's URL, its env
MAIL_KEY = pytest.StashKey[dict[str, Any]]()  # the run's SMTP sink: folder, host, port
SEED_KEY = pytest.StashKey[int]()
PROFILE_KEY = pytest.StashKey[Profile]()
CORPORA_KEY = pytest.StashKey[list[Corpus]]()
SECTIONS_KEY = pytest.StashKey[frozenset[str]]()
CALL_FAILED = pytest.StashKey[bool]()


class Inconclusive(Exception):
    """Raised by a scenario when the harness could not observe; reported as INCONCLUSIVE."""


# --- options and configuration --------------------------------------------------------------


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
    parser.addini("harness_screenshots", "screenshot and DOM of every observing page: on, off, "
                  "retain-on-failure", default="on")
    parser.addini("harness_har", "HAR of every browser context: on, off, retain-on-failure",
                  default="retain-on-failure")


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "control(id): the catalog control a scenario gives evidence for",
        "surface(name): the Article 5(4) surface a scenario submits to",
        "channel(name): the channel a scenario drives the target through",
        "one_channel: observed once, on the first selected channel the profile describes",
    ):
        config.addinivalue_line("markers", line)
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        config.stash[SEED_KEY] = int(workerinput["harness_seed"])
        config.stash[RESUME_KEY] = bool(workerinput.get("harness_resume"))
        config.stash[SITE_KEY] = (workerinput.get("harness_site_url"),
                                  dict(workerinput.get("harness_site_env") or {}))
        if workerinput.get("harness_mail"):
            config.stash[MAIL_KEY] = dict(workerinput["harness_mail"])
        if workerinput.get("harness_run_dir"):
            config.stash[RUN_DIR_KEY] = Path(workerinput["harness_run_dir"])
        return
    settings = harness_settings(config)
    resume = bool(config.getoption("harness_resume"))
    config.stash[RESUME_KEY] = resume
    if resume and not config.getoption("harness_run_dir"):
        raise pytest.UsageError("--resume-run needs --run-dir (the run to finish)")
    seed = settings.seed
    config.stash[SEED_KEY] = seed if seed is not None else random.SystemRandom().randrange(10**9)
    if _wants_run(config) and not config.option.collectonly:
        interrupts.install()  # SIGTERM (CI cancel, timeout) ends the run as Ctrl-C does
        if CORPORA_KEY not in config.stash:
            config.stash[CORPORA_KEY] = _corpora(config)  # a bad corpus stops the run here
        run_dir = config.getoption("harness_run_dir")
        path = Path(run_dir) if run_dir else (settings.reports_dir or REPORTS_DIR) / new_run_id()
        config.stash[RUN_DIR_KEY] = path.resolve()
        _start_reference_site(config, settings)
        _start_mail_sink(config)
        recorder = RunRecorder(config, config.stash[RUN_DIR_KEY], _run_info(config),
                               resume=resume, secrets=_profile_secrets(config))
        recorder.cleanup_profile = lambda: _run_profile(config)
        config.pluginmanager.register(recorder, RECORDER)


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


def _start_reference_site(config: pytest.Config, settings: Settings) -> None:
    """Start the embedded reference site once, in the controller, when the run targets it
    with no URL; workers are handed its URL and admin token (never through os.environ)."""
    if not settings.starts_reference:
        config.stash[SITE_KEY] = (settings.base_url, {})
        return
    from harness import reference  # noqa: PLC0415 (only when the reference site is needed)

    try:
        site = reference.start(settings.reference_faults)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.add_cleanup(site.stop)
    config.stash[SITE_KEY] = (site.url, {reference.ADMIN_TOKEN_ENV: site.admin_token})


def _start_mail_sink(config: pytest.Config) -> None:
    """Start the run's SMTP sink once, in the controller, when the profile's `accounts.mail`
    asks for one; workers are handed its folder, host and port. A profile that does not load
    starts none (the `target_profile` fixture then says why)."""
    _, environ = config.stash.get(SITE_KEY, (None, {}))
    try:
        profile = load_profile(harness_settings(config).profile_path, base_url="http://127.0.0.1",
                               environ={**os.environ, **environ})
    except HarnessError:
        return
    smtp = (profile.accounts.mail or {}).get("smtp")
    if smtp is None:
        return
    from harness.targets.mail import MailSink  # noqa: PLC0415 (only for a run with a sink)

    try:
        sink = MailSink(str(smtp.get("host", "127.0.0.1")), int(smtp.get("port", 0))).start()
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.add_cleanup(sink.stop)
    config.stash[MAIL_KEY] = {"folder": str(sink.folder), "host": sink.host, "port": sink.port}


def pytest_configure_node(node: Any) -> None:
    """pytest-xdist hook: hand the run seed and run directory to each worker."""
    node.workerinput["harness_seed"] = node.config.stash[SEED_KEY]
    node.workerinput["harness_resume"] = node.config.stash.get(RESUME_KEY, False)
    run_dir = node.config.stash.get(RUN_DIR_KEY, None)
    node.workerinput["harness_run_dir"] = str(run_dir) if run_dir else ""
    url, environ = node.config.stash.get(SITE_KEY, (None, {}))
    node.workerinput["harness_site_url"] = url
    node.workerinput["harness_site_env"] = environ
    node.workerinput["harness_mail"] = node.config.stash.get(MAIL_KEY, None)


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"harness {__version__}, run seed: {config.stash[SEED_KEY]}"]
    if RUN_DIR_KEY in config.stash and not hasattr(config, "workerinput"):
        lines += [f"harness policy warning: {w}" for w in _policy(config).warnings]
        settings = harness_settings(config)
        url, _ = config.stash.get(SITE_KEY, (None, {}))
        if settings.starts_reference and url:
            faults = ", ".join(settings.reference_faults) or "none"
            lines.append(f"harness target: the reference site at {url} (faults: {faults})")
        sink = config.stash.get(MAIL_KEY, None)
        if sink is not None:
            lines.append(f"harness mail sink: SMTP on {sink['host']}:{sink['port']}")
    if RUN_DIR_KEY in config.stash:
        lines.append(f"harness evidence: {config.stash[RUN_DIR_KEY]}")
    return lines


def _tracing_policy(config: pytest.Config) -> str:
    """pytest-playwright's --tracing when given on the command line, else the ini value."""
    given = any(arg == "--tracing" or arg.startswith("--tracing=")
                for arg in config.invocation_params.args)
    if given:
        return str(config.getoption("tracing"))
    return str(config.getini("harness_tracing"))


def _wants_run(config: pytest.Config) -> bool:
    """A run is recorded for conformance invocations: scenarios/ paths or harness options."""
    if config.getoption("harness_run_dir") or harness_settings(config).profile:
        return True
    for arg in config.args:
        path = Path(arg.split("::")[0]).resolve()
        if path == SCENARIOS_DIR or SCENARIOS_DIR in path.parents:
            return True
    return False


def _narrowed(config: pytest.Config) -> str | None:
    """Path arguments inside the scenario tree but narrower than all of it: no plan can see
    past them. (A suite outside the tree is a suite of its own: its plan is what it collects.)"""
    narrow = []
    for arg in config.args:
        path = Path(arg.split("::")[0]).resolve()
        if ("::" in arg and (path == SCENARIOS_DIR or SCENARIOS_DIR in path.parents)) or (
                SCENARIOS_DIR in path.parents):
            narrow.append(arg)
    return " ".join(narrow) if narrow else None


def _run_info(config: pytest.Config) -> dict[str, Any]:
    """What run.json says of the run's settings, every file pinned by SHA-256."""
    from harness import waivers  # noqa: PLC0415

    settings = harness_settings(config)
    path = settings.profile_path
    policy = _policy(config)
    waivers_file = config.getoption("harness_waivers")
    replay_of = config.getoption("harness_replay_of")
    operator = waivers.operator()
    try:
        pins = {"profile": file_pin(path), "policy": policy_pin(policy),
                "waivers_file": file_pin(waivers_file)}
        extra = waivers.load_waivers(Path(waivers_file)) if waivers_file else ()
        gate = waivers.gate_record((*policy.waivers, *extra), policy.measured, operator)
        linked: dict[str, Any] = {}
        if replay_of:
            from harness.replay import replay_link  # noqa: PLC0415

            linked["replay_of"] = replay_link(Path(replay_of))
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    return {
        "seed": config.stash[SEED_KEY],
        "target": {"name": profile_name(path), "base_url": settings.base_url},
        **pins,
        "channel": settings.channel,
        "channels": list(selected_channels(config)),
        "controls": list(settings.controls),
        "reference_faults": list(settings.reference_faults),
        "settings": dict(settings.sources),
        "corpora": [pin(corpus) for corpus in config.stash.get(CORPORA_KEY, [])],
        "overblocking_bank": pin(load_corpus(OVERBLOCKING_BANK)),
        "harness": __version__,
        **({"mail_sink": {key: config.stash[MAIL_KEY][key] for key in ("host", "port")}}
           if MAIL_KEY in config.stash else {}),
        "args": list(config.invocation_params.args),
        "operator": operator,
        "gate": gate,
        "shard": config.getoption("harness_shard"),
        **linked,
    }


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def run_seed(pytestconfig: pytest.Config) -> int:
    """The run seed; every random choice derives from it."""
    return pytestconfig.stash[SEED_KEY]


@pytest.fixture
def case_seed(request: pytest.FixtureRequest, run_seed: int) -> int:
    """A per-test seed from the run seed and the test id (stable across workers)."""
    return derive_seed(run_seed, request.node.nodeid)


@pytest.fixture(scope="session")
def harness_policy(pytestconfig: pytest.Config) -> Policy:
    """The assessment policy."""
    return _policy(pytestconfig)


def _policy(config: pytest.Config) -> Policy:
    """The run's policy, read once per process; a bad one is a usage error."""
    if POLICY_KEY not in config.stash:
        try:
            config.stash[POLICY_KEY] = load_policy(harness_settings(config).policy)
        except HarnessError as exc:
            raise pytest.UsageError(str(exc)) from None
    return config.stash[POLICY_KEY]


def _corpora(config: pytest.Config) -> list[Corpus]:
    try:
        settings = harness_settings(config)
        return select_corpora(settings.corpora, settings.profile_path,
                              max_case_chars=_policy(config).max_case_chars)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None


def run_corpora(config: pytest.Config) -> list[Corpus]:
    """The corpora this run sends (`--corpus`, else the profile's, else the canary sample),
    loaded once per process; scenarios choose their cases from them at collection."""
    if CORPORA_KEY not in config.stash:
        config.stash[CORPORA_KEY] = _corpora(config)
    return config.stash[CORPORA_KEY]


@pytest.fixture(scope="session")
def harness_corpora(pytestconfig: pytest.Config) -> list[Corpus]:
    """The corpora this run sends (`--corpus`, else the profile's, else the canary sample)."""
    return run_corpora(pytestconfig)


@pytest.fixture(scope="session")
def overblocking_bank() -> Corpus:
    """The over-blocking bank (`fixtures/corpora/overblocking.jsonl`)."""
    return load_corpus(OVERBLOCKING_BANK)


@pytest.fixture(scope="session")
def target_profile(pytestconfig: pytest.Config) -> Iterator[Profile]:
    """The validated target profile, pointed at the run's target (the reference site the
    controller started, when the run targets it)."""
    from harness import reference  # noqa: PLC0415 (only when the reference site is needed)

    settings = harness_settings(pytestconfig)
    site = None
    if SITE_KEY not in pytestconfig.stash and settings.starts_reference:
        # Outside a recorded run (a collection, a test of the harness): a site of its own.
        site = reference.start(settings.reference_faults)
        pytestconfig.stash[SITE_KEY] = (site.url, {reference.ADMIN_TOKEN_ENV: site.admin_token})
    try:
        profile = _run_profile(pytestconfig)
    except HarnessError as exc:
        if site is not None:
            site.stop()
        raise pytest.UsageError(str(exc)) from None
    pytestconfig.stash[PROFILE_KEY] = profile
    recorder = pytestconfig.pluginmanager.get_plugin(RECORDER)
    if recorder is not None:
        recorder.info["target"]["base_url"] = profile.base_url
    yield profile
    if site is not None:
        site.stop()


def _run_profile(config: pytest.Config) -> Profile:
    """The run's profile pointed at its target (the reference site's URL and admin token when
    the controller started it)."""
    settings = harness_settings(config)
    url, environ = config.stash.get(SITE_KEY, (settings.base_url, {}))
    return load_profile(settings.profile_path, base_url=url or settings.base_url,
                        environ={**os.environ, **environ})


def selected_channels(config: pytest.Config) -> tuple[str, ...]:
    """The channels this run assesses through (`--channel all` is every one). A pages-only
    profile (no `api` section) is assessed through its pages: the API (and the load channel,
    whose users drive the API steps) is left out of `all` and of the default channel, and
    asking for the API by name is a usage error."""
    settings = harness_settings(config)
    channels = settings.channels
    if "api" not in channels or "api" in _profile_sections(config):
        return channels
    if settings.channel == "api" and settings.sources.get("channel", "default") != "default":
        raise pytest.UsageError(
            f"{settings.profile_path}: channel api (from the {settings.sources['channel']}), but "
            "the profile has no api section: a pages-only site is assessed through its pages "
            "(--channel browser)")
    return tuple(name for name in channels if name not in ("api", "load")) or ("browser",)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A scenario that takes `channel` runs once per selected functional channel (api,
    browser; never load, which has scenarios of its own), marked with it; one
    marked with channels of its own (`@pytest.mark.channel("browser")`) only on those; one
    marked `one_channel` once, on the first selected channel the profile has a section for
    (its API where it has one: a pages-only site's through its pages)."""
    if "channel" in inspect.signature(metafunc.function).parameters:
        own = {m.args[0] for m in metafunc.definition.iter_markers("channel")}
        names = [name for name in selected_channels(metafunc.config)
                 if (name in own if own else name in FUNCTIONAL_CHANNELS)]
        if names and metafunc.definition.get_closest_marker("one_channel") is not None:
            sections = _profile_sections(metafunc.config)
            names = [next((name for name in names if name in sections), names[0])]
        metafunc.parametrize("channel", [
            pytest.param(name, marks=pytest.mark.channel(name), id=name) for name in names
        ])


def _profile_sections(config: pytest.Config) -> frozenset[str]:
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


@pytest.fixture
def channel(pytestconfig: pytest.Config) -> str:
    """The channel of a scenario that is not parametrised by channel: the API, or the pages of
    a pages-only site."""
    return "api" if "api" in _profile_sections(pytestconfig) else "browser"


@pytest.fixture(scope="session")
def harness_mailbox(pytestconfig: pytest.Config,
                    target_profile: Profile) -> Iterator[Mailbox | None]:
    """Where `mail` steps read the target's mail to the harness's accounts: the run's SMTP
    sink (a sink of this session's own outside a recorded run), the profile's command or
    folder, or None when the profile names none."""
    from harness.targets.mail import profile_mailbox, sink_mailbox  # noqa: PLC0415

    sink = pytestconfig.stash.get(MAIL_KEY, None)
    if sink is not None:
        yield sink_mailbox(Path(sink["folder"]), sink["host"], int(sink["port"]))
        return
    try:
        with profile_mailbox(target_profile.accounts.mail, target_profile.path.parent) as box:
            yield box
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.fixture(scope="session")
def api_target(target_profile: Profile, harness_mailbox: Mailbox | None) -> Iterator[ApiTarget]:
    """The target driven through its HTTP API (also the admin interface of every channel)."""
    from harness.targets.api import ApiTarget  # noqa: PLC0415

    with ApiTarget(target_profile, mailbox=harness_mailbox) as api:
        yield api


@pytest.fixture(scope="session")
def harness_browser(request: pytest.FixtureRequest) -> Iterator[Any]:
    """One Chromium per worker: Playwright's own, else Debian's (see `find_browser`).

    With pytest-playwright installed, its launcher is used, so --headed, --slowmo and
    --browser-channel apply.
    """
    from harness.targets.browser import find_browser, launch_options  # noqa: PLC0415

    try:
        options = launch_options(find_browser(harness_settings(request.config).browser_path))
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    try:
        launch = request.getfixturevalue("launch_browser")
    except pytest.FixtureLookupError:
        launch = None
    if launch is not None:
        browser = launch(**options)
        yield browser
        browser.close()
        return
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**options)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def browser_target(target_profile: Profile,
                   request: pytest.FixtureRequest) -> Iterator[BrowserTarget]:
    """The target driven through its own pages."""
    from harness.targets.api import ApiTarget  # noqa: PLC0415
    from harness.targets.browser import BrowserTarget, load_adapter  # noqa: PLC0415

    browser = request.getfixturevalue("harness_browser")
    admin = ApiTarget(target_profile, mailbox=request.getfixturevalue("harness_mailbox"))
    try:
        adapter = load_adapter(target_profile.data.get("browser", {}).get("adapter"),
                               BrowserTarget)
        browser_side = adapter(target_profile, browser, admin)
    except HarnessError as exc:
        admin.close()
        raise pytest.UsageError(str(exc)) from None
    yield browser_side
    browser_side.close()


@pytest.fixture
def target(request: pytest.FixtureRequest, channel: str,
           evidence: CaseEvidence) -> Iterator[Target]:
    """The target, driven through the test's channel. In the browser channel each test gets
    fresh contexts; traces and HARs are kept by policy when it ends."""
    if channel == "api":
        api = request.getfixturevalue("api_target")
        try:
            yield api
        finally:
            _record_violations(request.node, api)
        return
    browser_side = request.getfixturevalue("browser_target")
    config = request.config
    browser_side.begin_case(
        lambda name, data, text: evidence.artifact(name, data, text=text),
        tracing=_tracing_policy(config), screenshots=config.getini("harness_screenshots"),
        har=config.getini("harness_har"),
    )
    try:
        yield browser_side
    finally:
        evidence.add_secrets(browser_side.secrets())
        failed = request.node.stash.get(CALL_FAILED, True)
        browser_side.end_case(failed, evidence.redactor.redact_bytes)
        _record_violations(request.node, browser_side)  # its admin API's included


def _record_violations(item: pytest.Item, target: Any) -> None:
    """Hand the requests a target refused for leaving `allowed_hosts` to the recorder,
    (informational) what the browser itself tried to reach and was refused, and what the
    test created on the target (deleted at the end of the run, see harness.cleanup)."""
    for name, method in ((VIOLATION, "take_violations"),
                         (NETWORK_REFUSAL, "take_network_refusals"),
                         (CREATED, "take_created")):
        take = getattr(target, method, None)
        for refused in take() if take is not None else ():
            item.user_properties.append((name, json.dumps(refused, ensure_ascii=False)))


@pytest.fixture(scope="session")
def _personas() -> dict[str, Session]:
    """Per-channel sessions of personas, registered once per worker."""
    return {}


@pytest.fixture
def actors(request: pytest.FixtureRequest, channel: str, target: Target, run_seed: int,
           _personas: dict[str, Session]) -> Session:
    """The personas this worker's cases share on the test's channel (viewer, anonymous)."""
    from harness.observe.flow import Session  # noqa: PLC0415

    if channel not in _personas:
        nonce = secrets.token_hex(2)
        _personas[channel] = Session.open(target, derive_seed(run_seed, f"actors:{nonce}"),
                                          nonce)
    session = _personas[channel]
    session.target = target
    return session


@pytest.fixture
def evidence(request: pytest.FixtureRequest, target_profile: Profile) -> Iterator[CaseEvidence]:
    """Collects a test's observations and artifacts; judged at the end of the test."""
    recorder = CaseEvidence(request.node, request.config.stash.get(RUN_DIR_KEY, None))
    recorder.add_secrets(list(target_profile.secrets))
    yield recorder
    recorder.flush()


class CaseEvidence:
    """One test's evidence: observations go to the controller, artifacts to the run directory."""

    def __init__(self, item: pytest.Item, run_dir: Path | None) -> None:
        self.item = item
        self.run_dir = run_dir
        self.redactor = Redactor()
        self.secrets: list[str] = []
        self.observations: list[Observation] = []
        self._flushed = 0

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", self.item.nodeid).strip("-")[:180]

    def add_secrets(self, values: list[str]) -> None:
        """Values that must never reach evidence (passwords, tokens, cookies)."""
        for value in values:
            if value and value not in self.secrets:
                self.secrets.append(value)
                self.redactor.add_secret(value)

    def artifact(self, name: str, data: bytes | str, *, text: bool = True) -> str | None:
        """Write a (redacted) artifact for this test; returns its run-relative path."""
        if self.run_dir is None:
            return None
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ValueError(f"artifact name {name!r} must stay inside the test's folder")
        relative = Path("artifacts") / self.slug / name
        path = self.run_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if text:
            raw = data if isinstance(data, str) else data.decode("utf-8")
            data = self.redactor.redact(raw).encode("utf-8")
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        return relative.as_posix()

    def record(self, observations: list[Observation]) -> None:
        self.observations.extend(observations)

    def record_case(self, result: Any, secrets: list[str]) -> None:
        """Record a case's observations (a `CaseResult`), with its exchanges as one artifact
        and its probe image, redacting the secrets the case and its personas used."""
        self.add_secrets(result.secrets + secrets)
        exchanges = self.artifact("exchanges.json", json.dumps(
            [e.evidence() for e in result.exchanges], ensure_ascii=False, indent=1))
        for observation in result.observations:
            observation.details["case"] = result.case.evidence()
            observation.details["exchanges"] = exchanges
        if result.case.image is not None:
            _, extension = image_type(result.case.image)  # the probe as it was sent
            self.artifact(f"probe.{extension}", result.case.image, text=False)
        self.record(result.observations)

    def flush(self) -> None:
        for observation in self.observations[self._flushed:]:
            line = self.redactor.redact(observation.evidence())
            line["test"] = self.item.nodeid
            self.item.user_properties.append((OBSERVATION, json.dumps(line, ensure_ascii=False)))
        self._flushed = len(self.observations)

    def _reasons(self, observations: list[Observation]) -> str:
        return self.redactor.redact_text("; ".join(f"{o.control}: {o.reason}"
                                                   for o in observations))

    def judge(self) -> None:
        """Fail the test on any fail; mark it inconclusive when nothing failed but some could
        not be observed."""
        failed = [o for o in self.observations if o.verdict is Verdict.FAIL]
        unclear = [o for o in self.observations if o.verdict is Verdict.INCONCLUSIVE]
        if failed:
            pytest.fail(self._reasons(failed), pytrace=False)
        if unclear:
            raise Inconclusive(self._reasons(unclear))
        if not self.observations:
            raise Inconclusive("the scenario made no observation")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse unknown control ids; keep the run's scope (channels, `--control`); write the plan
    of what that scope calls for before pytest's own narrowing (`-k`, `--deselect`) runs; on
    `--resume-run`, leave out the tests the run already observed."""
    known = controls.catalog()
    for item in items:
        for marker in item.iter_markers("control"):
            if not marker.args or marker.args[0] not in known:
                raise pytest.UsageError(
                    f"{item.nodeid}: unknown control {marker.args[:1]}; see `harness controls`"
                )
    # A channel-bound scenario on a run without its channel has an empty parameter set; a
    # scenario whose controls no selected channel can observe has nothing to do in this run.
    channels = selected_channels(config)
    patterns = list(harness_settings(config).controls)
    try:
        controls.check_patterns(patterns)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    out = [item for item in items if (
        getattr(item, "callspec", None) is not None and "channel" in item.callspec.params
        and item.callspec.params["channel"] not in channels
    ) or _unobservable(item, channels, known) or (patterns and not any(
        controls.matches(i, patterns) for i in _control_ids(item)))]
    if out:
        config.hook.pytest_deselected(items=out)
        items[:] = [item for item in items if item not in out]
    run_dir = config.stash.get(RUN_DIR_KEY, None)
    if run_dir is None:
        return
    plan = Plan(tuple(patterns), channels,
                tuple(_planned(item) for item in items if _control_ids(item)),
                narrowed=_narrowed(config), shard=_shard(config))
    if plan.shard is not None:
        from harness.shards import share  # noqa: PLC0415

        mine = share((t.test for t in plan.tests), *plan.shard)
        others = [item for item in items if _control_ids(item) and item.nodeid not in mine]
        if others:
            config.hook.pytest_deselected(items=others)
            items[:] = [item for item in items if item not in others]
    if config.stash.get(RESUME_KEY, False):
        done = _resume(run_dir, plan)
        kept = [item for item in items if item.nodeid not in done]
        if len(kept) < len(items):
            config.hook.pytest_deselected(items=[i for i in items if i.nodeid in done])
            items[:] = kept
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        atomic_write(plan_file(run_dir, workerinput["workerid"]),
                     canonical_json(plan.evidence()).encode("utf-8"))
        return
    recorder = config.pluginmanager.get_plugin(RECORDER)
    if recorder is not None:
        recorder.record_plan(plan)


def _shard(config: pytest.Config) -> tuple[int, int] | None:
    """`--shard I/N` as (I, N); a bad one is a usage error."""
    from harness.shards import parse_shard  # noqa: PLC0415

    text = config.getoption("harness_shard")
    try:
        return parse_shard(text) if text else None
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None


def _control_ids(item: pytest.Item) -> list[str]:
    return [m.args[0] for m in item.iter_markers("control")]


def _planned(item: pytest.Item) -> PlannedTest:
    """One planned test: its controls, channel, surface and case id."""
    params = getattr(item, "callspec", None)
    values = params.params if params is not None else {}
    channel = values.get("channel")
    if channel is None:
        marker = item.get_closest_marker("channel")
        channel = marker.args[0] if marker else "api"
    surface = item.get_closest_marker("surface")
    return PlannedTest(item.nodeid, tuple(_control_ids(item)), channel,
                       surface.args[0] if surface else values.get("surface"),
                       params.id if params is not None else "")


def _resume(run_dir: Path, plan: Plan) -> set[str]:
    """The tests a resumed run already observed; refuse when its plan is not this run's."""
    entries = list(read_entries(run_dir))
    recorded = next((e for e in entries if e["entry_type"] == "plan"), None)
    if recorded is not None:
        before = {t.test for t in Plan.from_entry(recorded).tests}
        now = {t.test for t in plan.tests}
        if before != now:
            raise pytest.UsageError(
                f"cannot resume {run_dir}: its plan has {len(before)} tests, this collection "
                f"{len(now)} ({len(before - now)} missing, {len(now - before)} new); the "
                "scenarios or the scope changed since the run started")
    return {e.get("test") for e in entries if e["entry_type"] == "observation"}


def _unobservable(item: pytest.Item, channels: tuple[str, ...],
                  known: dict[str, controls.Control]) -> bool:
    ids = _control_ids(item)
    return bool(ids) and not any(set(known[i].channels) & set(channels) for i in ids)


# --- status and reports ---------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if call.when == "call":
        item.stash[CALL_FAILED] = report.failed
    if call.when == "setup":
        ids = [m.args[0] for m in item.iter_markers("control")]
        if ids:
            item.user_properties.append((CONTROLS, json.dumps(ids)))
            report.user_properties = list(item.user_properties)
    if call.excinfo is not None and call.excinfo.errisinstance(UnsafeTargetError):
        violation = {"url": getattr(call.excinfo.value, "url", None),
                     "reason": str(call.excinfo.value)}
        item.user_properties.append((VIOLATION, json.dumps(violation, ensure_ascii=False)))
    if call.excinfo is not None and call.excinfo.errisinstance(Inconclusive):
        report.outcome = "failed"
        report.longrepr = f"INCONCLUSIVE: {call.excinfo.value}"
        report.user_properties.append((STATUS, "inconclusive"))
    return report


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    if (report.when == "call"
            and (STATUS, "inconclusive") in getattr(report, "user_properties", [])):
        return "inconclusive", "I", ("INCONCLUSIVE", {"yellow": True})
    return None


def _profile_secrets(config: pytest.Config) -> list[str]:
    """The values of the profile's ${ENV} references, so the controller can redact them too
    (under xdist it never loads the profile itself)."""
    _, environ = config.stash.get(SITE_KEY, (None, {}))
    try:
        return list(load_profile(harness_settings(config).profile_path,
                                 base_url="http://127.0.0.1",
                                 environ={**os.environ, **environ}).secrets)
    except HarnessError:
        return []
