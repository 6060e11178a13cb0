"""A read counts only where it landed, a refusal for validation is not moderation, and a read
the profile says needs a login is not applicable: each shown on a fake site (httpx
MockTransport) through the whole case flow, and on the browser channel with fake pages."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.observe.flow import Session, excused_roles, run_case
from harness.policy import Policy
from harness.probes.cases import MUST_ALLOW, MUST_BLOCK, ProbeSpec, build_case
from harness.targets.api import Actor, ApiTarget, Breaker, Exchange
from harness.targets.browser import BrowserTarget, PageResult
from harness.targets.landing import landing_note, same_place
from harness.targets.profile import load_profile
from harness.targets.refusals import Rule, parse_rules
from harness.verdicts import Verdict

BASE = "http://127.0.0.1:8123"
CANARY = ProbeSpec("canary-zh-a", MUST_BLOCK, "zh", canary="canary-zh-a")
BENIGN = ProbeSpec("benign-zh", MUST_ALLOW, "zh")
POLICY = Policy(grace_seconds=0.2, audit_wait_seconds=0.1)

PROFILE = """\
name: fake
base_url: null
allowed_hosts: [127.0.0.1]
api:
  auth_headers: {Authorization: "Bearer {token}"}
  timeout_seconds: 5
  rejected:
    - {name: content refused, status: [422], json: {error: "^content_rejected$"}}
  validation:
    - {name: too long, status: [400], json: {error: "^too_long$"}}
  register:
    method: POST
    path: /api/register
    json: {account_name: "{account_name}", password: "{password}"}
    extract: {token: token, id: user_id}
  surfaces:
    bio:
      create:
        - {method: PATCH, path: /api/me, as: author, json: {bio: "{content}"}}
      edit:
        - {method: PATCH, path: /api/me, as: author, json: {bio: "{content}"}}
      observe:
        - {method: GET, path: "/api/users/{author_id}", as: [viewer, anonymous]%s}
    avatar:
      kind: image
      validation:
        - {name: format not taken, json: {error: "^unsupported_image_format$"}}
      create:
        - {method: POST, path: /api/me/avatar, as: author, files: {file: "{image}"}}
      edit:
        - {method: POST, path: /api/me/avatar, as: author, files: {file: "{image}"}}
      observe:
        - {method: GET, path: "/api/users/{author_id}", as: [viewer, anonymous], images: [avatar]}
