"""The image matcher: a probe is recognised in what a target serves by its content.

Re-encoded, resized and padded copies of a probe are the probe; another image, a blank one, a
different canary and the case's own original are not; bytes that are no image are unread.
"""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from PIL import Image, ImageOps

from harness.errors import ConfigError
from harness.observe import images as matching
from harness.observe.images import ProbeMatcher, content_of, decode, ocr_key
from harness.probes import images as probe_images
from harness.probes.canaries import lexicon
from harness.probes.cases import IMAGE_PROBES, MUST_BLOCK, ProbeSpec, build_case, derive_case

PROBES = {probe.id: probe for probe in IMAGE_PROBES}
SEEDS = (3, 11)


def _has_ocr() -> bool:
    if shutil.which("tesseract") is None:
        return False
    langs = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True,
                           check=False).stdout.split()
    return {"chi_sim", "eng"} <= set(langs)


needs_ocr = pytest.mark.skipif(not _has_ocr(), reason="tesseract with chi_sim and eng is not "
                               "installed (Debian: apt-get install tesseract-ocr "
                               "tesseract-ocr-chi-sim)")


def _encode(image: Image.Image, fmt: str, quality: int = 80) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, quality=quality)
    return buffer.getvalue()


def _square_jpeg(image: Image.Image) -> bytes:
    """What the reference site's `reencode-uploads` fault serves."""
    return _encode(ImageOps.pad(image, (300, 300), color="white"), "JPEG")


