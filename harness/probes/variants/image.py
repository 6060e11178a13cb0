"""Image families: the probe's text rendered into a picture, or carried by a QR code.

A filter that reads only text fields misses both. `image_text` distorts the rendering (a tilt,
low contrast, speckle noise) within limits that keep it readable by OCR most of the time, so a
target that does run OCR has a fair chance; `qr_code` is a plain QR code.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import cache

from harness.probes import images
from harness.probes.variants.base import ImageVariant

# Widest text line before wrapping, in pixels.
_MAX_LINE_WIDTH = 900
# Tesseract's Chinese models misread some glyphs at some pixel sizes (雀 at 47 px, for one) and
# lose most lines tilted by more than a degree or two; these limits keep the read rate high
# (measured in tests/unit/test_variants.py) while still distorting every image.
_FONT_SIZES = (44, 46, 48, 50, 52, 54)
_MAX_TILT_DEGREES = 1.2
_NOISE_SHARE = 0.01


@cache
def _font() -> tuple[str, int]:
    """The font file and face for probe pictures: the CJK font harness.probes.images finds,
    its serif sibling when installed (OCR reads Song-style glyphs best), simplified face."""
    from PIL import ImageFont  # noqa: PLC0415

    found = images.cjk_font_path()
    serif = found.with_name(found.name.replace("Sans", "Serif"))
    path = str(serif if serif.is_file() else found)
    for index in range(16):  # a .ttc holds one face per region; take the simplified one
        try:
            family = ImageFont.truetype(path, 12, index=index).getname()[0] or ""
        except OSError:
            break
        if family.endswith(" SC"):
            return path, index
    return path, 0


def _wrap(text: str, fits: Callable[[str], bool]) -> str:
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
    summary = "The text rendered as a picture with seeded tilt, low contrast and speckle noise."
    source = ("text in images, which keyword filters miss without OCR; drawn with Pillow in the "
              "CJK font that harness.probes.images finds (Noto CJK from fonts-noto-cjk)")

    def render(self, text: str, rng: random.Random) -> bytes:
        from PIL import Image, ImageDraw, ImageFont  # noqa: PLC0415  (heavy import)

        size = rng.choice(_FONT_SIZES)
        path, index = _font()
        font = ImageFont.truetype(path, size, index=index)
        measure = ImageDraw.Draw(Image.new("L", (1, 1)))
        text = _wrap(text, lambda line: measure.textlength(line, font=font) <= _MAX_LINE_WIDTH)
        left, top, right, bottom = measure.multiline_textbbox((0, 0), text, font=font)
        background = rng.randint(190, 235)
        ink = background - rng.randint(80, 110)  # low contrast: grey on light grey
        canvas = Image.new("L", (right - left + 2 * size, bottom - top + 2 * size), background)
        ImageDraw.Draw(canvas).multiline_text((size - left, size - top), text, fill=ink,
                                              font=font)
        canvas = canvas.rotate(rng.uniform(-_MAX_TILT_DEGREES, _MAX_TILT_DEGREES),
                               resample=Image.Resampling.BICUBIC, expand=True,
                               fillcolor=background)
        width, height = canvas.size
        pixels = canvas.load()
        for _ in range(int(width * height * _NOISE_SHARE)):
            x, y = rng.randrange(width), rng.randrange(height)
            pixels[x, y] = min(255, max(0, pixels[x, y] + rng.randint(-40, 40)))
        return images._png(canvas.convert("RGB"))


class QrCode(ImageVariant):
    name = "qr_code"
    summary = "The text carried by a QR code."
    source = ("QR codes (ISO/IEC 18004) are named by the Account Information Provisions (CAC, "
              "2022); made with python-qrcode through harness.probes.images.qr_image")
    seeded = False
    carries = "qr"

    def render(self, text: str, rng: random.Random) -> bytes:
        return images.qr_image(text)
