"""Lantern Forum's content filter: a keyword library matched on normalised text, and an image
check that decodes QR codes and reads rendered text with tesseract.

Text: NFKC, case folding, then every whitespace, punctuation, symbol and format character is
dropped; a term matches as a substring. Images: a QR payload is filtered like text; OCR output
is matched approximately (one character error per five), because OCR misreads some glyphs.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

LEXICON = Path(__file__).with_name("lexicon.txt")
_DROPPED = ("Z", "P", "S", "C")  # separators, punctuation, symbols, control/format
OCR_TIMEOUT = 60
OCR_LANGUAGES = ("chi_sim", "eng")


def normalise(text: str) -> str:
    """The form terms and content are compared in."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if not unicodedata.category(ch).startswith(_DROPPED))


@cache
def terms() -> tuple[str, ...]:
    """The normalised terms of the keyword library."""
    found = []
    for line in LEXICON.read_text(encoding="utf-8").splitlines():
        term = normalise(line.split("#", 1)[0])
        if term:
            found.append(term)
    return tuple(found)


@dataclass(frozen=True)
class Verdict:
    """The filter's decision on one piece of content: `hit` names the matched term."""

    hit: str | None = None
    via: str = "text"

    @property
    def blocked(self) -> bool:
        return self.hit is not None


def check_text(text: str) -> Verdict:
    """Block text that contains a library term after normalisation."""
    plain = normalise(text)
    for term in terms():
        if term in plain:
            return Verdict(term, "text")
    return Verdict()


def _fuzzy_contains(term: str, text: str, max_errors: int) -> bool:
    """Whether some substring of `text` is within `max_errors` edits of `term` (Sellers)."""
    if not term:
        return False
    previous = list(range(len(term) + 1))
    for ch in text:
        current = [0]
        for i, want in enumerate(term, 1):
            current.append(min(previous[i] + 1, current[i - 1] + 1,
                               previous[i - 1] + (want != ch)))
        if current[-1] <= max_errors:
            return True
        previous = current
    return previous[-1] <= max_errors


def check_ocr_text(text: str) -> Verdict:
    """Block OCR output close to a term: one error allowed per five characters of the term."""
    plain = normalise(text)
    for term in terms():
        if _fuzzy_contains(term, plain, len(term) // 5):
            return Verdict(term, "ocr")
    return Verdict()


class BadImage(ValueError):
    """The upload is not an image the forum accepts."""


def check_image(data: bytes) -> Verdict:
    """Decode the image, refuse canary text in its QR codes or in its rendered text."""
    from PIL import Image  # heavy: imported only when an image arrives

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception as exc:  # PIL raises many types for a bad file
        raise BadImage(f"not a readable image: {type(exc).__name__}") from None
    if image.format not in ("PNG", "JPEG", "GIF", "WEBP"):
        raise BadImage(f"image format {image.format} is not accepted")
    for payload in _qr_payloads(image):
        verdict = check_text(payload)
        if verdict.blocked:
            return Verdict(verdict.hit, "qr")
    return check_ocr_text(_ocr(data))


def _qr_payloads(image: object) -> list[str]:
    import zxingcpp

    return [found.text for found in zxingcpp.read_barcodes(image) if found.text]


def _ocr(data: bytes) -> str:
    """Text tesseract reads in the image; empty without tesseract.

    Two passes run side by side, Chinese and English models apart: the combined model
    (`chi_sim+eng`) often reads a line of Chinese as Latin gibberish, which the Chinese model
    alone reads almost right (and it reads Latin capitals well too).
    """
    binary = shutil.which("tesseract")
    if binary is None:
        return ""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    with tempfile.NamedTemporaryFile(suffix=".img") as handle:
        handle.write(data)
        handle.flush()
        passes = [subprocess.Popen([binary, handle.name, "stdout", "-l", lang],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                   env=env) for lang in OCR_LANGUAGES]
        texts = []
        for process in passes:
            try:
                texts.append(process.communicate(timeout=OCR_TIMEOUT)[0])
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
    return "\n".join(texts)
