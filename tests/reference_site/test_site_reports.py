"""The complaint system: contacts, tickets, moderator handling and feedback to the reporter."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from reference_site import create_app
from reference_site.service import ReportTimes

FAST_DESK = ReportTimes(ack_seconds=0.2, handle_seconds=0.6, limit_seconds=5)


def until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll `check()` until it returns something truthy or the deadline passes; return that."""
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def _report(site, reporter, target_type: str, target_id: int, reason: str = "违规内容"):
    return site.client.post(
        "/api/reports",
        json={"target_type": target_type, "target_id": target_id, "reason": reason},
        headers=reporter.headers,
    )


def test_complaint_contacts_are_published(site) -> None:
    contacts = site.client.get("/api/complaint-contacts").json()
    assert set(contacts) >= {
        "phone", "email", "web_form_url", "page_url", "time_limit_days", "time_limit_seconds"
    }
    assert contacts["web_form_url"] == "http://testserver/report"
    assert contacts["time_limit_seconds"] == 30
    assert contacts["time_limit_days"] == 30 / 86_400
    assert site.client.get(contacts["web_form_url"]).status_code == 200


def test_report_lifecycle_with_removal(site) -> None:
    author, reporter, forwarder = site.register(), site.register(), site.register()
    post_id = site.client.post(
        "/api/posts", json={"text": "bad stuff"}, headers=author.headers
    ).json()["id"]
    forward_id = site.client.post(
        f"/api/posts/{post_id}/forwards", json={"text": "see"}, headers=forwarder.headers
    ).json()["id"]

    filed = _report(site, reporter, "post", post_id)
    assert filed.status_code == 201
    ticket = filed.json()["ticket_id"]
    assert filed.json()["status"] == "received"

    status = site.client.get(f"/api/reports/{ticket}", headers=reporter.headers).json()
    assert set(status) >= {"ticket_id", "status", "result", "created_at", "updated_at"}
    assert (status["status"], status["result"]) == ("received", None)
    assert site.client.get(f"/api/reports/{ticket}", headers=author.headers).status_code == 403
    assert site.client.get(f"/api/reports/{ticket}").status_code == 401

    queue = site.client.get("/api/admin/reports", headers=site.admin).json()["reports"]
    assert [r["ticket_id"] for r in queue] == [ticket]
    assert queue[0]["target"]["text"] == "bad stuff"
    assert site.client.get("/api/admin/reports").status_code == 401

    review = site.client.post(f"/api/admin/reports/{ticket}/review", headers=site.admin)
    assert review.json()["status"] == "in_review"
    decided = site.client.post(
        f"/api/admin/reports/{ticket}/decision",
        json={"action": "remove", "note": "违反社区规定"},
        headers=site.admin,
    )
    assert decided.status_code == 200
    assert decided.json()["status"] == "resolved"

    feedback = site.client.get(f"/api/reports/{ticket}", headers=reporter.headers).json()
    assert feedback["status"] == "resolved"
    assert "违反社区规定" in feedback["result"]
    assert feedback["updated_at"] >= feedback["created_at"]

    # Taken down everywhere, and the forward no longer shows the removed text.
    assert site.client.get(f"/api/posts/{post_id}").status_code == 404
    assert site.client.get("/api/search", params={"q": "bad stuff"}).json()["posts"] == []
    forward = site.client.get(f"/api/posts/{forward_id}").json()
    assert forward["forward_of"] == {
        "id": post_id,
        "author_id": None,
        "text": None,
        "removed": True,
    }

    again = site.client.post(
        f"/api/admin/reports/{ticket}/decision", json={"action": "dismiss"}, headers=site.admin
    )
    assert again.status_code == 409

    decisions = [r for r in site.audit() if r["operation"] == "report.decide"]
    assert [r["decision"] for r in decisions] == ["removed", "rejected"]
    record = decisions[0]
    assert (record["account"], record["decision"], record["surface"], record["object_id"]) == (
        "moderator",
        "removed",
        "post",
        str(post_id),
    )


def test_dismissal_is_fed_back(site) -> None:
    author, reporter = site.register(), site.register()
    post_id = site.client.post("/api/posts", json={"text": "fine"}, headers=author.headers).json()[
        "id"
    ]
    ticket = _report(site, reporter, "post", post_id).json()["ticket_id"]
    site.client.post(
        f"/api/admin/reports/{ticket}/decision", json={"action": "dismiss"}, headers=site.admin
    )
    status = site.client.get(f"/api/reports/{ticket}", headers=reporter.headers).json()
    assert status["status"] == "rejected"
    assert status["result"]
    assert site.client.get(f"/api/posts/{post_id}").status_code == 200


