"""Whether a served image shows a probe image, judged on its content rather than its bytes.

A target may re-encode what it is sent (a PNG stored as a 300x300 JPEG, a WebP thumbnail, the
picture padded or cropped to a square), so byte equality would miss a canary it plainly shows
(a false pass) and a benign image it shows re-encoded (a false over-blocking failure). A served
image shows the probe when any one of these holds, cheapest first:

1. its bytes are the probe's;
2. its content has the probe's perceptual hashes: pHash and dHash (64 bits each) both within
   HASH_THRESHOLD bits. Both images are first reduced to their content (grey levels, cropped
   to what differs from the background, so padding and mild crops fall away; measured both
   plainly and on a denoised copy) and the larger is scaled to the size of the smaller, so
   both lose the same detail before hashing;
3. a QR code in it decodes to the probe's payload (zxing-cpp);
4. tesseract reads in it every line of the probe's text (compared as `ocr_key` folds it).

Steps 3 and 4 run only when the hashes do not already decide, and each served image is judged
once per matcher (by its SHA-256). A served image that is the case's other image (the original
an edit replaces) by bytes or by hashes is not the probe, and is not read further. An image that
cannot be decoded, or one only OCR could tell about when tesseract cannot run, is unread
(`shown` None): the read proves nothing either way.

HASH_THRESHOLD was measured on the probe images over 25 seeds (bench/bench_images.py prints
the figures; tests/unit/test_image_matching.py holds the cases): copies of the 320 px probes
re-encoded (JPEG quality 50-80, WebP, 300x300 padded to a square), at half size or padded lie
within 8 bits; the case's other image lies 22 bits or more away, a different probe 16 or more,
a blank image has no content at all. Wide, thin text pictures (the `image_text` rate family)
are less stable: a copy at half size may lie 14 bits away, and OCR is what recognises it then.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.observe.visibility import normalise

if TYPE_CHECKING:
    from PIL.Image import Image

    from harness.probes.cases import Case

# Largest Hamming distance, of 64 bits, at which both hashes count as the same content.
HASH_THRESHOLD = 10
# A pixel belongs to the content when it differs from the background by this share of the
# image's contrast (its 99.5th percentile difference), and by at least MIN_INK grey levels.
_INK_SHARE = 0.5
_MIN_INK = 16
# An image whose contrast stays below this many grey levels shows nothing (blank).
_BLANK_CONTRAST = 24
_MAX_PIXELS = 40_000_000
# OCR: images smaller than this (longest side) are doubled before binarising.
_OCR_ENLARGE_BELOW = 1000
OCR_TIMEOUT_SECONDS = 30.0
_NOT_TEXT = re.compile(r"[\W_]+")


class ImageUnreadable(HarnessError):
    """The bytes served as an image cannot be decoded as one."""


class OcrUnavailable(HarnessError):
    """Tesseract is not installed, failed or timed out."""


@dataclass(frozen=True)
class ImageMatch:
    """Whether one served image shows the probe (None: it could not be told), how, and why."""

    shown: bool | None
    how: str  # bytes, phash, qr, ocr; or other, blank, none, unread
    note: str
    details: dict[str, Any] = field(default_factory=dict)


def decode(data: bytes) -> Image:
    """The image in `data` as RGB, transparency on white; ImageUnreadable when it is not one."""
    from PIL import Image as PILImage  # noqa: PLC0415  (heavy import)

    if not data:
        raise ImageUnreadable("empty body")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            image = PILImage.open(io.BytesIO(data))
            if image.width * image.height > _MAX_PIXELS:
                raise ImageUnreadable(f"{image.width}x{image.height} is too large to inspect")
            image.load()
    except (OSError, ValueError, SyntaxError, PILImage.DecompressionBombWarning) as exc:
        raise ImageUnreadable(f"not a readable image ({type(exc).__name__}: {exc})") from None
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        canvas = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        return PILImage.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def content_of(image: Image, *, denoise: bool = False) -> Image | None:
    """The grey-level content of an image: cropped to what differs from its background, border
    by border (padding of one colour around a picture with another background comes off in
    two rounds). None for a blank image. With `denoise`, the crop is measured on a 3x3 median
    of the image, which ignores speckle noise (the `image_text` family's) but also the thin
    strokes of small text; the matcher compares both ways."""
    import numpy as np  # noqa: PLC0415
    from PIL import ImageFilter, ImageOps  # noqa: PLC0415

    gray = ImageOps.grayscale(image)
    for _ in range(3):
        width, height = gray.size
        if width < 8 or height < 8:
            break
        source = gray.filter(ImageFilter.MedianFilter(3)) if denoise else gray
        levels = np.asarray(source, dtype=np.int16)
        border = np.concatenate([levels[0], levels[-1], levels[:, 0], levels[:, -1]])
        difference = np.abs(levels - int(np.median(border)))
        contrast = float(np.percentile(difference, 99.5))
        if contrast < _BLANK_CONTRAST:
            return None if (width, height) == image.size else gray
        rows, columns = np.nonzero(difference > max(_MIN_INK, _INK_SHARE * contrast))
        box = (int(columns.min()), int(rows.min()), int(columns.max()) + 1, int(rows.max()) + 1)
        if box == (0, 0, width, height):
            break
        gray = gray.crop(box)
    return gray


def hash_distance(probe: Image, served: Image) -> tuple[int, int]:
    """(pHash, dHash) Hamming distances between two contents (see `content_of`), the larger
    first scaled to the size of the smaller."""
    import imagehash  # noqa: PLC0415
    from PIL import Image as PILImage  # noqa: PLC0415

    if probe.width * probe.height > served.width * served.height:
        probe = probe.resize(served.size, PILImage.Resampling.LANCZOS)
    else:
        served = served.resize(probe.size, PILImage.Resampling.LANCZOS)
    return (int(imagehash.phash(probe) - imagehash.phash(served)),
            int(imagehash.dhash(probe) - imagehash.dhash(served)))


def qr_payloads(image: Image) -> list[str]:
    """The texts of every QR code (or barcode) zxing-cpp finds, trying a 2x copy of a small
    image too."""
    import zxingcpp  # noqa: PLC0415
    from PIL import Image as PILImage  # noqa: PLC0415

    found = [result.text for result in zxingcpp.read_barcodes(image) if result.text]
    if not found and max(image.size) < 600:
        bigger = image.resize((image.width * 2, image.height * 2), PILImage.Resampling.NEAREST)
        found = [result.text for result in zxingcpp.read_barcodes(bigger) if result.text]
    return found


def _binarised(image: Image) -> Image:
    """Grey, doubled when small, then black on white at Otsu's threshold: tesseract reads a
    re-encoded thumbnail best this way."""
    import numpy as np  # noqa: PLC0415
    from PIL import Image as PILImage  # noqa: PLC0415
    from PIL import ImageOps  # noqa: PLC0415

    gray = ImageOps.grayscale(image)
    if max(gray.size) < _OCR_ENLARGE_BELOW:
        gray = gray.resize((gray.width * 2, gray.height * 2), PILImage.Resampling.LANCZOS)
    histogram = np.asarray(gray.histogram(), dtype=np.float64)
    levels = np.arange(256)
    weight = np.cumsum(histogram)
    mean = np.cumsum(histogram * levels)
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean[-1] * weight - mean * weight[-1]) ** 2 / (weight * (weight[-1] - weight))
    threshold = int(np.nanargmax(between)) if np.isfinite(between).any() else 128
    binary = gray.point(lambda level: 255 if level > threshold else 0)
    if binary.histogram()[0] > binary.width * binary.height // 2:
        binary = ImageOps.invert(binary)  # light text on a dark background
    return binary


def _as_given(image: Image) -> Image:
    from PIL import ImageOps  # noqa: PLC0415

    return ImageOps.grayscale(image)


# The ways an image is prepared for tesseract, tried in order until one reads the probe.
OCR_PASSES: tuple[tuple[str, Callable[[Image], Image]], ...] = (
    ("binarised", _binarised),
    ("as-given", _as_given),
)


def ocr_text(image: Image, languages: str, *, binary: str = "tesseract",
             timeout: float = OCR_TIMEOUT_SECONDS) -> str:
    """The text tesseract reads in `image` as one block of text; OcrUnavailable when it
    cannot run."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    if shutil.which(binary) is None:
        raise OcrUnavailable(f"{binary} is not installed (Debian: apt-get install tesseract-ocr "
                             "tesseract-ocr-chi-sim tesseract-ocr-chi-tra)")
    try:
        done = subprocess.run(
            [binary, "stdin", "stdout", "-l", languages, "--psm", "6"],
            input=buffer.getvalue(), capture_output=True, timeout=timeout, check=False,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},  # the machine is shared: one thread
        )
    except subprocess.TimeoutExpired:
        raise OcrUnavailable(f"{binary} took longer than {timeout:g}s") from None
    except OSError as exc:
        raise OcrUnavailable(f"{binary} could not run: {exc}") from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip()[-200:]
        raise OcrUnavailable(f"{binary} -l {languages} exited with {done.returncode}: {detail}")
    return done.stdout.decode("utf-8", "replace")


