"""Appeals (Comment Provisions Art. 13): authors of removed items find them and appeal."""

from __future__ import annotations

import re

import pytest

CANARY = "审核金丝雀乙"


def _plant_and_remove(site, author, kind: str = "comment") -> tuple[int, int]:
    """A post, and a removed item of `kind` by `author` under it; returns (post id, item id)."""
    post_id = site.client.post(
        "/api/admin/seed", json={"kind": "post", "author_id": author.id, "text": "帖子"},
        headers=site.admin,
    ).json()["id"]
    item_id = post_id
    if kind == "comment":
        item_id = site.client.post(
            "/api/admin/seed",
            json={"kind": "comment", "author_id": author.id, "text": CANARY, "post_id": post_id},
            headers=site.admin,
        ).json()["id"]
    removed = site.client.post(
        "/api/admin/remove", json={"target_type": kind, "target_id": item_id}, headers=site.admin
    )
    assert removed.status_code == 200, removed.text
    return post_id, item_id


def _appeal(site, account, target_type: str, target_id: int, reason: str = "误删"):
    return site.client.post(
        "/api/appeals",
        json={"target_type": target_type, "target_id": target_id, "reason": reason},
        headers=account.headers,
    )


def test_author_lists_disposals_and_appeals_over_the_api(site) -> None:
    author, other = site.register(), site.register()
    _post_id, comment_id = _plant_and_remove(site, author)
    listed = site.client.get("/api/me/disposals", headers=author.headers)
    assert listed.status_code == 200
    [item] = listed.json()["disposals"]
    assert item == {
        "target_type": "comment",
        "target_id": comment_id,
        "surface": "comment",
        "text": CANARY,
        "removed_at": item["removed_at"],
        "appeal": {"url": f"/appeal?target_type=comment&target_id={comment_id}",
                   "appeal_id": None},
    }
    assert site.client.get("/api/me/disposals", headers=other.headers).json() == {"disposals": []}
    assert site.client.get("/api/me/disposals").status_code == 401

    filed = _appeal(site, author, "comment", comment_id)
    assert filed.status_code == 201, filed.text
    appeal = filed.json()
    assert appeal["appeal_id"].startswith("APL-")
    assert (appeal["status"], appeal["target_type"], appeal["target_id"]) == (
        "received", "comment", comment_id
    )
    assert appeal["created_at"].endswith("Z")
    looked_up = site.client.get(f"/api/appeals/{appeal['appeal_id']}", headers=author.headers)
    assert looked_up.json() == appeal
    assert site.client.get(
        f"/api/appeals/{appeal['appeal_id']}", headers=other.headers
    ).status_code == 403
    [item] = site.client.get("/api/me/disposals", headers=author.headers).json()["disposals"]
    assert item["appeal"]["appeal_id"] == appeal["appeal_id"]

    queue = site.client.get("/api/admin/appeals", headers=site.admin).json()["appeals"]
    assert [(a["appeal_id"], a["author_id"]) for a in queue] == [(appeal["appeal_id"], author.id)]
    assert site.client.get("/api/admin/appeals").status_code == 401
    [record] = [r for r in site.audit() if r["operation"] == "appeal.create"]
    assert (record["account"], record["object_id"]) == (author.account_name, appeal["appeal_id"])


def test_only_the_author_of_a_removed_item_may_appeal(site) -> None:
    author, other = site.register(), site.register()
    post_id, comment_id = _plant_and_remove(site, author)
    assert _appeal(site, other, "comment", comment_id).status_code == 403
    assert _appeal(site, author, "post", post_id).json()["error"] == "not_removed"
    assert _appeal(site, author, "comment", 999).status_code == 404
    assert _appeal(site, author, "user", author.id).json()["field"] == "target_type"
    assert _appeal(site, author, "comment", comment_id, reason="").status_code == 400
    assert site.client.post(
        "/api/appeals", json={"target_type": "comment", "target_id": comment_id, "reason": "x"}
    ).status_code == 401
    _plant_and_remove(site, author, kind="post")
    kinds = [d["target_type"] for d in site.client.get(
        "/api/me/disposals", headers=author.headers).json()["disposals"]]
    assert sorted(kinds) == ["comment", "post"]


def test_author_sees_a_placeholder_with_an_appeal_link_and_appeals_through_pages(site) -> None:
    author, viewer = site.register(), site.register()
    post_id, comment_id = _plant_and_remove(site, author)
    site.browser_login(viewer)
    assert "appeal-link" not in site.client.get(f"/posts/{post_id}").text

    site.browser_login(author)
    page = site.client.get(f"/posts/{post_id}").text
    assert "此评论已被删除 This comment was removed" in page
    assert CANARY not in page
    link = f'<a class="appeal-link" href="/appeal?target_type=comment&amp;target_id={comment_id}"'
    placeholder = re.search(rf'<li[^>]* id="comment-{comment_id}".*?</li>', page, re.S)
    assert placeholder
    assert link in placeholder.group(0)
    assert 'href="/me/disposals"' in page
    assert link in site.client.get("/me/disposals").text

    form = site.client.get(f"/appeal?target_type=comment&target_id={comment_id}")
    assert 'id="appeal-reason"' in form.text
    assert "提交申诉 Submit appeal" in form.text
    receipt = site.client.post(
        "/appeal",
        data={"target_type": "comment", "target_id": str(comment_id), "reason": "没有违规",
              "csrf_token": site.csrf("/appeal")},
    )
    assert receipt.status_code == 201
    appeal_id = re.search(r'class="appeal-id" data-appeal-id="(APL-[^"]+)"', receipt.text)
    assert appeal_id
    assert appeal_id.group(1) in site.client.get(f"/posts/{post_id}").text
    status = site.client.get(f"/appeals/{appeal_id.group(1)}")
    assert f'data-appeal-id="{appeal_id.group(1)}"' in status.text
    assert 'data-status="received"' in status.text
    site.browser_login(viewer)
    assert site.client.get(f"/appeals/{appeal_id.group(1)}").status_code == 403

    forged = site.client.post(
        "/appeal", data={"target_type": "comment", "target_id": str(comment_id), "reason": "x"}
    )
    assert forged.status_code == 403


@pytest.mark.parametrize("path", ["/me/disposals", "/appeal"])
def test_pages_need_a_login(site, path: str) -> None:
    page = site.client.get(path, follow_redirects=False)
    assert page.status_code in (200, 303)
    if page.status_code == 200:
        assert 'href="/login"' in page.text
