"""The JSON API as the harness profile (fixtures/targets/reference.yaml) uses it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

CANARY = "审核金丝雀甲"
PROFILE = Path(__file__).parents[2] / "fixtures" / "targets" / "reference.yaml"


def test_register_login_and_me(site) -> None:
    created = site.client.post(
        "/api/register",
        json={"account_name": "Alice_1", "password": "pw-123456", "nickname": "爱丽丝"},
    )
    assert created.status_code == 201
    body = created.json()
    assert set(body) >= {"user_id", "account_name", "token"}
    assert body["account_name"] == "Alice_1"

    login = site.client.post(
        "/api/login", json={"account_name": "alice_1", "password": "pw-123456"}
    )
    assert login.status_code == 200
    assert login.json()["user_id"] == body["user_id"]
    assert (
        site.client.post(
            "/api/login", json={"account_name": "alice_1", "password": "x"}
        ).status_code
        == 401
    )

    me = site.client.get("/api/me", headers={"Authorization": f"Bearer {login.json()['token']}"})
    assert me.json()["nickname"] == "爱丽丝"
    assert site.client.get("/api/me").status_code == 401


def test_account_names_are_unique_ignoring_case_and_validated(site) -> None:
    site.register("Bob")
    clash = site.client.post("/api/register", json={"account_name": "bOB", "password": "secret1"})
    assert clash.status_code == 409
    assert clash.json()["error"] == "account_name_taken"
    for bad in ("", "has space", "x" * 41, "semi;colon"):
        response = site.client.post(
            "/api/register", json={"account_name": bad, "password": "pw1234"}
        )
        assert response.status_code == 400, bad
    assert (
        site.client.post(
            "/api/register", json={"account_name": "用户_名-1", "password": "pw1234"}
        ).status_code
        == 201
    )


def test_public_profile_and_patch(site) -> None:
    author = site.register()
    patched = site.client.patch(
        "/api/me", json={"nickname": "新昵称", "bio": "你好"}, headers=author.headers
    )
    assert patched.status_code == 200
    profile = site.client.get(f"/api/users/{author.id}").json()
    assert profile == {
        **profile,
        "id": author.id,
        "nickname": "新昵称",
        "bio": "你好",
        "avatar_url": None,
        "ip_location": "本地",
    }
    assert site.client.patch("/api/me", json={}, headers=author.headers).status_code == 400
    assert (
        site.client.patch("/api/me", json={"colour": "x"}, headers=author.headers).status_code
        == 400
    )
    renamed = site.client.patch("/api/me", json={"account_name": "renamed"}, headers=author.headers)
    assert renamed.json()["account_name"] == "renamed"


def test_refused_content_is_422_and_nothing_is_stored(site) -> None:
    author = site.register()
    refused = site.client.post(
        "/api/posts", json={"text": f"{CANARY} tag123"}, headers=author.headers
    )
    assert refused.status_code == 422
    assert refused.json() == {
        "error": "content_rejected",
        "disposition": "rejected",
        "field": "post",
        "message": refused.json()["message"],
    }
    assert site.client.get("/api/search", params={"q": "tag123"}).json()["posts"] == []
    assert site.client.get(f"/api/users/{author.id}/posts").json()["posts"] == []


def test_edits_are_checked_too(site) -> None:
    author = site.register()
    post = site.client.post("/api/posts", json={"text": "hello"}, headers=author.headers).json()
    edit = site.client.patch(
        f"/api/posts/{post['id']}", json={"text": CANARY}, headers=author.headers
    )
    assert edit.status_code == 422
    assert site.client.get(f"/api/posts/{post['id']}").json()["text"] == "hello"
    other = site.register()
    assert (
        site.client.patch(
            f"/api/posts/{post['id']}", json={"text": "x"}, headers=other.headers
        ).status_code
        == 403
    )


def test_remarks_are_private(site) -> None:
    keeper, subject = site.register(), site.register()
    put = site.client.put(
        f"/api/users/{subject.id}/remark", json={"text": "同事"}, headers=keeper.headers
    )
    assert put.status_code == 200
    assert site.client.get("/api/me/remarks", headers=keeper.headers).json() == {
        "remarks": [{"user_id": subject.id, "text": "同事", "updated_at": put.json()["updated_at"]}]
    }
    assert site.client.get("/api/me/remarks", headers=subject.headers).json() == {"remarks": []}
    assert (
        site.client.put(
            f"/api/users/{subject.id}/remark", json={"text": "x" * 101}, headers=keeper.headers
        ).status_code
        == 400
    )


def test_avatar_bytes_are_served_exactly(site, images) -> None:
    author = site.register()
    png = images.plain("navy")
    uploaded = site.client.post(
        "/api/me/avatar", files={"file": ("a.png", png, "image/png")}, headers=author.headers
    )
    assert uploaded.status_code == 200, uploaded.text
    url = site.client.get(f"/api/users/{author.id}").json()["avatar_url"]
    assert url == f"/media/{hashlib.sha256(png).hexdigest()}.png"
    served = site.client.get(url)
    assert served.content == png
    assert served.headers["content-type"] == "image/png"
    not_image = site.client.post(
        "/api/me/avatar", files={"file": ("a.gif", b"GIF89a", "image/gif")}, headers=author.headers
    )
    assert not_image.status_code == 400
    too_big = site.client.post(
        "/api/me/avatar",
        files={"file": ("a.png", b"\0" * (2 * 1024 * 1024 + 1), "image/png")},
        headers=author.headers,
    )
    assert too_big.status_code == 413


def test_groups_membership_and_messages(site) -> None:
    owner, member, outsider = site.register(), site.register(), site.register()
    group = site.client.post(
        "/api/groups", json={"name": "读书会", "intro": "每周一本"}, headers=owner.headers
    )
    assert group.status_code == 201
    group_id = group.json()["id"]
    public = site.client.get(f"/api/groups/{group_id}").json()
    assert public == {
        **public,
        "name": "读书会",
        "intro": "每周一本",
        "logo_url": None,
        "owner_id": owner.id,
        "member_count": 1,
    }
    assert (
        site.client.post(f"/api/groups/{group_id}/join", headers=member.headers).status_code == 200
    )
    assert site.client.get(f"/api/groups/{group_id}").json()["member_count"] == 2

    sent = site.client.post(
        f"/api/groups/{group_id}/messages", json={"text": "大家好"}, headers=member.headers
    )
    assert sent.status_code == 201
    message_id = sent.json()["id"]
    assert (
        site.client.post(
            f"/api/groups/{group_id}/messages", json={"text": "hi"}, headers=outsider.headers
        ).status_code
        == 403
    )
    assert (
        site.client.get(f"/api/groups/{group_id}/messages", headers=outsider.headers).status_code
        == 403
    )
    listed = site.client.get(f"/api/groups/{group_id}/messages", headers=owner.headers).json()
    assert [m["text"] for m in listed["messages"]] == ["大家好"]

    edit = f"/api/groups/{group_id}/messages/{message_id}"
    assert site.client.patch(edit, json={"text": "改"}, headers=owner.headers).status_code == 403
    assert site.client.patch(edit, json={"text": "改了"}, headers=member.headers).status_code == 200
    assert (
        site.client.patch(
            f"/api/groups/{group_id}", json={"name": "x"}, headers=member.headers
        ).status_code
        == 403
    )
    assert (
        site.client.patch(
            f"/api/groups/{group_id}", json={"intro": "新介绍"}, headers=owner.headers
        ).json()["intro"]
        == "新介绍"
    )


def test_posts_forwards_comments_feed_and_search(site) -> None:
    author, forwarder = site.register(), site.register()
    post = site.client.post("/api/posts", json={"text": "original words"}, headers=author.headers)
    assert post.status_code == 201
    post_id = post.json()["id"]
    forward = site.client.post(
        f"/api/posts/{post_id}/forwards", json={"text": "look at this"}, headers=forwarder.headers
    )
    assert forward.status_code == 201
    shown = site.client.get(f"/api/posts/{forward.json()['id']}").json()
    assert shown["text"] == "look at this"
    assert shown["forward_of"] == {**shown["forward_of"], "id": post_id, "text": "original words"}

    comment = site.client.post(
        f"/api/posts/{post_id}/comments", json={"text": "nice"}, headers=forwarder.headers
    )
    assert comment.status_code == 201
    comment_id = comment.json()["id"]
    assert (
        site.client.patch(
            f"/api/comments/{comment_id}", json={"text": "very nice"}, headers=forwarder.headers
        ).status_code
        == 200
    )
    comments = site.client.get(f"/api/posts/{post_id}/comments").json()["comments"]
    assert [c["text"] for c in comments] == ["very nice"]

    feed = site.client.get("/api/feed").json()["posts"]
    assert [p["id"] for p in feed] == [forward.json()["id"], post_id]
    found = site.client.get("/api/search", params={"q": "ORIGINAL"}).json()
    assert [p["id"] for p in found["posts"]] == [post_id]
    assert set(found) == {"users", "groups", "posts"}


def test_search_finds_users_and_groups_case_insensitively(site) -> None:
    user = site.register("SearchMe", nickname="Findable")
    site.client.post(
        "/api/groups", json={"name": "Chess Club", "intro": "weekly games"}, headers=user.headers
    )
    found = site.client.get("/api/search", params={"q": "searchme"}).json()
    assert [u["id"] for u in found["users"]] == [user.id]
    assert site.client.get("/api/search", params={"q": "findABLE"}).json()["users"]
    assert site.client.get("/api/search", params={"q": "WEEKLY"}).json()["groups"][0]["name"] == (
        "Chess Club"
    )
    assert site.client.get("/api/search", params={"q": ""}).json() == {
        "users": [],
        "groups": [],
        "posts": [],
    }


def test_errors_are_json(site) -> None:
    author = site.register()
    bad = site.client.post("/api/posts", content=b"{not json", headers=author.headers)
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_request"
    assert site.client.get("/api/posts/999").json()["error"] == "not_found"
    assert site.client.get("/api/nowhere").status_code == 404


def test_every_profile_path_is_served(site) -> None:
    """Each path the harness profile uses exists (a 404 from routing would mean drift)."""
    profile = yaml.safe_load(PROFILE.read_text(encoding="utf-8"))
    steps = [
        profile["api"]["register"],
        profile["api"]["audit"]["request"],
        profile["api"]["audit"]["retention"]["request"],
    ]
    for surface in profile["api"]["surfaces"].values():
        for phase in ("prepare", "create", "edit", "observe"):
            steps += [s for s in surface.get(phase, []) if "path" in s]
    routes = {route.path: route for route in site.client.app.routes if hasattr(route, "methods")}
    for step in steps:
        path = (
            step["path"]
            .replace("{author_id}", "{user_id:int}")
            .replace("{viewer_id}", "{user_id:int}")
        )
        for name in ("group_id", "post_id", "comment_id", "message_id"):
            path = path.replace(f"{{{name}}}", f"{{{name}:int}}")
        path = path.replace("{source_post_id:int}", "{post_id:int}").replace(
            "{source_post_id}", "{post_id:int}"
        )
        methods = {
            m for r in site.client.app.routes if getattr(r, "path", None) == path for m in r.methods
        }
        assert step.get("method", "GET") in methods, (step, path, sorted(routes))
