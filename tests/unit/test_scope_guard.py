"""The scope guard's parts without a browser: the host rules, the sinkhole that refuses what
the browser sends outside `allowed_hosts`, the crawler's link filter, and the API channel's
refusals recorded as violations."""

from __future__ import annotations

import socket
from types import SimpleNamespace
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import ConfigError, UnsafeTargetError
from harness.observe.reports import _same_site
from harness.targets.api import ApiTarget
from harness.targets.profile import load_profile
from harness.targets.scope import (
    Sinkhole,
    authority,
    bypass_rules,
    host_of,
    in_scope,
    network_refusals,
    outside,
    violation,
)

ALLOWED = ("127.0.0.1", "localhost")


@pytest.mark.parametrize(("url", "inside"), [
    ("http://127.0.0.1:8000/x", True),
    ("https://localhost/", True),
    ("ws://127.0.0.1:9/socket", True),
    ("data:text/plain,hi", True),
    ("about:blank", True),
    ("http://127.0.0.2:8000/x", False),
    ("http://127.0.0.1.evil.test/", False),
    ("http://127.0.0.1:80@evil.test/", False),
    ("file:///etc/passwd", False),
    ("ftp://127.0.0.1/", False),
    ("//127.0.0.1/relative-scheme", False),
])
def test_in_scope_is_the_exact_host(url, inside):
    assert in_scope(url, ALLOWED) is inside


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/x", "https://localhost/", "ws://127.0.0.1:9/socket", "http://[::1]/",
    "http://127.0.0.2:8000/x", "http://127.0.0.1.evil.test/", "http://127.0.0.1:80@evil.test/",
    "http://evil.test@127.0.0.1/", "file:///etc/passwd", "ftp://127.0.0.1/", "chrome://version",
    "data:text/plain,hi", "about:blank", "HTTP://LOCALHOST/", "http://localhost",
])
def test_the_route_guard_sees_every_url_in_scope_may_refuse(url):
    """The guard is installed with `outside`, matched in the driver: what it does not match
    never reaches the guard, so it must match every URL the guard would refuse."""
    routed = outside([*ALLOWED, "::1"]).search(url) is not None
    assert routed or in_scope(url, [*ALLOWED, "::1"])
    assert not routed or not in_scope(url, [*ALLOWED, "::1"])


@given(st.sampled_from(["http", "https", "ws", "wss", "ftp", "file", "data", "blob", "about"]),
       st.text(alphabet="abclo0127.:@[]-_", max_size=24), st.sampled_from(["", "/", "/a?b#c"]))
def test_outside_never_lets_a_refused_url_pass(scheme, authority_, path):
    url = f"{scheme}://{authority_}{path}"
    for allowed in (ALLOWED, ("Example.test", "[::1]", "127.0.0.1")):
        assert outside(allowed).search(url) is not None or in_scope(url, allowed)


def test_bypass_rules_name_the_allowed_hosts_after_unproxying_loopback():
    rules = bypass_rules(["127.0.0.1", "localhost", "::1"])
    assert rules == "<-loopback>,127.0.0.1,localhost,[::1]"
    for bad in ("127.0.0.1,evil.test", "evil.test;x", "*.example.com", "a b"):
        with pytest.raises(ConfigError):
            bypass_rules([bad])


def test_authority_and_host_of_read_urls_and_connect_targets():
    assert authority("http://127.0.0.2:81/a") == "127.0.0.2:81"
    assert authority("https://example.test/") == "example.test:443"
    assert authority("example.test:443") == "example.test:443"
    assert host_of("content-autofill.googleapis.com:443") == "content-autofill.googleapis.com"
    record = violation("http://127.0.0.2:81/a?q=1", method="POST", resource_type="document",
                       actor="author", reason="r", channel="browser")
    assert record == {"url": "http://127.0.0.2:81/a?q=1", "host": "127.0.0.2",
                      "method": "POST", "resource_type": "document", "actor": "author",
                      "channel": "browser", "reason": "r"}


def _ask(proxy: str, request: bytes) -> bytes:
    parts = urlsplit(proxy)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as connection:
        connection.sendall(request)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(4096):
            answer += chunk
    return answer


