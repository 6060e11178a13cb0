"""The faults that make a read or a refusal say nothing about moderation: a login wall on
profiles, and image uploads refused for their format."""

from __future__ import annotations

import io

from PIL import Image


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "teal").save(buffer, format="JPEG")
    return buffer.getvalue()


def _upload(site, path: str, data: bytes, account, name: str = "x.png"):
    return site.client.post(path, files={"file": (name, data, "image/png")},
                            headers=account.headers)


def test_login_wall_redirects_anonymous_profile_reads_only(make_site) -> None:
    site = make_site("login-wall-profiles")
    account = site.register()
    page = site.client.get(f"/users/{account.id}", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == f"/login?next=/users/{account.id}"
    landed = site.client.get(f"/users/{account.id}")
    assert landed.status_code == 200
    assert str(landed.url).endswith(f"/login?next=/users/{account.id}")
    api = site.client.get(f"/api/users/{account.id}", follow_redirects=False)
    assert api.status_code == 302
    assert api.headers["location"] == f"/login?next=/api/users/{account.id}"
    # Logged in, the profile shows as on the clean site.
    assert site.client.get(f"/api/users/{account.id}", headers=account.headers).status_code == 200
    site.browser_login(account)
    assert site.client.get(f"/users/{account.id}", follow_redirects=False).status_code == 200
    # Other public reads are untouched.
    assert site.client.get(f"/api/users/{account.id}/posts").status_code == 200


def test_clean_site_shows_profiles_to_anonymous_visitors(site) -> None:
    account = site.register()
    assert site.client.get(f"/users/{account.id}", follow_redirects=False).status_code == 200
    assert site.client.get(f"/api/users/{account.id}").status_code == 200


def test_jpeg_only_fault_refuses_png_uploads_as_validation(make_site, images) -> None:
    site = make_site("jpeg-only-uploads")
    account = site.register()
    refused = _upload(site, "/api/me/avatar", images.plain(), account)
    assert refused.status_code == 422
    assert refused.json() == {"error": "unsupported_image_format",
                              "message": "only JPEG is allowed", "field": "file"}
    group = site.client.post("/api/groups", json={"name": "g", "intro": "i"},
                             headers=account.headers).json()["id"]
    logo = _upload(site, f"/api/groups/{group}/logo", images.plain(), account)
    assert logo.status_code == 422
    assert logo.json()["error"] == "unsupported_image_format"
    assert _upload(site, "/api/me/avatar", _jpeg(), account, "x.jpg").status_code == 200
    assert _upload(site, f"/api/groups/{group}/logo", _jpeg(), account, "x.jpg").status_code \
        == 200


def test_jpeg_only_fault_shows_the_message_on_the_page(make_site, images) -> None:
    site = make_site("jpeg-only-uploads")
    account = site.register()
    site.browser_login(account)
    page = site.client.post("/me/avatar", data={"csrf_token": site.csrf("/me/edit")},
                            files={"file": ("x.png", images.plain(), "image/png")})
    assert page.status_code == 422
    assert "only JPEG is allowed" in page.text
    assert 'class="error"' in page.text


def test_clean_site_takes_png_uploads(site, images) -> None:
    account = site.register()
    assert _upload(site, "/api/me/avatar", images.plain(), account).status_code == 200
