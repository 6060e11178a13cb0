"""Errors a person can act on: a failing step names its step (index and kind) of its action, its
locator or request, the URL and (pages) its screenshot; a locator that matches nothing fails
fast with "no element matches"; and the browser settings a profile gives (locale, viewport,
timeouts), a fresh context for every fresh author, a provisioned account signed in."""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from harness.errors import ConfigError
from harness.observe.flow import outcome_of
from harness.targets.api import Actor, ApiTarget
from harness.targets.profile import load_profile

BASE = "http://127.0.0.1:9"
API_PROFILE = """
name: errors
allowed_hosts: [127.0.0.1]
api:
  register: {method: POST, path: /register, json: {name: "{account_name}"}}
  surfaces: {}
"""


def test_an_api_step_that_fails_names_its_step_action_and_request(tmp_path: Path) -> None:
    path = tmp_path / "api.yaml"
    path.write_text(API_PROFILE, encoding="utf-8")

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400 if request.url.path == "/api/posts" else 200, json={"id": 1})

    with ApiTarget(load_profile(path, base_url=BASE),
                   transport=httpx.MockTransport(answer)) as api:
        done = api.run_steps([
            {"method": "GET", "path": "/api/me", "extract": {"me": "id"}},
            {"method": "POST", "path": "/api/posts", "json": {"text": "{content}"}},
        ], {"content": "hi"}, {"author": Actor("author", "hx")}, {}, action="post create")
    assert [e.step for e in done] == ["post create step 1 (GET /api/me)",
                                      "post create step 2 (POST /api/posts)"]
    assert outcome_of(done[-1]) == ("post create step 2 (POST /api/posts): "
                                    f"POST {BASE}/api/posts -> HTTP 400")


UNKNOWN_ACTOR = ("the step acts as reporter, an actor this action does not have (it has: "
                 "author, viewer); an account the profile makes beforehand "
                 "(accounts.provisioned.reporter) is signed in for every action")


def test_an_api_step_as_an_actor_the_action_lacks_fails_and_says_how_to_have_it(
        tmp_path: Path) -> None:
    path = tmp_path / "api.yaml"
    path.write_text(API_PROFILE, encoding="utf-8")
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(200, json={"id": 1})

    with ApiTarget(load_profile(path, base_url=BASE),
                   transport=httpx.MockTransport(answer)) as api:
        done = api.run_steps([{"method": "POST", "path": "/api/groups/1/join", "as": "reporter"}],
                             {}, {"author": Actor("author", "hx"), "viewer": Actor("viewer", "hv")},
                             {}, action="group_message prepare")
    assert sent == []  # never sent without the actor's session
    assert not done[0].ok
    assert done[0].error == UNKNOWN_ACTOR
    assert outcome_of(done[0]).startswith("group_message prepare step 1 (POST /api/groups/1/join)")


# --- the browser channel ------------------------------------------------------------------------

PAGE = "<!doctype html><html><body>{body}</body></html>"


