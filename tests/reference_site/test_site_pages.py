"""The server-rendered pages: sessions, CSRF, moderated forms, report entry points."""

from __future__ import annotations

import re

CANARY = "审核金丝雀甲"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(page) -> str:
    found = _CSRF.search(page.text)
    assert found, "no csrf_token field on the page"
    return found.group(1)


def sign_up(site, name: str) -> None:
    """Register through the form; the client keeps the session cookie."""
    token = csrf(site.client.get("/register"))
    response = site.client.post(
        "/register",
        data={"account_name": name, "password": "secret-pw", "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert "httponly" in response.headers["set-cookie"].lower()


def test_pages_are_chinese_utf8_and_link_the_complaints_page(site) -> None:
    for path in ("/", "/search", "/groups", "/login", "/register", "/complaints", "/report"):
        page = site.client.get(path)
        assert page.status_code == 200, path
        assert '<html lang="zh-CN">' in page.text
        assert '<meta charset="utf-8">' in page.text
        assert 'class="complaints-link" href="/complaints"' in page.text
        assert "投诉举报 Complaints &amp; reports" in page.text


def test_session_cookie_is_http_only(site) -> None:
    response = site.client.get("/")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("session=")
    assert "httponly" in cookie.lower()


def test_post_without_csrf_token_is_refused_and_audited(site) -> None:
    site.client.get("/register")
    refused = site.client.post(
        "/register",
        data={"account_name": "nocsrf", "password": "secret-pw"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert 'class="error"' in refused.text
    assert site.client.get("/api/search", params={"q": "nocsrf"}).json()["users"] == []
    record = site.audit(account="nocsrf")[-1]
    assert (record["operation"], record["decision"]) == ("register", "rejected")
    assert record["reason"].startswith("csrf_failed")


def test_a_token_from_another_session_is_refused(site, make_site) -> None:
    other = make_site()
    foreign = csrf(other.client.get("/register"))
    site.client.get("/register")
    refused = site.client.post(
        "/register",
        data={"account_name": "foreign", "password": "secret-pw", "csrf_token": foreign},
        follow_redirects=False,
    )
    assert refused.status_code == 403


def test_register_log_out_and_log_in(site) -> None:
    sign_up(site, "webuser")
    home = site.client.get("/")
    assert "webuser" in home.text
    site.client.post("/logout", data={"csrf_token": csrf(home)})
    assert "webuser" not in site.client.get("/").text
    login = site.client.post(
        "/login",
        data={
            "account_name": "webuser",
            "password": "secret-pw",
            "csrf_token": csrf(site.client.get("/login")),
        },
        follow_redirects=False,
    )
    assert login.status_code == 303
    assert "webuser" in site.client.get("/").text


def test_refused_post_re_renders_the_form_with_an_error(site) -> None:
    sign_up(site, "poster")
    home = site.client.get("/")
    refused = site.client.post("/posts", data={"text": f"{CANARY} page", "csrf_token": csrf(home)})
    assert refused.status_code == 422
    assert 'class="error"' in refused.text
    assert "prohibited" in refused.text
    assert site.client.get("/api/search", params={"q": "page"}).json()["posts"] == []
    record = site.audit(account="poster")[-1]
    assert (record["operation"], record["decision"], record["surface"]) == (
        "post.create",
        "rejected",
        "post",
    )

    published = site.client.post("/posts", data={"text": "a fine post", "csrf_token": csrf(home)})
    assert published.status_code == 200
    assert "a fine post" in published.text


def test_profile_page_shows_profile_fields_and_report_link(site) -> None:
    author = site.register("shown", nickname="显示名")
    site.client.patch("/api/me", json={"bio": "我的简介"}, headers=author.headers)
    page = site.client.get(f"/users/{author.id}")
    for text in (
        "@shown",
        "显示名",
        "我的简介",
        "IP属地",
        "本地",
        f'href="/report?target_type=user&amp;target_id={author.id}"',
    ):
        assert text in page.text, text


def test_profile_edit_and_remark_forms(site) -> None:
    sign_up(site, "editor")
    other = site.register("subject")
    edit = site.client.get("/me/edit")
    updated = site.client.post(
        "/me/edit",
        data={
            "account_name": "editor",
            "nickname": "新名字",
            "bio": CANARY,
            "csrf_token": csrf(edit),
        },
    )
    assert updated.status_code == 422
    assert 'class="error"' in updated.text
    updated = site.client.post(
        "/me/edit",
        data={
            "account_name": "editor",
            "nickname": "新名字",
            "bio": "简介",
            "csrf_token": csrf(edit),
        },
    )
    assert "新名字" in updated.text

    profile = site.client.get(f"/users/{other.id}")
    saved = site.client.post(
        f"/users/{other.id}/remark", data={"text": "老同学", "csrf_token": csrf(profile)}
    )
    assert 'value="老同学"' in saved.text


def test_avatar_upload_form(site, images) -> None:
    sign_up(site, "avatarist")
    edit = site.client.get("/me/edit")
    refused = site.client.post(
        "/me/avatar",
        data={"csrf_token": csrf(edit)},
        files={"file": ("a.png", images.text(CANARY), "image/png")},
    )
    assert refused.status_code == 422
    assert 'class="error"' in refused.text
    no_token = site.client.post(
        "/me/avatar", files={"file": ("a.png", images.plain(), "image/png")}
    )
    assert no_token.status_code == 403
    done = site.client.post(
        "/me/avatar",
        data={"csrf_token": csrf(edit)},
        files={"file": ("a.png", images.plain(), "image/png")},
    )
    assert done.status_code == 200
    assert 'class="avatar"' in done.text


def test_group_and_post_pages_have_report_links_on_every_item(site) -> None:
    sign_up(site, "member")
    owner = site.register()
    group = site.client.post(
        "/api/groups", json={"name": "群一", "intro": "介绍"}, headers=owner.headers
    ).json()
    message = site.client.post(
        f"/api/groups/{group['id']}/messages", json={"text": "群消息"}, headers=owner.headers
    ).json()
    page = site.client.get(f"/groups/{group['id']}")
    assert "群消息" not in page.text  # members only
    joined = site.client.post(f"/groups/{group['id']}/join", data={"csrf_token": csrf(page)})
    assert "群消息" in joined.text
    assert f"target_type=group&amp;target_id={group['id']}" in joined.text
    assert f"target_type=group_message&amp;target_id={message['id']}" in joined.text
    sent = site.client.post(
        f"/groups/{group['id']}/messages", data={"text": "我也来了", "csrf_token": csrf(joined)}
    )
    assert "我也来了" in sent.text

    post = site.client.post("/api/posts", json={"text": "帖子正文"}, headers=owner.headers).json()
    page = site.client.get(f"/posts/{post['id']}")
    commented = site.client.post(
        f"/posts/{post['id']}/comments", data={"text": "一条评论", "csrf_token": csrf(page)}
    )
    comment_id = site.client.get(f"/api/posts/{post['id']}/comments").json()["comments"][0]["id"]
    assert f"target_type=post&amp;target_id={post['id']}" in commented.text
    assert f"target_type=comment&amp;target_id={comment_id}" in commented.text
    forwarded = site.client.post(
        f"/posts/{post['id']}/forward", data={"text": "转发一下", "csrf_token": csrf(page)}
    )
    assert "转发自" in forwarded.text
    assert "帖子正文" in forwarded.text


def test_report_form_receipt_and_status_page(site) -> None:
    sign_up(site, "reporter")
    author = site.register()
    post = site.client.post("/api/posts", json={"text": "举报我"}, headers=author.headers).json()
    form = site.client.get(f"/report?target_type=post&target_id={post['id']}")
    assert 'option value="post" selected' in form.text
    receipt = site.client.post(
        "/report",
        data={
            "target_type": "post",
            "target_id": str(post["id"]),
            "category": "fraud",
            "reason": "诈骗",
            "csrf_token": csrf(form),
        },
    )
    assert receipt.status_code == 201
    ticket = re.search(r'data-ticket-id="([^"]+)"', receipt.text).group(1)
    status = site.client.get(f"/reports/{ticket}")
    assert ticket in status.text
    assert 'data-status="received"' in status.text
    site.client.post(
        f"/api/admin/reports/{ticket}/decision", json={"action": "remove"}, headers=site.admin
    )
    assert 'data-status="resolved"' in site.client.get(f"/reports/{ticket}").text
    assert ticket in site.client.get("/me/reports").text


def test_complaints_page_publishes_the_contacts(site) -> None:
    page = site.client.get("/complaints").text
    for text in ("400-000-0000", "report@reference.invalid", 'href="/report"', "30 秒",
                 "30 seconds", 'data-seconds="30'):
        assert text in page, text


def test_missing_pages_are_404(site) -> None:
    assert site.client.get("/posts/999").status_code == 404
    assert site.client.get("/nowhere").status_code == 404


def test_browsers_without_a_device_header_get_a_device_cookie(site) -> None:
    page = site.client.get("/register", headers={"X-Device-Id": ""})
    assert "device_id=web-" in page.headers.get_list("set-cookie")[-1]
    site.client.post(
        "/register",
        data={"account_name": "browser1", "password": "secret-pw", "csrf_token": csrf(page)},
        headers={"X-Device-Id": ""},
    )
    record = site.audit(account="browser1")[-1]
    assert record["device_id"].startswith("web-")


def test_group_owner_manages_the_group_through_forms(site, images) -> None:
    sign_up(site, "groupowner")
    new = site.client.get("/groups/new")
    created = site.client.post(
        "/groups/new", data={"name": "我的群", "intro": "欢迎", "csrf_token": csrf(new)}
    )
    assert created.status_code == 200
    group_id = re.search(r'data-group-id="(\d+)"', created.text).group(1)
    refused = site.client.post(
        f"/groups/{group_id}/edit",
        data={"name": "我的群", "intro": CANARY, "csrf_token": csrf(created)},
    )
    assert refused.status_code == 422
    assert 'class="error"' in refused.text
    assert site.client.get(f"/api/groups/{group_id}").json()["intro"] == "欢迎"
    renamed = site.client.post(
        f"/groups/{group_id}/edit",
        data={"name": "新群名", "intro": "欢迎", "csrf_token": csrf(created)},
    )
    assert "新群名" in renamed.text
    logo = site.client.post(
        f"/groups/{group_id}/logo",
        data={"csrf_token": csrf(created)},
        files={"file": ("l.png", images.plain("olive"), "image/png")},
    )
    assert 'class="logo"' in logo.text


def _edit_bio(site, bio: str):
    token = csrf(site.client.get("/me/edit"))
    return site.client.post(
        "/me/edit", data={"account_name": "pager", "nickname": "pager", "bio": bio,
                          "csrf_token": token}, follow_redirects=False,
    )


def test_form_bio_fault_skips_the_check_on_the_page_only(make_site) -> None:
    faulty, healthy = make_site("form-bio-unchecked"), make_site()
    for site in (faulty, healthy):
        sign_up(site, "pager")
    assert _edit_bio(faulty, CANARY).status_code == 303
    assert _edit_bio(healthy, CANARY).status_code != 303
    account = faulty.register()
    assert faulty.client.patch("/api/me", json={"bio": CANARY},
                               headers=account.headers).status_code == 422


def test_form_avatar_fault_skips_the_image_check_on_the_page_only(make_site, images) -> None:
    faulty = make_site("form-avatar-unchecked")
    sign_up(faulty, "pager")
    probe = images.qr(CANARY)
    token = csrf(faulty.client.get("/me/edit"))
    page = faulty.client.post("/me/avatar", data={"csrf_token": token},
                              files={"file": ("a.png", probe, "image/png")},
                              follow_redirects=False)
    assert page.status_code == 303, page.text
    account = faulty.register()
    api = faulty.client.post("/api/me/avatar", files={"file": ("a.png", probe, "image/png")},
                             headers=account.headers)
    assert api.status_code == 422
