"""The browser channel: performs a profile's declarative page steps with Playwright.

Each actor gets its own browser context (cookies, device id header, HAR, trace); logins are
reused through stored storage state. What an observer sees is the rendered text of the page
(and the bytes of its images), never the API. Playwright is imported only here, lazily.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urljoin, urlsplit

from harness.cleanup import Ledger, cleanup_kinds
from harness.errors import ConfigError, HarnessError, UnsafeTargetError
from harness.evidence.redact import scrub_hidden_fields
from harness.observe.visibility import match_text
from harness.probes.images import image_type
from harness.targets.api import (
    UNREACHABLE_AFTER,
    Actor,
    ApiTarget,
    Breaker,
    actor_variables,
    unknown_actor,
)
from harness.targets.landing import landing_note, place
from harness.targets.mail import run_mail_step
from harness.targets.profile import Profile
from harness.targets.refusals import (
    ACCEPTED,
    ERROR,
    MESSAGE_CHARS,
    Refusal,
    RefusalRules,
    Rule,
)
from harness.targets.scope import (
    NO_WEBRTC_JS,
    Sinkhole,
    authority,
    bypass_rules,
    in_scope,
    network_refusals,
    outside,
    violation,
)
from harness.targets.templates import MissingVariable, describe_locator, render, step_label

_T = TypeVar("_T")


def _driving_errors() -> tuple[type[Exception], ...]:
    """What driving a page can raise that makes a step or read fail (not a harness defect):
    Playwright's errors (timeouts included) and the harness's own refusals (a host outside
    allowed_hosts, a bad upload variable)."""
    from playwright.sync_api import Error  # noqa: PLC0415 (Playwright only when driving)

    return (Error, HarnessError)


class NoElement(HarnessError):
    """A step's locator matched nothing within the step timeout."""


class NotRead(HarnessError):
    """A `read` step's pattern is not in what it read (the page is not the one expected)."""


def read_pattern(arg: Mapping[str, Any], value: str) -> str:
    """What a `read` step binds from `value`: its `pattern`'s first group (or whole match),
    or `value` itself without one; NotRead when the pattern is not there."""
    if "pattern" not in arg:
        return value
    match = re.search(arg["pattern"], value)
    if match is None:
        raise NotRead(f"read: {arg['pattern']!r} not found in {value[:200]!r}")
    return match.group(1) if match.groups() else match.group(0)


def _transport_failure(error: str | None, *, navigation: bool) -> str | None:
    """The error of a page load the target never answered, for the breaker: a refused or
    dropped connection, or a navigation that timed out (a locator that waited in vain is the
    profile's or the page's doing, not a target that is down); None otherwise."""
    if error and ("net::ERR_" in error or (navigation and "Timeout" in error)):
        return error
    return None


if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Locator, Page

BROWSER_ENV = "HARNESS_BROWSER"
DEBIAN_CHROMIUM = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
LAUNCH_ARGS = (
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
)
# Chromium features turned off on top of Playwright's own: every browser context's headless
# window still preloads its omnibox's popup pages, two renderers per context that no page the
# harness drives uses (on a run of fresh authors, a third of Chromium's CPU); and every page
# with a form asks Google's autofill service about it, a call the network guard refuses.
DISABLED_FEATURES = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup", "AutofillServerCommunication")
# Where Playwright's driver lists the features its launch turns off (its bundle, or the
# module it is built from in older releases).
_SWITCH_SOURCES = ("lib/coreBundle.js", "lib/server/chromium/chromiumSwitches.js")
_DISABLED_LIST = re.compile(r"\bdisabledFeatures\s*=\s*\[(.*?)\]", re.DOTALL)
POLICIES = ("on", "off", "retain-on-failure")  # traces and HARs
# Screenshots and DOM of observing reads: every read (`on`), none (`off`), every read but kept
# only if the test fails (`on-failure`), or the DOM of every read and a screenshot of each
# actor's decisive one (its last in a round, and any that showed the case: `last`).
SCREENSHOT_POLICIES = ("last", "on", "off", "on-failure")
PASSIVE_ACTIONS = frozenset({"read", "wait_for", "mail"})
# Actions that can load or change the page: only after these does a step wait for the page to
# load and look for a refusal (a fill only changes a field; an upload may submit its form).
PAGE_CHANGING = frozenset({"goto", "click", "choose", "check", "upload", "accept_dialog"})
DEFAULT_LOCALE = "zh-CN"
DEFAULT_VIEWPORT = {"width": 1280, "height": 900}
DEFAULT_TIMEOUT_S = 15.0
# The actions that act on an element their locator finds (`wait_for` and `read` may too).
ELEMENT_ACTIONS = frozenset({"fill", "upload", "choose", "check", "click"})
# Visible text of a page plus what its form fields hold (a remark is shown as a field's value).
_PAGE_TEXT_JS = """() => {
  const parts = [document.body ? document.body.innerText : ""];
  for (const el of document.querySelectorAll("input, textarea")) {
    const type = (el.getAttribute("type") || "").toLowerCase();
    if (["hidden", "password", "submit", "button", "file"].includes(type)) continue;
    if (el.value) parts.push(el.value);
  }
  return parts.join("\\n");
}"""
# The visible text alone (what a refusal rule's `text` is searched in: not the fields' values,
# which hold what the harness typed).
_BODY_TEXT_JS = "() => document.body ? document.body.innerText : ''"
# Whether clicking an element loads a new page (a link, or a form's submit button).
_VISIBLE_LINKS_JS = """() => Array.from(document.querySelectorAll('a[href]'))
  .filter(a => a.getClientRects().length > 0 && getComputedStyle(a).visibility !== 'hidden')
  .map(a => [a.href, (a.innerText || a.title || '').trim()])"""
# Records of a list page: one object per row, each field the text or an attribute of the
# element its selector finds inside the row (the row itself for an empty selector).
_RECORDS_JS = """([rows, fields]) => Array.from(document.querySelectorAll(rows)).map(row => {
  const record = {};
  for (const [name, [css, attribute]] of Object.entries(fields)) {
    const el = css ? row.querySelector(css) : row;
    record[name] = el === null ? null
      : attribute ? el.getAttribute(attribute) : (el.innerText || el.textContent || "").trim();
  }
  return record;
})"""
_NAVIGATES_JS = """e => {
  const href = e.closest("a[href]");
  if (href && !href.getAttribute("href").startsWith("#")) return true;
  const type = (e.getAttribute("type") || (e.tagName === "BUTTON" ? "submit" : "")).toLowerCase();
  return type === "submit" && !!e.form;
}"""