@pytest.mark.parametrize("target_type", ["comment", "user", "group", "group_message"])
def test_every_target_type_can_be_reported_and_removed(site, target_type: str) -> None:
    owner, reporter = site.register(), site.register()
    post_id = site.client.post("/api/posts", json={"text": "p"}, headers=owner.headers).json()["id"]
    group_id = site.client.post("/api/groups", json={"name": "g"}, headers=owner.headers).json()[
        "id"
    ]
    site.client.post(f"/api/groups/{group_id}/join", headers=reporter.headers)
    targets = {
        "comment": (
            site.client.post(
                f"/api/posts/{post_id}/comments", json={"text": "c"}, headers=owner.headers
            ).json()["id"],
            f"/api/posts/{post_id}/comments",
        ),
        "user": (owner.id, f"/api/users/{owner.id}"),
        "group": (group_id, f"/api/groups/{group_id}"),
        "group_message": (
            site.client.post(
                f"/api/groups/{group_id}/messages", json={"text": "m"}, headers=owner.headers
            ).json()["id"],
            f"/api/groups/{group_id}/messages",
        ),
    }
    target_id, where = targets[target_type]
    ticket = _report(site, reporter, target_type, target_id).json()["ticket_id"]
    site.client.post(
        f"/api/admin/reports/{ticket}/decision", json={"action": "remove"}, headers=site.admin
    )
    shown = site.client.get(where, headers=reporter.headers)
    if target_type in ("user", "group"):
        assert shown.status_code == 404
    else:
        assert shown.json()[f"{target_type.rsplit('_', maxsplit=1)[-1]}s"] == []


def test_removed_user_cannot_log_in_and_name_is_freed(site) -> None:
    bad, reporter = site.register("badname"), site.register()
    ticket = _report(site, reporter, "user", bad.id).json()["ticket_id"]
    site.client.post(
        f"/api/admin/reports/{ticket}/decision", json={"action": "remove"}, headers=site.admin
    )
    assert site.client.get("/api/me", headers=bad.headers).status_code == 401
    assert (
        site.client.post(
            "/api/login", json={"account_name": f"[removed-{bad.id}]", "password": "secret-pw"}
        ).status_code
        == 403
    )
    assert site.client.get("/api/search", params={"q": "badname"}).json()["users"] == []


def test_report_validation(site) -> None:
    reporter = site.register()
    assert _report(site, reporter, "planet", 1).status_code == 400
    assert _report(site, reporter, "post", 999).status_code == 404
    assert _report(site, reporter, "post", 1, reason="").status_code == 400
    anonymous = site.client.post(
        "/api/reports", json={"target_type": "post", "target_id": 1, "reason": "x"}
    )
    assert anonymous.status_code == 401
    mine = site.client.get("/api/me/reports", headers=reporter.headers).json()
    assert mine == {"reports": []}


CANARY = "审核金丝雀乙"


def _seed(site, **payload):
    return site.client.post("/api/admin/seed", json=payload, headers=site.admin)


def test_seeding_plants_prohibited_content_without_the_check(site) -> None:
    author, member = site.register(), site.register()
    post = _seed(site, kind="post", author_id=author.id, text=CANARY)
    assert post.status_code == 201, post.text
    assert post.json()["kind"] == "post"
    post_id = post.json()["id"]
    shown = site.client.get(f"/api/posts/{post_id}").json()
    assert (shown["text"], shown["author_id"]) == (CANARY, author.id)

    comment = _seed(site, kind="comment", author_id=author.id, text=CANARY, post_id=post_id)
    forward = _seed(site, kind="forward", author_id=author.id, text=CANARY, post_id=post_id)
    group = _seed(site, kind="group", author_id=author.id, name=CANARY)
    group_id = group.json()["id"]
    message = _seed(
        site, kind="group_message", author_id=member.id, text=CANARY, group_id=group_id
    )
    assert [r.status_code for r in (comment, forward, group, message)] == [201] * 4
    assert site.client.get(f"/api/posts/{post_id}/comments").json()["comments"][0]["text"] == CANARY
    assert site.client.get(f"/api/posts/{forward.json()['id']}").json()["forward_of"]["id"] == (
        post_id
    )
    assert site.client.get(f"/api/groups/{group_id}").json()["name"] == CANARY
    messages = site.client.get(f"/api/groups/{group_id}/messages", headers=member.headers)
    assert messages.json()["messages"][0]["text"] == CANARY

    seeded = [r for r in site.audit() if r["operation"] == "admin.seed"]
    assert [(r["decision"], r["account"]) for r in seeded] == [("seeded", "moderator")] * 5
    assert [r["surface"] for r in seeded] == [
        "post", "comment", "forward", "group_name", "group_message"
    ]
    assert seeded[0]["object_id"] == str(post_id)


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"kind": "poem", "author_id": 1, "text": "x"}, 400, "kind"),
        ({"kind": "post", "text": "x"}, 400, "author_id"),
        ({"kind": "post", "author_id": 1}, 400, "text"),
        ({"kind": "comment", "author_id": 1, "text": "x"}, 400, "post_id"),
        ({"kind": "group", "author_id": 1, "text": "x"}, 400, "name"),
        ({"kind": "group_message", "author_id": 1, "text": "x"}, 400, "group_id"),
        ({"kind": "post", "author_id": 999, "text": "x"}, 404, None),
        ({"kind": "comment", "author_id": 1, "text": "x", "post_id": 999}, 404, None),
        ({"kind": "group_message", "author_id": 1, "text": "x", "group_id": 999}, 404, None),
    ],
)
def test_seeding_validation(site, payload: dict, status: int, field: str | None) -> None:
    site.register()
    response = _seed(site, **payload)
    assert response.status_code == status, response.text
    assert response.json().get("field") == field


