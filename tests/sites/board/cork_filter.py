"""Corkboard's content filter: a banned-word list matched on lightly normalised text, and an
image check that decodes QR codes and reads rendered text with tesseract.

Text is normalised a little (NFKC, lower case, spaces, hyphens, underscores, dots and
zero-width characters dropped) and a banned word matches as a substring. Text read from an
image by OCR matches a banned word when some window of it is at least 80% similar (difflib),
because OCR misreads a glyph now and then.
"""

from __future__ import annotations

import difflib
import io
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
from functools import cache
from pathlib import Path

KEYWORDS = Path(__file__).with_name("keywords.txt")
_DROPPED = re.compile(r"[\s\-_.\u200b-\u200f\u2060\ufeff]+")
OCR_SIMILARITY = 0.8
OCR_TIMEOUT = 60
OCR_LANGUAGES = ("chi_sim", "eng")
JPEG_QUALITY = 88


def normalise(text: str) -> str:
    """The form banned words and content are compared in."""
    return _DROPPED.sub("", unicodedata.normalize("NFKC", text).lower())


@cache
def banned() -> tuple[str, ...]:
    """The normalised entries of the banned-word list."""
    entries = (normalise(line.split("#", 1)[0]) for line in
               KEYWORDS.read_text(encoding="utf-8").splitlines())
    return tuple(entry for entry in entries if entry)


def banned_word(text: str) -> str | None:
    """The banned word the text contains, if any."""
    plain = normalise(text)
    return next((word for word in banned() if word in plain), None)


def _similar_window(word: str, text: str) -> bool:
    """Whether a window of `text` about as long as `word` is OCR_SIMILARITY alike to it."""
    for size in {len(word) - 1, len(word), len(word) + 1}:
        for start in range(max(len(text) - size + 1, 1)):
            window = text[start:start + size]
            if difflib.SequenceMatcher(None, word, window).ratio() >= OCR_SIMILARITY:
                return True
    return False


class NotAnImage(ValueError):
    """The upload cannot be read as a picture."""


def to_jpeg(data: bytes) -> bytes:
    """The upload re-encoded as a JPEG (what Corkboard stores and serves, whatever came)."""
    from PIL import Image  # heavy: imported when an image arrives

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception as exc:  # PIL raises many types for a bad file
        raise NotAnImage(f"not a picture Corkboard can read ({type(exc).__name__})") from None
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def image_banned_word(jpeg: bytes) -> str | None:
    """The banned word a picture carries in a QR code or as rendered text, if any."""
    import zxingcpp
    from PIL import Image

    for found in zxingcpp.read_barcodes(Image.open(io.BytesIO(jpeg))):
        word = banned_word(found.text) if found.text else None
        if word:
            return word
    plain = normalise(_ocr(jpeg))
    return next((word for word in banned() if _similar_window(word, plain)), None)


def _ocr(data: bytes) -> str:
    """The text tesseract reads in the picture, one pass per language; empty without it."""
    binary = shutil.which("tesseract")
    if binary is None:
        return ""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    with tempfile.NamedTemporaryFile(suffix=".jpg") as handle:
        handle.write(data)
        handle.flush()
        texts = []
        for lang in OCR_LANGUAGES:
            try:
                texts.append(subprocess.run(
                    [binary, handle.name, "stdout", "-l", lang], capture_output=True, text=True,
                    timeout=OCR_TIMEOUT, env=env, check=False).stdout)
            except subprocess.TimeoutExpired:
                continue
    return "\n".join(texts)
