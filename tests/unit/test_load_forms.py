"""Pages over HTTP (harness.load.forms): a profile's browser steps performed as form posts on
static HTML, served by an httpx mock. Each test shows what a browser would have sent: hidden
fields and the clicked button's name and value, the form's method, enctype and relative
action, the labels a field is found by; and that what needs a script, or is not on the page,
fails the step saying so."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from bs4 import BeautifulSoup

from harness.load.forms import NeedsScript, Page, PageDriver, find, submission
from harness.load.judge import StageVerdict
from harness.load.plan import Stage
from harness.load.scenario import CanaryCheck, _filing, _with_cause
from harness.targets.api import Actor
from harness.targets.browser import NoElement
from harness.targets.profile import Profile, load_profile
from harness.verdicts import Verdict

BASE = "http://127.0.0.1:9"
PROFILE = {
    "name": "forms",
    "base_url": None,
    "allowed_hosts": ["127.0.0.1"],
    "browser": {
        "rejected": [{"name": "banned", "selector": "div.banned"}],
        "validation": [{"name": "invalid", "selector": "div.invalid"}],
        "register": [{"goto": "/join"}],
        "surfaces": {"post": {"create": [{"goto": "/new"}], "edit": {"absent": "none"},
                              "observe": [{"goto": "/", "as": ["viewer"]}]}},
    },
}

NEW_NOTE = """<html><body>
<form class="find" action="/search" method="get"><input name="q" aria-label="Search"></form>
<form method="post" action="notes?draft=1" class="note">
  <input type="hidden" name="csrf_token" value="tok-123">
  <label for="body">Your note</label><textarea id="body" name="body">
old</textarea>
  <label>Mood <select name="mood"><option value="">-</option>
    <option value="ok">Fine</option><option value="sad" selected>Sad</option></select></label>
  <input name="topic" placeholder="A topic" value="misc">
  <input type="checkbox" name="public" value="yes">
  <input name="off" value="x" disabled>
  <button type="submit" name="action" value="pin">Pin note</button>
  <button type="submit" name="action" value="draft">Save draft</button>
</form>
<form method="post" action="/upload" enctype="multipart/form-data">
  <input type="hidden" name="csrf_token" value="tok-123">
  <input type="file" id="picture" name="picture"><input type="submit" value="Upload">