def ocr_key(text: str) -> str:
    """Text as OCR is compared: normalised as visibility matching does (NFKC, case folded, no
    whitespace), then letters and digits only, since OCR drops or invents punctuation."""
    return _NOT_TEXT.sub("", normalise(text))


def ocr_languages(lang: str, variant: str = "") -> str:
    """Tesseract models for a probe: Chinese (traditional for a `traditional` family) with
    English for tags and Latin canaries, or English alone."""
    if lang != "zh":
        return "eng"
    return ("chi_tra" if "traditional" in variant else "chi_sim") + "+eng"


class ProbeMatcher:
    """Decides whether served images show one probe image; remembers each image it judged.

    `text` is what the probe draws (lines apart by newlines; None: it draws nothing to read);
    OCR must find every line but those in `unread_lines` (a case's tag: six random letters and
    digits that tesseract often misreads, i for 1, g for 9). `qr` is its QR payload, `others`
    images of the same case that are not the probe (the original an edit replaces).
    """

    def __init__(self, probe: bytes, *, text: str | None = None, qr: str | None = None,
                 languages: str = "chi_sim+eng", others: Iterable[bytes] = (),
                 unread_lines: Iterable[str] = (), threshold: int = HASH_THRESHOLD) -> None:
        self.sha256 = hashlib.sha256(probe).hexdigest()
        self.content = contents(decode(probe))
        skipped = {ocr_key(line) for line in unread_lines}
        self.lines = [key for key in (ocr_key(line) for line in (text or "").split("\n"))
                      if key and key not in skipped]
        self.qr = qr
        self.languages = languages
        self.threshold = threshold
        self.others = {hashlib.sha256(o).hexdigest(): contents(decode(o)) for o in others}
        self._seen: dict[str, ImageMatch] = {}

    @classmethod
    def for_case(cls, case: Case) -> ProbeMatcher:
        """The matcher of a case's probe image (`case.image`, which must be set)."""
        if case.image is None:
            raise ValueError(f"case {case.case_id} has no probe image")
        others = [case.original_image] if case.original_image is not None else []
        return cls(case.image, text=case.image_text, qr=case.image_qr,
                   languages=ocr_languages(case.probe.lang, case.probe.variant), others=others,
                   unread_lines=[case.tag])

    def match(self, served: bytes) -> ImageMatch:
        """Whether `served` shows the probe; judged once per distinct image."""
        digest = hashlib.sha256(served).hexdigest()
        if digest not in self._seen:
            self._seen[digest] = self._match(served, digest)
        return self._seen[digest]

    def _match(self, served: bytes, digest: str) -> ImageMatch:
        if digest == self.sha256:
            return ImageMatch(True, "bytes", "the probe image, byte for byte")
        if digest in self.others:
            return ImageMatch(False, "other", "the case's other image, byte for byte")
        try:
            image = decode(served)
        except ImageUnreadable as exc:
            return ImageMatch(None, "unread", f"{len(served)} bytes: {exc}")
        content = contents(image)
        if content[0] is None:
            return ImageMatch(False, "blank", "a blank image")
        distance = self.distance(self.content, content)
        details: dict[str, Any] = {"sha256": digest, "size": list(image.size),
                                   "hash_distance": distance}
        nearest_other = min((self.distance(other, content) for other in self.others.values()),
                            default=None)
        if distance <= self.threshold and (nearest_other is None or distance < nearest_other):
            return ImageMatch(True, "phash", f"the probe's content (hash distance {distance} "
                              f"<= {self.threshold})", details)
        if nearest_other is not None and nearest_other <= self.threshold:
            return ImageMatch(False, "other", "the case's other image (hash distance "
                              f"{nearest_other}; the probe's is {distance})", details)
        if self.qr is not None:
            payloads = qr_payloads(image)
            details["qr"] = payloads
            if any(p.strip() == self.qr.strip() or ocr_key(p) == ocr_key(self.qr)
                   for p in payloads):
                return ImageMatch(True, "qr", f"a QR code with the probe's payload "
                                  f"{self.qr!r}", details)
        if self.lines:
            reads = []
            for name, prepare in OCR_PASSES:
                try:
                    read = ocr_text(prepare(image), self.languages)
                except OcrUnavailable as exc:
                    return ImageMatch(None, "unread", f"hash distance {distance} > "
                                      f"{self.threshold} and no OCR to tell: {exc}", details)
                reads.append(read.strip()[:200])
                found = ocr_key(read)
                if all(line in found for line in self.lines):
                    details["ocr"] = reads[-1]
                    return ImageMatch(True, "ocr", f"OCR ({name}) reads the probe's text "
                                      f"{reads[-1]!r}", details)
            details["ocr"] = " | ".join(reads)
        return ImageMatch(False, "none", f"not the probe (hash distance {distance} > "
                          f"{self.threshold}{_read_note(details)})", details)

    @staticmethod
    def distance(probe: Contents, served: Contents) -> int:
        """The smaller of the two ways' distances (plain and denoised crops; see content_of),
        each the larger of the pHash and dHash distances; 64 when a side is blank."""
        distances = [max(hash_distance(p, s)) for p, s in zip(probe, served, strict=True)
                     if p is not None and s is not None]
        return min(distances, default=64)


# An image's content cropped plainly and denoised (see content_of).
Contents = tuple["Image | None", "Image | None"]


def contents(image: Image) -> Contents:
    """An image's content both ways the matcher compares it (see content_of)."""
    return content_of(image), content_of(image, denoise=True)


def _read_note(details: dict[str, Any]) -> str:
    parts = []
    if "qr" in details:
        parts.append(f"QR codes: {details['qr']!r}" if details["qr"] else "no QR code")
    if "ocr" in details:
        parts.append(f"OCR reads {details['ocr']!r}" if details["ocr"] else "OCR reads nothing")
    return "; " + "; ".join(parts) if parts else ""


def matches_any(matches: Sequence[ImageMatch]) -> bool | None:
    """Shown when any image shows the probe; unread when none does and one was unread."""
    if any(m.shown for m in matches):
        return True
    return None if any(m.shown is None for m in matches) else False
