"""Probe images: a text rendered with a CJK font, or a QR code, as PNG bytes.

Rendering is deterministic (same text, same bytes). A target may re-encode what it is sent, so
the harness recognises its probes in served images by content (harness.observe.images), and can
send them in the format a surface takes (`upload_format` in the profile: `convert`).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)
SIZE = 320
# Upload formats a profile can ask for: name -> (Pillow format, MIME type, file extension).
UPLOAD_FORMATS: dict[str, tuple[str, str, str]] = {
    "png": ("PNG", "image/png", "png"),
    "jpeg": ("JPEG", "image/jpeg", "jpg"),
    "webp": ("WEBP", "image/webp", "webp"),
}
DEFAULT_UPLOAD_FORMAT = "png"
# Quality of lossy conversions: high, so the probe's text stays as readable as in the PNG.
UPLOAD_QUALITY = 92


@cache
def cjk_font_path() -> Path:
    """A font file that has Chinese glyphs; a clear error naming the package otherwise."""
    for candidate in _FONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    if shutil.which("fc-match"):
        found = subprocess.run(
            ["fc-match", "-f", "%{file}", ":lang=zh-cn"],
            capture_output=True, text=True, check=False, timeout=10,
        ).stdout.strip()
        if found and Path(found).is_file():
            return Path(found)
    raise ConfigError(
        "no CJK font found for probe images; install one (Debian: apt-get install fonts-noto-cjk)"
    )


def text_image(lines: list[str]) -> bytes:
    """Black text on white, one line per entry, large enough for OCR."""
    from PIL import Image, ImageDraw, ImageFont  # noqa: PLC0415  (heavy import, used rarely)

    image = Image.new("RGB", (SIZE, SIZE), "white")
    draw = ImageDraw.Draw(image)
    y = 40
    for line in lines:
        size = 44
        font = ImageFont.truetype(str(cjk_font_path()), size)
        while draw.textlength(line, font=font) > SIZE - 24 and size > 12:
            size -= 2
            font = ImageFont.truetype(str(cjk_font_path()), size)
        draw.text((12, y), line, fill="black", font=font)
        y += size + 30
    return _png(image)


def qr_image(text: str) -> bytes:
    """A QR code carrying `text`, resized to the probe image size."""
    import qrcode  # noqa: PLC0415

    code = qrcode.QRCode(border=4, box_size=8)
    code.add_data(text.encode("utf-8"))
    code.make(fit=True)
    image = code.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    return _png(image.resize((SIZE, SIZE), resample=0))


def _png(image: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)  # type: ignore[attr-defined]
    return buffer.getvalue()


def upload_format_of(profile: Mapping[str, Any], surface: Mapping[str, Any]) -> str:
    """The format a surface's images are sent in: the surface's `upload_format`, else the
    profile's, else PNG."""
    return str(surface.get("upload_format") or profile.get("upload_format")
               or DEFAULT_UPLOAD_FORMAT)


def convert(data: bytes, upload_format: str) -> bytes:
    """The probe image `data` (PNG) in `upload_format` (see UPLOAD_FORMATS); PNG is unchanged.

    Lossy formats are written at UPLOAD_QUALITY.
    """
    from PIL import Image  # noqa: PLC0415  (heavy import, used rarely)

    try:
        pillow_format = UPLOAD_FORMATS[upload_format][0]
    except KeyError:
        raise ConfigError(f"upload_format {upload_format!r} is not one of "
                          f"{', '.join(UPLOAD_FORMATS)}") from None
    if upload_format == DEFAULT_UPLOAD_FORMAT:
        return data
    with Image.open(io.BytesIO(data)) as image:
        rgb = image.convert("RGB")
    buffer = io.BytesIO()
    rgb.save(buffer, format=pillow_format, quality=UPLOAD_QUALITY)
    return buffer.getvalue()


def image_type(data: bytes) -> tuple[str, str]:
    """(MIME type, file extension) of image bytes from their signature; PNG when unknown,
    the format every probe is rendered in."""
    if data.startswith(b"\xff\xd8\xff"):
        return UPLOAD_FORMATS["jpeg"][1:]
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return UPLOAD_FORMATS["webp"][1:]
    return UPLOAD_FORMATS["png"][1:]
