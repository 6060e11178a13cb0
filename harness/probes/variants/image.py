"""Image families: the probe's text rendered into a picture, or carried by a QR code.

A filter that reads only text fields misses both. `image_text` distorts the rendering (rotation,
low contrast, speckle noise) within limits that keep it readable by OCR most of the time, so a
target that does run OCR has a fair chance; `qr_code` is a plain QR code.
"""

from __future__ import annotations

import random
from typing import Any

from harness.probes import images
from harness.probes.variants.base import ImageVariant

# Widest text line before wrapping, in pixels.
_MAX_LINE_WIDTH = 900


def _wrap(text: str, fits: Any) -> str:
    """Break `text` greedily into lines for which `fits(line)` holds (at least one char each)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for ch in paragraph:
            if line and not fits(line + ch):
                lines.append(line)
                line = ""
            line += ch
        lines.append(line)
    return "\n".join(lines)


class ImageText(ImageVariant):
    name = "image_text"
    summary = "The text rendered as a picture with seeded rotation, low contrast and noise."
    source = ("text in images, which keyword filters miss without OCR; drawn with a CJK font "
              "found by harness.probes.images (Noto Sans CJK, fonts-noto-cjk) using Pillow")

    def render(self, text: str, rng: random.Random) -> bytes:
        from PIL import Image, ImageDraw, ImageFont  # noqa: PLC0415  (heavy import)

        size = rng.randint(40, 52)
        font = ImageFont.truetype(str(images.cjk_font_path()), size)
        measure = ImageDraw.Draw(Image.new("L", (1, 1)))
        text = _wrap(text, lambda line: measure.textlength(line, font=font) <= _MAX_LINE_WIDTH)
        left, top, right, bottom = measure.multiline_textbbox((0, 0), text, font=font, spacing=12)
        background = rng.randint(190, 235)
        ink = background - rng.randint(80, 110)
        margin = size
        canvas = Image.new("L", (right - left + 2 * margin, bottom - top + 2 * margin), background)
        draw = ImageDraw.Draw(canvas)
        draw.multiline_text((margin - left, margin - top), text, fill=ink, font=font, spacing=12)
        canvas = canvas.rotate(rng.uniform(-6.0, 6.0), resample=Image.Resampling.BICUBIC,
                               expand=True, fillcolor=background)
        width, height = canvas.size
        for _ in range(2):  # faint strokes across the text
            points = [(0, rng.randrange(height)), (width - 1, rng.randrange(height))]
            draw = ImageDraw.Draw(canvas)
            draw.line(points, fill=(ink + background) // 2, width=1)
        pixels = canvas.load()
        for _ in range(width * height // 50):  # speckle noise on 2% of the pixels
            pixels[rng.randrange(width), rng.randrange(height)] = rng.randint(0, 255)
        return images._png(canvas.convert("RGB"))


class QrCode(ImageVariant):
    name = "qr_code"
    summary = "The text carried by a QR code."
    source = ("QR codes (ISO/IEC 18004) are named by the Account Information Provisions (CAC, "
              "2022); made with python-qrcode through harness.probes.images.qr_image")

    def render(self, text: str, rng: random.Random) -> bytes:
        return images.qr_image(text)
