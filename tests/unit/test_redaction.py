"""Anti-forgery tokens and hidden-input values never reach evidence: HAR bodies, trace members
and DOM snapshots are scrubbed, and a token seen once is scrubbed wherever else it shows."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from harness.evidence import REDACTED, Redactor
from harness.evidence.redact import scrub_hidden_fields
from harness.targets.browser import _redact_zip

TOKEN = "Zq3xK9pL2mN8vB4cR7tY"  # what a site's CSRF token looks like
META_TOKEN = "Mt5Aa6Bb7Cc8Dd9Ee0Ff"
FORM_PAGE = (
    "<html><head><meta name=\"csrf-token\" content=\"" + META_TOKEN + "\"></head><body>"
    "<form method=post action=/posts>"
    f"<input value=\"{TOKEN}\" type=\"hidden\" name=\"csrf_token\">"
    "<input type='hidden' name='kind' value='post'>"
    "<input type=\"text\" name=\"text\" value=\"hello\">"
    "</form></body></html>"
)


def _har() -> dict[str, object]:
    """A HAR of a form page and the two posts it makes: as a form and as JSON."""
    return {"log": {"version": "1.2", "entries": [
        {"request": {"method": "GET", "url": "http://127.0.0.1/compose", "headers": []},
         "response": {"status": 200, "headers": [{"name": "Set-Cookie", "value": "sid=Qq1"}],
                      "content": {"mimeType": "text/html", "text": FORM_PAGE}}},
        {"request": {"method": "POST", "url": "http://127.0.0.1/posts",
                     "headers": [{"name": "X-CSRF-Token", "value": TOKEN}],
                     "postData": {"mimeType": "application/x-www-form-urlencoded",
                                  "text": f"csrf_token={TOKEN}&kind=post&text=hello",
                                  "params": [{"name": "csrf_token", "value": TOKEN},
                                             {"name": "kind", "value": "post"},
                                             {"name": "text", "value": "hello"}]}},
         "response": {"status": 303, "headers": [
             {"name": "Location", "value": f"/posts/1?state={TOKEN}"}],
             "content": {"mimeType": "text/html", "text": ""}}},
        {"request": {"method": "POST", "url": "http://127.0.0.1/api/comments",
                     "postData": {"mimeType": "application/json", "text": json.dumps(
                         {"_token": "Lk8Jh7Gf6Ds5", "authenticity_token": "Po9Iu8Yt7Re6",
                          "xsrf": "Mn2Bv3Cx4Za5", "text": "hello"})}},
         "response": {"status": 201, "content": {"mimeType": "application/json",
                                                 "text": json.dumps({"id": 7})}}},
    ]}}


SECRETS = (TOKEN, META_TOKEN, "Lk8Jh7Gf6Ds5", "Po9Iu8Yt7Re6", "Mn2Bv3Cx4Za5")


def test_har_bodies_and_params_are_scrubbed() -> None:
    data = json.dumps(_har(), indent=2).encode("utf-8")
    out = Redactor().redact_bytes(data)
    text = out.decode("utf-8")
    for secret in SECRETS:
        assert secret not in text, secret
    har = json.loads(text)  # still a HAR
    first, form, api = har["log"]["entries"]
    assert f'value="{REDACTED}"' in first["response"]["content"]["text"]
    assert f'content="{REDACTED}"' in first["response"]["content"]["text"]
    assert 'value="hello"' in first["response"]["content"]["text"]  # a visible field is kept
    assert form["request"]["postData"]["params"][0]["value"] == REDACTED
    assert form["request"]["postData"]["params"][2]["value"] == "hello"
    assert form["request"]["postData"]["text"].endswith("&kind=post&text=hello")
    assert json.loads(api["request"]["postData"]["text"])["text"] == "hello"
    assert json.loads(api["response"]["content"]["text"]) == {"id": 7}


def test_a_token_learnt_on_a_page_is_scrubbed_everywhere_after() -> None:
    redactor = Redactor()
    redactor.redact_text(FORM_PAGE)  # the DOM snapshot, written first
    assert redactor.redact_text(f"GET /next?state={TOKEN} -> 200") == (
        f"GET /next?state={REDACTED} -> 200")
    assert TOKEN not in json.dumps(redactor.redact({"url": f"/x/{TOKEN}"}))


def test_ordinary_hidden_values_are_scrubbed_in_place_but_not_learnt() -> None:
    redactor = Redactor()
    page = ("<input type=hidden name=item_id value=12345678>"
            "<input type=hidden name=ref value=3f2a9c1e-7b6d-4e1a-9c3b-2d1f0e9a8b7c>")
    out = redactor.redact_text(page)
    assert "12345678" not in out
    assert "3f2a9c1e" not in out
    assert len(redactor) == 0  # ids and UUIDs are not learnt: evidence elsewhere keeps them
    assert redactor.redact_text("/posts/12345678") == "/posts/12345678"


def _trace() -> bytes:
    """A Playwright-like trace: a DOM snapshot (attribute objects), network events, a resource
    and a screenshot; the token shows in the snapshot and, under a plain name, elsewhere."""
    snapshot = {"type": "frame-snapshot", "snapshot": {"html": [
        "FORM", {"method": "post"},
        ["INPUT", {"type": "hidden", "name": "state", "value": TOKEN,
                   "__playwright_value_": TOKEN}],
        ["INPUT", {"name": "_csrf", "value": "Wq1Es2Rd3Tf4", "type": "text"}],
        ["INPUT", {"type": "text", "name": "text", "__playwright_value_": "hello"}]]}}
    network = {"type": "resource-snapshot", "snapshot": {"request": {
        "url": f"http://127.0.0.1/posts?next={TOKEN}", "postData": {"text": f"state={TOKEN}"},
        "headers": [{"name": "Cookie", "value": "sid=Zz9Yy8Xx7"}]}}}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as trace:
        # The network member comes first, so only learning across members can scrub it.
        trace.writestr("trace.network", json.dumps(network) + "\n")
        trace.writestr("trace.trace", json.dumps(snapshot) + "\n")
        trace.writestr("resources/page.html", FORM_PAGE)
        trace.writestr("resources/shot.jpeg", b"\xff\xd8\xff\xe0" + bytes(range(256)))
    return out.getvalue()


def test_trace_members_are_scrubbed_across_members() -> None:
    redacted = _redact_zip(_trace(), Redactor().redact_bytes)
    with zipfile.ZipFile(io.BytesIO(redacted)) as trace:
        members = {name: trace.read(name) for name in trace.namelist()}
    for name in ("trace.network", "trace.trace", "resources/page.html"):
        text = members[name].decode("utf-8")
        for secret in (TOKEN, META_TOKEN, "Wq1Es2Rd3Tf4", "sid=Zz9Yy8Xx7"):
            assert secret not in text, (name, secret)
    snapshot = json.loads(members["trace.trace"])
    assert snapshot["snapshot"]["html"][4][1]["__playwright_value_"] == "hello"
    assert members["resources/shot.jpeg"] == b"\xff\xd8\xff\xe0" + bytes(range(256))


@pytest.mark.parametrize("tag", [
    f'<input type="hidden" name="csrf_token" value="{TOKEN}">',
    f"<INPUT VALUE='{TOKEN}' TYPE='HIDDEN'>",
    f"<input name=authenticity_token value={TOKEN} type=text>",
    f'<meta content="{TOKEN}" name="csrf-token">',
    f'<input type=\\"hidden\\" value=\\"{TOKEN}\\">',  # HTML inside a JSON string
])
def test_dom_snapshot_scrubbing(tag: str) -> None:
    out = scrub_hidden_fields(f"<form>{tag}</form>")
    assert TOKEN not in out
    assert REDACTED in out


def test_scrubbing_keeps_what_is_not_a_secret() -> None:
    page = ('<input type="text" name="nickname" value="小明"><meta name="viewport" '
            'content="width=device-width">')
    assert scrub_hidden_fields(page) == page
    assert Redactor().redact_text(page) == page


def test_secrets_that_overlap_are_covered_whole_and_thousands_cost_one_pass() -> None:
    """Every character any secret covers is replaced (two overlapping secrets leave no piece
    of either), and a text is searched once however many secrets the run knows."""
    redactor = Redactor(["abcdef123", "def123XYZ", "zzzz"])
    assert redactor.redact_text("..abcdef123XYZ.. zzzzz, abcdef123.") == \
        f"..{REDACTED}.. {REDACTED}, {REDACTED}."
    many = [f"s{n:05d}-{n * 7919 % 100_003:06d}-tok" for n in range(5000)]
    redactor = Redactor(many)
    text = " | ".join(many[::97]) + " and plain words"
    out = redactor.redact_text(text)
    assert not any(secret in out for secret in many)
    assert out.endswith(" and plain words")
    assert out.count(REDACTED) == len(many[::97])
