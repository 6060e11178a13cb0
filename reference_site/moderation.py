"""The moderation engine: text normalisation, keyword matching, and checks of images.

User text is normalised (each step is a named function in STEPS, so a fault can switch one off)
and searched for lexicon terms, normalised the same way, with an Aho-Corasick automaton. Text
read out of images (OCR, QR codes) always gets the full pipeline and a match that tolerates a
few recognition errors.

Step order: confusables first, before NFKC turns some look-alikes into letters that are not
(the lunate sigma Ϲ, a C, becomes Σ) and before case folding, because a look-alike's case carries
its meaning (Greek capital Ν is an N, small ν a v); then NFKC (full-width and compatibility
forms), case folding, zero-width and separator removal, and traditional-to-simplified last.
"""

from __future__ import annotations

import functools
import itertools
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import ahocorasick
from opencc import OpenCC

from reference_site.images import Tesseract, UploadedImage, decode_barcodes

PACKAGE_DIR = Path(__file__).resolve().parent
LEXICON_PATH = PACKAGE_DIR / "lexicon.txt"
CONFUSABLES_PATH = PACKAGE_DIR / "confusables.txt"

# U+200B..U+200D, U+2060, U+FEFF and U+180E, plus the other invisible format characters that
# are used the same way (soft hyphen, invisible operators).
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u180e\u00ad\u2061\u2062\u2063\u2064"
_ZERO_WIDTH_TABLE = dict.fromkeys(map(ord, ZERO_WIDTH))


def nfkc(text: str) -> str:
    """Unicode NFKC: full-width letters, ligatures and circled forms become plain ones."""
    return unicodedata.normalize("NFKC", text)


def casefold(text: str) -> str:
    """Unicode case folding, so case variants of a term compare equal."""
    return text.casefold()


def remove_zero_width(text: str) -> str:
    """Drop zero-width and other invisible characters that split a term without showing."""
    return text.translate(_ZERO_WIDTH_TABLE)


def remove_separators(text: str) -> str:
    """Drop whitespace and every punctuation, symbol and separator character (P*, S*, Z*)."""
    return "".join(
        ch for ch in text if not (ch.isspace() or unicodedata.category(ch)[0] in "PSZ")
    )


@functools.cache
def _confusables_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for line in CONFUSABLES_PATH.read_text(encoding="utf-8").splitlines():
        fields = line.split("#", 1)[0].split(";")
        if len(fields) < 2 or not fields[0].strip():
            continue
        source = int(fields[0].strip(), 16)
        table[source] = "".join(chr(int(cp, 16)) for cp in fields[1].split())
    return table


def fold_confusables(text: str) -> str:
    """Map Cyrillic and Greek look-alikes of Latin letters to those letters (confusables.txt)."""
    return text.translate(_confusables_table())


