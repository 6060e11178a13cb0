"""A removed post is gone from its forwards (API and pages), unless the forward-leak fault is on."""

from __future__ import annotations

import pytest

CANARY = "审核金丝雀甲"


def _removed_original_under_a_forward(site) -> tuple[int, int]:
    """Plant a must-block post, forward it as another user, remove the post; the two ids."""
    author, viewer = site.register(), site.register()
    seeded = site.client.post("/api/admin/seed", headers=site.admin,
                              json={"kind": "post", "author_id": author.id, "text": CANARY})
    assert seeded.status_code == 201, seeded.text
    post_id = seeded.json()["id"]
    forward = site.client.post(f"/api/posts/{post_id}/forwards", headers=viewer.headers,
                               json={"text": "转发一下"})
    assert forward.status_code == 201, forward.text
    removed = site.client.post("/api/admin/remove", headers=site.admin,
                               json={"target_type": "post", "target_id": post_id})
    assert removed.status_code == 200, removed.text
    return post_id, forward.json()["id"]


@pytest.mark.parametrize("fault", [(), ("forward-leak",)], ids=["clean", "forward-leak"])
def test_forward_of_a_removed_post(make_site, fault) -> None:
    site = make_site(*fault)
    post_id, forward_id = _removed_original_under_a_forward(site)
    assert site.client.get(f"/api/posts/{post_id}").status_code == 404
    shown = site.client.get(f"/api/posts/{forward_id}").json()["forward_of"]
    page = site.client.get(f"/posts/{forward_id}").text
    feed = site.client.get("/api/feed").text
    if fault:
        assert (shown["removed"], shown["text"]) == (False, CANARY)
        assert CANARY in page
        assert CANARY in feed
    else:
        assert (shown["removed"], shown["text"]) == (True, None)
        assert CANARY not in page
        assert "原内容已被删除" in page
        assert CANARY not in feed
