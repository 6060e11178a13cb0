"""The complaint system: channels, tickets, moderator handling and feedback to the reporter."""

from __future__ import annotations

import pytest


def _report(site, reporter, target_type: str, target_id: int, reason: str = "违规内容"):
    return site.client.post(
        "/api/reports",
        json={"target_type": target_type, "target_id": target_id, "reason": reason},
        headers=reporter.headers,
    )


def test_complaint_channels_are_published(site) -> None:
    channels = site.client.get("/api/complaint-channels").json()
    assert set(channels) >= {"phone", "email", "web_form_url", "time_limit_days"}
    assert channels["web_form_url"] == "http://testserver/report"
    assert channels["time_limit_days"] > 0
    assert site.client.get(channels["web_form_url"]).status_code == 200


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
