"""Cleanup: what a channel created is known from its steps, deleted by the profile's steps,
and each deletion recorded as ok or failed with the reason; a retry takes only what is left."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from harness import cleanup
from harness.cleanup import BATCH_LINES, Created, Ledger, clean, cleanup_kinds, pending, summary
from harness.targets.api import Actor, ApiTarget
from harness.targets.profile import Profile, load_profile
from tests.unit.conftest import ADMIN_TOKEN

CLEANUP = """\
  cleanup:
    account:
      steps: [{method: DELETE, path: "/api/admin/users/{id}", as: admin}]
    post:
      ids: [post_id, source_post_id]
      steps: [{method: DELETE, path: "/api/admin/posts/{id}", as: admin}]
    report:
      ids: [ticket]
      steps: [{method: DELETE, path: "/api/admin/reports/{id}/{account_name}", as: admin}]
"""


@pytest.fixture
def profile(write_profile: Callable[..., Path], minimal_profile: str) -> Profile:
    return load_profile(write_profile(minimal_profile + CLEANUP), base_url="http://127.0.0.1:9")


class Site:
    """A MockTransport site: registers, posts, and deletes (or refuses to) as admin."""

    def __init__(self, refuse: str = "") -> None:
        self.refuse = refuse
        self.deleted: list[str] = []
        self.admin_tokens: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/register":
            return httpx.Response(201, json={"token": "t", "user": {"id": 41}})
        if path == "/api/posts":
            return httpx.Response(201, json={"id": 7})
        if request.method == "DELETE":
            self.admin_tokens.append(request.headers.get("x-admin-token"))
            if self.refuse and self.refuse in path:
                return httpx.Response(500, json={"error": "database is locked"})
            self.deleted.append(path)
            return httpx.Response(200, json={"deleted": True})
        return httpx.Response(404)


@pytest.fixture
def site() -> Site:
    return Site()


@pytest.fixture
def api(profile: Profile, site: Site) -> Iterator[ApiTarget]:
    with ApiTarget(profile, transport=httpx.MockTransport(site)) as target:
        yield target


def test_a_channel_knows_the_accounts_and_items_its_steps_made(api: ApiTarget) -> None:
    author = Actor("author", "d-1")
    api.register(author, {"account_name": "ada_1", "password": "pw"})
    variables: dict[str, object] = {"content": "hello"}
    api.run_steps(api.profile.surface("post")["create"],  # type: ignore[index]
                  variables, {"author": author}, {})
    assert api.take_created() == [
        {"entry_type": "created", "kind": "account", "id": "41", "channel": "api",
         "account_name": "ada_1"},
        {"entry_type": "created", "kind": "post", "id": "7", "channel": "api"},
    ]
    assert api.take_created() == []  # handed over once


def test_a_refused_write_made_nothing(profile: Profile) -> None:
    def refusing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"error": "content_rejected"})

    with ApiTarget(profile, transport=httpx.MockTransport(refusing)) as api:
        api.run_steps(profile.surface("post")["create"],  # type: ignore[index]
                      {"content": "x"}, {"author": Actor("author", "d")}, {})
        api.register(Actor("viewer", "d-2"), {"account_name": "v_1", "password": "pw"})
        assert api.take_created() == []


def test_kinds_without_cleanup_steps_are_not_kept() -> None:
    ledger = Ledger({"post": {"ids": ["post_id"], "steps": [{}]}}, "browser")
    ledger.account({"id": "3", "account_name": "x"})  # no account cleanup declared
    ledger.bound(["post_id", "group_id", "missing"], {"post_id": "9", "group_id": "2"})
    assert ledger.take() == [{"entry_type": "created", "kind": "post", "id": "9",
                              "channel": "browser"}]


def test_items_are_deleted_as_admin_and_each_recorded(profile: Profile, api: ApiTarget,
                                                       site: Site) -> None:
    items = [Created("post", "7", "api"), Created("account", "41", "api", "ada_1")]
    lines = list(clean(items, profile, api))
    assert [(line["kind"], line["outcome"]) for line in lines] == [("post", "ok"),
                                                                   ("account", "ok")]
    assert site.deleted == ["/api/admin/posts/7", "/api/admin/users/41"]
    assert site.admin_tokens == [ADMIN_TOKEN, ADMIN_TOKEN]
    assert lines[0]["steps"][0]["status"] == 200
    assert summary(lines) == (2, 0)


def test_a_kind_is_deleted_side_by_side_and_before_the_next_kind(profile: Profile, api: ApiTarget,
                                                                  site: Site) -> None:
    items = [*(Created("post", str(n), "api") for n in range(150)),
             *(Created("account", str(n), "api", f"ada_{n}") for n in range(20))]
    batches = list(cleanup._cleaned(items, cleanup_kinds(profile.data), profile, api, None))
    lines = [line for batch in batches for line in batch]
    assert all(len(batch) <= BATCH_LINES for batch in batches)
    assert sorted((line["kind"], line["id"]) for line in lines) == sorted(
        (item.kind, item.id) for item in items)
    assert summary(lines) == (170, 0)
    kinds = ["users" if "/users/" in path else "posts" for path in site.deleted]
    assert kinds == ["posts"] * 150 + ["users"] * 20  # what hangs off an account goes first


def test_a_stopped_cleanup_starts_no_deletion_more_and_records_those_under_way(
        profile: Profile, api: ApiTarget, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cleanup.interrupts, "received",
                        lambda: 15 if len(site.deleted) >= 10 else None)
    items = [*(Created("post", str(n), "api") for n in range(200)),
             Created("account", "1", "api", "ada_1")]
    lines = [line for batch in cleanup._cleaned(items, cleanup_kinds(profile.data), profile,
                                                api, None) for line in batch]
    assert 10 <= len(lines) < 200
    assert sorted(line["id"] for line in lines) == sorted(
        path.rsplit("/", 1)[1] for path in site.deleted)  # none deleted without its line
    assert not any("/users/" in path for path in site.deleted)


def test_a_failed_deletion_says_why_and_the_next_is_still_tried(profile: Profile) -> None:
    site = Site(refuse="/posts/")
    with ApiTarget(profile, transport=httpx.MockTransport(site)) as api:
        lines = list(clean([Created("post", "7", "api"), Created("account", "41", "api")],
                           profile, api))
    assert lines[0]["outcome"] == "failed"
    assert "DELETE http://127.0.0.1:9/api/admin/posts/7 -> HTTP 500" in lines[0]["reason"]
    assert lines[1]["outcome"] == "ok"
    assert summary(lines) == (1, 1)


def test_what_a_profile_cannot_delete_is_a_failure_with_its_reason(profile: Profile,
                                                                    api: ApiTarget) -> None:
    no_steps, no_name = list(clean([Created("group", "5", "api"),
                                    Created("report", "R-1", "api")], profile, api))
    assert no_steps["outcome"] == "failed"
    assert "no cleanup steps for a group (api.cleanup or browser.cleanup)" in no_steps["reason"]
    assert no_name["outcome"] == "failed"
    assert "needs {account_name}" in no_name["reason"]


def test_pending_is_what_has_no_ok_line_in_deletion_order() -> None:
    entries = [
        Created("account", "1", "api", "a_1").evidence(),
        Created("post", "7", "api").evidence(),
        Created("post", "7", "api").evidence(),  # bound twice: one item
        Created("report", "R-1", "browser").evidence(),
        Created("post", "8", "api").evidence(),
        {"entry_type": "cleanup", "kind": "post", "id": "8", "channel": "api", "outcome": "ok"},
        {"entry_type": "cleanup", "kind": "post", "id": "7", "channel": "api",
         "outcome": "failed", "reason": "HTTP 500"},
    ]
    assert [(i.kind, i.id) for i in pending(entries)] == [("report", "R-1"), ("post", "7"),
                                                          ("account", "1")]


PAGES_CLEANUP = """\
browser:
  register:
    - {goto: /signup}
  surfaces: {}
  cleanup:
    post:
      ids: [post_id]
      steps: [{goto: "/mod/notes/{id}"}, {click: "button.delete"}]
    group:
      ids: [group_id]
      steps: [{goto: "/mod/groups/{id}", as: admin}]
