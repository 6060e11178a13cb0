"""The fixtures scenarios ask for: `target` (the test's channel), `harness_session` (the personas a
worker's cases share), `evidence`, and what they are made of (the profile, the policy, the
corpora, the seeds, the mailbox, the API and browser targets)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.cleanup import CREATED
from harness.errors import HarnessError
from harness.evidence.recorder import NETWORK_REFUSAL, VIOLATION
from harness.evidence.scenario import ScenarioEvidence
from harness.policy import Policy
from harness.probes.corpora import OVERBLOCKING_BANK, Corpus, load_corpus
from harness.seeds import derive_seed
from harness.targets.base import Target
from harness.targets.profile import Profile

from .config import harness_settings, profile_sections, run_corpora, run_policy, run_profile
from .keys import CALL_FAILED, MAIL_KEY, RECORDER, RUN_DIR_KEY, SEED_KEY, SITE_KEY
from .options import tracing_policy

if TYPE_CHECKING:  # the channels and flows load lazily: only what a run uses is imported
    from harness.observe.flow import Session
    from harness.targets.api import ApiTarget
    from harness.targets.browser import BrowserTarget
    from harness.targets.mail import Mailbox


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
    return run_policy(pytestconfig)


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
        profile = run_profile(pytestconfig)
    except HarnessError as exc:
        if site is not None:
            site.stop()
        raise pytest.UsageError(str(exc)) from None
    recorder = pytestconfig.pluginmanager.get_plugin(RECORDER)
    if recorder is not None:
        recorder.info["target"]["base_url"] = profile.base_url
    yield profile
    if site is not None:
        site.stop()


@pytest.fixture
def channel(pytestconfig: pytest.Config) -> str:
    """The channel of a scenario that is not parametrised by channel: the API, or the pages of
    a pages-only site."""
    return "api" if "api" in profile_sections(pytestconfig) else "browser"


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
           evidence: ScenarioEvidence) -> Iterator[Target]:
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
        tracing=tracing_policy(config), screenshots=config.getini("harness_screenshots"),
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
def harness_session(channel: str, target: Target, run_seed: int,
                    _personas: dict[str, Session]) -> Session:
    """The personas this worker's cases share on the test's channel (`harness_session.actors`:
    viewer, anonymous, ...), pointed at the test's target. Not `session`: Locust's pytest
    plugin has a fixture of that name."""
    from harness.observe.flow import Session  # noqa: PLC0415

    if channel not in _personas:
        nonce = secrets.token_hex(2)
        _personas[channel] = Session.open(target, derive_seed(run_seed, f"actors:{nonce}"),
                                          nonce)
    shared = _personas[channel]
    shared.target = target
    return shared


@pytest.fixture
def evidence(request: pytest.FixtureRequest,
             target_profile: Profile) -> Iterator[ScenarioEvidence]:
    """Collects a test's observations and artifacts; judged at the end of the test."""
    found = ScenarioEvidence(request.node, request.config.stash.get(RUN_DIR_KEY, None))
    found.add_secrets(list(target_profile.secrets))
    yield found
    found.flush()

