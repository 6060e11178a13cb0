"""The API channel against a tiny HTTP server started in-process on the loopback interface."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.errors import UnsafeTargetError
from harness.targets.api import Actor, ApiTarget, Exchange, actor_variables
from harness.targets.profile import Profile, load_profile

PNG = b"\x89PNG\r\n\x1a\nnot-really-an-image"


@dataclass
class Seen:
    """One request as the server saw it."""

    method: str
    path: str
    peer: tuple[str, int]
    headers: dict[str, str]
    body: bytes


@dataclass
class TinyServer:
    url: str
    port: int
    seen: list[Seen] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _reply(self, status: int, payload: Any, content_type: str = "application/json") -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        peer = (self.client_address[0], self.client_address[1])
        path = self.path.split("?")[0]
        self.server.seen.append(Seen(self.command, self.path, peer, dict(self.headers), body))
        if path == "/peer":
            self._reply(200, {"ip": peer[0], "port": peer[1]})
        elif path == "/api/register":
            sent = json.loads(body or b"{}")
            if sent.get("account_name") == "taken":
                self._reply(409, {"error": "taken"})
            else:
                self._reply(201, {"token": "tok-" + sent.get("account_name", ""),
                                  "user": {"id": 17}})
        elif path == "/api/posts" and self.command == "POST":
            self._reply(201, {"id": 5, "text": json.loads(body)["text"]})
        elif path.startswith("/api/posts/"):
            self._reply(200, {"id": int(path.rsplit("/", 1)[1]), "headers": dict(self.headers)})
        elif path == "/image.png":
            self._reply(200, PNG, "image/png")
        elif path == "/broken-json":
            self._reply(200, b"{not json", "application/json")
        else:
            self._reply(404, {"error": "not found"})

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    seen: list[Seen]


@pytest.fixture
def server() -> Iterator[TinyServer]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.seen = []
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    port = httpd.server_address[1]
    try:
        yield TinyServer(url=f"http://127.0.0.1:{port}", port=port, seen=httpd.seen)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def profile(write_profile: Callable[..., Path], server: TinyServer) -> Profile:
    return load_profile(write_profile(), base_url=server.url)


@pytest.fixture
def target(profile: Profile) -> Iterator[ApiTarget]:
    with ApiTarget(profile, timeout=5) as api:
        yield api


@pytest.fixture
def actors() -> dict[str, Actor]:
    return {role: Actor(role=role, device_id=f"dev-{role}")
            for role in ("author", "viewer", "anonymous")}


# --- addresses --------------------------------------------------------------------------------


def test_exchange_records_the_peer_the_server_saw(target: ApiTarget, server: TinyServer) -> None:
    exchange = target.send("GET", "/peer", actor="viewer")
    assert exchange.status == 200
    (seen,) = server.seen
    assert exchange.client_ip == seen.peer[0] == "127.0.0.1"
    assert exchange.client_port == seen.peer[1]
    assert exchange.document == {"ip": seen.peer[0], "port": seen.peer[1]}


def test_exchange_records_the_server_address(target: ApiTarget, server: TinyServer) -> None:
    exchange = target.send("GET", "/peer", actor="viewer")
    assert exchange.server_ip == "127.0.0.1"
    assert exchange.server_port == server.port


def test_exchange_basics(target: ApiTarget, server: TinyServer) -> None:
    exchange = target.send("POST", "/api/posts", actor="author", json_body={"text": "hi"})
    assert exchange.ok
    assert exchange.method == "POST"
    assert exchange.url == f"{server.url}/api/posts"
    assert exchange.actor == "author"
    assert exchange.started.endswith("Z")
    assert exchange.elapsed_s >= 0
    assert exchange.request_body == {"json": {"text": "hi"}}
    assert json.loads(exchange.response_body or "") == {"id": 5, "text": "hi"}
    record = exchange.evidence()
    assert record["client"] == [exchange.client_ip, exchange.client_port]
    assert record["server"] == ["127.0.0.1", server.port]
    assert json.loads(json.dumps(record)) == record


def test_user_agent_names_the_harness(target: ApiTarget, server: TinyServer) -> None:
    target.send("GET", "/peer", actor="viewer")
    assert server.seen[0].headers["User-Agent"].startswith("moderation-harness/")


def test_image_response_is_kept_as_bytes_and_digest(
    target: ApiTarget, server: TinyServer
) -> None:
    exchange = target.send("GET", "/image.png", actor="viewer")
    assert exchange.content == PNG
    assert exchange.document is None
    assert exchange.response_body is not None
    assert exchange.response_body.startswith(f"<{len(PNG)} bytes sha256:")


def test_invalid_json_gives_no_document(target: ApiTarget) -> None:
    exchange = target.send("GET", "/broken-json", actor="viewer")
    assert exchange.status == 200
    assert exchange.document is None


def test_http_error_status_is_not_ok(target: ApiTarget) -> None:
    exchange = target.send("GET", "/nowhere", actor="viewer")
    assert exchange.status == 404
    assert not exchange.ok
    assert exchange.error is None


# --- safety and failures ----------------------------------------------------------------------


def test_host_not_allowed_is_refused_before_sending(
    target: ApiTarget, server: TinyServer
) -> None:
    with pytest.raises(UnsafeTargetError, match="localhost"):
        target.send("GET", f"http://localhost:{server.port}/peer", actor="viewer")
    with pytest.raises(UnsafeTargetError, match=r"example\.org"):
        target.send("POST", "https://example.org/api/posts", actor="author",
                    json_body={"text": "x"})
    assert server.seen == []


def test_request_step_to_another_host_is_refused(
    target: ApiTarget, server: TinyServer, actors: dict[str, Actor]
) -> None:
    spec = {"method": "GET", "path": "{next}", "as": "viewer"}
    with pytest.raises(UnsafeTargetError):
        target.request(spec, {"next": "http://192.0.2.1/steal"}, actors)
    assert server.seen == []


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_gives_an_exchange_not_an_exception(
    write_profile: Callable[..., Path],
) -> None:
    port = _closed_port()
    profile = load_profile(write_profile(), base_url=f"http://127.0.0.1:{port}")
    with ApiTarget(profile, timeout=5) as api:
        exchange = api.send("POST", "/api/posts", actor="author", json_body={"text": "x"})
    assert isinstance(exchange, Exchange)
    assert exchange.status is None
    assert not exchange.ok
    assert exchange.error
    assert "Connect" in exchange.error
    assert exchange.request_body == {"json": {"text": "x"}}
    assert exchange.client_port is None


# --- steps, extraction and accounts ----------------------------------------------------------


def test_run_steps_extracts_values_for_later_steps(
    target: ApiTarget, server: TinyServer, actors: dict[str, Actor], profile: Profile
) -> None:
    variables: dict[str, Any] = {"content": "hello"}
    steps = [*profile.surface("post")["create"],
             {"method": "GET", "path": "/api/posts/{post_id}", "as": "viewer"}]
    exchanges = target.run_steps(steps, variables, actors, {})
    assert [e.status for e in exchanges] == [201, 200]
    assert variables["post_id"] == "5"
    assert server.seen[1].path == "/api/posts/5"
    assert json.loads(server.seen[0].body) == {"text": "hello"}


def test_run_steps_stops_after_a_failing_step(
    target: ApiTarget, server: TinyServer, actors: dict[str, Actor]
) -> None:
    steps = [{"method": "GET", "path": "/nowhere", "as": "author"},
             {"method": "GET", "path": "/peer", "as": "author"}]
    exchanges = target.run_steps(steps, {}, actors, {})
    assert [e.status for e in exchanges] == [404]
    assert len(server.seen) == 1


def test_extract_binds_nested_values_as_text(
    target: ApiTarget, actors: dict[str, Actor]
) -> None:
    spec = {"method": "POST", "path": "/api/register", "as": "anonymous",
            "json": {"account_name": "zed"}, "extract": {"tok": "token", "uid": "user.id",
                                                         "absent": "no.such.path"}}
    variables: dict[str, Any] = {}
    exchanges = target.run_steps([spec], variables, actors, {})
    assert exchanges[0].status == 201
    assert variables == {"tok": "tok-zed", "uid": "17"}


def test_register_binds_token_and_id_on_the_actor(
    target: ApiTarget, server: TinyServer, actors: dict[str, Actor]
) -> None:
    author = actors["author"]
    exchange = target.register(author, {"account_name": "alice", "password": "pw-alice-123"})
    assert exchange.status == 201
    assert author.token == "tok-alice"
    assert author.variables["id"] == "17"
    assert author.variables["account_name"] == "alice"
    assert author.password == "pw-alice-123"
    assert json.loads(server.seen[0].body) == {"account_name": "alice", "password": "pw-alice-123"}
    assert "Authorization" not in server.seen[0].headers
    assert actor_variables(author) == {
        "author_token": "tok-alice", "author_id": "17", "author_account_name": "alice",
    }


def test_register_overrides_account_fields(
    target: ApiTarget, server: TinyServer, actors: dict[str, Actor]
) -> None:
    author = actors["author"]
    target.register(author, {"account_name": "alice", "password": "p"}, {"account_name": "bob"})
    assert json.loads(server.seen[0].body)["account_name"] == "bob"
    assert author.variables["account_name"] == "bob"


def test_refused_registration_binds_nothing(
    target: ApiTarget, actors: dict[str, Actor]
) -> None:
    author = actors["author"]
    exchange = target.register(author, {"account_name": "taken", "password": "p"})
    assert exchange.status == 409
    assert author.token is None
    assert "id" not in author.variables


def test_register_step_binds_actor_variables_into_the_case(
    target: ApiTarget, actors: dict[str, Actor]
) -> None:
    variables: dict[str, Any] = {"content": "carol"}
    steps = [{"register": "author", "with": {"account_name": "{content}"}}]
    accounts = {"author": {"account_name": "default", "password": "pw"}}
    exchanges = target.run_steps(steps, variables, actors, accounts)
    assert exchanges[0].ok
    assert variables["author_token"] == "tok-carol"
    assert variables["author_id"] == "17"


def test_authenticated_actor_sends_auth_and_device_headers(
    target: ApiTarget, server: TinyServer, actors: dict[str, Actor]
) -> None:
    author = actors["author"]
    target.register(author, {"account_name": "dave", "password": "p"})
    target.request({"method": "GET", "path": "/peer", "as": "author"}, {}, actors)
    headers = server.seen[-1].headers
    assert headers["Authorization"] == "Bearer tok-dave"
    assert headers["X-Device-Id"] == "dev-author"
    assert "X-Admin-Token" not in headers


def test_anonymous_actor_sends_no_auth_header(
    target: ApiTarget, server: TinyServer, actors: dict[str, Actor]
) -> None:
    target.request({"method": "GET", "path": "/peer", "as": "anonymous"}, {}, actors)
    assert "Authorization" not in server.seen[-1].headers
    assert server.seen[-1].headers["X-Device-Id"] == "dev-anonymous"


def test_admin_requests_carry_the_admin_header(
    target: ApiTarget, server: TinyServer, actors: dict[str, Actor], tiny_admin_token: str
) -> None:
    exchange = target.request({"method": "GET", "path": "/peer", "as": "admin"}, {}, actors)
    assert exchange.actor == "admin"
    headers = server.seen[-1].headers
    assert headers["X-Admin-Token"] == tiny_admin_token
    assert headers["X-Device-Id"] == "harness-admin"


def test_files_are_sent_as_multipart_and_previewed_by_digest(
    target: ApiTarget, server: TinyServer, actors: dict[str, Actor]
) -> None:
    spec = {"method": "POST", "path": "/upload", "as": "author", "files": {"file": "{image}"}}
    exchange = target.request(spec, {"image": PNG}, actors)
    assert PNG in server.seen[-1].body
    assert exchange.request_body["files"]["file"].startswith(f"<{len(PNG)} bytes sha256:")


def test_read_returns_none_when_a_variable_is_missing(
    target: ApiTarget, server: TinyServer, actors: dict[str, Actor]
) -> None:
    spec = {"method": "GET", "path": "/api/posts/{post_id}", "as": ["viewer"]}
    assert target.read(spec, {}, actors, "viewer") is None
    assert server.seen == []
    exchange = target.read(spec, {"post_id": "9"}, actors, "viewer")
    assert exchange is not None
    assert exchange.actor == "viewer"
    assert exchange.document["id"] == 9


def test_fetch_an_absolute_allowed_url(
    target: ApiTarget, server: TinyServer, actors: dict[str, Actor]
) -> None:
    assert target.fetch_image(f"{server.url}/image.png", "viewer", actors) == PNG