@functools.cache
def _t2s() -> OpenCC:
    return OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional to simplified Chinese characters (OpenCC t2s)."""
    return _t2s().convert(text)


STEPS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("confusables", fold_confusables),
    ("nfkc", nfkc),
    ("casefold", casefold),
    ("zero_width", remove_zero_width),
    ("separators", remove_separators),
    ("t2s", to_simplified),
)
STEP_NAMES = frozenset(name for name, _ in STEPS)


def normalise(text: str, skip: frozenset[str] = frozenset()) -> str:
    """Run every step of STEPS except those named in `skip`."""
    for name, step in STEPS:
        if name not in skip:
            text = step(text)
    return text


def load_lexicon(path: Path = LEXICON_PATH) -> tuple[str, ...]:
    """Terms from a lexicon file: one per line, blank lines and `#` comments ignored."""
    terms = []
    for line in path.read_text(encoding="utf-8").splitlines():
        term = line.split("#", 1)[0].strip()
        if term:
            terms.append(term)
    return tuple(terms)


class Matcher:
    """Finds lexicon terms in text normalised with one set of skipped steps."""

    def __init__(self, terms: Iterable[str], skip: frozenset[str] = frozenset()):
        self.skip = skip
        self.normalised: dict[str, str] = {}
        self._automaton = ahocorasick.Automaton()
        for term in terms:
            key = normalise(term, skip)
            if key and key not in self.normalised:
                self.normalised[key] = term
                self._automaton.add_word(key, term)
        if self.normalised:
            self._automaton.make_automaton()

    def find(self, text: str) -> str | None:
        """The first lexicon term (as written in the lexicon) found in `text`, or None."""
        if not self.normalised:
            return None
        for _end, term in self._automaton.iter(normalise(text, self.skip)):
            return term
        return None

    def find_approximate(self, text: str) -> str | None:
        """Like find, but tolerating recognition errors: see `edit_budget`."""
        exact = self.find(text)
        if exact is not None:
            return exact
        normalised = normalise(text, self.skip)
        for key, term in self.normalised.items():
            if within_distance(normalised, key, edit_budget(key)):
                return term
        return None


def edit_budget(term: str) -> int:
    """Edits tolerated when matching OCR text: none under 5 characters, then one per 5."""
    return 0 if len(term) < 5 else max(1, len(term) // 5)


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def within_distance(text: str, term: str, budget: int) -> bool:
    """Whether some substring of `text` is within `budget` edits of `term`.

    With k edits allowed, one of k+1 pieces of the term survives intact (pigeonhole), so only
    windows around exact occurrences of a piece are compared.
    """
    if budget == 0:
        return term in text
    pieces = budget + 1
    size = len(term) // pieces
    for index in range(pieces):
        start = index * size
        piece = term[start:start + size] if index < pieces - 1 else term[start:]
        at = text.find(piece)
        while at != -1:
            origin = at - start
            for length in range(len(term) - budget, len(term) + budget + 1):
                for shift in range(-budget, budget + 1):
                    begin = origin + shift
                    if begin < 0 or begin + length > len(text):
                        continue
                    if _levenshtein(text[begin:begin + length], term) <= budget:
                        return True
            at = text.find(piece, at + 1)
    return False


def fragments(terms: Iterable[str]) -> tuple[str, ...]:
    """Pieces of terms a crude filter would block: every two adjacent CJK characters, and every
    Latin word of five letters or more (审核金丝雀甲 gives 金丝; MODHARNESS-CANARY-A, CANARY)."""
    found: dict[str, None] = {}
    for term in terms:
        cjk = [ch for ch in term if unicodedata.category(ch) == "Lo"]
        found.update(dict.fromkeys(a + b for a, b in itertools.pairwise(cjk)))
        words = "".join(ch if ch.isascii() and ch.isalpha() else " " for ch in term).split()
        found.update(dict.fromkeys(word for word in words if len(word) >= 5))
    return tuple(found)


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check; `detail` says what matched where, for the audit record."""

    allowed: bool
    term: str | None = None
    detail: str = ""


ALLOWED = Verdict(True)


class Moderator:
    """Checks user text and images against the lexicon.

    `text_skip` names pipeline steps switched off for user text (the evasion faults). Image
    text always gets the full pipeline, so those faults stay confined to their own controls.
    """

    def __init__(
        self,
        terms: Iterable[str],
        text_skip: frozenset[str] = frozenset(),
        ocr: Tesseract | None = None,
        block_fragments: bool = False,
    ):
        terms = tuple(terms)
        unknown = text_skip - STEP_NAMES
        if unknown:
            raise ValueError(f"unknown normalisation steps: {sorted(unknown)}")
        self.text_matcher = Matcher(terms, text_skip)
        self.image_matcher = Matcher(terms)
        # The `overblock-fragments` fault: a crude filter that also refuses pieces of terms.
        self.fragment_matcher = Matcher(fragments(terms)) if block_fragments else None
        self.ocr = ocr or Tesseract()

    def check_text(self, text: str) -> Verdict:
        """Whether user-entered text may be published."""
        term = self.text_matcher.find(text)
        if term is None and self.fragment_matcher is not None:
            term = self.fragment_matcher.find(text)
        if term is None:
            return ALLOWED
        return Verdict(False, term, f"lexicon term {term!r} in the text")

    def check_extracted(self, text: str, where: str) -> Verdict:
        """Whether text read out of an image (`where`: 'QR code', 'OCR ...') may be published."""
        term = self.image_matcher.find_approximate(text)
        if term is None:
            return ALLOWED
        return Verdict(False, term, f"lexicon term {term!r} in {where}")

    def check_image(self, image: UploadedImage, *, ocr: bool = True, qr: bool = True) -> Verdict:
        """Whether an image may be published: QR/barcode contents first, then OCR passes.

        Raises images.OcrError when tesseract cannot run; callers must then refuse the image.
        """
        if qr:
            for text in decode_barcodes(image.pixels):
                verdict = self.check_extracted(text, "a QR code or barcode")
                if not verdict.allowed:
                    return verdict
        if ocr:
            for pass_name, text in self.ocr.passes(image.pixels):
                verdict = self.check_extracted(text, f"image text (OCR pass {pass_name})")
                if not verdict.allowed:
                    return verdict
        return ALLOWED
