"""Chinese evasion families: traditional characters, pinyin, initials, homophones, split characters.

These are the Mandarin-specific tricks that Multilingual HateCheck tests (Röttger et al., WOAH
2022: character decomposition, homophones, pinyin) and that the Account Information Provisions
(2022) name (homophones, near-homophones, similar characters). Each applies only to text with
Chinese characters; OpenCC and pypinyin are imported on first use, not at module load.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from harness.probes.variants.base import DATA_DIR, TextVariant, data_rows, substitute

# CJK Unified Ideographs, Extension A, Compatibility Ideographs and Extensions B-G.
HAN = re.compile("([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+)")
PYPINYIN = "pypinyin (mozillazg/python-pinyin, https://github.com/mozillazg/python-pinyin)"


def has_han(text: str) -> bool:
    """Whether `text` has at least one Chinese character."""
    return HAN.search(text) is not None


def has_reading(text: str) -> bool:
    """Whether pypinyin knows the reading of at least one Chinese character of `text`."""
    from pypinyin.constants import PINYIN_DICT  # noqa: PLC0415

    return any(ord(ch) in PINYIN_DICT for run in HAN.findall(text) for ch in run)


def _pinyin_runs(text: str, style_name: str, render: Callable[[list[str]], str]) -> str:
    """`text` with each run of Chinese characters replaced by `render` of its pinyin syllables;
    characters pypinyin does not know stay as they are."""
    from pypinyin import Style, lazy_pinyin  # noqa: PLC0415  (heavy import, used on demand)

    style = Style[style_name]
    return "".join(
        render(lazy_pinyin(run, style=style, errors=list)) if i % 2 else run
        for i, run in enumerate(HAN.split(text))
    )


@cache
def _s2t() -> Any:
    from opencc import OpenCC  # noqa: PLC0415

    return OpenCC("s2t")


class Traditional(TextVariant):
    name = "traditional"
    summary = "Simplified characters written in traditional form with OpenCC (审核 -> 審覈)."
    source = ("OpenCC s2t conversion (BYVoid/OpenCC, https://github.com/BYVoid/OpenCC) through "
              "opencc-python-reimplemented; applies only where the conversion changes the text")
    seeded = False

    def applies(self, text: str) -> bool:
        return has_han(text) and self.transform(text, random.Random(0)) != text

    def transform(self, text: str, rng: random.Random) -> str:
        return str(_s2t().convert(text))


class Pinyin(TextVariant):
    name = "pinyin"
    summary = "Chinese characters written as pinyin, with or without tones and separators."
    source = (f"{PYPINYIN}; Multilingual HateCheck's Mandarin pinyin cases; "
              "applies only to text with Chinese characters")
    STYLES = ("NORMAL", "TONE", "TONE3")
    SEPARATORS = ("", " ", "'")

    def applies(self, text: str) -> bool:
        return has_reading(text)

    def transform(self, text: str, rng: random.Random) -> str:
        separator = rng.choice(self.SEPARATORS)
        return _pinyin_runs(text, rng.choice(self.STYLES), separator.join)


class PinyinInitials(TextVariant):
    name = "pinyin_initials"
    summary = "Chinese characters replaced by the first letter of their pinyin (审核 -> sh)."
    source = (f"{PYPINYIN}, FIRST_LETTER style; pinyin abbreviations are a common way to "
              "write around filters; applies only to text with Chinese characters")

    def applies(self, text: str) -> bool:
        return has_reading(text)

    def transform(self, text: str, rng: random.Random) -> str:
        upper = rng.random() < 0.5
        return _pinyin_runs(text, "FIRST_LETTER",
                            lambda letters: "".join(letters).upper() if upper else "".join(letters))


@cache
def common_hanzi() -> tuple[str, ...]:
    """The bundled list of common characters (GB 2312-1980 level 1), in file order."""
    text = (DATA_DIR / "common_hanzi.txt").read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if not line.startswith("#")]
    return tuple(ch for line in lines for ch in line)


@cache
def homophone_table() -> dict[str, tuple[str, ...]]:
    """Pinyin (numbered tone, and toneless) -> the common characters that are read so."""
    from pypinyin import Style, lazy_pinyin  # noqa: PLC0415

    table: dict[str, list[str]] = {}
    for ch in common_hanzi():
        reading = lazy_pinyin(ch, style=Style.TONE3, neutral_tone_with_five=True)[0]
        table.setdefault(reading, []).append(ch)
        table.setdefault(reading.rstrip("12345"), []).append(ch)
    return {reading: tuple(chars) for reading, chars in table.items()}


def homophone_options(text: str) -> list[tuple[str, ...]]:
    """For each character, the common characters with the same reading in context (same tone
    first, any tone when no same-tone character exists); empty for non-Chinese characters."""
    from pypinyin import Style, lazy_pinyin  # noqa: PLC0415

    table = homophone_table()
    options: list[tuple[str, ...]] = []
    for i, run in enumerate(HAN.split(text)):
        if not i % 2:
            options.extend(() for _ in run)
            continue
        readings = lazy_pinyin(run, style=Style.TONE3, neutral_tone_with_five=True, errors=list)
        for ch, reading in zip(run, readings, strict=True):
            same_tone = tuple(c for c in table.get(reading, ()) if c != ch)
            any_tone = tuple(c for c in table.get(reading.rstrip("12345"), ()) if c != ch)
            options.append(same_tone or any_tone)
    return options


class Homophone(TextVariant):
    name = "homophone"
    summary = "Some Chinese characters replaced by common characters with the same pinyin."
    source = ("harness/data/common_hanzi.txt (GB 2312-1980 level 1) grouped by reading with "
              f"{PYPINYIN}; Multilingual HateCheck's Mandarin homophone cases")

    def applies(self, text: str) -> bool:
        return has_han(text) and any(homophone_options(text))

    def transform(self, text: str, rng: random.Random) -> str:
        return substitute(text, homophone_options(text), rng, rate=0.5)


@cache
def decompositions() -> dict[str, str]:
    """Character -> its components as a user would type them (the IDS without its operator)."""
    return {ch: ids[1:] for _code, ch, ids in data_rows("decompositions.tsv")}


class SplitChars(TextVariant):
    name = "split_chars"
    summary = "Chinese characters written as their components (审 -> 宀申, 好 -> 女子)."
    source = ("harness/data/decompositions.tsv, after the CJKVI IDS data (cjkvi/cjkvi-ids, from "
              "CHISE); Multilingual HateCheck's Mandarin character-decomposition cases; applies "
              "only to text with a character in the table")

    def applies(self, text: str) -> bool:
        table = decompositions()
        return any(ch in table for ch in text)

    def transform(self, text: str, rng: random.Random) -> str:
        table = decompositions()
        return substitute(text, [(table[ch],) if ch in table else () for ch in text], rng,
                          rate=0.6)