def test_sinkhole_refuses_and_notes_the_request_line_but_never_the_body():
    sinkhole = Sinkhole()
    try:
        body = b"account_name=a&password=hunter2-secret"
        answer = _ask(sinkhole.proxy_url, b"POST http://127.0.0.2:9/register HTTP/1.1\r\n"
                      b"Host: 127.0.0.2:9\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        assert answer.startswith(b"HTTP/1.1 403 ")
        assert b"127.0.0.2 is not in the profile's allowed_hosts" in answer
        answer = _ask(sinkhole.proxy_url, b"CONNECT evil.test:443 HTTP/1.1\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 403 ")
        _ask(sinkhole.proxy_url, b"")  # a preconnect: nothing asked, nothing noted
        refused = sinkhole.take()
        assert refused == [("POST", "http://127.0.0.2:9/register"), ("CONNECT", "evil.test:443")]
        assert "hunter2" not in repr(refused)
        assert sinkhole.take() == []
        assert sinkhole.proxy(ALLOWED)["bypass"] == "<-loopback>,127.0.0.1,localhost"
    finally:
        sinkhole.close()


def test_the_crawler_follows_only_links_of_the_site_itself():
    origin = urlsplit("http://127.0.0.1:8000")
    links = [
        ("http://127.0.0.1:8000/complaints#top", "投诉"),
        ("http://127.0.0.2:8000/complaints", "投诉 outside"),
        ("http://localhost:8000/complaints", "allowed host, another site"),
        ("http://127.0.0.1:8000@127.0.0.2/complaints", "userinfo trick"),
        ("https://127.0.0.1:8001/complaints", "another port"),
        ("javascript:alert(1)", "script"),
    ]
    assert list(_same_site(links, origin)) == [("http://127.0.0.1:8000/complaints", "投诉")]


@pytest.fixture
def api(write_profile):
    """An ApiTarget whose transport redirects every POST to an outside host."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.method == "POST":
            return httpx.Response(307, headers={"location": "http://127.0.0.2:9/api/register"})
        if request.url.path == "/hop":
            return httpx.Response(302, headers={"location": "/inside"})
        return httpx.Response(200, json={})

    profile = load_profile(write_profile(), base_url="http://127.0.0.1:9")
    target = ApiTarget(profile, transport=httpx.MockTransport(answer))
    yield SimpleNamespace(target=target, sent=sent)
    target.close()


def test_api_records_a_refused_host_and_still_raises(api):
    with pytest.raises(UnsafeTargetError):
        api.target.send("POST", "http://127.0.0.2:9/api/posts", actor="author",
                        json_body={"text": "secret"})
    assert api.sent == []
    [record] = api.target.take_violations()
    assert (record["host"], record["method"]) == ("127.0.0.2", "POST")
    assert (record["actor"], record["channel"]) == ("author", "api")
    assert "secret" not in repr(record)
    assert api.target.take_violations() == []


def test_api_records_a_redirect_out_and_does_not_follow_it(api):
    exchange = api.target.send("POST", "/api/register", actor="viewer",
                               json_body={"password": "hunter2"})
    assert exchange.status == 307
    assert [r.url.host for r in api.sent] == ["127.0.0.1"]
    [record] = api.target.take_violations()
    assert record["url"] == "http://127.0.0.2:9/api/register"
    assert (record["host"], record["actor"]) == ("127.0.0.2", "viewer")
    assert "307 redirect from http://127.0.0.1:9/api/register" in record["reason"]
    # A redirect inside the allowed hosts is not a violation (and is not followed either).
    assert api.target.send("GET", "/hop", actor="viewer").status == 302
    assert api.target.take_violations() == []


def test_the_browsers_own_refused_calls_are_one_line_a_place_with_their_count() -> None:
    refused = [("CONNECT", "content-autofill.googleapis.com:443")] * 9 + [
        ("GET", "http://evil.example/pixel")]
    lines = network_refusals(refused, channel="browser")
    assert [(line["host"], line["method"], line["count"]) for line in lines] == [
        ("content-autofill.googleapis.com", "CONNECT", 9), ("evil.example", "GET", 1)]
    assert all(line["resource_type"] == "browser" and not line["actor"] for line in lines)
