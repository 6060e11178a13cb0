"""Uploaded images: validation, text recognition (tesseract) and QR/barcode decoding.

Moderation needs the words an image carries. Tesseract's Chinese models misread small or large
glyphs, so recognition runs as a short series of passes over differently prepared copies of the
image, cheapest first, and the caller stops at the first pass whose text is prohibited.
"""

from __future__ import annotations

import io
import os
import subprocess
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import zxingcpp
from PIL import Image, ImageOps

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_PIXELS = 25_000_000
# Formats accepted for avatars and logos: PIL format name -> (MIME type, file extension).
FORMATS: dict[str, tuple[str, str]] = {"PNG": ("image/png", "png"), "JPEG": ("image/jpeg", "jpg")}

# Largest side fed to tesseract; bigger images are scaled down first.
_OCR_MAX_SIDE = 2400
_TESSERACT_TIMEOUT = 30.0


class ImageError(ValueError):
    """The upload is not an acceptable image."""


class OcrError(RuntimeError):
    """Tesseract is missing, failed or timed out."""


@dataclass(frozen=True)
class UploadedImage:
    """A validated upload: the exact bytes, their type, and a flattened RGB copy to inspect."""

    data: bytes
    mime: str
    ext: str
    pixels: Image.Image


def decode_image(data: bytes) -> UploadedImage:
    """Check that `data` is a PNG or JPEG of sane size; raise ImageError otherwise."""
    if not data:
        raise ImageError("the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(f"the file is larger than {MAX_UPLOAD_BYTES} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in FORMATS:
                raise ImageError("only PNG and JPEG images are accepted")
            if image.width * image.height > MAX_PIXELS:
                raise ImageError(f"the image has more than {MAX_PIXELS} pixels")
            image.load()
    except ImageError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"the file is not a readable image ({exc})") from exc
    mime, ext = FORMATS[image.format]
    return UploadedImage(data=data, mime=mime, ext=ext, pixels=_flatten(image))


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white: transparent areas become white, as a viewer would see them on a page."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def reencoded(image: UploadedImage, side: int = 300, quality: int = 80) -> bytes:
    """The upload as many sites store it: padded to a square on white, `side` px, JPEG."""
    square = ImageOps.pad(image.pixels, (side, side), method=Image.Resampling.LANCZOS,
                          color="white")
    buffer = io.BytesIO()
    square.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


# --- QR codes and barcodes -------------------------------------------------------------------


def decode_barcodes(image: Image.Image) -> list[str]:
    """Texts of every QR code or barcode zxing-cpp finds, also trying a 2x copy of small images."""
    found = [result.text for result in zxingcpp.read_barcodes(image) if result.text]
    if not found and max(image.size) < 600:
        bigger = image.resize((image.width * 2, image.height * 2), Image.Resampling.NEAREST)
        found = [result.text for result in zxingcpp.read_barcodes(bigger) if result.text]
    return found


# --- text recognition ------------------------------------------------------------------------


@dataclass(frozen=True)
class OcrPass:
    """One way of reading an image: how to prepare it and which tesseract models to use."""

    name: str
    languages: str
    page_mode: int
    prepare: Callable[[Image.Image], Image.Image]


def _as_given(image: Image.Image) -> Image.Image:
    return _fit(image, _OCR_MAX_SIDE)