@functools.cache
def _bundled_chromium() -> str:
    """Where Playwright's own Chromium would be (asking starts a Playwright driver, a quarter
    of a second: once per process)."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as playwright:
        return str(playwright.chromium.executable_path or "")


def find_browser(explicit: str | None = None) -> str | None:
    """The Chromium executable to launch, or None for Playwright's own build.

    Order: an explicit path (option or $HARNESS_BROWSER), Playwright's own Chromium when it is
    installed, then Debian's. A clear error names every place looked at when none exists.
    """
    explicit = explicit or os.environ.get(BROWSER_ENV)
    if explicit:
        if not Path(explicit).is_file():
            raise ConfigError(f"browser {explicit!r} (from --browser-path or ${BROWSER_ENV}) "
                              "does not exist")
        return explicit
    bundled = _bundled_chromium()
    if bundled and Path(bundled).is_file():
        return None
    for candidate in DEBIAN_CHROMIUM:
        if Path(candidate).is_file():
            return candidate
    raise ConfigError(
        f"no Chromium found: Playwright's own ({bundled}) is not installed and neither "
        f"{' nor '.join(DEBIAN_CHROMIUM)} exists; install one (Debian: apt-get install "
        f"chromium; elsewhere: playwright install chromium) or set ${BROWSER_ENV}"
    )


def load_adapter(spec: str | None, base: type[BrowserTarget]) -> type[BrowserTarget]:
    """The profile's adapter class (`package.module:Class`, a BrowserTarget subclass), the
    escape hatch for pages that declarative steps cannot drive; `base` when none is named."""
    if not spec:
        return base
    module_name, _, class_name = spec.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"browser adapter {spec!r} cannot be loaded: {exc}") from None
    if not (isinstance(found, type) and issubclass(found, base)):
        raise ConfigError(f"browser adapter {spec!r} is not a subclass of {base.__name__}")
    return found


@functools.cache
def playwright_disabled_features() -> tuple[str, ...]:
    """The Chromium features Playwright's own launch turns off, read from its driver's source;
    empty when the source does not show them. Chromium keeps only the last
    `--disable-features` switch, so one the harness adds must repeat these."""
    package = Path(importlib.import_module("playwright").__file__ or "").parent
    for name in _SWITCH_SOURCES:
        try:
            source = (package / "driver" / "package" / name).read_text(encoding="utf-8")
        except OSError:
            continue
        found = _DISABLED_LIST.search(source)
        if found:
            return tuple(re.findall(r"[\"']([A-Za-z][A-Za-z0-9_]*)[\"']", found.group(1)))
    return ()


def launch_options(executable: str | None) -> dict[str, Any]:
    """Options for Playwright's launch: the flags a closed-network machine needs, and the
    features no assessment uses turned off where Playwright's own list can be kept with them
    (else Playwright's list alone stands: slower, never different)."""
    options: dict[str, Any] = {"args": list(LAUNCH_ARGS)}
    if own := playwright_disabled_features():
        features = dict.fromkeys([*own, *DISABLED_FEATURES])
        options["args"].append(f"--disable-features={','.join(features)}")
    if executable:
        options["executable_path"] = executable
    return options


@dataclass(frozen=True)
class PageResult:
    """One page step and its outcome, the browser's counterpart of an HTTP exchange."""

    method: str
    url: str
    actor: str
    started: str
    elapsed_s: float
    status: int | None
    error: str | None = None
    rejected: bool = False  # the page showed a refusal a rule describes (see `refusals`)
    server_ip: str | None = None
    server_port: int | None = None
    client_ip: str | None = None
    client_port: int | None = None
    # The refusal rules the page matched, each with what the page said (classify picks).
    refusals: tuple[tuple[Rule, str | None], ...] = field(default=(), repr=False,
                                                          compare=False)
    step: str | None = None  # which step of which action it was (see templates.step_label)
    screenshot: str | None = None  # the page when the step failed (run-relative path)

    @classmethod
    def not_performed(cls, spec: Mapping[str, Any], actor: str, error: str,
                      step: str) -> PageResult:
        """A step that could not be performed at all (it acts as an actor the action does
        not have): failed, with why."""
        return cls(method=next(k for k in spec if k != "as").upper(), url="", actor=actor,
                   started=datetime.now(timezone.utc).isoformat(timespec="milliseconds")
                   .replace("+00:00", "Z"), elapsed_s=0.0, status=None, error=error,
                   step=step)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.rejected and (
            self.status is None or self.status < 400)

    def evidence(self) -> dict[str, Any]:
        found = {"refusal_rules": [rule.name for rule, _ in self.refusals]} \
            if self.refusals else {}
        return {
            "step": self.method, "url": self.url, "actor": self.actor, "started": self.started,
            "elapsed_s": round(self.elapsed_s, 4), "status": self.status, "error": self.error,
            "rejected": self.rejected, "server": [self.server_ip, self.server_port], **found,
            **({"label": self.step} if self.step else {}),
            **({"screenshot": self.screenshot} if self.screenshot else {}),
        }


@dataclass(frozen=True)
class PageRead:
    """What one observer saw on one page: its text, its images, and the evidence files.

    `url` is where the browser landed; `landing` says so when that is not the page asked for
    (a login wall, a consent page): such a read is not ok, whatever its status.
    """

    url: str
    status: int | None
    text: str
    image_urls: tuple[str, ...]
    artifacts: tuple[str, ...]
    error: str | None = None
    landing: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.landing is None and self.status is not None \
            and self.status < 400


@dataclass(frozen=True)
class PageVisit:
    """One page as an actor found it: text, visible links, a control's visibility, evidence."""

    url: str
    status: int | None
    text: str
    links: tuple[tuple[str, str], ...]  # (absolute href, link text)
    control_visible: bool | None
    artifacts: tuple[str, ...]
    error: str | None = None
    landing: str | None = None  # like PageRead.landing

    @property
    def ok(self) -> bool:
        return self.error is None and self.landing is None and self.status is not None \
            and self.status < 400


@dataclass(frozen=True)
class PageRecords:
    """The records a list page showed (an audit log, a moderator's queue), re-keyed to the
    harness's field names; like PageRead, not ok when it landed on another page."""

    url: str
    status: int | None
    records: tuple[dict[str, Any], ...]
    error: str | None = None
    landing: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.landing is None and self.status is not None \
            and self.status < 400


ArtifactSink = Callable[[str, bytes, bool], "str | None"]


@dataclass
class _Lasting:
    """The context and page of a lasting actor (Actor.lasting), kept from case to case; its
    trace is recorded in one chunk per case."""

    actor: Actor
    context: BrowserContext
    page: Page | None = None
    tracing: bool = False  # whether tracing was started on the context


@dataclass
class _CaseScope:
    """Per-test state: one context per actor, the evidence policies, the artifact sink."""

    sink: ArtifactSink
    tracing: str
    screenshots: str
    har: str
    # Contexts, pages and last responses by context key (see BrowserTarget._key): the role,
    # or `<role>-<n>` for a later actor of the same role (each fresh author gets its own).
    contexts: dict[str, BrowserContext] = field(default_factory=dict)
    pages: dict[str, Page] = field(default_factory=dict)
    last_response: dict[str, Any] = field(default_factory=dict)
    holders: dict[str, Actor] = field(default_factory=dict)
    chunks: set[str] = field(default_factory=set)  # lasting roles traced in this case
    released: list[str] = field(default_factory=list)  # closed before the end (`release`)
    released_cookies: list[str] = field(default_factory=list)  # their cookies, for redaction
    pending: list[tuple[str, bytes, bool]] = field(default_factory=list)
    counter: int = 0
    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="harness-")))


