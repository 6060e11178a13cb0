"""Whether a case's content shows in what an actor read, judged on normalised text.

Normalisation (NFKC, case folding, no whitespace or zero-width characters) makes the check
robust to how a page or API lays the text out; it is the harness's reading, not the target's.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from harness.probes.cases import MUST_BLOCK, Case

_INVISIBLE = re.compile(r"[\s\u200b-\u200d\u2060\ufeff\u180e]+")


def normalise(text: str) -> str:
    """NFKC, case-folded, without whitespace or zero-width characters."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text).casefold())


def strings_in(document: Any) -> Iterator[str]:
    """Every string value in a JSON document (or the text itself)."""
    if isinstance(document, str):
        yield document
    elif isinstance(document, dict):
        for value in document.values():
            yield from strings_in(value)
    elif isinstance(document, list):
        for value in document:
            yield from strings_in(value)


@dataclass(frozen=True)
class TextMatch:
    """What of a case a read showed: the content itself, or only its tag (masked)."""

    visible: bool
    tag_only: bool


def match_text(document: Any, case: Case) -> TextMatch:
    """Find the case in a read: a must_block case shows when its term and tag share one string;
    a must_allow case shows when its whole text does."""
    tag = normalise(case.tag)
    needle = normalise(case.term) if case.expect == MUST_BLOCK and case.term else None
    whole = normalise(case.text)
    tag_seen = False
    for value in strings_in(document):
        text = normalise(value)
        if tag not in text:
            continue
        tag_seen = True
        if (needle is not None and needle in text) or (needle is None and whole in text):
            return TextMatch(visible=True, tag_only=False)
    return TextMatch(visible=False, tag_only=tag_seen)
