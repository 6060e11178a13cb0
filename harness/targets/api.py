"""The API channel: performs a profile's declarative HTTP steps with httpx.

Every request records, besides status and timing, the local address and port the harness used
and the server's address, read from the live connection, so that audit records can be checked
against them (Article 5(3) asks for the source port).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from harness import __version__
from harness.cleanup import Ledger, cleanup_kinds
from harness.errors import ConfigError, UnsafeTargetError
from harness.observe.visibility import match_text
from harness.probes.images import image_type
from harness.targets.mail import Mailbox, run_mail_step
from harness.targets.profile import Profile
from harness.targets.refusals import (
    ACCEPTED,
    ERROR,
    REJECTED,
    Refusal,
    RefusalRules,
    api_message,
)
from harness.targets.scope import in_scope, violation
from harness.targets.templates import MissingVariable, lookup, lookup_one, render, step_label

USER_AGENT = f"moderation-harness/{__version__}"
PREVIEW_CHARS = 4000
ANONYMOUS = "anonymous"
ADMIN = "admin"
# The actor of the request a thread is sending, for the response hook that records a redirect
# out of scope.
_SENDING_AS: ContextVar[str] = ContextVar("harness_sending_as", default="")

# Transport. A read (GET/HEAD) is retried, each attempt recorded, when its connection broke
# or the target answered 502/503/504. A write is retried only when it never left the harness
# (the connection could not be made): a write that got a 503 or lost its connection may still
# have been stored, and a second one would be a second submission. Timeouts are not retried:
# a target that is slow once is slow again, and each try costs the whole timeout.
DEFAULT_TIMEOUT_S = 15.0
READ_RETRIES = 2
RETRY_BACKOFF_S = 0.1            # doubled after every retry
RETRY_STATUS = frozenset({502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# After this many requests in a row that got no answer at all (refused, reset, timed out; an
# error status is an answer), the target counts as down and nothing more is sent to it.
UNREACHABLE_AFTER = 5


@dataclass
class Actor:
    """A persona with its own account (or none, for `anonymous`), and its device id."""

    role: str
    device_id: str
    variables: dict[str, str] = field(default_factory=dict)
    password: str | None = field(default=None, repr=False)
    state: dict[str, Any] | None = field(default=None, repr=False)  # browser storage state
    # A persona the cases of a worker share (the viewer, the public, a provisioned moderator):
    # the browser keeps its context and page from case to case instead of opening new ones.
    lasting: bool = False

    @property
    def token(self) -> str | None:
        return self.variables.get("token")


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and its outcome, as evidence sees it (bodies are previews)."""

    method: str
    url: str
    actor: str
    started: str
    elapsed_s: float
    status: int | None
    error: str | None = None
    attempts: tuple[dict[str, Any], ...] = ()  # earlier tries of a retried request
    client_ip: str | None = None
    client_port: int | None = None
    server_ip: str | None = None
    server_port: int | None = None
    request_body: Any = None
    response_body: str | None = None
    document: Any = field(default=None, repr=False, compare=False)
    content: bytes | None = field(default=None, repr=False, compare=False)
    cause: httpx.HTTPError | None = field(default=None, repr=False, compare=False)
    location: str | None = None  # where a 3xx answer points (redirects are not followed)
    step: str | None = None  # which step of which action it was (see templates.step_label)
    expected: tuple[int, ...] = ()  # the statuses its step declares a success (default 2xx)

    @property
    def ok(self) -> bool:
        if self.status is not None and self.expected:
            return self.status in self.expected
        return self.status is not None and 200 <= self.status < 300

    @property
    def redirected(self) -> bool:
        return self.status is not None and 300 <= self.status < 400

    def evidence(self) -> dict[str, Any]:
        """A JSON-ready record (secrets are redacted by the evidence store)."""
        return {
            "method": self.method, "url": self.url, "actor": self.actor,
            "started": self.started, "elapsed_s": round(self.elapsed_s, 4),
            "status": self.status, "error": self.error,
            **({"attempts": list(self.attempts)} if self.attempts else {}),
            "client": [self.client_ip, self.client_port],
            "server": [self.server_ip, self.server_port],
            "request_body": self.request_body, "response_body": self.response_body,
            **({"label": self.step} if self.step else {}),
            **({"location": self.location} if self.location else {}),
        }