def test_seeding_and_removal_need_the_moderator_token(site) -> None:
    author = site.register()
    for path, payload in [
        ("/api/admin/seed", {"kind": "post", "author_id": author.id, "text": "x"}),
        ("/api/admin/remove", {"target_type": "user", "target_id": author.id}),
    ]:
        response = site.client.post(path, json=payload, headers={"X-Admin-Token": "wrong"})
        assert response.status_code == 401
    assert site.client.get("/api/feed").json()["posts"] == []
    assert site.client.get(f"/api/users/{author.id}").status_code == 200


def test_removal_takes_the_item_down_and_can_be_repeated(site) -> None:
    author = site.register()
    post_id = _seed(site, kind="post", author_id=author.id, text=CANARY).json()["id"]
    payload = {"target_type": "post", "target_id": post_id, "reason": "planted canary"}
    first = site.client.post("/api/admin/remove", json=payload, headers=site.admin)
    assert first.status_code == 200
    assert first.json() == {
        "removed": True, "target_type": "post", "target_id": post_id, "already_removed": False
    }
    assert site.client.get(f"/api/posts/{post_id}").status_code == 404
    again = site.client.post("/api/admin/remove", json=payload, headers=site.admin)
    assert (again.status_code, again.json()["already_removed"]) == (200, True)

    missing = {"target_type": "comment", "target_id": 999}
    assert site.client.post("/api/admin/remove", json=missing, headers=site.admin).status_code == (
        404
    )
    bad = {"target_type": "planet", "target_id": 1}
    assert site.client.post("/api/admin/remove", json=bad, headers=site.admin).json()["field"] == (
        "target_type"
    )

    removals = [r for r in site.audit() if r["operation"] == "admin.remove"]
    assert [(r["decision"], r["surface"], r["object_id"]) for r in removals[:2]] == [
        ("removed", "post", str(post_id)),
        ("allowed", "post", str(post_id)),
    ]
    assert removals[0]["reason"] == "planted canary"


def _status(site, reporter, ticket: str) -> dict:
    return site.client.get(f"/api/reports/{ticket}", headers=reporter.headers).json()


def test_desk_acknowledges_then_removes_prohibited_and_dismisses_benign(make_site) -> None:
    site = make_site(times=FAST_DESK)
    author, reporter = site.register(), site.register()
    bad = _seed(site, kind="post", author_id=author.id, text=CANARY).json()["id"]
    fine = site.client.post("/api/posts", json={"text": "晴天"}, headers=author.headers).json()
    bad_ticket = _report(site, reporter, "post", bad).json()["ticket_id"]
    fine_ticket = _report(site, reporter, "post", fine["id"]).json()["ticket_id"]
    filed = _status(site, reporter, bad_ticket)
    assert (filed["acknowledged_at"], filed["handled_at"]) == (None, None)

    acknowledged = until(
        lambda: (s := _status(site, reporter, bad_ticket))["acknowledged_at"] and s
    )
    assert acknowledged["status"] in ("in_review", "resolved")
    removed = until(lambda: (s := _status(site, reporter, bad_ticket))["handled_at"] and s)
    assert removed["status"] == "resolved"
    assert removed["result"].startswith("举报属实")
    assert removed["created_at"] < removed["acknowledged_at"] <= removed["handled_at"]
    assert site.client.get(f"/api/posts/{bad}").status_code == 404

    dismissed = until(lambda: (s := _status(site, reporter, fine_ticket))["handled_at"] and s)
    assert (dismissed["status"], dismissed["result"]) == ("rejected", "经审核未发现违规。No rule "
                                                          "violation was found.")
    assert site.client.get(f"/api/posts/{fine['id']}").status_code == 200
    mine = site.client.get("/api/me/reports", headers=reporter.headers).json()["reports"]
    assert {r["ticket_id"]: r["status"] for r in mine} == {
        bad_ticket: "resolved", fine_ticket: "rejected"
    }

    desk = [r for r in site.audit() if r["user_agent"] == "reference-site report handling"]
    assert {(r["operation"], r["decision"]) for r in desk} == {
        ("report.review", "allowed"), ("report.decide", "removed"), ("report.decide", "allowed")
    }
    removal = next(r for r in desk if r["decision"] == "removed")
    assert (removal["account"], removal["surface"], removal["object_id"]) == (
        "moderator", "post", str(bad)
    )
    assert "lexicon term" in removal["reason"]


