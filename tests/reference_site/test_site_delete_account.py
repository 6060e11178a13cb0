"""Deleting an account (the harness's cleanup): everything it made goes, forwards of its posts
and replies under them included; what others made elsewhere stays; the deletion is audited and
can be repeated."""

from __future__ import annotations


def _made_by(site, account) -> dict[str, int]:
    """A post, a comment, a group with a logo-less intro, a message, a report and a remark."""
    post = site.client.post("/api/posts", headers=account.headers, json={"text": "你好 世界"})
    group = site.client.post("/api/groups", headers=account.headers,
                             json={"name": "读书会", "intro": "每周一次"})
    assert post.status_code == group.status_code == 201, (post.text, group.text)
    ids = {"post": post.json()["id"], "group": group.json()["id"]}
    ids["message"] = site.client.post(f"/api/groups/{ids['group']}/messages",
                                      headers=account.headers,
                                      json={"text": "大家好"}).json()["id"]
    return ids


def test_an_account_goes_with_everything_it_made(site) -> None:
    author, other = site.register(), site.register()
    mine = _made_by(site, author)
    theirs = _made_by(site, other)
    # others' content hanging off the author's: a forward of its post, a comment under it,
    # the other's comment on its own post by the author, membership in the author's group
    forward = site.client.post(f"/api/posts/{mine['post']}/forwards", headers=other.headers,
                               json={"text": "转发"}).json()["id"]
    site.client.post(f"/api/posts/{mine['post']}/comments", headers=other.headers,
                     json={"text": "评论"})
    site.client.post(f"/api/posts/{theirs['post']}/comments", headers=author.headers,
                     json={"text": "作者的评论"})
    site.client.post(f"/api/groups/{theirs['group']}/join", headers=author.headers)
    report = site.client.post("/api/reports", headers=author.headers, json={
        "target_type": "post", "target_id": theirs["post"], "category": "harmful",
        "reason": "test"})
    assert report.status_code == 201, report.text

    gone = site.client.delete(f"/api/admin/users/{author.id}", headers=site.admin)
    assert gone.status_code == 200, gone.text
    assert gone.json() == {"deleted": True, "user_id": author.id}

    get = site.client.get
    assert get(f"/api/users/{author.id}").status_code == 404
    assert get(f"/api/posts/{mine['post']}").status_code == 404
    assert get(f"/api/posts/{forward}").status_code == 404  # a forward of a deleted post
    assert get(f"/api/groups/{mine['group']}").status_code == 404
    assert get("/api/me", headers=author.headers).status_code == 401  # its sessions end
    assert get(f"/api/reports/{report.json()['ticket_id']}",
               headers=other.headers).status_code == 404
    # the other's own content stays, without the author's comment under it
    assert get(f"/api/posts/{theirs['post']}").status_code == 200
    comments = get(f"/api/posts/{theirs['post']}/comments").json()
    assert "作者的评论" not in str(comments)
    assert get(f"/api/groups/{theirs['group']}").status_code == 200
    assert get(f"/api/users/{other.id}").status_code == 200

    again = site.client.delete(f"/api/admin/users/{author.id}", headers=site.admin)
    assert again.json() == {"deleted": False, "user_id": author.id}
    audited = [r for r in site.audit() if r["operation"] == "admin.delete"]
    assert len(audited) == 2  # each attempt is audited, as the moderator
    assert {r["account"] for r in audited} == {"moderator"}
    assert sorted(r["decision"] for r in audited).count("deleted") == 1


def test_only_the_moderator_deletes(site) -> None:
    author = site.register()
    refused = site.client.delete(f"/api/admin/users/{author.id}", headers=author.headers)
    assert refused.status_code in (401, 403)
    assert site.client.get(f"/api/users/{author.id}").status_code == 200
