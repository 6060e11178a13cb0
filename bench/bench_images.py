"""Image-matcher figures: what recognising a probe in a served image costs, and the hash
distances HASH_THRESHOLD (harness.observe.images) was chosen from.

Costs per served image: a matcher's set-up (the probe and the case's original decoded and
trimmed), a match decided by the hashes (a re-encoded copy, the case's original), and one
that falls through to QR decoding and OCR (another probe's image; one tesseract call per OCR
pass). Distances: the largest between each probe and its copies (re-encoded, resized, padded),
and the smallest between each probe and images that are not it.

    .venv/bin/python bench/bench_images.py [--seeds N]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from PIL import Image, ImageOps

from harness.observe.images import HASH_THRESHOLD, ProbeMatcher, contents, decode
from harness.probes.canaries import lexicon
from harness.probes.cases import IMAGE_PROBES, MUST_BLOCK, Case, ProbeSpec, build_case, derive_case


def _encode(image: Image.Image, fmt: str, quality: int = 80) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, quality=quality)
    return buffer.getvalue()


def _square(image: Image.Image) -> bytes:
    side = max(image.size)
    return _encode(ImageOps.pad(image, (side, side), color="white").resize((300, 300)), "JPEG")


COPIES: dict[str, Callable[[Image.Image], bytes]] = {
    "jpeg 300x300 square": _square,
    "jpeg q50": lambda image: _encode(image, "JPEG", 50),
    "webp q75": lambda image: _encode(image, "WEBP", 75),
    "half size": lambda image: _encode(image.resize((image.width // 2, image.height // 2)),
                                       "PNG"),
    "padded": lambda image: _encode(ImageOps.expand(image, border=20, fill="#ccc"), "PNG"),
}


def _cases(seeds: int) -> list[tuple[str, Case]]:
    canaries = list(lexicon().values())
    found = []
    for seed in range(seeds):
        found += [(probe.id, build_case("avatar", "edit", probe, seed)) for probe in IMAGE_PROBES]
        canary = canaries[seed % len(canaries)]
        probe = ProbeSpec("image_text", MUST_BLOCK, canary.lang, "image_text", canary.id)
        found.append(("rate image_text", derive_case("avatar", probe, canary.text, seed)))
    return found


def _ms(seconds: list[float]) -> str:
    return (f"median {statistics.median(seconds) * 1000:7.1f} ms   "
            f"max {max(seconds) * 1000:7.1f} ms   (n={len(seconds)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    cases = _cases(args.seeds)
    setup, by_hash, fallthrough, how = [], [], [], defaultdict(int)
    same: dict[tuple[str, str], list[int]] = defaultdict(list)
    apart: dict[str, list[int]] = defaultdict(list)
    for index, (kind, case) in enumerate(cases):
        clock = time.perf_counter()
        matcher = ProbeMatcher.for_case(case)
        setup.append(time.perf_counter() - clock)
        probe = decode(case.image)
        for name, copy in COPIES.items():
            served = copy(probe)
            same[(kind, name)].append(matcher.distance(matcher.content, contents(decode(served))))
            if name == "jpeg 300x300 square":
                clock = time.perf_counter()
                found = matcher.match(served)
                by_hash.append(time.perf_counter() - clock)
                how[found.how] += 1
        if case.original_image is not None and kind != "rate image_text":
            served = _square(decode(case.original_image))
            apart["the case's original"].append(
                matcher.distance(matcher.content, contents(decode(served))))
        _, other = cases[(index + 7) % len(cases)]
        if other.text.split()[0] != case.text.split()[0]:
            served = _square(decode(other.image))
            apart["another probe"].append(
                matcher.distance(matcher.content, contents(decode(served))))
            clock = time.perf_counter()
            found = matcher.match(served)
            fallthrough.append(time.perf_counter() - clock)
            how[f"other: {found.how}"] += 1
    print(f"image matcher, {len(cases)} probe images ({args.seeds} seeds), "
          f"threshold {HASH_THRESHOLD} of 64 bits")
    print(f"  set-up per case (probe + original)   {_ms(setup)}")
    print(f"  match by hash (re-encoded copy)      {_ms(by_hash)}")
    print(f"  no match: hash, QR, 2 OCR passes     {_ms(fallthrough)}")
    print(f"  outcomes: {dict(sorted(how.items()))}")
    print("largest distance of a copy (should be <= threshold):")
    for (kind, name), values in sorted(same.items()):
        over = sum(v > HASH_THRESHOLD for v in values)
        print(f"  {kind:28} {name:22} max {max(values):2}   over threshold {over}/{len(values)}")
    print("smallest distance of an image that is not the probe (should be > threshold):")
    for name, values in sorted(apart.items()):
        print(f"  {name:28} min {min(values):2}   median {statistics.median(values):4.1f}")


if __name__ == "__main__":
    main()
