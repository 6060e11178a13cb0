"""The Article 5(6) faults: each breaks one part of the complaint system and nothing else."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from reference_site.audit import parse_iso
from reference_site.service import ReportTimes

CANARY = "审核金丝雀乙"
FAST_DESK = ReportTimes(ack_seconds=0.1, handle_seconds=0.3, limit_seconds=2)


def until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll `check()` until it returns something truthy or the deadline passes; return that."""
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def _world(site) -> dict[str, Any]:
    """An author with a post, a comment, a group and a message, and a logged-in reporter."""
    author, reporter = site.register(), site.register()

    def seed(**payload: Any) -> int:
        response = site.client.post(
            "/api/admin/seed", json={"author_id": author.id, **payload}, headers=site.admin
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    post = seed(kind="post", text=CANARY)
    group = seed(kind="group", name="群")
    site.client.post(f"/api/groups/{group}/join", headers=reporter.headers)
    return {
        "author": author,
        "reporter": reporter,
        "post": post,
        "comment": seed(kind="comment", text="评论", post_id=post),
        "group": group,
        "message": seed(kind="group_message", text="消息", group_id=group),
    }


def _report(site, account, target_type: str, target_id: int):
    return site.client.post(
        "/api/reports",
        json={"target_type": target_type, "target_id": target_id, "reason": "违规"},
        headers=account.headers,
    )


def _lookup(site, account, ticket: str):
    return site.client.get(f"/api/reports/{ticket}", headers=account.headers)


def _queue(site) -> list[str]:
    reports = site.client.get("/api/admin/reports", headers=site.admin).json()["reports"]
    return [r["ticket_id"] for r in reports]


def _report_form(site, target_type: str, target_id: int):
    return site.client.post(
        "/report",
        data={"target_type": target_type, "target_id": str(target_id), "category": "other",
              "reason": "违规", "csrf_token": site.csrf("/report")},
    )


def test_no_report_control_comment_hides_only_the_comment_links(make_site) -> None:
    for fault, expected in [("no-report-control-comment", False), (None, True)]:
        site = make_site(*filter(None, [fault]))
        world = _world(site)
        site.browser_login(world["reporter"])
        page = site.client.get(f"/posts/{world['post']}").text
        assert ('data-report-type="comment"' in page) is expected
        assert f'data-report-type="post" data-report-id="{world["post"]}"' in page
        group = site.client.get(f"/groups/{world['group']}").text
        assert 'data-report-type="group"' in group
        assert 'data-report-type="group_message"' in group
        profile = site.client.get(f"/users/{world['author'].id}").text
        assert 'data-report-type="user"' in profile
        assert _report(site, world["reporter"], "comment", world["comment"]).status_code == 201


def test_receipts_not_stored_answers_with_a_ticket_but_keeps_nothing(make_site) -> None:
    site = make_site("receipts-not-stored")
    world = _world(site)
    filed = _report(site, world["reporter"], "post", world["post"])
    assert filed.status_code == 201
    assert filed.json()["ticket_id"].startswith("RPT-")
    assert _lookup(site, world["reporter"], filed.json()["ticket_id"]).status_code == 404
    site.browser_login(world["reporter"])
    receipt = _report_form(site, "comment", world["comment"])
    assert (receipt.status_code, 'class="ticket-id"' in receipt.text) == (201, True)
    assert _queue(site) == []
    assert site.client.get("/api/me/reports", headers=world["reporter"].headers).json() == {
        "reports": []
    }


def test_duplicate_reports_dropped_keeps_only_the_first_reporter(make_site) -> None:
    for fault, kept in [("duplicate-reports-dropped", 2), (None, 3)]:
        site = make_site(*filter(None, [fault]))
        world = _world(site)
        second = site.register()
        first = _report(site, world["reporter"], "post", world["post"]).json()["ticket_id"]
        again = _report(site, world["reporter"], "post", world["post"]).json()["ticket_id"]
        duplicate = _report(site, second, "post", world["post"])
        assert duplicate.status_code == 201
        stored = _lookup(site, second, duplicate.json()["ticket_id"]).status_code
        assert stored == (404 if fault else 200)
        assert len(_queue(site)) == kept
        assert {first, again} <= set(_queue(site))


def test_slow_handling_acknowledges_on_time_but_decides_ten_limits_late(make_site) -> None:
    times = ReportTimes(ack_seconds=0.1, handle_seconds=0.2, limit_seconds=0.3)
    slow, healthy = make_site("slow-handling", times=times), make_site(times=times)
    tickets = {}
    for site in (slow, healthy):
        world = _world(site)
        tickets[site] = (world["reporter"], _report(site, world["reporter"], "post",
                                                    world["post"]).json()["ticket_id"])

    def view(site) -> dict:
        reporter, ticket = tickets[site]
        return _lookup(site, reporter, ticket).json()

    assert until(lambda: view(healthy)["handled_at"])
    assert until(lambda: view(slow)["acknowledged_at"])
    late = view(slow)
    assert late["handled_at"] is None
    handled = until(lambda: (v := view(slow))["handled_at"] and v)
    assert handled["status"] == "resolved"
    took = _seconds(handled["handled_at"]) - _seconds(handled["created_at"])
    assert took >= 10 * times.limit_seconds


def _seconds(stamp: str) -> float:
    return parse_iso(stamp).timestamp()


def test_no_feedback_removes_the_content_but_tells_the_reporter_nothing(make_site) -> None:
    site = make_site("no-feedback", times=FAST_DESK)
    world = _world(site)
    reporter = world["reporter"]
    ticket = _report(site, reporter, "post", world["post"]).json()["ticket_id"]
    assert until(lambda: site.client.get(f"/api/posts/{world['post']}").status_code == 404)
    queued = site.client.get("/api/admin/reports", headers=site.admin).json()["reports"]
    assert [(r["ticket_id"], r["status"]) for r in queued] == [(ticket, "resolved")]
    view = _lookup(site, reporter, ticket).json()
    assert (view["status"], view["result"], view["handled_at"]) == ("in_review", None, None)
    assert view["acknowledged_at"] is not None
    [mine] = site.client.get("/api/me/reports", headers=reporter.headers).json()["reports"]
    assert mine["status"] == "in_review"
    site.browser_login(reporter)
    assert 'data-status="in_review"' in site.client.get(f"/reports/{ticket}").text


def test_complaints_unlinked_leaves_the_page_but_no_link_to_it(make_site) -> None:
    site = make_site("complaints-unlinked")
    world = _world(site)
    site.browser_login(world["reporter"])
    paths = ["/", "/search", "/groups", "/report", "/complaints", "/me/reports",
             f"/posts/{world['post']}", f"/users/{world['author'].id}",
             f"/groups/{world['group']}"]
    for path in paths:
        page = site.client.get(path)
        assert page.status_code == 200, path
        assert 'href="/complaints"' not in page.text, path
    assert "400-000-0000" in site.client.get("/complaints").text


def test_complaint_form_broken_fails_the_form_but_not_the_api(make_site) -> None:
    site = make_site("complaint-form-broken")
    world = _world(site)
    site.browser_login(world["reporter"])
    assert site.client.get("/report").status_code == 200
    broken = _report_form(site, "post", world["post"])
    assert broken.status_code == 500
    assert 'class="ticket-id"' not in broken.text
    assert _queue(site) == []
    assert _report(site, world["reporter"], "post", world["post"]).status_code == 201


def test_no_appeal_removes_every_appeal_path(make_site) -> None:
    site = make_site("no-appeal")
    world = _world(site)
    author = world["author"]
    site.client.post(
        "/api/admin/remove", json={"target_type": "comment", "target_id": world["comment"]},
        headers=site.admin,
    )
    appeal = {"target_type": "comment", "target_id": world["comment"], "reason": "误删"}
    assert site.client.post("/api/appeals", json=appeal, headers=author.headers).status_code == 404
    assert site.client.get("/api/appeals/APL-1", headers=author.headers).status_code == 404
    assert site.client.get("/api/admin/appeals", headers=site.admin).status_code == 404
    [item] = site.client.get("/api/me/disposals", headers=author.headers).json()["disposals"]
    assert item["appeal"] is None
    site.browser_login(author)
    post_page = site.client.get(f"/posts/{world['post']}").text
    assert "此评论已被删除" in post_page
    assert "appeal-link" not in post_page
    assert "appeal-link" not in site.client.get("/me/disposals").text
    assert site.client.get("/appeal").status_code == 404
    assert site.client.get("/appeals/APL-1").status_code == 404
    form = site.client.post("/appeal", data={**appeal, "csrf_token": site.csrf("/report")})
    assert form.status_code == 404
