"""Script-independent evasion families: width, case, invisible characters, separators,
look-alike letters, digit styles, repetition, emoji, split fields and contact details.

The Account Information Provisions (2022) name these tricks (symbols, letters, digits, similar
characters, URLs, email addresses and other contact details); each family below makes one of them
reproducible from a seed.
"""

from __future__ import annotations

import random
from functools import cache

from harness.probes.variants.base import (
    PARTS_JOINER,
    Derived,
    TextVariant,
    Variant,
    data_rows,
    interleave,
    substitute,
)

PROVISIONS = "tricks named by the Account Information Provisions (CAC, 2022)"


class Identity(TextVariant):
    name = "identity"
    summary = "The probe unchanged: the baseline every other family is measured against."
    source = ("the unperturbed case that perturbation tests compare with (CheckList's invariance "
              "tests, Ribeiro et al., ACL 2020; HateCheck's base cases, Röttger et al., ACL 2021)")
    changes_input = False
    seeded = False

    def transform(self, text: str, rng: random.Random) -> str:
        return text


# ASCII 0x21-0x7E sit 0xFEE0 below their fullwidth forms; the space becomes the ideographic space.
_FULLWIDTH = {code: code + 0xFEE0 for code in range(0x21, 0x7F)} | {0x20: 0x3000}


class Fullwidth(TextVariant):
    name = "fullwidth"
    summary = "ASCII letters, digits and symbols replaced by their fullwidth forms (Ａ, ０, －)."
    source = ("Unicode Halfwidth and Fullwidth Forms U+FF01-U+FF5E "
              "(https://www.unicode.org/charts/PDF/UFF00.pdf), which NFKC folds back (UAX #15)")
    seeded = False

    def applies(self, text: str) -> bool:
        return any(0x21 <= ord(ch) <= 0x7E for ch in text)

    def transform(self, text: str, rng: random.Random) -> str:
        return text.translate(_FULLWIDTH)


class Case(TextVariant):
    name = "case"
    summary = "Letters put in a seeded mix of upper and lower case."
    source = (f"mixed letter case, one of the {PROVISIONS}; undone by Unicode case folding "
              "(https://www.unicode.org/reports/tr44/)")

    def applies(self, text: str) -> bool:
        return any(ch.swapcase() != ch for ch in text)

    def transform(self, text: str, rng: random.Random) -> str:
        options = [(ch.swapcase(),) if ch.swapcase() != ch else () for ch in text]
        return substitute(text, options, rng, rate=0.5)


class ZeroWidth(TextVariant):
    name = "zero_width"
    summary = "Invisible zero-width characters inserted between characters."
    source = ("format characters U+200B, U+200C, U+200D, U+2060, U+FEFF (Unicode "
              "Default_Ignorable_Code_Point, https://www.unicode.org/reports/tr44/)")
    FILLERS = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")

    def applies(self, text: str) -> bool:
        return len(text) >= 2

    def transform(self, text: str, rng: random.Random) -> str:
        return interleave(text, rng, self.FILLERS, rate=0.7)


class Spacing(TextVariant):
    name = "spacing"
    summary = "Spaces and punctuation put between characters (审 核, M.O.D)."
    source = (f"separators, one of the {PROVISIONS}; HateCheck's 'added spaces between chars' "
              "test (Röttger et al., ACL 2021)")
    SEPARATORS = (" ", " ", "  ", ".", "·", "-", "_", "*", "/", "|", "、", "，", "~")

    def applies(self, text: str) -> bool:
        return len(text) >= 2

    def transform(self, text: str, rng: random.Random) -> str:
        style = tuple(rng.sample(self.SEPARATORS, 2))
        return interleave(text, rng, style, rate=1.0)


@cache
def confusables() -> dict[str, tuple[str, ...]]:
    """Latin letter -> Cyrillic/Greek look-alikes, from `harness/data/confusables.tsv`."""
    table: dict[str, list[str]] = {}
    for latin, lookalike, *_ in data_rows("confusables.tsv"):
        table.setdefault(latin, []).append(lookalike)
    return {latin: tuple(found) for latin, found in table.items()}


class Homoglyph(TextVariant):
    name = "homoglyph"
    summary = "Latin letters replaced by Cyrillic or Greek look-alikes (A -> А, o -> ο)."
    source = ("Unicode confusables.txt (UTS #39, "
              "https://www.unicode.org/Public/security/latest/confusables.txt); subset in "
              "harness/data/confusables.tsv. Applies only to text with a Latin letter: Chinese "
              "characters are left as they are")

    def applies(self, text: str) -> bool:
        table = confusables()
        return any(ch in table for ch in text)

    def transform(self, text: str, rng: random.Random) -> str:
        table = confusables()
        return substitute(text, [table.get(ch, ()) for ch in text], rng, rate=0.6)