COPIES = {
    "jpeg-300-square": _square_jpeg,
    "jpeg-q50": lambda image: _encode(image, "JPEG", 50),
    "webp": lambda image: _encode(image, "WEBP", 75),
    "png-half-size": lambda image: _encode(image.resize((image.width // 2, image.height // 2)),
                                           "PNG"),
    "padded": lambda image: _encode(ImageOps.expand(image, border=32, fill="white"), "PNG"),
    "padded-grey-jpeg": lambda image: _encode(ImageOps.expand(image, border=20, fill="#ccc"),
                                              "JPEG"),
    "cropped-4pc": lambda image: _encode(image.crop(
        (13, 13, image.width - 13, image.height - 13)), "PNG"),
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("copy", sorted(COPIES))
@pytest.mark.parametrize("probe", sorted(PROBES))
def test_reencoded_resized_and_padded_copies_match_by_hash(probe, copy, seed):
    case = build_case("avatar", "edit", PROBES[probe], seed)
    served = COPIES[copy](decode(case.image))
    found = ProbeMatcher.for_case(case).match(served)
    assert (found.shown, found.how) == (True, "phash"), found.note
    assert found.details["hash_distance"] <= matching.HASH_THRESHOLD
    assert "hash distance" in found.note


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("probe", sorted(PROBES))
def test_the_probe_bytes_match_and_the_cases_original_does_not(probe, seed):
    case = build_case("avatar", "edit", PROBES[probe], seed)
    matcher = ProbeMatcher.for_case(case)
    assert matcher.match(case.image).how == "bytes"
    for served in (case.original_image, _square_jpeg(decode(case.original_image))):
        found = matcher.match(served)
        assert (found.shown, found.how) == (False, "other"), found.note


def test_a_blank_image_shows_nothing():
    case = build_case("avatar", "create", PROBES["image-text-canary-zh-a"], 3)
    for color in ("white", "black", "#7fa0c0"):
        found = ProbeMatcher.for_case(case).match(_encode(Image.new("RGB", (300, 300), color),
                                                          "JPEG"))
        assert (found.shown, found.how) == (False, "blank")


@needs_ocr
@pytest.mark.parametrize("seed", SEEDS)
def test_another_canary_or_image_is_not_the_probe(seed):
    case = build_case("avatar", "create", PROBES["image-text-canary-zh-a"], seed)
    matcher = ProbeMatcher.for_case(case)
    others = [
        build_case("avatar", "create", PROBES["qr-canary-zh-b"], seed + 1).image,
        build_case("avatar", "create", PROBES["image-text-canary-latin-a"], seed + 1).image,
        probe_images.text_image(["审核金丝雀乙", case.tag]),  # a different canary, same tag
        build_case("avatar", "create", PROBES["image-text-benign-zh"], seed + 2).image,
    ]
    for other in others:
        found = matcher.match(_square_jpeg(decode(other)))
        assert found.shown is False, found.note
        assert found.how == "none"
        assert found.details["hash_distance"] > matching.HASH_THRESHOLD


@pytest.mark.parametrize("served", [
    b"", b"<html><body>Please log in</body></html>", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
])
def test_bytes_that_are_no_image_are_unread(served):
    case = build_case("avatar", "create", PROBES["image-text-canary-zh-a"], 3)
    found = ProbeMatcher.for_case(case).match(served)
    assert (found.shown, found.how) == (None, "unread")
    assert found.note


def test_a_truncated_image_is_unread():
    case = build_case("avatar", "create", PROBES["image-text-benign-zh"], 3)
    jpeg = _square_jpeg(decode(case.image))
    found = ProbeMatcher.for_case(case).match(jpeg[: len(jpeg) // 2])
    assert found.shown is None, found.note


def test_a_qr_probe_is_found_by_its_payload_when_the_hash_cannot_follow():
    case = build_case("avatar", "create", PROBES["qr-canary-zh-b"], 3)
    turned = decode(case.image).rotate(90).resize((300, 300))
    framed = ImageOps.expand(turned, border=(0, 0, 300, 0), fill="black")  # a dark half beside it
    found = ProbeMatcher.for_case(case).match(_encode(framed, "JPEG"))
    assert (found.shown, found.how) == (True, "qr"), found.note
    assert found.details["qr"] == [case.image_qr]


@needs_ocr
def test_drawn_text_is_found_by_ocr_when_the_hash_cannot_follow():
    case = build_case("avatar", "create", PROBES["image-text-canary-latin-a"], 3)
    inverted = ImageOps.invert(decode(case.image))  # light text on black: other hashes
    found = ProbeMatcher.for_case(case).match(_encode(inverted, "PNG"))
    assert (found.shown, found.how) == (True, "ocr"), found.note
    assert "MODHARNESS" in found.details["ocr"]


def test_without_tesseract_an_image_only_ocr_could_tell_about_is_unread(monkeypatch):
    case = build_case("avatar", "create", PROBES["image-text-canary-zh-a"], 3)
    monkeypatch.setattr(matching.shutil, "which", lambda name: None)
    inverted = _encode(ImageOps.invert(decode(case.image)), "PNG")
    found = ProbeMatcher.for_case(case).match(inverted)
    assert (found.shown, found.how) == (None, "unread")
    assert "tesseract is not installed" in found.note
    # A copy the hashes recognise needs no OCR.
    assert ProbeMatcher.for_case(case).match(_square_jpeg(decode(case.image))).shown is True


def test_each_served_image_is_judged_once(monkeypatch):
    case = build_case("avatar", "create", PROBES["image-text-benign-zh"], 3)
    matcher = ProbeMatcher.for_case(case)
    calls = []
    monkeypatch.setattr(matching, "ocr_text", lambda image, languages: calls.append(1) or "")
    stranger = _encode(Image.new("RGB", (300, 300), "white").rotate(0), "PNG")
    other = probe_images.text_image(["完全不同的文字", "zzzzzz"])
    for _ in range(3):
        matcher.match(other)
        matcher.match(stranger)
    assert len(calls) == len(matching.OCR_PASSES)  # one image OCR'd, once, pass by pass


def test_ocr_keys_fold_like_visibility_and_drop_punctuation():
    assert ocr_key("ＭＯＤ-Harness　Canary.\n2j5i3g") == "modharnesscanary2j5i3g"
    assert ocr_key("审核，金丝雀甲。") == "审核金丝雀甲"


def test_the_tag_line_is_not_required_of_ocr():
    case = build_case("avatar", "create", PROBES["image-text-canary-zh-a"], 3)
    assert ProbeMatcher.for_case(case).lines == [ocr_key(lexicon()["canary-zh-a"].text)]


def test_content_is_trimmed_to_what_differs_from_the_background():
    case = build_case("avatar", "create", PROBES["image-text-canary-zh-a"], 3)
    image = decode(case.image)
    trimmed = content_of(image)
    padded = content_of(decode(COPIES["padded-grey-jpeg"](image)))
    assert trimmed is not None
    assert padded is not None
    assert trimmed.size < image.size
    assert abs(trimmed.width - padded.width) <= 2
    assert abs(trimmed.height - padded.height) <= 2
    assert content_of(Image.new("RGB", (50, 50), "white")) is None


@pytest.mark.parametrize("variant", ["image_text", "traditional+image_text", "qr_code"])
def test_rate_cases_say_what_their_image_carries(variant):
    canary = lexicon()["canary-zh-a"]
    probe = ProbeSpec(f"{variant}-canary-zh-a", MUST_BLOCK, "zh", variant, canary.id)
    case = derive_case("avatar", probe, canary.text, 5)
    if variant == "qr_code":
        assert (case.image_text, case.image_qr) == (None, canary.text)
    else:
        assert case.image_qr is None
        assert case.image_text
    served = _square_jpeg(decode(case.image))
    assert ProbeMatcher.for_case(case).match(served).shown is True


# --- upload_format --------------------------------------------------------------------------


@pytest.mark.parametrize(("upload_format", "pillow", "mime", "ext"), [
    ("jpeg", "JPEG", "image/jpeg", "jpg"), ("webp", "WEBP", "image/webp", "webp"),
])
def test_probe_images_convert_to_the_upload_format(upload_format, pillow, mime, ext):
    case = build_case("avatar", "edit", PROBES["image-text-canary-zh-a"], 3)
    sent = case.for_upload(upload_format)
    for image in (sent.image, sent.original_image):
        with Image.open(io.BytesIO(image)) as opened:
            assert (opened.format, opened.size) == (pillow, (320, 320))
        assert probe_images.image_type(image) == (mime, ext)
    assert sent.content_sha256 != case.content_sha256  # the record is of what is sent
    assert (sent.image_text, sent.tag, sent.text) == (case.image_text, case.tag, case.text)
    assert ProbeMatcher.for_case(case).match(sent.image).how == "phash"


def test_png_is_sent_as_rendered_and_text_cases_are_unchanged():
    case = build_case("avatar", "create", PROBES["image-text-benign-zh"], 3)
    assert case.for_upload("png") is case
    assert probe_images.image_type(case.image) == ("image/png", "png")
    text_case = build_case("bio", "create", ProbeSpec("benign-zh", "must_allow", "zh"), 3)
    assert text_case.for_upload("jpeg") is text_case


def test_upload_format_comes_from_the_surface_then_the_profile():
    assert probe_images.upload_format_of({}, {}) == "png"
    assert probe_images.upload_format_of({"upload_format": "webp"}, {}) == "webp"
    assert probe_images.upload_format_of({"upload_format": "webp"},
                                         {"upload_format": "jpeg"}) == "jpeg"
    with pytest.raises(ConfigError, match="upload_format 'gif'"):
        probe_images.convert(b"", "gif")
