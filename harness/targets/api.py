"""The API channel: performs a profile's declarative HTTP steps with httpx.

Every request records, besides status and timing, the local address and port the harness used
and the server's address, read from the live connection, so that audit records can be checked
against them (Article 5(3) asks for the source port).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from harness import __version__
from harness.errors import UnsafeTargetError
from harness.observe.visibility import match_text
from harness.targets.profile import Profile
from harness.targets.templates import MissingVariable, lookup, lookup_one, render

USER_AGENT = f"moderation-harness/{__version__}"
PREVIEW_CHARS = 4000
ANONYMOUS = "anonymous"
ADMIN = "admin"


@dataclass
class Actor:
    """A persona with its own account (or none, for `anonymous`), and its device id."""

    role: str
    device_id: str
    variables: dict[str, str] = field(default_factory=dict)
    password: str | None = field(default=None, repr=False)
    state: dict[str, Any] | None = field(default=None, repr=False)  # browser storage state

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
    client_ip: str | None = None
    client_port: int | None = None
    server_ip: str | None = None
    server_port: int | None = None
    request_body: Any = None
    response_body: str | None = None
    document: Any = field(default=None, repr=False, compare=False)
    content: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def evidence(self) -> dict[str, Any]:
        """A JSON-ready record (secrets are redacted by the evidence store)."""
        return {
            "method": self.method, "url": self.url, "actor": self.actor,
            "started": self.started, "elapsed_s": round(self.elapsed_s, 4),
            "status": self.status, "error": self.error,
            "client": [self.client_ip, self.client_port],
            "server": [self.server_ip, self.server_port],
            "request_body": self.request_body, "response_body": self.response_body,
        }


class ApiTarget:
    """Drives a target over HTTP as its profile describes; one connection pool per instance."""

    channel = "api"
    unknowable_log_fields: frozenset[str] = frozenset()

    def __init__(self, profile: Profile, *, timeout: float | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.profile = profile
        api = profile.api
        self.reject_status = frozenset(api.get("reject_status", (400, 403, 409, 422)))
        self.settle_seconds = float(api.get("settle_seconds", 0.0))
        self._client = httpx.Client(
            base_url=profile.base_url,
            timeout=timeout or float(api.get("timeout_seconds", 15.0)),
            headers={"User-Agent": USER_AGENT},
            event_hooks={"response": [_remember_addresses]},
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    @property
    def admin(self) -> ApiTarget:
        """The channel that reads the admin interfaces (audit, moderation): this one."""
        return self

    def surface_spec(self, name: str) -> dict[str, Any] | None:
        return self.profile.surface(name)

    def classify(self, exchange: Exchange) -> str:
        """`accepted` (2xx), `rejected` (a refusal status of the profile) or `error`."""
        if exchange.ok:
            return "accepted"
        return "rejected" if exchange.status in self.reject_status else "error"

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
        """Perform one request step; raises MissingVariable if a template cannot be filled."""
        role = spec.get("as", default_actor)
        actor = actors.get(role) if role != ADMIN else None
        scope = dict(variables)
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
                name: (f"{name}.png", value, "image/png")
                for name, value in render(spec["files"], scope).items()
            }
        return self.send(
            spec["method"], render(spec["path"], scope), actor=role, headers=headers,
            params=render(spec.get("params"), scope), json_body=render(spec.get("json"), scope),
            data=render(spec.get("data"), scope), files=files,
        )

    def send(
        self, method: str, url: str, *, actor: str, headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None, json_body: Any = None,
        data: Mapping[str, Any] | None = None, files: Mapping[str, Any] | None = None,
    ) -> Exchange:
        """Send one request to an allowed host and record the exchange; never raises on I/O."""
        full = url if urlsplit(url).scheme else urljoin(self.profile.base_url + "/",
                                                           url.lstrip("/"))
        host = urlsplit(full).hostname
        if host not in self.profile.allowed_hosts:
            raise UnsafeTargetError(f"refusing {method} {full}: {host!r} is not in allowed_hosts")
        started = datetime.now(timezone.utc)
        clock = time.perf_counter()
        body_preview = _body_preview(json_body, data, files)
        try:
            response = self._client.request(
                method, full, headers=headers, params=params, json=json_body, data=data,
                files=files,
            )
        except httpx.HTTPError as exc:
            return Exchange(
                method=method, url=full, actor=actor, started=_iso(started),
                elapsed_s=time.perf_counter() - clock, status=None,
                error=f"{type(exc).__name__}: {exc}", request_body=body_preview,
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
        )

    # --- accounts -----------------------------------------------------------------------------

    def register(
        self, actor: Actor, account: Mapping[str, str], overrides: Mapping[str, Any] | None = None,
    ) -> Exchange:
        """Create an account for `actor` with the profile's register (and login) requests."""
        scope = {**account, **(overrides or {})}
        actor.password = str(scope.get("password", ""))
        actors = {actor.role: actor}
        spec = self.profile.api["register"]
        # Sent as the new actor (its device id), before it has a token.
        exchange = self.request(spec, scope, actors, default_actor=actor.role)
        if exchange.ok:
            self._extract(spec, exchange, actor.variables)
            actor.variables.setdefault("account_name", str(scope.get("account_name", "")))
            login = self.profile.api.get("login")
            if login is not None and not actor.token:
                exchange = self.request(login, scope, actors, default_actor=actor.role)
                if exchange.ok:
                    self._extract(login, exchange, actor.variables)
        return exchange

    # --- steps --------------------------------------------------------------------------------

    def run_steps(
        self, steps: Iterable[Mapping[str, Any]], variables: dict[str, Any],
        actors: Mapping[str, Actor], accounts: Mapping[str, Mapping[str, str]],
    ) -> list[Exchange]:
        """Perform steps in order, binding extracted values; stops after a step that fails."""
        exchanges: list[Exchange] = []
        for spec in steps:
            if "register" in spec:
                role = spec["register"]
                exchange = self.register(
                    actors[role], accounts[role], render(spec.get("with", {}), variables)
                )
                if exchange.ok:
                    variables.update(actor_variables(actors[role]))
            else:
                exchange = self.request(spec, variables, actors)
                if exchange.ok:
                    self._extract(spec, exchange, variables)
            exchanges.append(exchange)
            if not exchange.ok:
                break
        return exchanges

    def read(
        self, spec: Mapping[str, Any], variables: Mapping[str, Any], actors: Mapping[str, Actor],
        role: str,
    ) -> Exchange | None:
        """One observing read as `role`; None when the read needs a variable the case lacks."""
        try:
            return self.request({**spec, "as": role}, variables, actors)
        except MissingVariable:
            return None

    @staticmethod
    def _extract(spec: Mapping[str, Any], exchange: Exchange, into: dict[str, Any]) -> None:
        for name, path in spec.get("extract", {}).items():
            value = lookup_one(exchange.document, path)
            if value is not None:
                into[name] = str(value)


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


def _digest(content: bytes) -> str:
    return f"<{len(content)} bytes sha256:{hashlib.sha256(content).hexdigest()}>"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