"""


class Pages:
    """Stands in for a BrowserTarget: records the page steps it is given and who acts."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[dict[str, str]], dict[str, str], str]] = []

    def run_steps(self, steps: list[dict[str, str]], variables: dict[str, str],
                  actors: dict[str, Actor], accounts: dict[str, object], *,
                  action: str) -> list[object]:
        self.calls.append((steps, variables, action))
        if any(step.get("as") not in actors for step in steps):
            raise KeyError(next(step["as"] for step in steps if step["as"] not in actors))
        return [Done(step) for step in steps]


@dataclass(frozen=True)
class Done:
    """A page step that worked."""

    spec: dict[str, str]
    ok: bool = True

    def evidence(self) -> dict[str, str]:
        return dict(self.spec)


def test_the_api_deletes_what_both_describe_and_the_pages_the_rest(
        write_profile: Callable[..., Path], minimal_profile: str) -> None:
    from harness.cleanup import cleanup_kinds

    profile = load_profile(write_profile(minimal_profile + CLEANUP + PAGES_CLEANUP),
                           base_url="http://127.0.0.1:9")
    kinds = cleanup_kinds(profile.data)
    assert kinds["post"]["channel"] == "api"  # the API's steps win for a kind both describe
    assert kinds["group"]["channel"] == "browser"
    ledger = Ledger(kinds, "browser")
    ledger.bound(["group_id"], {"group_id": "3"})
    assert ledger.take()[0]["kind"] == "group"


def test_page_steps_act_as_the_signed_in_moderator(write_profile: Callable[..., Path],
                                                   minimal_profile: str) -> None:
    profile = load_profile(write_profile(minimal_profile + PAGES_CLEANUP),
                           base_url="http://127.0.0.1:9")
    pages = Pages()
    moderator = Actor("moderator", "d-m")
    item = Created("post", "12", "browser")
    done, = clean([item], profile, None, (pages, {"moderator": moderator}))
    assert done["outcome"] == "ok"
    steps, variables, action = pages.calls[0]
    assert [step["as"] for step in steps] == ["moderator", "moderator"]
    assert variables == {"id": "12"}
    assert action == "cleanup post"
    admin_only, = clean([Created("group", "3", "browser")], profile, None,
                        (pages, {"moderator": moderator}))
    assert admin_only["outcome"] == "failed"
    assert "act as 'admin'" in admin_only["reason"]
    no_browser, = clean([item], profile, None, None)
    assert no_browser["outcome"] == "failed"
    assert "need the browser" in no_browser["reason"]