def _upscaled_gray(image: Image.Image) -> Image.Image:
    gray = ImageOps.grayscale(_fit(image, _OCR_MAX_SIDE // 2))
    return gray.resize((gray.width * 2, gray.height * 2), Image.Resampling.LANCZOS)


def _fit(image: Image.Image, side: int) -> Image.Image:
    scale = side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _otsu_threshold(gray: Image.Image) -> int:
    """The grey level that best separates ink from background (Otsu's method)."""
    histogram = gray.histogram()
    count = sum(histogram)
    total = sum(level * n for level, n in enumerate(histogram))
    best_variance, threshold = -1.0, 128
    weight_low = sum_low = 0
    for level, n in enumerate(histogram):
        weight_low += n
        sum_low += level * n
        weight_high = count - weight_low
        if weight_low == 0 or weight_high == 0:
            continue
        mean_low = sum_low / weight_low
        mean_high = (total - sum_low) / weight_high
        variance = weight_low * weight_high * (mean_low - mean_high) ** 2
        if variance > best_variance:
            best_variance, threshold = variance, level
    return threshold


def line_normalised(image: Image.Image, line_height: int) -> Image.Image:
    """Binarise (dark ink on white), crop to the ink and scale so text lines are `line_height` px.

    Tesseract's Chinese models read best at a line height of a few dozen pixels; avatars and
    logos come with text of any size, so the tallest text line is brought to that height.
    """
    gray = ImageOps.grayscale(_fit(image, _OCR_MAX_SIDE))
    threshold = _otsu_threshold(gray)
    binary = gray.point(lambda level: 255 if level > threshold else 0)
    if binary.histogram()[0] > binary.width * binary.height // 2:
        binary = ImageOps.invert(binary)  # light text on a dark background
    ink = ImageOps.invert(binary)
    box = ink.getbbox()
    if box is None:
        return binary
    ink = ink.crop(box)
    # Mean ink per row; rows above a speck-level floor belong to a text line.
    profile = ink.resize((1, ink.height), Image.Resampling.BOX)
    runs, current = [], 0
    for row in range(ink.height):
        if profile.getpixel((0, row)) > 1:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    runs.append(current)
    tallest = max(runs) or ink.height
    scale = min(max(line_height / tallest, 0.25), 8.0)
    cropped = binary.crop(box)
    size = (max(1, round(cropped.width * scale)), max(1, round(cropped.height * scale)))
    cropped = _fit(cropped.resize(size, Image.Resampling.LANCZOS), _OCR_MAX_SIDE)
    margin = line_height // 2
    canvas = Image.new("L", (cropped.width + 2 * margin, cropped.height + 2 * margin), 255)
    canvas.paste(cropped, (margin, margin))
    return canvas


OCR_PASSES: tuple[OcrPass, ...] = (
    OcrPass("as-given", "chi_sim+eng", 3, _as_given),
    OcrPass("upscaled-gray", "chi_sim+eng", 6, _upscaled_gray),
    OcrPass("lines-32px", "chi_sim", 6, lambda image: line_normalised(image, 32)),
    OcrPass("lines-40px-traditional", "chi_tra", 6, lambda image: line_normalised(image, 40)),
)


class Tesseract:
    """The tesseract command line, run as a subprocess with a timeout."""

    def __init__(self, binary: str = "tesseract", timeout: float = _TESSERACT_TIMEOUT):
        self.binary = binary
        self.timeout = timeout

    def read(self, image: Image.Image, languages: str, page_mode: int) -> str:
        """The text tesseract reads in `image`; raise OcrError if it cannot run."""
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        # One thread per process: the site may OCR several uploads at once.
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        command = [self.binary, "stdin", "stdout", "-l", languages, "--psm", str(page_mode)]
        try:
            done = subprocess.run(
                command, input=buffer.getvalue(), capture_output=True, timeout=self.timeout,
                env=env, check=False,
            )
        except FileNotFoundError as exc:
            raise OcrError(f"{self.binary} is not installed") from exc
        except subprocess.TimeoutExpired as exc:
            raise OcrError(f"{self.binary} took longer than {self.timeout}s") from exc
        if done.returncode != 0:
            detail = done.stderr.decode("utf-8", "replace").strip()[-300:]
            raise OcrError(f"{self.binary} exited with {done.returncode}: {detail}")
        return done.stdout.decode("utf-8", "replace")

    def passes(self, image: Image.Image) -> Iterator[tuple[str, str]]:
        """(pass name, text) for each pass in OCR_PASSES, lazily, so callers can stop early."""
        for ocr_pass in OCR_PASSES:
            yield ocr_pass.name, self.read(
                ocr_pass.prepare(image), ocr_pass.languages, ocr_pass.page_mode
            )