class ApiTarget:
    """Drives a target over HTTP as its profile describes; one connection pool per instance."""

    channel = "api"
    unknowable_log_fields: frozenset[str] = frozenset()

    def __init__(self, profile: Profile, *, timeout: float | None = None,
                 transport: httpx.BaseTransport | None = None, read_retries: int | None = None,
                 unreachable_after: int | None = None, mailbox: Mailbox | None = None) -> None:
        self.profile = profile
        self.mailbox = mailbox  # where `mail` steps read the target's mail to the harness
        api = profile.api
        self._violations: list[dict[str, str]] = []
        self._violations_lock = threading.Lock()
        self.read_retries = int(api.get("read_retries", READ_RETRIES)
                                if read_retries is None else read_retries)
        self.breaker = Breaker(int(api.get("unreachable_after", UNREACHABLE_AFTER)
                                   if unreachable_after is None else unreachable_after))
        # A status-only `rejected` rule; there is no default: a refusal the profile does not
        # describe is an error, never a moderation refusal.
        self.reject_status = frozenset(api.get("reject_status", ()))
        self.refusals = RefusalRules(api, "api")
        self.settle_seconds = float(api.get("settle_seconds", 0.0))
        self.ledger = Ledger(cleanup_kinds(profile.data), self.channel)
        self._client = httpx.Client(
            base_url=profile.base_url,
            timeout=timeout or float(api.get("timeout_seconds", DEFAULT_TIMEOUT_S)),
            headers={"User-Agent": USER_AGENT},
            event_hooks={"response": [_remember_addresses, self._see_redirect]},
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def release(self, actor: Actor) -> None:
        """An HTTP actor holds nothing but its token: nothing to let go of."""

    def take_created(self) -> list[dict[str, Any]]:
        """What this channel created on the target since last asked (see harness.cleanup)."""
        return self.ledger.take()

    def take_violations(self) -> list[dict[str, str]]:
        """Every request refused since last asked because it would have left `allowed_hosts`
        (sent nowhere; a redirect there is never followed), oldest first."""
        with self._violations_lock:
            taken, self._violations = self._violations, []
        return taken

    def _refuse(self, url: str, *, method: str, actor: str, reason: str) -> None:
        with self._violations_lock:
            self._violations.append(violation(url, method=method, resource_type="api",
                                              actor=actor, reason=reason,
                                              channel=self.channel))

    def _see_redirect(self, response: httpx.Response) -> None:
        """Record a 3xx that points outside `allowed_hosts` (redirects are not followed)."""
        location = response.headers.get("location")
        if not response.is_redirect or not location:
            return
        target = urljoin(str(response.request.url), location)
        if not in_scope(target, self.profile.allowed_hosts):
            self._refuse(target, method=response.request.method, actor=_SENDING_AS.get(),
                         reason=f"{response.status_code} redirect from {response.request.url}; "
                         "not followed")

    @property
    def admin(self) -> ApiTarget:
        """The channel that reads the admin interfaces (audit, moderation): this one."""
        return self

    def surface_spec(self, name: str) -> dict[str, Any] | None:
        return self.profile.surface(name)

    def classify(self, exchange: Exchange, surface: str | None = None) -> str:
        """`accepted` (2xx), `invalid` (a validation rule matches), `rejected` (a rejected rule
        or `reject_status` matches) or `error` (anything else, redirects included)."""
        return self.refusal(exchange, surface).outcome

    def refusal(self, exchange: Exchange, surface: str | None = None) -> Refusal:
        """The outcome of a submission with the rule that decided it and the site's message."""
        if exchange.ok:
            return Refusal(ACCEPTED)
        if exchange.status is None:
            return Refusal(ERROR, message=exchange.error)
        if not exchange.redirected:
            rule = self.refusals.first(surface, lambda r: r.matches(
                exchange.status, exchange.document, exchange.response_body))
            if rule is not None:
                return Refusal(rule.kind, rule.name,
                               api_message(rule, exchange.document, exchange.response_body))
            if exchange.status in self.reject_status:
                return Refusal(REJECTED, f"HTTP {exchange.status}",
                               api_message(None, exchange.document, exchange.response_body))
        return Refusal(ERROR, f"HTTP {exchange.status}",
                       api_message(None, exchange.document, exchange.response_body))

    def screenshot(self, actors: Mapping[str, Actor], role: str) -> tuple[str, ...]:
        """An API read has no picture: its exchange is its evidence."""
        return ()

    def match(self, exchange: Exchange, case: Any) -> tuple[bool, bool]:
        """Whether the case shows in a read: (visible, only its tag)."""
        document = exchange.document if exchange.document is not None else exchange.response_body
        found = match_text(document, case)
        return found.visible, found.tag_only

    def image_urls(self, exchange: Exchange, spec: Mapping[str, Any]) -> list[str]:
        return [url for path in spec.get("images", ()) for url in lookup(exchange.document, path)
                if isinstance(url, str)]

    def fetch_image(self, url: str, role: str, actors: Mapping[str, Actor]) -> bytes | None:
        """Download an image the way `role` would; None when that fails."""
        image = self.request({"method": "GET", "path": url, "as": role}, {}, actors)
        return image.content if image.ok else None

    def __enter__(self) -> ApiTarget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- requests -----------------------------------------------------------------------------

    def request(
        self, spec: Mapping[str, Any], variables: Mapping[str, Any],
        actors: Mapping[str, Actor], *, default_actor: str = "author",
    ) -> Exchange:
        """Perform one request step; raises MissingVariable if a template cannot be filled.
        A step that acts as an actor the action does not have fails, saying so."""
        role = spec.get("as", default_actor)
        unknown = unknown_actor(role, actors)
        if unknown is not None:
            return Exchange(method=spec["method"], url=str(spec.get("path") or spec.get("url")),
                            actor=role, started=_iso(datetime.now(timezone.utc)),
                            elapsed_s=0.0, status=None, error=unknown)
        actor = actors.get(role) if role != ADMIN else None
        scope = {**(self.mailbox.variables if self.mailbox else {}), **variables}
        if actor is not None:
            scope.update(actor.variables, device_id=actor.device_id)
        else:
            scope.setdefault("device_id", "harness-admin")
        headers = render(self.profile.api.get("headers", {}), scope)
        if role == ADMIN:
            headers.update(self.profile.api.get("admin_headers", {}))
        elif actor is not None and actor.token:
            headers.update(render(self.profile.api.get("auth_headers", {}), scope))
        headers.update(render(spec.get("headers", {}), scope))
        files = None
        if "files" in spec:
            files = {
                name: _upload_file(name, value)
                for name, value in render(spec["files"], scope).items()
            }
        exchange = self.send(
            spec["method"], render(spec.get("path") or spec["url"], scope), actor=role,
            headers=headers,
            params=render(spec.get("params"), scope), json_body=render(spec.get("json"), scope),
            data=render(spec.get("form", spec.get("data")), scope), files=files,
        )
        # A form that redirects after the post (303 See Other) may declare that a success.
        return replace(exchange, expected=tuple(spec["status"])) if "status" in spec \
            else exchange

    def send(
        self, method: str, url: str, *, actor: str, headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None, json_body: Any = None,
        data: Mapping[str, Any] | None = None, files: Mapping[str, Any] | None = None,
    ) -> Exchange:
        """Send one request to an allowed host and record the exchange; never raises on I/O.

        Reads are retried as the module says, the earlier tries kept in `attempts`. Once the
        breaker has opened (the target is down), nothing is sent: the exchange carries the
        breaker's error at once.
        """
        full = url if urlsplit(url).scheme else urljoin(self.profile.base_url + "/",
                                                           url.lstrip("/"))
        host = urlsplit(full).hostname
        if not in_scope(full, self.profile.allowed_hosts) or host is None:
            self._refuse(full, method=method, actor=actor,
                         reason="refused before sending: the host is not in allowed_hosts")
            raise UnsafeTargetError(f"refusing {method} {full}: {host!r} is not in allowed_hosts")
        _SENDING_AS.set(actor)
        body_preview = _body_preview(json_body, data, files)
        down = self.breaker.down
        if down is not None:
            return Exchange(method=method, url=full, actor=actor,
                            started=_iso(datetime.now(timezone.utc)), elapsed_s=0.0,
                            status=None, error=down, request_body=body_preview)
        earlier: list[Exchange] = []
        while True:
            exchange = self._send_once(
                method, full, actor=actor, headers=headers, params=params, json_body=json_body,
                data=data, files=files, body_preview=body_preview,
            )
            if len(earlier) >= self.read_retries or not _retryable(method, exchange):
                break
            earlier.append(exchange)
            time.sleep(RETRY_BACKOFF_S * 2 ** (len(earlier) - 1))
        self.breaker.record(exchange.error if isinstance(exchange.cause, httpx.TransportError)
                            else None)
        if earlier:
            exchange = replace(exchange, attempts=tuple(_attempt(e) for e in earlier))
        return exchange

    def _send_once(
        self, method: str, full: str, *, actor: str, headers: Mapping[str, str] | None,
        params: Mapping[str, Any] | None, json_body: Any, data: Mapping[str, Any] | None,
        files: Mapping[str, Any] | None, body_preview: Any,
    ) -> Exchange:
        """One try of a request; an I/O failure becomes an exchange with `error` and `cause`."""
        started = datetime.now(timezone.utc)
        clock = time.perf_counter()
        try:
            response = self._client.request(
                method, full, headers=headers, params=params, json=json_body, data=data,
                files=files,
            )
        except httpx.HTTPError as exc:
            return Exchange(
                method=method, url=full, actor=actor, started=_iso(started),
                elapsed_s=time.perf_counter() - clock, status=None,
                error=f"{type(exc).__name__}: {exc}", request_body=body_preview, cause=exc,
            )
        client, server = response.extensions.get("harness.addresses", (None, None))
        document = None
        if "json" in response.headers.get("content-type", ""):
            try:
                document = response.json()
            except json.JSONDecodeError:
                document = None
        is_text = not response.headers.get("content-type", "").startswith("image/")
        return Exchange(
            method=method, url=str(response.request.url), actor=actor, started=_iso(started),
            elapsed_s=time.perf_counter() - clock, status=response.status_code,
            client_ip=client[0] if client else None, client_port=client[1] if client else None,
            server_ip=server[0] if server else None, server_port=server[1] if server else None,
            request_body=body_preview,
            response_body=response.text[:PREVIEW_CHARS] if is_text else _digest(response.content),
            document=document, content=response.content,
            location=(urljoin(str(response.request.url), response.headers["location"])
                      if response.is_redirect and "location" in response.headers else None),
        )

    # --- accounts -----------------------------------------------------------------------------

    def register(
        self, actor: Actor, account: Mapping[str, str], overrides: Mapping[str, Any] | None = None,
    ) -> Any:
        """Create an account for `actor` with the profile's register (and login) steps: one
        request, or requests and `mail` steps (an activation link) in order.

        Returns the sign-up's own exchange (its last write: the one its log record
        describes), or the first step that failed, the login's included."""
        scope = {**account, **(overrides or {})}
        actor.password = str(scope.get("password", ""))
        # Sent as the new actor (its device id), before it has a token.
        done = self._account_steps("register", self.profile.api["register"], scope, actor)
        if not done[-1].ok:
            return done[-1]
        writes = [r for r in done if isinstance(r, Exchange) and r.method != "GET"]
        signup = writes[-1] if writes else done[-1]
        actor.variables.setdefault("account_name", str(scope.get("account_name", "")))
        if scope.get("email"):
            actor.variables.setdefault("email", str(scope["email"]))
        self.ledger.account(actor.variables)
        login = self.profile.api.get("login")
        if login is not None and not actor.token:
            signed_in = self._account_steps("login", login, scope, actor)[-1]
            if not signed_in.ok:
                return signed_in
        return signup

    def sign_in(self, actor: Actor, account: Mapping[str, str]) -> Any:
        """Sign an account made beforehand (`accounts.provisioned`) in with the profile's
        `login` steps; the last step's result (ConfigError when there are none)."""
        login = self.profile.api.get("login")
        if login is None:
            raise ConfigError(f"{self.profile.path}: the {actor.role} made beforehand cannot "
                              "sign in on the api channel: the profile has no api.login")
        actor.password = str(account.get("password", ""))
        done = self._account_steps("login", login, account, actor)
        if done[-1].ok:
            actor.variables.setdefault("account_name", str(account.get("account_name", "")))
            if account.get("email"):
                actor.variables.setdefault("email", str(account["email"]))
        return done[-1]

    def _account_steps(self, action: str, steps: Any, scope: Mapping[str, Any],
                       actor: Actor) -> list[Any]:
        """An account's own steps (one request, or a list), as that actor; what they extract
        and the links they take are the actor's. Stops after a step that fails."""
        done: list[Any] = []
        for index, spec in enumerate([steps] if isinstance(steps, Mapping) else steps, 1):
            if "mail" in spec:
                result = run_mail_step(self.mailbox, spec["mail"], {**scope, **actor.variables},
                                       actor.variables, actor.role)
            else:
                result = self.request(spec, scope, {actor.role: actor},
                                      default_actor=actor.role)
                if result.ok:
                    self._extract(spec, result, actor.variables)
            done.append(replace(result, step=step_label(action, index, spec)))
            if not result.ok:
                break
        return done

    # --- steps --------------------------------------------------------------------------------

    def run_steps(
        self, steps: Iterable[Mapping[str, Any]], variables: dict[str, Any],
        actors: Mapping[str, Actor], accounts: Mapping[str, Mapping[str, str]], *,
        action: str = "steps",
    ) -> list[Any]:
        """Perform steps in order, binding extracted values (and links a `mail` step takes);
        stops after a step that fails. Each result names its step of `action` (e.g.
        "post create"), so that a failure says which step it was."""
        exchanges: list[Any] = []
        for index, spec in enumerate(steps, 1):
            if "register" in spec:
                role = spec["register"]
                exchange = self.register(
                    actors[role], accounts[role], render(spec.get("with", {}), variables)
                )
                if exchange.ok:
                    variables.update(actor_variables(actors[role]))
            elif "mail" in spec:
                acting = actors.get(spec.get("as", "author"))
                exchange = run_mail_step(
                    self.mailbox, spec["mail"],
                    {**variables, **(acting.variables if acting else {})}, variables,
                    spec.get("as", "author"))
            else:
                exchange = self.request(spec, variables, actors)
                if exchange.ok:
                    self._extract(spec, exchange, variables)
                    self.ledger.bound(spec.get("extract", {}), variables)
            label = step_label(action, index, spec)
            exchanges.append(replace(exchange, step=f"{label} / {exchange.step}"
                                     if exchange.step else label))
            if not exchange.ok:
                break
        return exchanges

    def read(
        self, spec: Mapping[str, Any], variables: Mapping[str, Any], actors: Mapping[str, Actor],
        role: str, *, decisive: bool = True,
    ) -> Exchange | None:
        """One observing read as `role`; None when the read needs a variable the case lacks
        (the exchange is the evidence, decisive or not)."""
        try:
            return self.request({**spec, "as": role}, variables, actors)
        except MissingVariable:
            return None

    @staticmethod
    def _extract(spec: Mapping[str, Any], exchange: Exchange, into: dict[str, Any]) -> None:
        for name, how in spec.get("extract", {}).items():
            value = extract(exchange, how)
            if value is not None:
                into[name] = value


class Breaker:
    """Counts a target's consecutive transport failures; at `threshold` the target is down.

    Shared by every thread that uses one `ApiTarget` (rate cases run side by side). A request
    that gets any answer resets the count; once open, the breaker stays open for the run, so
    the rest of it turns inconclusive at once instead of waiting out every request. A
    threshold of 0 never opens.
    """

    def __init__(self, threshold: int = UNREACHABLE_AFTER) -> None:
        self.threshold = threshold
        self._lock = threading.Lock()
        self._failures = 0
        self._down: str | None = None

    @property
    def down(self) -> str | None:
        """The error every request gets once the target is down; None while it is not."""
        with self._lock:
            return self._down

    def record(self, failure: str | None) -> None:
        """Count one request's outcome: its transport error, or None when it was answered."""
        with self._lock:
            if self._down is not None:
                return
            if failure is None:
                self._failures = 0
                return
            self._failures += 1
            if self.threshold and self._failures >= self.threshold:
                self._down = (f"target unreachable: {failure}, after {self._failures} "
                              "consecutive transport failures")


def _retryable(method: str, exchange: Exchange) -> bool:
    """Whether another try is safe and may help (see the module's transport notes)."""
    cause = exchange.cause
    if isinstance(cause, httpx.ConnectError):
        return True  # nothing reached the target
    if method.upper() not in IDEMPOTENT_METHODS:
        return False
    if cause is None:
        return exchange.status in RETRY_STATUS
    return isinstance(cause, (httpx.NetworkError, httpx.RemoteProtocolError))


def _attempt(exchange: Exchange) -> dict[str, Any]:
    """What evidence keeps of an earlier try of a retried request."""
    return {"started": exchange.started, "elapsed_s": round(exchange.elapsed_s, 4),
            "status": exchange.status, "error": exchange.error,
            "client": [exchange.client_ip, exchange.client_port]}


def unknown_actor(role: str, actors: Mapping[str, Actor]) -> str | None:
    """Why a step cannot act as `role` (None when it can): the actors its action has, and how
    a profile gives every action another."""
    if role == ADMIN or role in actors:
        return None
    return (f"the step acts as {role}, an actor this action does not have (it has: "
            f"{', '.join(sorted(actors)) or 'none'}); an account the profile makes beforehand "
            f"(accounts.provisioned.{role}) is signed in for every action")


def actor_variables(actor: Actor) -> dict[str, str]:
    """An actor's variables as the case sees them: `<role>_token`, `<role>_id`, ..."""
    return {f"{actor.role}_{key}": value for key, value in actor.variables.items()}


def _remember_addresses(response: httpx.Response) -> None:
    stream = response.extensions.get("network_stream")
    if stream is not None:
        response.extensions["harness.addresses"] = (
            stream.get_extra_info("client_addr"), stream.get_extra_info("server_addr"),
        )


def _body_preview(json_body: Any, data: Any, files: Mapping[str, Any] | None) -> Any:
    preview: dict[str, Any] = {}
    if json_body is not None:
        preview["json"] = json_body
    if data:
        preview["data"] = data
    if files:
        preview["files"] = {name: _digest(value[1]) for name, value in files.items()}
    return preview or None


def extract(exchange: Exchange, how: str | Mapping[str, Any]) -> str | None:
    """One value of an answer, or None when it is not there: at a JSON path (a string); the
    text, or an `attribute`, of the first element an HTML body has for a CSS selector
    (`{css, attribute}`: a CSRF token's `value`); or what a regular expression's first group
    (else its whole match) finds in the body or, with `from: location`, in the redirect's
    Location (`{pattern, from}`)."""
    if isinstance(how, str):
        value = lookup_one(exchange.document, how)
        return None if value is None else str(value)
    if "pattern" in how:
        text = (exchange.location or "") if how.get("from") == "location" else _text(exchange)
        found = re.search(how["pattern"], text)
        if found is None:
            return None
        return found.group(1) if found.re.groups else found.group(0)
    from bs4 import BeautifulSoup  # noqa: PLC0415 (only profiles that read HTML need it)

    element = BeautifulSoup(_text(exchange), "html.parser").select_one(how["css"])
    if element is None:
        return None
    if "attribute" in how:
        value = element.get(how["attribute"])
        return " ".join(value) if isinstance(value, list) else value
    return element.get_text(" ", strip=True)


def _text(exchange: Exchange) -> str:
    """The whole body as text (the evidence keeps only a preview)."""
    if exchange.content is None:
        return exchange.response_body or ""
    return exchange.content.decode("utf-8", errors="replace")


def _upload_file(name: str, value: Any) -> tuple[str, Any, str]:
    """A multipart file named and typed after its bytes (a probe may go as PNG, JPEG, WebP);
    text goes as a UTF-8 text file."""
    if isinstance(value, str):
        return f"{name}.txt", value.encode("utf-8"), "text/plain; charset=utf-8"
    mime, ext = image_type(value) if isinstance(value, bytes) else ("image/png", "png")
    return f"{name}.{ext}", value, mime


def _digest(content: bytes) -> str:
    return f"<{len(content)} bytes sha256:{hashlib.sha256(content).hexdigest()}>"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