_DIGIT_STYLES = {
    "circled": "⓪①②③④⑤⑥⑦⑧⑨",
    # There is no parenthesised zero; the circled one stands in.
    "parenthesised": "⓪⑴⑵⑶⑷⑸⑹⑺⑻⑼",
    "superscript": "⁰¹²³⁴⁵⁶⁷⁸⁹",
}


class DigitStyles(TextVariant):
    name = "digit_styles"
    summary = "ASCII digits written as circled, parenthesised or superscript digits (①, ⑵, ³)."
    source = (f"styled digits, one of the {PROVISIONS}; Unicode Enclosed Alphanumerics "
              "U+2460-U+24FF and superscripts U+2070-U+2079, which NFKC folds to ASCII digits. "
              "Applies only to text with a digit")

    def applies(self, text: str) -> bool:
        return any("0" <= ch <= "9" for ch in text)

    def transform(self, text: str, rng: random.Random) -> str:
        options = [tuple(style[int(ch)] for style in _DIGIT_STYLES.values())
                   if "0" <= ch <= "9" else () for ch in text]
        return substitute(text, options, rng, rate=1.0)


class Repeat(TextVariant):
    name = "repeat"
    summary = "Some characters repeated two or three times (审审核, CANNARY)."
    source = ("elongation by repeated characters, which defeats exact keyword matching; "
              "the harness's own family, no external data")

    def applies(self, text: str) -> bool:
        return any(not ch.isspace() for ch in text)

    def transform(self, text: str, rng: random.Random) -> str:
        options = [() if ch.isspace() else (ch * 2, ch * 3) for ch in text]
        return substitute(text, options, rng, rate=0.3)


class EmojiInterleave(TextVariant):
    name = "emoji_interleave"
    summary = "Emoji inserted between characters."
    source = (f"symbols between characters, one of the {PROVISIONS}; single-code-point emoji "
              "from Unicode's emoji list (https://unicode.org/emoji/charts/full-emoji-list.html)")
    EMOJI = ("😀", "🔥", "✨", "🌸", "🎉", "💡", "🍀", "⭐", "🐱", "🌈", "👍", "🎵")

    def applies(self, text: str) -> bool:
        return len(text) >= 2

    def transform(self, text: str, rng: random.Random) -> str:
        return interleave(text, rng, self.EMOJI, rate=0.6)


class SplitFields(Variant):
    name = "split_fields"
    summary = "The term split in two parts for two fields or messages that are shown together."
    source = ("a term split across fields shown side by side (nickname and bio, two group "
              "messages), a design choice of this harness; no external data")
    terminal = True

    def applies(self, text: str) -> bool:
        return len(text.strip()) >= 2

    def apply(self, text: str, seed: int, parent: str) -> Derived:
        if not self.applies(text):
            return Derived(text=text, variant=self.name, parent=parent)
        cut = self.rng(seed).randrange(1, len(text))
        parts = (text[:cut], text[cut:])
        return Derived(text=PARTS_JOINER.join(parts), parts=parts, variant=self.name,
                       parent=parent)


# Reserved names only: RFC 2606 / RFC 6761 domains and the NANP's fictional 555-0100..0199 range.
_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.invalid")
_CONTACT_TEMPLATES = {
    "url": ("https://www.{domain}/{term}?id={code}", "{term} 详情 http://{code}.{domain}/"),
    "email": ("{term}@{domain}", "{term} 联系邮箱 {code}@{domain}"),
    "phone": ("{term} 电话 +1-202-555-01{nn}", "加我 555-01{nn} {term}", "{term} tel (555) 01{nn}"),
    "messaging": ("微信: {term}_{code}", "{term} Telegram @mh_{code}", "{term} QQ: mh{code}"),
}


class ContactEmbed(TextVariant):
    name = "contact_embed"
    summary = "The term inside or beside a URL, an email address, a phone number or a chat id."
    source = (f"URLs, email addresses and contact details, {PROVISIONS}; only reserved "
              "domains (RFC 2606, RFC 6761) and fictional 555-01xx numbers are used")

    def applies(self, text: str) -> bool:
        return bool(text.strip())

    def transform(self, text: str, rng: random.Random) -> str:
        kind = rng.choice(sorted(_CONTACT_TEMPLATES))
        template = rng.choice(_CONTACT_TEMPLATES[kind])
        code = "".join(rng.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(6))
        return template.format(term=text, domain=rng.choice(_DOMAINS), code=code,
                               nn=f"{rng.randrange(100):02d}")
