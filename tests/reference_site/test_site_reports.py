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
