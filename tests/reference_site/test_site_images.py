"""Images: OCR of rendered CJK text, QR decoding, and the avatar and logo faults."""

from __future__ import annotations

import io
import shutil

import pytest
from PIL import Image

from reference_site.images import ImageError, decode_barcodes, decode_image
from reference_site.moderation import Moderator, load_lexicon

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs tesseract")

CANARY_ZH = "审核金丝雀甲"
CANARY_LATIN = "MODHARNESS-CANARY-ALPHA"


@pytest.fixture(scope="module")
def moderator() -> Moderator:
    return Moderator(load_lexicon())


@pytest.mark.parametrize(
    "lines",
    [
        [CANARY_ZH, "k3x9ab"],
        ["头像 审核金丝雀乙", "q7m2"],
        ["審核金絲雀甲"],
        [CANARY_LATIN],
    ],
)
def test_ocr_finds_canaries_in_rendered_text(moderator, images, lines) -> None:
    verdict = moderator.check_image(decode_image(images.text(*lines)))
    assert not verdict.allowed
    assert "image text" in verdict.detail


@pytest.mark.parametrize("size", [18, 64])
def test_ocr_handles_small_and_large_text(moderator, images, size) -> None:
    assert not moderator.check_image(decode_image(images.text(CANARY_ZH, size=size))).allowed


def test_ocr_reads_japanese_face_glyphs(moderator, images) -> None:
    # Face 0 of the collection is the Japanese one, which some renderers pick by default.
    assert not moderator.check_image(decode_image(images.text(CANARY_ZH, face=0))).allowed


def test_benign_images_pass(moderator, images) -> None:
    for data in (
        images.text("今天天气很好", "k3x9ab"),
        images.text("Hello there"),
        images.plain(),
        images.qr("https://example.invalid/profile"),
    ):
        verdict = moderator.check_image(decode_image(data))
        assert verdict.allowed, verdict.detail


def test_qr_codes_are_decoded_and_checked(moderator, images) -> None:
    data = images.qr(f"{CANARY_ZH} tag")
    assert decode_barcodes(decode_image(data).pixels) == [f"{CANARY_ZH} tag"]
    verdict = moderator.check_image(decode_image(data), ocr=False)
    assert not verdict.allowed
    assert "QR" in verdict.detail


def test_transparent_png_is_read_on_white(moderator) -> None:
    from PIL import ImageDraw, ImageFont

    image = Image.new("RGBA", (420, 120), (0, 0, 0, 0))
    font = ImageFont.truetype("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 48, index=2)
    ImageDraw.Draw(image).text((20, 30), CANARY_ZH, fill=(0, 0, 0, 255), font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    assert not moderator.check_image(decode_image(buffer.getvalue())).allowed


def test_jpeg_is_accepted_and_other_formats_are_not(images) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(buffer, format="JPEG")
    assert decode_image(buffer.getvalue()).mime == "image/jpeg"
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, format="GIF")
    with pytest.raises(ImageError, match="PNG and JPEG"):
        decode_image(gif.getvalue())
    with pytest.raises(ImageError):
        decode_image(b"not an image")


def _upload(site, path: str, data: bytes, account):
    return site.client.post(
        path, files={"file": ("x.png", data, "image/png")}, headers=account.headers
    )


def test_prohibited_avatar_is_refused_and_not_shown(site, images) -> None:
    account = site.register()
    refused = _upload(site, "/api/me/avatar", images.text(CANARY_ZH), account)
    assert refused.status_code == 422
    assert refused.json()["field"] == "avatar"
    assert site.client.get(f"/api/users/{account.id}").json()["avatar_url"] is None


def test_avatar_no_ocr_fault_skips_text_but_still_decodes_qr(make_site, images) -> None:
    site = make_site("avatar-no-ocr")
    account = site.register()
    assert _upload(site, "/api/me/avatar", images.text(CANARY_ZH), account).status_code == 200
    assert _upload(site, "/api/me/avatar", images.qr(CANARY_ZH), account).status_code == 422
    group = site.client.post("/api/groups", json={"name": "g"}, headers=account.headers).json()
    logo = f"/api/groups/{group['id']}/logo"
    assert _upload(site, logo, images.text(CANARY_ZH), account).status_code == 422


def test_logo_no_qr_fault_skips_qr_but_still_reads_text(make_site, images) -> None:
    site = make_site("logo-no-qr")
    account = site.register()
    group = site.client.post("/api/groups", json={"name": "g"}, headers=account.headers).json()
    logo = f"/api/groups/{group['id']}/logo"
    assert _upload(site, logo, images.qr(CANARY_ZH), account).status_code == 200
    assert site.client.get(f"/api/groups/{group['id']}").json()["logo_url"]
    assert _upload(site, logo, images.text(CANARY_ZH), account).status_code == 422
    assert _upload(site, "/api/me/avatar", images.qr(CANARY_ZH), account).status_code == 422


def test_healthy_site_refuses_both_kinds_of_logo(site, images) -> None:
    account = site.register()
    group = site.client.post("/api/groups", json={"name": "g"}, headers=account.headers).json()
    logo = f"/api/groups/{group['id']}/logo"
    assert _upload(site, logo, images.qr(CANARY_LATIN), account).status_code == 422
    assert _upload(site, logo, images.text(CANARY_LATIN), account).status_code == 422
    assert _upload(site, logo, images.plain(), account).status_code == 200


def test_text_evasion_faults_do_not_weaken_image_checks(make_site, images) -> None:
    site = make_site("skip-separators", "skip-t2s")
    account = site.register()
    assert _upload(site, "/api/me/avatar", images.text(CANARY_ZH), account).status_code == 422


def test_reencode_fault_serves_uploads_as_square_jpegs_and_still_checks_them(make_site,
                                                                            images) -> None:
    site = make_site("reencode-uploads")
    account = site.register()
    assert _upload(site, "/api/me/avatar", images.text(CANARY_ZH), account).status_code == 422
    benign = images.text("今天天气很好", "k3x9ab")
    assert _upload(site, "/api/me/avatar", benign, account).status_code == 200
    url = site.client.get(f"/api/users/{account.id}").json()["avatar_url"]
    assert url.endswith(".jpg")
    served = site.client.get(url)
    assert served.headers["content-type"] == "image/jpeg"
    assert served.content != benign
    with Image.open(io.BytesIO(served.content)) as image:
        assert (image.format, image.size) == ("JPEG", (300, 300))


def test_reencode_fault_with_avatar_no_ocr_serves_the_canary_reencoded(make_site,
                                                                       images) -> None:
    site = make_site("reencode-uploads", "avatar-no-ocr")
    account = site.register()
    assert _upload(site, "/api/me/avatar", images.text(CANARY_ZH), account).status_code == 200
    url = site.client.get(f"/api/users/{account.id}").json()["avatar_url"]
    assert site.client.get(url).headers["content-type"] == "image/jpeg"