"""


@dataclass
class FakeSite:
    """An in-memory site: bios, a filter, and switches for the faults under test."""

    login_wall: bool = False
    jpeg_only: bool = False
    refuse_with: tuple[int, dict[str, Any]] | None = None  # every write answered so
    bios: dict[int, str] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if path == "/api/register":
            user = len(self.users) + 1
            self.users[f"t{user}"] = user
            return httpx.Response(201, json={"token": f"t{user}", "user_id": user})
        if self.refuse_with is not None and request.method != "GET":
            status, body = self.refuse_with
            return httpx.Response(status, json=body)
        if path == "/api/me" and request.method == "PATCH":
            bio = json.loads(request.content)["bio"]
            if "审核金丝雀" in bio:
                return httpx.Response(422, json={"error": "content_rejected"})
            self.bios[self.users[token]] = bio
            return httpx.Response(200, json={"bio": bio})
        if path == "/api/me/avatar":
            if self.jpeg_only:
                return httpx.Response(422, json={"error": "unsupported_image_format",
                                                 "message": "only JPEG is allowed"})
            return httpx.Response(422, json={"error": "content_rejected"})
        if path.startswith("/api/users/"):
            if self.login_wall and token not in self.users:
                return httpx.Response(302, headers={"Location": f"/login?next={path}"})
            user = int(path.rsplit("/", 1)[1])
            return httpx.Response(200, json={"id": user, "bio": self.bios.get(user, "")})
        return httpx.Response(404, json={"error": "not_found"})


@pytest.fixture
def flow(write_profile: Callable[..., Path]) -> Callable[..., list[Any]]:
    """Run one case on a fake site; returns its observations (the surface control's first)."""

    def run(site: FakeSite, surface: str, probe: ProbeSpec, *, observe_extra: str = "",
            seed: int = 11) -> list[Any]:
        profile = load_profile(write_profile(PROFILE % observe_extra), base_url=BASE)
        target = ApiTarget(profile, transport=httpx.MockTransport(site))
        session = Session.open(target, seed, "n1")
        case = build_case(surface, "create", probe, seed)
        return run_case(session, case, POLICY, seed).observations

    return run


# --- the landing rule -------------------------------------------------------------------------


@pytest.mark.parametrize(("requested", "landed"), [
    ("http://h/u/alice", "http://h/u/alice#posts"),
    ("http://h/u/alice", "http://h/u/alice/"),
    ("http://H:80/u/alice", "http://h/u/alice"),
    ("http://h/search?q=a&page=1", "http://h/search?page=1&q=a"),
    ("http://h/u/%E4%B8%AD", "http://h/u/中"),
    ("http://h/u/alice", "/u/alice"),
])
def test_same_place_normalises_only_what_does_not_change_the_page(requested, landed) -> None:
    assert same_place(requested, landed)
    assert landing_note(requested, landed) is None


@pytest.mark.parametrize(("requested", "landed"), [
    ("http://h/u/alice", "http://h/login?next=/u/alice"),
    ("http://h/u/alice", "https://h/u/alice"),
    ("http://h/u/alice", "http://h:8080/u/alice"),
    ("http://h/u/alice", "http://other/u/alice"),
    ("http://h/search?q=a", "http://h/search?q=b"),
    ("http://h/search?q=a", "http://h/search"),
])
def test_another_page_is_another_place(requested, landed) -> None:
    assert not same_place(requested, landed)
    assert landing_note(requested, landed) == f"landed on {landed}, not {requested}"


# --- the API channel ----------------------------------------------------------------------------


def test_api_redirect_is_a_landing_elsewhere_not_a_read(write_profile) -> None:
    site = FakeSite(login_wall=True)
    target = ApiTarget(load_profile(write_profile(PROFILE % ""), base_url=BASE),
                       transport=httpx.MockTransport(site))
    read = target.read({"method": "GET", "path": "/api/users/1"}, {}, {
        "anonymous": Actor("anonymous", "d")}, "anonymous")
    assert isinstance(read, Exchange)
    assert read.status == 302
    assert not read.ok
    assert read.location == f"{BASE}/login?next=/api/users/1"
    assert read.evidence()["location"] == read.location


def test_login_wall_makes_a_must_block_case_inconclusive_not_pass(flow) -> None:
    first = flow(FakeSite(login_wall=True), "bio", CANARY)[0]
    assert first.verdict is Verdict.INCONCLUSIVE, first.reason
    assert f"landed on {BASE}/login?next=/api/users/" in first.reason
    assert "(HTTP 302)" in first.reason
    assert "anonymous" in first.reason
    anonymous = [s for s in first.details["sightings"] if s["role"] == "anonymous"]
    assert anonymous
    assert all(s["visible"] is None for s in anonymous)


def test_without_the_wall_the_same_case_passes(flow) -> None:
    first = flow(FakeSite(), "bio", CANARY)[0]
    assert first.verdict is Verdict.PASS, first.reason
    assert first.disposition == "rejected"


def test_login_required_excuses_anonymous_and_the_viewer_decides(flow) -> None:
    extra = ', login_required: "profiles are for members"'
    blocked = flow(FakeSite(login_wall=True), "bio", CANARY, observe_extra=extra)[0]
    assert blocked.verdict is Verdict.PASS, blocked.reason
    assert "not shown to viewer" in blocked.reason
    assert "anonymous: profiles are for members" in blocked.reason
    assert blocked.details["not_applicable"] == [
        {"role": "anonymous", "request": "GET /api/users/{author_id}",
         "reason": "profiles are for members"}]
    assert {s["role"] for s in blocked.details["sightings"]} == {"viewer"}
    shown = flow(FakeSite(login_wall=True), "bio", BENIGN, observe_extra=extra)[0]
    assert shown.verdict is Verdict.PASS, shown.reason
    assert shown.reason.startswith("shown to viewer")


def test_only_a_role_whose_every_read_needs_a_login_is_excused() -> None:
    assert excused_roles([{"as": ["anonymous"], "login_required": "members only"}]) == {
        "anonymous": "members only"}
    # A read that applies keeps the role judged (on that read).
    assert excused_roles([{"as": ["anonymous"], "login_required": "members only"},
                          {"as": ["anonymous", "viewer"]}]) == {}
    # Only anonymous lacks a login.
    assert excused_roles([{"as": ["viewer"], "login_required": "members only"}]) == {}


def test_every_observer_excused_end_to_end(write_profile) -> None:
    text = (PROFILE % ', login_required: "members only"').replace(
        "as: [viewer, anonymous], login_required", "as: [anonymous], login_required")
    profile = load_profile(write_profile(text), base_url=BASE)
    target = ApiTarget(profile, transport=httpx.MockTransport(FakeSite()))
    session = Session.open(target, 3, "n2")
    observation = run_case(session, build_case("bio", "create", CANARY, 3), POLICY,
                           3).observations[0]
    assert observation.verdict is Verdict.INCONCLUSIVE
    assert "login_required for every observing role" in observation.reason
    assert "anonymous: members only" in observation.reason


def test_validation_refusal_is_inconclusive_for_must_block(flow) -> None:
    observations = flow(FakeSite(jpeg_only=True), "avatar", CANARY)
    assert [o.verdict for o in observations] == [Verdict.INCONCLUSIVE]
    reason = observations[0].reason
    assert reason == ("refused for a reason other than moderation: format not taken: "
                      "only JPEG is allowed")


def test_validation_refusal_is_inconclusive_for_must_allow_too(flow) -> None:
    observation = flow(FakeSite(jpeg_only=True), "avatar", BENIGN)[0]
    assert observation.verdict is Verdict.INCONCLUSIVE
    assert observation.reason.startswith("refused for a reason other than moderation")


def test_moderation_refusal_still_passes(flow) -> None:
    observation = flow(FakeSite(), "avatar", CANARY)[0]
    assert observation.verdict is Verdict.PASS, observation.reason
    assert observation.disposition == "rejected"


def test_site_wide_validation_rule_applies_to_every_surface(flow) -> None:
    site = FakeSite(refuse_with=(400, {"error": "too_long", "message": "bio is too long"}))
    observation = flow(site, "bio", CANARY)[0]
    assert observation.verdict is Verdict.INCONCLUSIVE
    assert observation.reason == ("refused for a reason other than moderation: too long: "
                                  "bio is too long")


@pytest.mark.parametrize("answer", [
    (400, {"error": "bad_request", "message": "what?"}),  # a 4xx no rule describes
    (403, {"error": "forbidden"}),
    (422, {"error": "something_else"}),  # the refusal status, but not the moderation code
])
def test_a_refusal_no_rule_describes_is_never_a_moderation_refusal(flow, answer) -> None:
    observation = flow(FakeSite(refuse_with=answer), "bio", CANARY)[0]
    assert observation.verdict is Verdict.INCONCLUSIVE
    assert "does not describe as moderation" in observation.reason
    assert f"HTTP {answer[0]}" in observation.reason


def test_reject_status_is_a_status_only_rejected_rule(write_profile) -> None:
    text = PROFILE % ""
    text = text.replace("  rejected:\n    - {name: content refused, status: [422], json: "
                        "{error: \"^content_rejected$\"}}\n", "  reject_status: [403]\n")
    target = ApiTarget(load_profile(write_profile(text), base_url=BASE),
                       transport=httpx.MockTransport(FakeSite()))

    def answer(status: int, body: dict[str, Any]) -> Exchange:
        return Exchange("POST", f"{BASE}/x", "author", "t", 0.0, status,
                        response_body=json.dumps(body), document=body)

    assert target.classify(answer(403, {"error": "x"})) == "rejected"
    assert target.classify(answer(422, {"error": "content_rejected"})) == "error"
    assert target.classify(answer(400, {"error": "too_long"}), "bio") == "invalid"
    assert target.classify(answer(422, {"error": "unsupported_image_format"}),
                           "avatar") == "invalid"
    assert target.classify(answer(422, {"error": "unsupported_image_format"}),
                           "bio") == "error"
    assert target.classify(answer(302, {})) == "error"


# --- the browser channel (fake pages: the rules are the code under test) -------------------


class FakeLocator:
    def __init__(self, page: FakePage, css: str) -> None:
        self.page, self.css = page, css
        self.first = self

    def is_visible(self) -> bool:
        return self.css in self.page.elements

    def inner_text(self) -> str:
        return self.page.elements[self.css]

    def nth(self, _index: int) -> FakeLocator:
        return self


@dataclass
class FakePage:
    """What a page shows: visible text, and elements (CSS -> text) that are visible."""

    url: str
    text: str = ""
    elements: dict[str, str] = field(default_factory=dict)
    status: int = 200

    def evaluate(self, _script: str) -> str:
        return self.text

    def locator(self, css: str) -> FakeLocator:
        return FakeLocator(self, css)


def _browser(write_profile, browser_section: str) -> BrowserTarget:
    text = (PROFILE % "") + browser_section
    profile = load_profile(write_profile(text), base_url=BASE)
    target = BrowserTarget.__new__(BrowserTarget)
    target.breaker = Breaker(0)  # never opens in these tests
    target.profile = profile
    target.section = profile.data["browser"]
    from harness.targets.refusals import RefusalRules

    target.refusals = RefusalRules(target.section, "browser")
    return target


BROWSER = """\
browser:
  rejected:
    - {name: content refused, selector: "p.error", text: "prohibited"}
  validation:
    - {name: invalid input, status: [400], selector: "p.error"}
  register:
    - {goto: /register}
  surfaces:
    avatar:
      validation:
        - {name: format not taken, selector: "p.error", text: "only JPEG"}
      create:
        - {goto: /me/edit}
      edit:
        - {goto: /me/edit}
      observe:
        - {goto: "/users/{author_id}", as: [viewer, anonymous], images: "img.avatar"}
"""


def _submitted(target: BrowserTarget, page: FakePage) -> PageResult:
    refusals = target._refusals_shown(page, page.status)
    return PageResult("CLICK", page.url, "author", "t", 0.0, page.status,
                      rejected=bool(refusals), refusals=refusals)


def test_browser_validation_message_is_invalid_not_rejected(write_profile) -> None:
    target = _browser(write_profile, BROWSER)
    page = FakePage(f"{BASE}/me/edit", "only JPEG is allowed",
                    {"p.error": "only JPEG is allowed"}, status=422)
    result = _submitted(target, page)
    assert not result.ok
    refusal = target.refusal(result, "avatar")
    assert (refusal.outcome, refusal.reason) == ("invalid",
                                                 "format not taken: only JPEG is allowed")
    # Another surface has no such rule: a refusal no rule of its own describes is an error.
    assert target.classify(result, "bio") == "error"


def test_browser_moderation_refusal_is_rejected(write_profile) -> None:
    target = _browser(write_profile, BROWSER)
    page = FakePage(f"{BASE}/me/edit", "Refused: prohibited content",
                    {"p.error": "Refused: prohibited content"}, status=422)
    assert target.classify(_submitted(target, page), "avatar") == "rejected"


def test_browser_error_page_no_rule_describes_is_an_error(write_profile) -> None:
    target = _browser(write_profile, BROWSER)
    page = FakePage(f"{BASE}/me/edit", "CSRF token wrong", {"p.error": "CSRF token wrong"},
                    status=403)
    result = _submitted(target, page)
    assert result.refusals == ()
    assert target.classify(result, "avatar") == "error"
    accepted = _submitted(target, FakePage(f"{BASE}/users/1", "saved"))
    assert target.classify(accepted, "avatar") == "accepted"


def test_browser_older_rejected_form_is_one_rule() -> None:
    (rule,) = parse_rules({"selector": "p.error"}, "rejected", "browser.rejected")
    assert isinstance(rule, Rule)
    assert rule.name == "rejected"
    assert rule.matches(200, visible=lambda css: css == "p.error")
    assert not rule.matches(200, visible=lambda css: False)


@dataclass
class Navigating(FakePage):
    """A page whose goto follows a redirect table, as a browser does."""

    redirects: dict[str, str] = field(default_factory=dict)

    def goto(self, url: str, wait_until: str = "load") -> Any:
        self.url = self.redirects.get(url, url)
        return type("Response", (), {"status": self.status})()


@pytest.mark.parametrize(("asked", "lands", "landing"), [
    ("/users/1", f"{BASE}/login?next=/users/1",
     f"landed on {BASE}/login?next=/users/1, not {BASE}/users/1"),
    ("/users/1", f"{BASE}/users/1#bio", None),
])
def test_browser_read_counts_only_where_it_landed(write_profile, monkeypatch, asked, lands,
                                                  landing) -> None:
    target = _browser(write_profile, BROWSER)
    page = Navigating(url="about:blank", text="Log in")
    page.redirects = {f"{BASE}{asked}": lands}
    monkeypatch.setattr(target, "_page", lambda actor: page)
    monkeypatch.setattr(target, "_observation_artifacts", lambda page, role, **_: ())
    read = target.read({"goto": asked}, {}, {"viewer": Actor("viewer", "d")}, "viewer")
    assert read is not None
    assert read.url == lands
    assert read.status == 200
    assert read.landing == landing
    assert read.ok is (landing is None)
    from harness.observe.flow import unread_note

    assert unread_note(read) == landing


class Linking(Navigating):
    def evaluate(self, script: str) -> Any:
        return [] if "a[href]" in script else self.text


@pytest.mark.parametrize(("lands", "follow", "landing"), [
    (f"{BASE}/help/complaints", True, None),  # a crawler goes where the link leads
    (f"{BASE}/help/complaints", False,
     f"landed on {BASE}/help/complaints, not {BASE}/complaints"),
    ("http://127.0.0.1:9999/complaints", True,  # another site is never the page visited
     f"landed on http://127.0.0.1:9999/complaints, not {BASE}/complaints"),
])
def test_visit_follows_only_within_the_site_when_asked(write_profile, monkeypatch, lands,
                                                       follow, landing) -> None:
    target = _browser(write_profile, BROWSER)
    page = Linking(url="about:blank", text="phone 400-123-4567")
    page.redirects = {f"{BASE}/complaints": lands}
    monkeypatch.setattr(target, "_page", lambda actor: page)
    visit = target.visit("/complaints", Actor("anonymous", "d"), artifacts=False,
                         follow=follow)
    assert visit.url == lands
    assert visit.landing == landing
    assert visit.ok is (landing is None)


def test_a_page_lookup_that_landed_elsewhere_is_not_a_lookup() -> None:
    from types import SimpleNamespace

    from harness.observe.reports import ReportDesk

    desk = SimpleNamespace(admin=SimpleNamespace(profile=SimpleNamespace(base_url=BASE)))
    steps = [{"goto": "/reports/{ticket}"}, {"read": {"selector": ".ticket-id", "into": "x"}}]

    def done(url: str) -> list[PageResult]:
        return [PageResult("GOTO", url, "reporter", "t", 0.0, 200),
                PageResult("READ", url, "reporter", "t", 0.0, None)]

    check = ReportDesk.landed_elsewhere
    assert check(desk, steps, done(f"{BASE}/reports/T1"), {"ticket": "T1"}) is None
    assert check(desk, steps, done(f"{BASE}/me/reports"), {"ticket": "T1"}) == (
        f"landed on {BASE}/me/reports, not {BASE}/reports/T1")


class _RecordingTarget(ApiTarget):
    """The API channel, noting which reads the flow calls decisive and what it pictures."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads: list[tuple[str, str, bool]] = []
        self.pictured: list[str] = []

    def read(self, spec: Any, variables: Any, actors: Any, role: str, *,
             decisive: bool = True) -> Exchange | None:
        self.reads.append((spec["path"], role, decisive))
        return super().read(spec, variables, actors, role, decisive=decisive)

    def screenshot(self, actors: Any, role: str) -> tuple[str, ...]:
        self.pictured.append(role)
        return (f"artifacts/{role}.png",)


def test_each_roles_last_read_in_a_round_is_decisive_and_a_read_that_shows_is_pictured(
        write_profile: Callable[..., Path]) -> None:
    extra = "}\n        - {method: GET, path: \"/api/users/{author_id}?again=1\", as: [viewer]"
    profile = load_profile(write_profile(PROFILE % extra), base_url=BASE)
    target = _RecordingTarget(profile, transport=httpx.MockTransport(FakeSite()))
    session = Session.open(target, 11, "n1")
    [observation, *_] = run_case(session, build_case("bio", "create", BENIGN, 11), POLICY,
                                 11).observations
    assert observation.verdict is Verdict.PASS
    assert target.reads[:3] == [("/api/users/{author_id}", "viewer", False),
                                ("/api/users/{author_id}", "anonymous", True),
                                ("/api/users/{author_id}?again=1", "viewer", True)]
    assert target.pictured == ["viewer"]  # its first read showed the case: kept as well
    sightings = observation.details["sightings"]
    assert sightings[0]["artifacts"] == ["artifacts/viewer.png"]