</form>
<button type="button" id="js-only">Preview</button>
<a href="/elsewhere" class="away">Go <span>elsewhere</span></a>
</body></html>"""


def _profile(tmp_path: Path, change: Callable[[dict[str, Any]], None] | None = None) -> Profile:
    data = yaml.safe_load(yaml.safe_dump(PROFILE))
    if change is not None:
        change(data)
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_profile(path, base_url=BASE)


def _page(html: str = NEW_NOTE, url: str = f"{BASE}/notes/new") -> Page:
    return Page(url, 200, BeautifulSoup(html, "html.parser"))


class Site:
    """Static pages by path; every request is kept, redirects answer as given."""

    def __init__(self, pages: dict[str, Any]) -> None:
        self.pages = pages
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.pages.get(request.url.path, (404, "<p>none</p>"))
        status, body = answer if isinstance(answer, tuple) else (200, answer)
        if 300 <= status < 400:
            return httpx.Response(status, headers={"location": body})
        headers = {"set-cookie": f"sid={request.url.path.strip('/') or 'root'}; Path=/"} \
            if request.url.path == "/login" else {}
        return httpx.Response(status, text=body, headers={**headers,
                                                          "content-type": "text/html"})


def _driver(tmp_path: Path, site: Site) -> PageDriver:
    return PageDriver(_profile(tmp_path), transport=httpx.MockTransport(site))


def test_a_field_is_found_by_its_label_for_wrapping_label_aria_label_and_placeholder():
    soup = _page().soup
    assert find(soup, {"label": "your note"})["id"] == "body"  # <label for>, any case
    assert find(soup, {"label": "Mood"}).name == "select"  # a wrapping <label>
    assert find(soup, {"label": "Search"})["name"] == "q"  # aria-label
    assert find(soup, {"label": "A topic"})["name"] == "topic"  # placeholder
    assert find(soup, {"placeholder": "topic"})["name"] == "topic"
    assert find(soup, {"role": "button", "name": "save draft"})["value"] == "draft"
    assert find(soup, {"role": "button", "name": "Upload"})["value"] == "Upload"  # input value
    assert find(soup, {"role": "link", "name": "Go elsewhere"})["href"] == "/elsewhere"
    assert find(soup, {"role": "textbox", "name": "Your note"})["id"] == "body"
    assert find(soup, {"text": "elsewhere"}).name == "span"  # the innermost element
    assert find(soup, {"css": "button", "nth": 1})["value"] == "draft"
    assert find(soup, "form.note textarea")["name"] == "body"


def test_the_submission_holds_hidden_fields_filled_values_and_only_the_clicked_button():
    page = _page()
    soup = page.soup
    page.values[id(find(soup, "#body"))] = "hello"
    page.checked[id(find(soup, "input[name=public]"))] = True
    sent = submission(page, find(soup, {"role": "button", "name": "Pin note"}))
    assert sent.method == "POST"
    assert sent.url == f"{BASE}/notes/notes?draft=1"  # relative to the page
    assert sent.fields == (("csrf_token", "tok-123"), ("body", "hello"), ("mood", "sad"),
                           ("topic", "misc"), ("public", "yes"), ("action", "pin"))
    untouched = submission(_page(), find(_page().soup, {"role": "button", "name": "Save draft"}))
    assert dict(untouched.fields)["body"] == "old"  # the first newline of a textarea is not its
    assert "public" not in dict(untouched.fields)  # an unchecked box is not sent
    assert dict(untouched.fields)["action"] == "draft"


def test_a_get_form_sends_its_fields_in_the_query_and_a_multipart_form_its_file():
    page = _page()
    search = Page(f"{BASE}/x", 200, BeautifulSoup(
        '<form action="/search"><input name="q" value="a b"><button>Go</button></form>',
        "html.parser"))
    assert submission(search, find(search.soup, "button")).request()["url"] == \
        f"{BASE}/search?q=a+b"
    page.files[id(find(page.soup, "#picture"))] = ("probe.png", b"\x89PNG", "image/png")
    upload = submission(page, find(page.soup, {"role": "button", "name": "Upload"}))
    assert upload.files == (("picture", ("probe.png", b"\x89PNG", "image/png")),)
    assert upload.fields == (("csrf_token", "tok-123"),)


def test_what_needs_a_script_or_is_not_on_the_page_fails_saying_so():
    page = _page()
    with pytest.raises(NeedsScript, match="submits no form"):
        submission(page, find(page.soup, "#js-only"))
    with pytest.raises(NoElement, match=r"no element matches \{role: button, name: Send\}"):
        find(page.soup, {"role": "button", "name": "Send"})
    with pytest.raises(NeedsScript, match="not a CSS selector"):
        find(page.soup, "button:has-text('Pin')")


def test_steps_post_the_form_follow_the_redirect_and_read_the_new_url(tmp_path: Path):
    site = Site({"/new": NEW_NOTE, "/notes": (303, "/notes/41#n-41"),
                 "/notes/41": "<p>pinned</p>"})
    driver = _driver(tmp_path, site)
    variables: dict[str, Any] = {"content": "hi there"}
    done = driver.run_steps([
        {"goto": "/new"}, {"fill": {"field": {"label": "Your note"}, "value": "{content}"}},
        {"choose": {"field": "select[name=mood]", "option": "Fine"}},
        {"click": {"role": "button", "name": "Pin note"}},
        {"read": {"url": True, "pattern": r"/notes/(\d+)#n-", "into": "note_id"}},
        {"wait_for": {"text": "pinned"}}], variables, {"author": Actor("author", "d1")}, {})
    assert [r.ok for r in done] == [True] * 6, [r.error for r in done]
    assert variables["note_id"] == "41"
    post = site.requests[1]
    assert (post.method, post.url.path, post.url.query) == ("POST", "/notes", b"draft=1")
    assert post.content == b"csrf_token=tok-123&body=hi+there&mood=ok&topic=misc&action=pin"
    assert site.requests[2].method == "GET"  # 303 after a POST
    assert driver.classify(done[3], "post") == "accepted"


def test_a_refused_post_is_classified_by_the_profiles_rules(tmp_path: Path):
    site = Site({"/new": NEW_NOTE, "/notes": '<div class="banned">Not posted</div>'})
    driver = _driver(tmp_path, site)
    done = driver.run_steps([{"goto": "/new"}, {"click": {"role": "button", "name": "Pin"}}],
                            {}, {"author": Actor("author", "d1")}, {})
    assert done[-1].rejected
    assert driver.refusal(done[-1], "post").reason == "banned: Not posted"


def test_a_failed_step_says_which_and_why_and_stops_the_steps(tmp_path: Path):
    driver = _driver(tmp_path, Site({"/new": NEW_NOTE}))
    done = driver.run_steps([{"goto": "/new"}, {"click": "#js-only"}, {"goto": "/new"}], {},
                            {"author": Actor("author", "d1")}, {}, action="post create")
    assert [r.ok for r in done] == [True, False]
    assert done[-1].step == "post create step 2 (click '#js-only')"
    assert "submits no form: clicking it needs the page's scripts" in done[-1].error
    missing = driver.run_steps([{"goto": "/notes/{note_id}"}], {},
                               {"author": Actor("author", "d1")}, {})
    assert missing[-1].error == "goto: no value for {note_id}"


def test_a_redirect_out_of_allowed_hosts_is_not_followed(tmp_path: Path):
    site = Site({"/away": (302, "http://example.com/x")})
    done = _driver(tmp_path, site).run_steps([{"goto": "/away"}], {},
                                             {"author": Actor("author", "d1")}, {})
    assert "refusing http://example.com/x" in done[-1].error
    assert [r.url.host for r in site.requests] == ["127.0.0.1"]


def test_each_actor_keeps_its_own_cookies(tmp_path: Path):
    site = Site({"/login": "<p>in</p>", "/me": "<p>me</p>"})
    driver = _driver(tmp_path, site)
    author, viewer = Actor("author", "d1"), Actor("viewer", "d2")
    actors = {"author": author, "viewer": viewer}
    driver.run_steps([{"goto": "/login"}, {"goto": "/me"}, {"goto": "/me", "as": "viewer"}],
                     {}, actors, {})
    assert site.requests[1].headers.get("cookie") == "sid=login"
    assert "cookie" not in site.requests[2].headers


# --- what the scenario makes of a pages-only run's records -----------------------------------


def test_a_report_without_receipt_counts_by_its_reason_only_when_the_filing_completed():
    done = {"kind": "report", "stage": 1, "ticket": None, "filed": True, "reason": "r [x.1]",
            "status": 200, "elapsed_s": 0.1}
    assert _filing(done, by_reason=True).ticket == "r [x.1]"
    assert _filing(done, by_reason=False).ticket is None  # a site that gives receipts
    broken = {**done, "filed": False, "failed_step": "report post step 2: no element"}
    assert _filing(broken, by_reason=True).ticket is None
    assert _filing(broken, by_reason=True).error == "report post step 2: no element"


def test_an_inconclusive_stage_says_why_its_first_canary_told_nothing():
    stage = Stage(1, 4, 3.0)
    check = CanaryCheck({"stage": 1}, Verdict.INCONCLUSIVE, "the submission did not complete "
                        "(HTTP None, post create step 3: submits no form)")
    held = _with_cause(StageVerdict(stage, Verdict.INCONCLUSIVE, "1 canaries not observed"),
                       [CanaryCheck({"stage": 0}, Verdict.PASS, "held"), check])
    assert held.reason.endswith("the first canary not observed: the submission did not "
                                "complete (HTTP None, post create step 3: submits no form)")
    passed = StageVerdict(stage, Verdict.PASS, "ok")
    assert _with_cause(passed, [check]) is passed