def test_desk_judges_every_target_type_by_its_fields(make_site) -> None:
    site = make_site(times=FAST_DESK)
    owner, reporter = site.register(), site.register(nickname=f"x{CANARY[:1]}")
    post_id = site.client.post("/api/posts", json={"text": "p"}, headers=owner.headers).json()["id"]
    group_id = _seed(site, kind="group", author_id=owner.id, name="g", text=CANARY).json()["id"]
    targets = {
        "comment": _seed(site, kind="comment", author_id=owner.id, text=CANARY, post_id=post_id),
        "group_message": _seed(
            site, kind="group_message", author_id=owner.id, text=CANARY, group_id=group_id
        ),
    }
    tickets = {
        kind: _report(site, reporter, kind, response.json()["id"]).json()["ticket_id"]
        for kind, response in targets.items()
    }
    tickets["group"] = _report(site, reporter, "group", group_id).json()["ticket_id"]
    tickets["user"] = _report(site, reporter, "user", owner.id).json()["ticket_id"]
    decided = until(
        lambda: all(_status(site, reporter, t)["handled_at"] for t in tickets.values())
    )
    assert decided
    statuses = {kind: _status(site, reporter, t)["status"] for kind, t in tickets.items()}
    assert statuses == {
        "comment": "resolved", "group_message": "resolved", "group": "resolved", "user": "rejected"
    }


def test_desk_leaves_tickets_a_moderator_decided(make_site) -> None:
    site = make_site(times=FAST_DESK)
    author, reporter = site.register(), site.register()
    bad = _seed(site, kind="post", author_id=author.id, text=CANARY).json()["id"]
    ticket = _report(site, reporter, "post", bad).json()["ticket_id"]
    site.client.post(
        f"/api/admin/reports/{ticket}/decision", json={"action": "dismiss", "note": "人工"},
        headers=site.admin,
    )
    later = _report(site, reporter, "user", author.id).json()["ticket_id"]
    assert until(lambda: _status(site, reporter, later)["handled_at"])
    status = _status(site, reporter, ticket)
    assert (status["status"], status["result"].endswith("人工")) == ("rejected", True)
    assert site.client.get(f"/api/posts/{bad}").status_code == 200
    decisions = [r for r in site.audit() if r["operation"] == "report.decide"]
    assert len(decisions) == 2
    assert all(r["decision"] != "rejected" for r in decisions)


def test_desk_thread_runs_between_startup_and_shutdown(tmp_path) -> None:
    from starlette.testclient import TestClient

    def desks() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "report-handling"]

    before = desks()
    app = create_app(db_path=tmp_path / "site.db", times=FAST_DESK)
    assert desks() == before
    with TestClient(app):
        assert len(desks()) == len(before) + 1
    assert desks() == before


def test_pages_show_the_limit_in_words_and_the_desk_times(make_site) -> None:
    site = make_site(times=FAST_DESK)
    author, reporter = site.register(), site.register()
    assert "5 秒" in site.client.get("/complaints").text
    bad = _seed(site, kind="post", author_id=author.id, text=CANARY).json()["id"]
    site.browser_login(reporter)
    receipt = site.client.post(
        "/report",
        data={"target_type": "post", "target_id": str(bad), "reason": "违规",
              "csrf_token": site.csrf("/report")},
    )
    assert receipt.status_code == 201
    assert "5 seconds" in receipt.text
    ticket = re.search(r'data-ticket-id="([^"]+)"', receipt.text).group(1)
    handled = until(lambda: (page := site.client.get(f"/reports/{ticket}").text).count(
        'data-time="20') == 2 and page)
    assert 'data-status="resolved"' in handled
