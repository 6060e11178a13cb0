"""The API channel drives HTML forms: values read out of HTML (CSS selector, pattern, the
redirect's Location), urlencoded and multipart bodies, and a redirect declared a success; and
a sign-up followed by a login is judged on the sign-up's own exchange."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from harness.observe.flow import submission_index
from harness.targets.api import Actor, ApiTarget, Exchange, extract

FORM_PAGE = """<html><body><form action="/posts" method="post">
<input type="hidden" name="csrf" value="tok-41f">
<textarea name="body"></textarea><span class="count" data-n="3">3 posts</span>
</form></body></html>"""

FORMS_PROFILE = """\
name: forms
base_url: null
allowed_hosts: [127.0.0.1]
api:
  register:
    method: POST
    path: /signup
    form: {handle: "{account_name}", password: "{password}"}
    status: [303]
  login:
    method: POST
    path: /login
    form: {handle: "{account_name}", password: "{password}"}
    extract: {token: token}
  surfaces:
    post:
      create:
        - {method: GET, path: /posts/new, as: author,
           extract: {csrf: {css: "input[name=csrf]", attribute: value}}}
        - {method: POST, path: /posts, as: author, status: [303],
           form: {csrf: "{csrf}", body: "{content}"}, files: {attachment: "{content}"},
           extract: {post_id: {pattern: "/posts/(\\\\d+)", from: location}}}
      edit:
        - {method: POST, path: "/posts/{post_id}", as: author, form: {body: "{content}"}}
      observe:
        - {method: GET, path: "/posts/{post_id}", as: [viewer]}
"""


def page(status: int = 200, text: str = FORM_PAGE, **headers: str) -> httpx.Response:
    return httpx.Response(status, text=text, headers={"content-type": "text/html", **headers})


def exchange_of(response: httpx.Response, location: str | None = None) -> Exchange:
    return Exchange(method="GET", url="http://127.0.0.1/x", actor="author", started="",
                    elapsed_s=0.0, status=response.status_code, response_body=response.text,
                    content=response.content, location=location)


@pytest.mark.parametrize(("how", "want"), [
    ({"css": "input[name=csrf]", "attribute": "value"}, "tok-41f"),
    ({"css": "span.count"}, "3 posts"),
    ({"css": "span.count", "attribute": "data-n"}, "3"),
    ({"pattern": 'name="csrf" value="([^"]+)"'}, "tok-41f"),
    ({"pattern": r"\d+ posts"}, "3 posts"),
])
def test_values_are_read_out_of_html(how: dict[str, str], want: str) -> None:
    assert extract(exchange_of(page()), how) == want


@pytest.mark.parametrize("how", [
    {"css": "input[name=missing]", "attribute": "value"},
    {"css": "input[name=csrf]", "attribute": "data-missing"},
    {"pattern": "no such text ([a-z]+)"},
    {"pattern": "/posts/(\\d+)", "from": "location"},
])
def test_a_value_not_there_is_none(how: dict[str, str]) -> None:
    assert extract(exchange_of(page()), how) is None


def test_a_json_path_still_reads_json() -> None:
    answer = Exchange(method="GET", url="u", actor="a", started="", elapsed_s=0.0, status=200,
                      document={"data": {"id": 7}})
    assert extract(answer, "data.id") == "7"
    assert extract(answer, "data.missing") is None


@pytest.fixture
def seen() -> list[httpx.Request]:
    return []


@pytest.fixture
def forms_target(write_profile: Callable[..., Path],
                 seen: list[httpx.Request]) -> Iterator[ApiTarget]:
    from harness.targets.profile import load_profile

    def site(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path
        if path == "/signup":
            return page(303, "", location="/welcome")
        if path == "/login":
            return httpx.Response(200, json={"token": "t-1"})
        if path == "/posts/new":
            return page()
        if path == "/posts" and request.method == "POST":
            return page(303, "", location="/posts/512")
        return page(404, "not found")

    profile = load_profile(write_profile(FORMS_PROFILE), base_url="http://127.0.0.1:9")
    with ApiTarget(profile, transport=httpx.MockTransport(site)) as target:
        yield target


def test_a_csrf_form_is_posted_and_its_redirect_names_the_new_item(
        forms_target: ApiTarget, seen: list[httpx.Request]) -> None:
    steps = forms_target.profile.surface("post")["create"]  # type: ignore[index]
    variables: dict[str, object] = {"content": "你好 form"}
    author = Actor("author", "dev-1", {"token": "t"})
    done = forms_target.run_steps(steps, variables, {"author": author}, {})
    assert [e.ok for e in done] == [True, True]
    assert variables["csrf"] == "tok-41f"
    assert variables["post_id"] == "512"
    post = seen[-1]
    assert post.headers["content-type"].startswith("multipart/form-data")
    body = post.content.decode()
    assert 'name="csrf"' in body
    assert "tok-41f" in body
    assert 'name="attachment"; filename="attachment.txt"' in body


def test_a_form_alone_goes_urlencoded(forms_target: ApiTarget,
                                      seen: list[httpx.Request]) -> None:
    spec = {"method": "POST", "path": "/posts/1", "form": {"body": "{content}"}}
    forms_target.request(spec, {"content": "a b&c"}, {"author": Actor("author", "d")})
    assert seen[-1].headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(seen[-1].content.decode()) == {"body": ["a b&c"]}


def test_a_redirect_is_a_success_only_where_the_step_says_so(forms_target: ApiTarget) -> None:
    author = {"author": Actor("author", "d")}
    declared = forms_target.request({"method": "POST", "path": "/posts", "status": [303]}, {},
                                    author)
    plain = forms_target.request({"method": "POST", "path": "/posts"}, {}, author)
    assert declared.ok
    assert not plain.ok
    assert forms_target.classify(plain) == "error"


def test_the_sign_up_not_the_login_is_the_write_judged(forms_target: ApiTarget,
                                                        seen: list[httpx.Request]) -> None:
    """A5.3 is judged on the submission's own exchange: a register step returns the sign-up's,
    though a login followed it."""
    actor = Actor("author", "dev-2")
    result = forms_target.register(actor, {"account_name": "ada_1", "password": "pw"})
    assert [r.url.path for r in seen] == ["/signup", "/login"]
    assert result.url.endswith("/signup")
    assert result.ok
    assert actor.token == "t-1"


def test_a_failed_login_is_what_a_registration_reports(write_profile: Callable[..., Path]) -> None:
    from harness.targets.profile import load_profile

    def site(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            return httpx.Response(401, json={"error": "bad password"})
        return page(303, "", location="/welcome")

    profile = load_profile(write_profile(FORMS_PROFILE), base_url="http://127.0.0.1:9")
    with ApiTarget(profile, transport=httpx.MockTransport(site)) as target:
        result = target.register(Actor("author", "d"), {"account_name": "x_1", "password": "p"})
    assert not result.ok
    assert result.url.endswith("/login")
    assert json.loads(result.response_body or "{}") == {"error": "bad password"}


def test_the_submission_is_the_last_step_that_acts_not_a_read_after_it() -> None:
    steps = [{"method": "POST", "path": "/groups"}, {"method": "POST", "path": "/messages"},
             {"method": "GET", "path": "/messages/latest", "extract": {"message_id": "id"}}]
    assert submission_index(steps) == 1
    assert submission_index([{"register": "author"}, {"read": {"into": "id"}}]) == 0