class _Pages(BaseHTTPRequestHandler):
    """A site that sends signed-in users away from its sign-up page, and echoes what the
    browser says of itself."""

    def log_message(self, *args: Any) -> None:
        pass

    def _page(self, body: str, status: int = 200, headers: dict[str, str] | None = None) -> None:
        data = PAGE.format(body=body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "text/html; charset=utf-8", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _session(self) -> str | None:
        for part in (self.headers.get("Cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "session" and value:
                return value
        return None

    def do_GET(self) -> None:
        path = self.path.partition("?")[0]
        if path in ("/join", "/login") and self._session():
            self._page("", 302, {"Location": "/home"})
        elif path in ("/join", "/login"):
            self._page(f'<form method="post" action="{path}"><input id="name" name="name">'
                       '<button type="submit">Go</button></form>')
        elif path == "/home":
            self._page(f'<p id="me">{self._session() or "nobody"}</p>'
                       f'<p id="lang">{self.headers.get("Accept-Language", "")}</p>'
                       '<p id="width"></p><script>document.getElementById("width")'
                       '.textContent = String(window.innerWidth)</script>')
        else:
            self._page("<p>not here</p>", 404)

    def do_POST(self) -> None:
        """Joining does not sign in; signing in sets the session."""
        body = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        name = body.get("name", [""])[0]
        cookie = {"Set-Cookie": f"session={name}; Path=/"} if self.path == "/login" else {}
        self._page("", 303, {"Location": "/home", **cookie})


@pytest.fixture(scope="module")
def pages() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


BROWSER_PROFILE = """
name: pages
allowed_hosts: [127.0.0.1]
accounts:
  provisioned: {moderator: {account_name: mod_one, password: "${MOD_PASSWORD}"}}
browser:
  locale: en-US
  viewport: {width: 1000, height: 700}
  timeouts: {step: 1, navigation: 10}
  register:
    - {goto: /join}
    - {fill: {field: "#name", value: "{account_name}"}}
    - {click: {role: button, name: Go}}
  login:
    - {goto: /login}
    - {fill: {field: "#name", value: "{account_name}"}}
    - {click: {role: button, name: Go}}
    - {read: {selector: "#me", into: me}}
  surfaces: {}
"""


@pytest.fixture
def browser_side(pages: str, tmp_path: Path, harness_browser: Any) -> Iterator[Any]:
    from harness.targets.browser import BrowserTarget

    path = tmp_path / "pages.yaml"
    path.write_text(BROWSER_PROFILE, encoding="utf-8")
    profile = load_profile(path, base_url=pages, environ={"MOD_PASSWORD": "s3cret-pass"})
    target = BrowserTarget(profile, harness_browser, ApiTarget(profile))
    kept: dict[str, bytes] = {}

    def sink(name: str, data: bytes, text: bool) -> str:
        kept[name] = data
        return f"artifacts/case/{name}"

    target.begin_case(sink, tracing="off", screenshots="on", har="off")
    target.kept = kept
    yield target
    target.end_case(False, lambda data: data)
    target.close()


def test_a_locator_that_matches_nothing_fails_fast_and_says_so(browser_side: Any) -> None:
    author = Actor("author", "hx-a")
    started = time.monotonic()
    done = browser_side.run_steps(
        [{"goto": "/join"}, {"click": {"role": "button", "name": "Publish"}}],
        {}, {"author": author}, {}, action="post create")
    assert time.monotonic() - started < 8  # the step timeout (1 s), not the default 15 s
    failed = done[-1]
    assert not failed.ok
    assert failed.error == "no element matches {role: button, name: Publish} (waited 1s)"
    said = outcome_of(failed)
    assert said.startswith("post create step 2 (click {role: button, name: Publish}): CLICK ")
    assert "/join -> no element matches" in said
    assert said.endswith("; screenshot: artifacts/case/01-failed-post-create-step-2.png")
    assert browser_side.kept["01-failed-post-create-step-2.png"].startswith(b"\x89PNG")


def test_a_page_step_as_an_actor_the_action_lacks_fails_and_says_how_to_have_it(
        browser_side: Any) -> None:
    done = browser_side.run_steps(
        [{"goto": "/home", "as": "viewer"}, {"goto": "/home", "as": "reporter"},
         {"goto": "/home"}],
        {}, {"author": Actor("author", "hx-a"), "viewer": Actor("viewer", "hx-v")}, {},
        action="group_message prepare")
    assert [r.ok for r in done] == [True, False]
    assert done[-1].error == UNKNOWN_ACTOR
    assert outcome_of(done[-1]).startswith("group_message prepare step 2 (goto /home)")


def test_a_read_whose_pattern_is_not_on_the_page_is_a_failed_step(browser_side: Any) -> None:
    # e.g. a publish that did not land on the new item's page: the case says so, it does not
    # crash (a test that raised would record no observation).
    viewer = Actor("viewer", "hx-v")
    done = browser_side.run_steps(
        [{"goto": "/home", "as": "viewer"},
         {"read": {"url": True, "pattern": "/t/(\\d+)", "into": "topic_id"}, "as": "viewer"},
         {"goto": "/t/{topic_id}", "as": "viewer"}],
        {}, {"viewer": viewer}, {}, action="forward prepare")
    assert len(done) == 2
    assert not done[-1].ok
    assert done[-1].error.startswith("read: ")
    assert "not found in 'http" in done[-1].error


def test_every_fresh_author_signs_up_in_a_fresh_context(browser_side: Any) -> None:
    # The site sends a signed-in visitor away from /join: a shared context would break the
    # second sign-up.
    for name in ("first_author", "second_author"):
        author = Actor("author", f"hx-{name}")
        done = browser_side.register(author, {"account_name": name, "password": "pw"})
        assert done.ok, outcome_of(done)
        assert author.variables["me"] == name


def test_the_profiles_locale_and_viewport_are_the_browsers(browser_side: Any) -> None:
    viewer = Actor("viewer", "hx-v")
    into: dict[str, Any] = {}
    browser_side.run_steps([{"goto": "/home", "as": "viewer"},
                            {"read": {"selector": "#lang", "into": "lang"}, "as": "viewer"},
                            {"read": {"selector": "#width", "into": "width"}, "as": "viewer"}],
                           into, {"viewer": viewer}, {}, action="look")
    assert into["lang"].startswith("en-US")
    assert into["width"] == "1000"


def test_a_provisioned_account_signs_in_and_its_page_stays_signed_in(browser_side: Any) -> None:
    moderator = Actor("moderator", "hx-m")
    account = browser_side.profile.accounts.provisioned["moderator"]
    assert account == {"account_name": "mod_one", "password": "s3cret-pass"}
    assert "s3cret-pass" in browser_side.profile.secrets  # redacted from evidence
    done = browser_side.sign_in(moderator, account)
    assert done.ok, outcome_of(done)
    assert moderator.state is not None
    page = browser_side.page_for(moderator)
    page.goto(browser_side.profile.base_url + "/home")
    assert page.locator("#me").inner_text() == "mod_one"


def test_a_sign_up_with_an_activation_mail_is_its_own_write(
        pages: str, tmp_path: Path, harness_browser: Any) -> None:
    from harness.targets.browser import BrowserTarget
    from harness.targets.mail import FolderMailbox

    (tmp_path / "outbox").mkdir()
    (tmp_path / "outbox" / "1.eml").write_bytes(
        b"To: ivy@pages.test\r\nSubject: activate\r\n\r\nOpen " + pages.encode() +
        b"/home?activate=ivy now.\r\n")
    path = tmp_path / "mailing.yaml"
    activation = """    - {mail: {link: "activate=", into: link, timeout: 5}}
    - {goto: "{link}"}
  login:"""
    provisioned = ('provisioned: {moderator: {account_name: mod_one, password: '
                   '"${MOD_PASSWORD}"}}')
    path.write_text(BROWSER_PROFILE.replace("  login:", activation).replace(
        provisioned, "email: '{account_name}@pages.test'"), encoding="utf-8")
    profile = load_profile(path, base_url=pages)
    target = BrowserTarget(profile, harness_browser,
                           ApiTarget(profile, mailbox=FolderMailbox(tmp_path / "outbox")))
    target.begin_case(lambda name, data, text: None, tracing="off", screenshots="off",
                      har="off")
    try:
        author = Actor("author", "hx-i")
        done = target.register(author, {"account_name": "ivy", "password": "pw",
                                        "email": "ivy@pages.test"})
    finally:
        target.end_case(False, lambda data: data)
        target.close()
    assert done.ok, outcome_of(done)
    assert (done.method, done.step) == ("CLICK", "register step 3 (click {role: button, name: Go})")
    assert author.variables["link"] == f"{pages}/home?activate=ivy"
    assert author.variables["email"] == "ivy@pages.test"


def test_the_last_policy_keeps_the_dom_of_every_read_and_a_picture_of_the_decisive_one(
        browser_side: Any) -> None:
    viewer = Actor("viewer", "hx-v")
    actors = {"viewer": viewer}
    sink = browser_side._scope.sink  # the fixture's, with the last policy instead of on
    browser_side.end_case(False, lambda data: data)
    browser_side.begin_case(sink, tracing="off", screenshots="last", har="off")
    passing = browser_side.read({"goto": "/home"}, {}, actors, "viewer", decisive=False)
    assert [path.rsplit(".", 1)[1] for path in passing.artifacts] == ["html"]
    assert browser_side.screenshot(actors, "viewer")[0].endswith("-viewer.png")  # it showed
    deciding = browser_side.read({"goto": "/home"}, {}, actors, "viewer", decisive=True)
    assert sorted(path.rsplit(".", 1)[1] for path in deciding.artifacts) == ["html", "png"]
    assert browser_side.kept[deciding.artifacts[0].rsplit("/", 1)[1]].startswith(b"\x89PNG")


def test_an_unknown_screenshot_policy_is_refused(browser_side: Any) -> None:
    browser_side.end_case(False, lambda data: data)
    with pytest.raises(ConfigError, match="screenshots policy 'retain-on-failure'"):
        browser_side.begin_case(lambda *_: None, screenshots="retain-on-failure")
    browser_side.begin_case(lambda *_: None, tracing="off", screenshots="off", har="off")
