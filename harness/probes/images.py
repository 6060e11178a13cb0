"""Probe images: a text rendered with a CJK font, or a QR code, as PNG bytes.

Rendering is deterministic (same text, same bytes), so an image's SHA-256 identifies it when the
harness looks for it on the target's pages.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from functools import cache
from pathlib import Path

from harness.errors import ConfigError

_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)
SIZE = 320


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