class BrowserTarget:
    """Drives a target through its own pages as the profile's `browser` section describes."""

    channel = "browser"
    # A browser does not tell which local address and port it used.
    unknowable_log_fields = frozenset({"source_ip", "source_port"})

    def __init__(self, profile: Profile, browser: Browser, admin: ApiTarget) -> None:
        """`admin` is the API target: the admin interface, and the mailbox `mail` steps read."""
        if "browser" not in profile.data:
            raise ConfigError(f"{profile.path}: the profile has no `browser` section; "
                              "the browser channel needs one")
        self.profile = profile
        self.section: dict[str, Any] = profile.data["browser"]
        self.browser = browser
        self.admin = admin
        self.reject_status: frozenset[int] = frozenset()
        self.refusals = RefusalRules(self.section, "browser")
        self.settle_seconds = admin.settle_seconds
        default = float(self.section.get("timeout_seconds", DEFAULT_TIMEOUT_S))
        timeouts = self.section.get("timeouts", {})
        self.step_ms = float(timeouts.get("step", default)) * 1000
        self.navigation_ms = float(timeouts.get("navigation", default)) * 1000
        # The pages' own breaker: once the site stops answering, reads end at once.
        self.breaker = Breaker(int(profile.api.get("unreachable_after", UNREACHABLE_AFTER)))
        self._scope: _CaseScope | None = None
        self._lasting: dict[str, _Lasting] = {}
        bypass_rules(profile.allowed_hosts)  # refuses, before any browser starts, a bad host
        self._sinkhole: Sinkhole | None = None
        self._violations: list[dict[str, str]] = []
        self._unexplained: list[tuple[str, str]] = []  # the sinkhole's, no page's (method, URL)
        self._explained: set[str] = set()  # where the violations went (host:port)
        # What the pages created, deleted at the end of the run (see harness.cleanup).
        self.ledger = Ledger(cleanup_kinds(profile.data), self.channel)

    # --- lifecycle ----------------------------------------------------------------------------

    def begin_case(self, sink: ArtifactSink, *, tracing: str = "retain-on-failure",
                   screenshots: str = "last", har: str = "retain-on-failure") -> None:
        """Start a test: contexts are made lazily, one per actor, with the given policies."""
        for name, value, allowed in (("tracing", tracing, POLICIES),
                                     ("screenshots", screenshots, SCREENSHOT_POLICIES),
                                     ("har", har, POLICIES)):
            if value not in allowed:
                raise ConfigError(f"{name} policy {value!r}: expected one of {allowed}")
        self._scope = _CaseScope(sink=sink, tracing=tracing, screenshots=screenshots, har=har)

    def end_case(self, failed: bool, redact: Callable[[bytes], bytes]) -> list[str]:
        """Close every context; keep traces and HARs by policy, redacted; returns their paths."""
        scope, self._scope = self._scope, None
        if scope is None:
            return []
        kept: list[str] = []
        if failed:
            for name, data, text in scope.pending:
                stored = scope.sink(name, data, text)
                if stored:
                    kept.append(stored)
        # A trace is written only where it is kept (writing one costs more than recording it).
        keep_trace = scope.tracing == "on" or (scope.tracing == "retain-on-failure" and failed)
        for role in scope.chunks:  # a lasting context stays open: its case's chunk ends
            trace = scope.scratch / f"trace-{role}.zip"
            self._lasting[role].context.tracing.stop_chunk(
                **({"path": str(trace)} if keep_trace else {}))
        for role, context in scope.contexts.items():  # role: the context's key
            trace = scope.scratch / f"trace-{role}.zip"
            if scope.tracing != "off":
                context.tracing.stop(**({"path": str(trace)} if keep_trace else {}))
            context.close()  # writes the HAR
        # A context key once (a released actor's key may come back in a later context).
        for role in dict.fromkeys((*scope.contexts, *scope.chunks, *scope.released)):
            trace = scope.scratch / f"trace-{role}.zip"
            for kind, path in (("tracing", trace), ("har", scope.scratch / f"{role}.har")):
                policy = scope.tracing if kind == "tracing" else scope.har
                if path.is_file() and (policy == "on" or (policy == "retain-on-failure"
                                                          and failed)):
                    data = path.read_bytes()
                    data = _redact_zip(data, redact) if path.suffix == ".zip" else redact(data)
                    stored = scope.sink(path.name, data, False)
                    if stored:
                        kept.append(stored)
        shutil.rmtree(scope.scratch, ignore_errors=True)
        return kept

    def release(self, actor: Actor) -> None:
        """Close a fresh actor's context now that its case is done (a rate test has many
        fresh authors: only those in flight keep a context open). Its HAR is kept for the end
        of the test by policy; its trace only under tracing `on` (whether the test fails is
        not known yet). A lasting actor's context stays open."""
        scope = self._scope
        if scope is None or actor.lasting:
            return
        key = next((k for k, holder in scope.holders.items() if holder is actor), None)
        context = scope.contexts.pop(key, None) if key is not None else None
        if context is None:
            return
        scope.pages.pop(key, None)
        scope.last_response.pop(key, None)
        scope.released_cookies += _cookie_values([context])
        if scope.tracing != "off":
            trace = scope.scratch / f"trace-{key}.zip"
            context.tracing.stop(**({"path": str(trace)} if scope.tracing == "on" else {}))
        context.close()  # writes the HAR
        scope.released.append(key)

    def secrets(self) -> list[str]:
        """Cookie values of the open contexts, so evidence redacts session cookies."""
        if self._scope is None:
            return []
        contexts = [*self._scope.contexts.values(),
                    *(lasting.context for lasting in self._lasting.values())]
        return [*self._scope.released_cookies, *_cookie_values(contexts)]

    def close(self) -> None:
        """Close the lasting contexts and the admin API. A run interrupted mid-call may leave
        Playwright's connection unable to answer a close: the browser goes with the run, so
        that is no reason to fail the teardown that seals it."""
        for lasting in self._lasting.values():
            with contextlib.suppress(*_driving_errors()):
                lasting.context.close()
        self._lasting.clear()
        self.admin.close()
        if self._sinkhole is not None:
            self._sinkhole.close()
            self._sinkhole = None

    # --- scope --------------------------------------------------------------------------------

    def take_violations(self) -> list[dict[str, str]]:
        """Every request refused since last asked because it would have left `allowed_hosts`
        (this channel's and its admin API's), oldest first; see `harness.targets.scope`."""
        self._drain_sinkhole()
        taken, self._violations = self._violations, []
        return taken + self.admin.take_violations()

    def take_created(self) -> list[dict[str, Any]]:
        """What this channel (and its admin API) created since last asked (harness.cleanup)."""
        return self.ledger.take() + self.admin.take_created()

    def take_network_refusals(self) -> list[dict[str, Any]]:
        """Requests the network guard refused that no page of the target asked for (the
        browser's own service calls, those `DISABLED_FEATURES` leaves): stopped like every other,
        but not the target's doing, so not scope violations. One line per place, counted."""
        self._drain_sinkhole()
        taken, self._unexplained = self._unexplained, []
        return network_refusals(taken, channel=self.channel)

    def _refuse(self, url: str, *, method: str, resource_type: str, actor: str,
                reason: str) -> None:
        self._explained.add(authority(url))
        self._violations.append(violation(url, method=method, resource_type=resource_type,
                                          actor=actor, reason=reason, channel=self.channel))

    def _drain_sinkhole(self) -> None:
        """Sort what the sinkhole refused: a request a page made is already a violation (seen
        by the guard or as a redirect hop); anything else is a network refusal."""
        if self._sinkhole is not None:
            self._unexplained += [(method, target) for method, target in self._sinkhole.take()
                                  if authority(target) not in self._explained]

    # --- the Target protocol ------------------------------------------------------------------

    def surface_spec(self, name: str) -> dict[str, Any] | None:
        return self.section["surfaces"].get(name)

    def register(self, actor: Actor, account: Mapping[str, str],
                 overrides: Mapping[str, Any] | None = None) -> PageResult:
        """Create the actor's account through the pages, in the actor's own context."""
        if self._scope is None:  # a session persona: register in a scope of its own
            self.begin_case(lambda *_: None, tracing="off", screenshots="off", har="off")
            try:
                return self.register(actor, account, overrides)
            finally:
                self.end_case(False, lambda data: data)
        scope = {**account, **(overrides or {})}
        actor.password = str(scope.get("password", ""))
        results = self._steps(self.section["register"], scope, {actor.role: actor},
                              action="register", default_actor=actor.role, bind_actor=actor)
        # A site whose sign-up does not sign in gets the profile's `login` steps after it.
        if results[-1].ok and self.section.get("login"):
            results += self._steps(self.section["login"], {**scope, **actor.variables},
                                   {actor.role: actor}, action="login",
                                   default_actor=actor.role, bind_actor=actor)
        # The registration is the last step that acts before any mail is awaited (what
        # follows, such as opening the activation link, is not the sign-up's write); a
        # failure anywhere is the result.
        mailed = next((i for i, r in enumerate(results) if r.method == "MAIL"), len(results))
        acting = [r for r in results[:mailed] if r.method.lower() not in PASSIVE_ACTIONS]
        result = results[-1] if not results[-1].ok or not acting else acting[-1]
        if result.ok:
            actor.variables.setdefault("account_name", str(scope.get("account_name", "")))
            if scope.get("email"):
                actor.variables.setdefault("email", str(scope["email"]))
            actor.state = self._context(actor).storage_state()
            self.ledger.account(actor.variables)
        return result

    def sign_in(self, actor: Actor, account: Mapping[str, str]) -> PageResult:
        """Sign an account made beforehand (`accounts.provisioned`: a moderator) in with the
        profile's `login` steps, in the actor's own context; its session is kept as the
        actor's storage state, so every later context of the actor starts signed in.

        A moderator so signed in is `session.actors["moderator"]` (harness.observe.flow
        `Session.open` signs every provisioned role in); `page_for(actor)` is its page."""
        if not self.section.get("login"):
            raise ConfigError(f"{self.profile.path}: the {actor.role} made beforehand cannot "
                              "sign in on the browser channel: the profile has no browser.login")
        if self._scope is None:  # outside a test: sign in in a scope of its own
            self.begin_case(lambda *_: None, tracing="off", screenshots="off", har="off")
            try:
                return self.sign_in(actor, account)
            finally:
                self.end_case(False, lambda data: data)
        actor.password = str(account.get("password", ""))
        results = self._steps(self.section["login"], dict(account), {actor.role: actor},
                              action="login", default_actor=actor.role, bind_actor=actor)
        acting = [r for r in results if r.method.lower() not in PASSIVE_ACTIONS]
        result = results[-1] if not results[-1].ok or not acting else acting[-1]
        if result.ok:
            actor.variables.setdefault("account_name", str(account.get("account_name", "")))
            if account.get("email"):
                actor.variables.setdefault("email", str(account["email"]))
            actor.state = self._context(actor).storage_state()
        return result

    def page_for(self, actor: Actor) -> Page:
        """The actor's page in the running test (its context made on first use, signed in
        when the actor has a session: see `sign_in`)."""
        return self._page(actor)

    def run_steps(self, steps: Iterable[Mapping[str, Any]], variables: dict[str, Any],
                  actors: Mapping[str, Actor], accounts: Mapping[str, Mapping[str, str]], *,
                  action: str = "steps") -> list[Any]:
        """Perform steps in order, binding what `read` and `mail` steps find; stops after a
        failed one. Each result names its step of `action` (e.g. "post create"), and a failed
        page step keeps a screenshot, so that a failure says which step it was and shows it."""
        results: list[Any] = []
        for index, spec in enumerate(steps, 1):
            if "register" in spec:
                role = spec["register"]
                result = self.register(actors[role], accounts[role],
                                       render(spec.get("with", {}), variables))
                if result.ok:
                    variables.update(actor_variables(actors[role]))
                label = step_label(action, index, spec)
                results.append(replace(result, step=f"{label} / {result.step}"
                                       if result.step else label))
            else:
                results.extend(self._steps([spec], variables, actors, action=action,
                                           first=index))
            if not results[-1].ok:
                break
        return results

    def classify(self, result: PageResult, surface: str | None = None) -> str:
        """`accepted`, `invalid` (the page shows a validation error), `rejected` (the page
        shows a moderation refusal) or `error` (anything else, an unmatched 4xx included)."""
        return self.refusal(result, surface).outcome

    def refusal(self, result: PageResult, surface: str | None = None) -> Refusal:
        """The outcome of a page submission with the rule that decided it and the page's
        message. The page was checked against every rule when it showed (`_step`); the
        surface's rules are tried in order here."""
        if result.error is not None:
            return Refusal(ERROR, message=result.error)
        said = dict((id(rule), message) for rule, message in result.refusals)
        rule = self.refusals.first(surface, lambda r: id(r) in said)
        if rule is not None:
            return Refusal(rule.kind, rule.name, said[id(rule)])
        if result.ok:
            return Refusal(ACCEPTED)
        return Refusal(ERROR, f"HTTP {result.status}" if result.status else None)

    def read(self, spec: Mapping[str, Any], variables: Mapping[str, Any],
             actors: Mapping[str, Actor], role: str, *,
             decisive: bool = True) -> PageRead | None:
        """Open the page as `role` and take what it shows, with its DOM (and a screenshot, by
        the policy and `decisive`); None if the URL needs a missing id."""
        try:
            url = self._url(render(spec["goto"], {**variables, **step_variables(actors, role)}))
        except MissingVariable:
            return None
        if self.breaker.down:
            return PageRead(url, None, "", (), (), error=self.breaker.down)
        page = self._page(actors[role])
        try:
            response = page.goto(url, wait_until="load")
            status = response.status if response else None
            text = page.evaluate(_PAGE_TEXT_JS)
            images: tuple[str, ...] = ()
            if spec.get("images"):
                images = tuple(page.eval_on_selector_all(
                    spec["images"], "els => els.map(e => e.currentSrc || e.src)"))
        except _driving_errors() as exc:
            error = f"{type(exc).__name__}: {exc}"
            self.breaker.record(_transport_failure(error, navigation=True))
            return PageRead(url, None, "", (), (), error=error)
        self.breaker.record(None)
        artifacts = self._observation_artifacts(page, role, picture=decisive)
        # After every redirect: a read counts only on the page it asked for.
        return PageRead(page.url, status, text, images, artifacts,
                        landing=landing_note(url, page.url))

    def visit(self, url: str, actor: Actor, *, control: Any = None,
              scope: Mapping[str, Any] | None = None, artifacts: bool = True,
              follow: bool = False) -> PageVisit:
        """Open a page as `actor`: its text, its visible links and whether `control` (a
        locator) is visible on it; with `artifacts`, a screenshot and the DOM as evidence.

        A visit that lands elsewhere than `url` is not ok (`landing` says where it went),
        unless `follow`: then a landing on the same site is the page visited (a crawler
        following a link goes where a visitor would) and only leaving the site is refused.
        """
        if self.breaker.down:
            return PageVisit(url, None, "", (), None, (), error=self.breaker.down)
        page = self._page(actor)
        requested = self._url(url)
        try:
            response = page.goto(requested, wait_until="load")
            status = response.status if response else None
            text = page.evaluate(_PAGE_TEXT_JS)
            links = tuple((href, label) for href, label in page.evaluate(_VISIBLE_LINKS_JS))
            shown = None
            if control is not None:
                shown = self._locate(page, control, scope or {}).is_visible()
        except _driving_errors() as exc:
            error = f"{type(exc).__name__}: {exc}"
            self.breaker.record(_transport_failure(error, navigation=True))
            return PageVisit(url, None, "", (), None, (), error=error)
        self.breaker.record(None)
        files = self._observation_artifacts(page, actor.role) if artifacts else ()
        landing = landing_note(requested, page.url)
        if follow and place(requested)[:3] == place(page.url)[:3]:
            landing = None
        return PageVisit(page.url, status, text, links, shown, files, landing=landing)

    def page_records(self, spec: Mapping[str, Any], variables: Mapping[str, Any],
                     actors: Mapping[str, Actor]) -> PageRecords:
        """The records a list page shows (`goto` as `as`; one per `records` row, each of its
        `fields` by selector, optionally an attribute). No screenshot or DOM is kept: such a
        page shows other users' records, and evidence keeps only the harness's own."""
        role = spec.get("as", "moderator")
        actor = actors.get(role)
        url = str(spec["goto"])
        if actor is None:
            return PageRecords(url, None, (), error=f"no signed-in {role} to read it as")
        try:
            url = self._url(render(spec["goto"], {**variables, **step_variables(actors, role)}),
                            role)
        except MissingVariable as exc:
            return PageRecords(url, None, (), error=f"no value for {exc}")
        if self.breaker.down:
            return PageRecords(url, None, (), error=self.breaker.down)
        fields = {name: [field_, None] if isinstance(field_, str)
                  else [field_.get("css", ""), field_.get("attribute")]
                  for name, field_ in spec["fields"].items()}
        page = self._page(actor)
        try:
            response = page.goto(url, wait_until="load")
            rows = page.evaluate(_RECORDS_JS, [spec["records"], fields])
        except _driving_errors() as exc:
            error = f"{type(exc).__name__}: {exc}"
            self.breaker.record(_transport_failure(error, navigation=True))
            return PageRecords(url, None, (), error=error)
        self.breaker.record(None)
        return PageRecords(page.url, response.status if response else None, tuple(rows),
                           landing=landing_note(url, page.url))

    def image_urls(self, read: PageRead, spec: Mapping[str, Any]) -> list[str]:
        return list(read.image_urls)

    def match(self, read: PageRead, case: Any) -> tuple[bool, bool]:
        """Whether the case shows in the page's text: (visible, only its tag)."""
        found = match_text(read.text.splitlines(), case)
        return found.visible, found.tag_only

    def fetch_image(self, url: str, role: str, actors: Mapping[str, Actor]) -> bytes | None:
        """The bytes of an image as `role`'s browser would load it; None when it fails."""
        response = self._get_in_scope(self._context(actors[role]), url, role)
        return response.body() if response is not None and response.ok else None

    # --- internals ----------------------------------------------------------------------------

    def _steps(self, steps: Iterable[Mapping[str, Any]], variables: dict[str, Any],
               actors: Mapping[str, Actor], *, action: str, default_actor: str = "author",
               bind_actor: Actor | None = None, first: int = 1) -> list[Any]:
        results = []
        mail_variables = self.admin.mailbox.variables if self.admin.mailbox else {}
        for index, spec in enumerate(steps, first):
            role = spec.get("as", default_actor)
            label = step_label(action, index, spec)
            unknown = unknown_actor(role, actors)
            if unknown is not None:
                results.append(PageResult.not_performed(spec, role, unknown, label))
                break
            actor = actors[role]
            scope = {**mail_variables, **variables, **step_variables(actors, role)} \
                if bind_actor is None else {**mail_variables, **variables, **actor.variables}
            into = variables if bind_actor is None else actor.variables
            if "mail" in spec:
                result: Any = replace(run_mail_step(self.admin.mailbox, spec["mail"], scope,
                                                    into, role), step=label)
            else:
                result = self._step(spec, scope, actor, into, label)
            results.append(result)
            if not result.ok:
                break
        return results

    def _step(self, spec: Mapping[str, Any], scope: Mapping[str, Any], actor: Actor,
              into: dict[str, Any], label: str) -> PageResult:
        page = self._page(actor)
        action = next(k for k in spec if k not in ("as",))
        started = datetime.now(timezone.utc)
        clock = time.perf_counter()
        scope_state = self._scope
        assert scope_state is not None
        scope_state.last_response.pop(self._key(actor), None)
        error = self.breaker.down
        try:
            if error is None:
                self._perform(page, action, spec[action], scope, into)
                if action in PAGE_CHANGING:
                    page.wait_for_load_state("load")
        except MissingVariable:
            raise
        except (NoElement, NotRead) as exc:
            error = str(exc)
            self.breaker.record(None)
        except _driving_errors() as exc:
            error = f"{action}: {type(exc).__name__}: {str(exc).splitlines()[0]}"
            self.breaker.record(_transport_failure(error, navigation=action == "goto"))
        else:
            if error is None:
                self.breaker.record(None)
        response = scope_state.last_response.get(self._key(actor))
        server = response.server_addr() if response is not None else None
        status = response.status if response is not None else None
        refusals = () if error is not None or action not in PAGE_CHANGING else \
            self._refusals_shown(page, status)
        failed = error is not None or (status is not None and status >= 400 and not refusals)
        return PageResult(
            method=action.upper(), url=page.url, actor=actor.role,
            started=started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            elapsed_s=time.perf_counter() - clock,
            status=status, error=error, rejected=bool(refusals),
            server_ip=server["ipAddress"] if server else None,
            server_port=server["port"] if server else None, refusals=refusals, step=label,
            screenshot=self._failure_screenshot(page, label) if failed else None,
        )

    def _failure_screenshot(self, page: Page, label: str) -> str | None:
        """The page as a failed step left it, kept at once (the path goes into the error),
        unless screenshots are off; None when none is kept."""
        scope = self._scope
        if scope is None or scope.screenshots == "off":
            return None
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", label.partition(" (")[0]).strip("-")
        return self._keep_screenshot(page, f"failed-{stem}")

    def _keep_screenshot(self, page: Page, name: str) -> str | None:
        """A full-page screenshot kept now as the case's next picture; None when the page is
        gone (a crash, a closed context) or the sink kept nothing."""
        scope = self._scope
        assert scope is not None
        try:
            data = page.screenshot(full_page=True)
        except _driving_errors():
            return None
        scope.counter += 1
        return scope.sink(f"{scope.counter:02d}-{name}.png", data, False)

    def _perform(self, page: Page, action: str, arg: Any, scope: Mapping[str, Any],
                 into: dict[str, Any]) -> None:
        if action == "goto":
            page.goto(self._url(render(arg, scope)), wait_until="load")
        elif action == "fill":
            value = str(render(arg["value"], scope))
            self._on(page, arg["field"], scope, lambda field_: field_.fill(value))
        elif action == "upload":
            data = render(arg["file"], scope)
            if not isinstance(data, bytes):
                raise ConfigError(f"upload {arg['file']!r} is not an image variable")
            mime, ext = image_type(data)
            self._on(page, arg["field"], scope, lambda field_: field_.set_input_files(
                {"name": f"probe.{ext}", "mimeType": mime, "buffer": data}))
        elif action == "choose":
            option = str(render(arg["option"], scope))
            self._on(page, arg["field"], scope, lambda field_: self._choose(field_, option))
        elif action == "check":
            self._on(page, arg, scope, lambda box: box.check())
        elif action == "click":
            # Whether it navigates is asked of the element once it is there: the one wait.
            target, navigates = self._on(page, arg, scope,
                                         lambda t: (t, t.evaluate(_NAVIGATES_JS)))
            if navigates:
                with page.expect_navigation(wait_until="load"):
                    target.click()
            else:
                target.click()
        elif action == "accept_dialog":
            page.once("dialog", lambda dialog: dialog.accept())
        elif action == "wait_for":
            if "selector" in arg:
                self._on(page, arg["selector"], scope,
                         lambda element: element.wait_for(state="visible"))
            if "text" in arg:
                page.get_by_text(str(render(arg["text"], scope))).first.wait_for()
            if "url" in arg:
                page.wait_for_url(str(render(arg["url"], scope)))
        elif action == "read":
            into[arg["into"]] = self._read_value(page, arg, scope)
            self.ledger.bound([arg["into"]], into)

    def _choose(self, field_: Locator, option: str) -> None:
        """Select the option named by its label (a third of the step timeout), else by its
        value."""
        try:
            field_.select_option(label=option, timeout=self.step_ms / 3)
        except _driving_errors():
            field_.select_option(value=option)

    def _read_value(self, page: Page, arg: Mapping[str, Any], scope: Mapping[str, Any]) -> str:
        if arg.get("url"):
            value = page.url
        else:
            attribute = arg.get("attribute")
            value = self._on(page, arg["selector"], scope, lambda element: (
                element.get_attribute(attribute) if attribute else element.inner_text()))
            value = value or ""
        return read_pattern(arg, value)

    def _on(self, page: Page, spec: Any, scope: Mapping[str, Any],
            act: Callable[[Locator], _T]) -> _T:
        """Act on the element a step names, the action's own wait for it being the only one
        (no round trip to look first); NoElement, naming the locator, when the action timed
        out because it matches nothing (not a timeout of the action)."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: PLC0415

        locator = self._locate(page, spec, scope)
        try:
            return act(locator)
        except PlaywrightTimeout:
            if locator.count() == 0:
                raise NoElement(f"no element matches {describe_locator(render(spec, scope))} "
                                f"(waited {self.step_ms / 1000:g}s)") from None
            raise

    def _locate(self, page: Page, spec: Any, scope: Mapping[str, Any]) -> Locator:
        spec = render(spec, scope)
        if isinstance(spec, str):
            return page.locator(spec).first
        if "role" in spec:
            locator = page.get_by_role(spec["role"], name=spec.get("name"))
        elif "label" in spec:
            locator = page.get_by_label(spec["label"])
        elif "text" in spec:
            locator = page.get_by_text(spec["text"])
        elif "placeholder" in spec:
            locator = page.get_by_placeholder(spec["placeholder"])
        else:
            locator = page.locator(spec["css"])
        return locator.nth(spec["nth"]) if "nth" in spec else locator.first

    def _refusals_shown(self, page: Page, status: int | None
                        ) -> tuple[tuple[Rule, str | None], ...]:
        """Every refusal rule (of any surface) the page now matches, with what it says: the
        text of the rule's element, or the text its pattern found."""
        rules = self.refusals.every()
        text = page.evaluate(_BODY_TEXT_JS) if any(rule.needs_text for rule in rules) else None
        found = []
        for rule in rules:
            if rule.matches(status, text=text, visible=lambda loc: self._locate(
                    page, loc, {}).is_visible()):
                message = None
                if rule.selector is not None:
                    message = self._locate(page, rule.selector, {}).inner_text()
                elif rule.text is not None and text is not None:
                    hit = rule.text.search(text)
                    message = hit.group(0) if hit else None
                found.append((rule, " ".join((message or "").split())[:MESSAGE_CHARS] or None))
        return tuple(found)

    def screenshot(self, actors: Mapping[str, Actor], role: str) -> tuple[str, ...]:
        """A full-page screenshot of the page `role` is on (under `last`, of a read that was
        not decisive but showed the case); nothing under a policy that took one already or
        takes none."""
        scope = self._scope
        if scope is None or scope.screenshots != "last":
            return ()
        stored = self._keep_screenshot(self._page(actors[role]), role)
        return (stored,) if stored else ()

    def _observation_artifacts(self, page: Page, role: str, *,
                               picture: bool = True) -> tuple[str, ...]:
        """The DOM of what an observer saw and, by the screenshot policy, a full-page
        screenshot (under `last`, only with `picture`). Under `on-failure` they are held
        back and written only if the test fails."""
        scope = self._scope
        if scope is None or scope.screenshots == "off":
            return ()
        scope.counter += 1
        stem = f"{scope.counter:02d}-{role}"
        files = []
        if picture or scope.screenshots != "last":
            files.append((f"{stem}.png", page.screenshot(full_page=True), False))
        files.append((f"{stem}.html", scrub_hidden_fields(page.content()).encode(), True))
        if scope.screenshots == "on-failure":
            scope.pending.extend(files)
            return ()
        stored = [scope.sink(name, data, text) for name, data, text in files]
        return tuple(path for path in stored if path)

    def _context(self, actor: Actor) -> BrowserContext:
        scope = self._scope
        if scope is None:
            raise RuntimeError("begin_case() was not called")
        if actor.lasting:
            return self._lasting_context(actor)
        key = self._key(actor)
        context = scope.contexts.get(key)
        if context is None:
            har = scope.scratch / f"{key}.har" if scope.har != "off" else None
            context = self._new_context(actor, har_path=har)
            if scope.tracing != "off":
                context.tracing.start(screenshots=False, snapshots=True, sources=False)
            scope.contexts[key] = context
        return context

    def _new_context(self, actor: Actor, *, har_path: Path | None) -> BrowserContext:
        """A browser context for the actor: its locale, viewport, headers and cookies, every
        request outside `allowed_hosts` refused (route guard, sinkhole proxy, no WebRTC)."""
        options: dict[str, Any] = {
            "base_url": self.profile.base_url,
            "locale": self.section.get("locale", DEFAULT_LOCALE),
            "extra_http_headers": self._headers(actor),
            "viewport": dict(self.section.get("viewport", DEFAULT_VIEWPORT)),
        }
        if actor.state:
            options["storage_state"] = actor.state
        if har_path is not None:
            options["record_har_path"] = str(har_path)
        if self._sinkhole is None:
            self._sinkhole = Sinkhole()
        # Whatever is not for an allowed host goes to the sinkhole (redirect hops that no
        # route handler sees included); service workers would fetch past the route guard.
        options["proxy"] = self._sinkhole.proxy(self.profile.allowed_hosts)
        options["service_workers"] = "block"
        context = self.browser.new_context(**options)
        context.set_default_timeout(self.step_ms)
        context.set_default_navigation_timeout(self.navigation_ms)
        role = actor.role

        def guard(route: Any) -> None:
            self._guard(route, role)

        def hop(request: Any) -> None:
            self._see_hop(request, role)

        def sockets(page: Any) -> None:
            page.on("websocket", lambda socket: self._see_socket(socket, role))

        context.route(outside(self.profile.allowed_hosts), guard)
        context.on("request", hop)
        context.on("page", sockets)
        # WebRTC sends UDP straight past both guards (a STUN server anywhere).
        context.add_init_script(NO_WEBRTC_JS)
        return context

    def _lasting_context(self, actor: Actor) -> BrowserContext:
        """A lasting actor's context: opened at its first case and kept (no HAR, which would
        span cases; a trace chunk per case when tracing is on)."""
        scope = self._scope
        assert scope is not None
        lasting = self._lasting.get(actor.role)
        if lasting is not None and lasting.actor is not actor:  # a new persona of that role
            lasting.context.close()
            lasting = None
        if lasting is None:
            context = self._new_context(actor, har_path=None)
            lasting = self._lasting[actor.role] = _Lasting(actor, context)
        if scope.tracing != "off" and actor.role not in scope.chunks:
            if not lasting.tracing:
                lasting.context.tracing.start(screenshots=False, snapshots=True, sources=False)
                lasting.tracing = True
            lasting.context.tracing.start_chunk()
            scope.chunks.add(actor.role)
        return lasting.context

    def _key(self, actor: Actor) -> str:
        """The context an actor's pages open in: its role's, unless another actor of that role
        holds it (an earlier fresh author, signed in): then one of its own, so that every
        fresh author signs up in a fresh context."""
        scope = self._scope
        assert scope is not None
        if actor.lasting:
            return actor.role
        for key, holder in scope.holders.items():
            if holder is actor:
                return key
        key, serial = actor.role, 1
        while key in scope.holders:
            serial += 1
            key = f"{actor.role}-{serial}"
        scope.holders[key] = actor
        return key

    def _headers(self, actor: Actor) -> dict[str, str]:
        """The profile's request headers (e.g. the client device id) as this actor sends them;
        a header that needs a value the actor does not have is left out."""
        headers = {}
        templates = self.section.get("headers", self.profile.api.get("headers", {}))
        for name, template in templates.items():
            try:
                headers[name] = str(render(template, {**actor.variables,
                                                      "device_id": actor.device_id}))
            except MissingVariable:
                continue
        return headers

    def _page(self, actor: Actor) -> Page:
        scope = self._scope
        assert scope is not None
        role = self._key(actor)
        lasting = self._lasting.get(role) if actor.lasting else None
        page = lasting.page if lasting is not None and lasting.actor is actor \
            else scope.pages.get(role)
        if page is None or page.is_closed():
            page = self._context(actor).new_page()

            def remember(response: Any) -> None:
                current = self._scope  # a lasting page outlives the case it was opened in
                if current is not None and response.request.is_navigation_request() \
                        and response.frame == page.main_frame:
                    current.last_response[role] = response

            page.on("response", remember)
            if actor.lasting:
                self._lasting[role].page = page
            else:
                scope.pages[role] = page
        return page

    def _guard(self, route: Any, actor: str = "") -> None:
        """A page's request to a host outside `allowed_hosts` is aborted before it is sent,
        and recorded. Redirect hops never come here (Playwright continues them itself): the
        sinkhole stops those, and `_see_hop` records them."""
        request = route.request
        if in_scope(request.url, self.profile.allowed_hosts):
            route.continue_()
            return
        route.abort("blockedbyclient")
        self._refuse(request.url, method=request.method, resource_type=request.resource_type,
                     actor=actor, reason="aborted by the route guard: the host is not in "
                     "allowed_hosts")

    def _see_hop(self, request: Any, actor: str) -> None:
        """Record a redirect hop to a host outside `allowed_hosts` (the sinkhole refuses it)."""
        previous = request.redirected_from
        if previous is None or in_scope(request.url, self.profile.allowed_hosts):
            return
        self._refuse(request.url, method=request.method, resource_type=request.resource_type,
                     actor=actor, reason=f"redirected there by {previous.url}; refused by the "
                     "network guard")

    def _see_socket(self, socket: Any, actor: str) -> None:
        """Record a WebSocket opened to a host outside `allowed_hosts` (the sinkhole refuses
        it; route handlers never see WebSockets)."""
        if not in_scope(socket.url, self.profile.allowed_hosts):
            self._refuse(socket.url, method="GET", resource_type="websocket", actor=actor,
                         reason="a page opened a WebSocket there; refused by the network guard")

    def _get_in_scope(self, context: BrowserContext, url: str, actor: str,
                      max_redirects: int = 10) -> Any:
        """GET through the context's request API, following redirects one hop at a time so
        that a hop outside `allowed_hosts` is refused (and recorded) instead of sent; None
        when it was refused or the chain is too long."""
        for _ in range(max_redirects + 1):
            self._check_host(url, actor=actor, resource_type="image")
            response = context.request.get(url, max_redirects=0)
            location = response.headers.get("location")
            if not (300 <= response.status < 400 and location):
                return response
            url = urljoin(url, location)
        return None

    def _url(self, url: str, actor: str = "") -> str:
        full = url if urlsplit(url).scheme else urljoin(self.profile.base_url + "/",
                                                        url.lstrip("/"))
        self._check_host(full, actor=actor)
        return full

    def _check_host(self, url: str, *, actor: str = "", method: str = "GET",
                    resource_type: str = "document") -> None:
        """Refuse (and record) a URL the harness itself would open outside `allowed_hosts`."""
        if not in_scope(url, self.profile.allowed_hosts):
            host = urlsplit(url).hostname
            self._refuse(url, method=method, resource_type=resource_type, actor=actor,
                         reason="refused before sending: the host is not in allowed_hosts")
            raise UnsafeTargetError(f"refusing {url}: {host!r} is not in allowed_hosts")


def step_variables(actors: Mapping[str, Actor], role: str) -> dict[str, Any]:
    """Every actor's `<role>_<name>` variables, plus the acting one's device id and
    `{email}`."""
    found: dict[str, Any] = {}
    for actor in actors.values():
        found.update(actor_variables(actor))
    found["device_id"] = actors[role].device_id
    if actors[role].variables.get("email"):
        found["email"] = actors[role].variables["email"]
    return found


def _cookie_values(contexts: Iterable[BrowserContext]) -> list[str]:
    """The cookie values of contexts (those long enough to be secrets)."""
    return [c["value"] for ctx in contexts for c in ctx.cookies()
            if len(c.get("value", "")) >= 4]


def _redact_zip(data: bytes, redact: Callable[[bytes], bytes]) -> bytes:
    """A Playwright trace with every text member redacted (requests, actions, bodies).

    Every text member goes through `redact` once before any is written, so that a value the
    redactor learns in one (a hidden input's token in a DOM snapshot) is scrubbed from all.
    """
    import io  # noqa: PLC0415
    import zipfile  # noqa: PLC0415

    source = zipfile.ZipFile(io.BytesIO(data))
    members = [(info, source.read(info)) for info in source.infolist()]
    texts = {info.filename for info, member in members if _is_utf8(member)}
    for info, member in members:
        if info.filename in texts:
            redact(member)  # learning pass: the output is discarded
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info, member in members:
            target.writestr(info, redact(member) if info.filename in texts else member)
    return out.getvalue()


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
