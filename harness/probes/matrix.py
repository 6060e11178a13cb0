"""The evasion matrix: which surface x family cells a run measures, and the cases of each cell.

A cell's `must_block` cases are the `must_block` rows of the organisation's corpora when the
run has any, else the canary terms and the canary sample's rows, transformed by the family; its
`must_allow` cases are benign texts for the surface, transformed the same way.
The over-blocking bank gives its own `must_allow` cells, untransformed. Every case
depends only on the cell's seed and the pinned corpora, so workers and replays agree.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from harness.probes.benign import benign_text
from harness.probes.canaries import lexicon
from harness.probes.cases import (
    IMAGE_SURFACES,
    MUST_ALLOW,
    MUST_BLOCK,
    Case,
    ProbeSpec,
    derive_case,
)
from harness.probes.corpora import Corpus, organisation_corpora
from harness.probes.variants import get, registry
from harness.seeds import derive_seed
from harness.targets.accounts import Naming
from harness.targets.profile import SURFACES

# Account names have a format of their own (letters, digits, '_' and '-') that refuses most
# transformed text whatever the filter does, so their rates would measure the format rule.
RATE_SURFACES = tuple(s for s in SURFACES if s != "account_name")
TEXT_SURFACES = tuple(s for s in RATE_SURFACES if s not in IMAGE_SURFACES)
# Names are short on most services; a longer case would be refused for its length, which reads
# as blocking. Cases on these surfaces keep their transformed text within NAME_LENGTH characters
# (room for the joiner and the six-character tag under the common limit of 40).
NAME_SURFACES = ("nickname", "remark", "group_name")
NAME_LENGTH = 32
BENIGN_LANGS = ("zh", "en")
# Draws per case (and per pool entry) before a cell settles for fewer cases; a pool entry that
# is too long for a name surface this many times is left out of the cell.
_TRIES = 8


@dataclass(frozen=True)
class Body:
    """Untransformed content for rate cases: a canary term or a corpus row."""

    id: str
    text: str
    lang: str
    category: str
    canary: str | None = None


def families_for(surface: str) -> tuple[str, ...]:
    """The families measured on a surface: image families on image surfaces, text ones on text
    surfaces (never `identity`, the direct canary that the surface controls check)."""
    kind = "image" if surface in IMAGE_SURFACES else "text"
    return tuple(name for name, variant in registry().items()
                 if variant.kind == kind and variant.changes_input)


def must_block_pool(corpora: Iterable[Corpus]) -> list[Body]:
    """The organisation's corpora's `must_block` rows when there are such corpora (the
    canaries are only for a run given none), else the canary terms and then every corpus's
    `must_block` rows; each text once."""
    corpora = list(corpora)
    own = organisation_corpora(corpora)
    bodies = [] if own else [Body(c.id, c.text, c.lang, c.category, c.id)
                             for c in lexicon().values()]
    bodies += [Body(f"{row.corpus}:{row.id}", row.text, row.lang or _lang(row.text),
                    row.category) for corpus in (own or corpora) for row in corpus.rows
               if row.expect == MUST_BLOCK]
    unique: dict[str, Body] = {}
    for body in bodies:
        unique.setdefault(body.text, body)
    return list(unique.values())


def bank_pool(bank: Corpus) -> list[Body]:
    """The over-blocking bank's rows (all `must_allow`)."""
    return [Body(f"{bank.name}:{row.id}", row.text, row.lang or _lang(row.text), row.category)
            for row in bank.rows if row.expect == MUST_ALLOW]


def _lang(text: str) -> str:
    return "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en"


def _rank(seed: int, key: str) -> bytes:
    return hashlib.sha256(f"{seed}:{key}".encode()).digest()


def _fits(surface: str, case: Case, joiner: str, naming: Naming | None) -> bool:
    """Whether a case can be sent on its surface: within the site's naming rule (a nickname's
    length), and on a name surface within NAME_LENGTH."""
    if naming is not None and naming.refusal(surface, case.text) is not None:
        return False
    if surface not in NAME_SURFACES:
        return True
    return len(case.text) - len(joiner) - len(case.tag) <= NAME_LENGTH


def cell_cases(surface: str, family: str, expect: str, n: int, seed: int, *,
               pool: list[Body] | None = None, joiner: str = " ",
               naming: Naming | None = None) -> list[Case]:
    """Up to `n` cases of one cell; empty when the family applies to none of the content.
    A case the site's `naming` rule could not take is drawn again (never cut).

    With a `pool` (`must_block` cells, and the bank with `family` "identity") the cases cycle
    through the pool in an order drawn from `seed`; without one they use fresh benign text.
    """
    variant = get(family)
    bodies = None if pool is None else sorted(
        (b for b in pool if variant.applies(b.text)), key=lambda b: _rank(seed, b.id))
    if bodies == []:
        return []
    cases: list[Case] = []
    misses: Counter[str] = Counter()
    draw = 0
    while len(cases) < n and draw < (n + len(bodies or ())) * _TRIES:
        case_seed = derive_seed(seed, str(draw))
        if bodies is None:
            lang = BENIGN_LANGS[draw % len(BENIGN_LANGS)]
            body = Body(f"benign-{lang}", benign_text(surface, lang, case_seed), lang, "BENIGN")
        elif bodies:
            body = bodies[draw % len(bodies)]
        else:
            break
        draw += 1
        if not variant.applies(body.text):
            continue
        probe = ProbeSpec(f"{family}-{body.id}-{draw}", expect, body.lang, family, body.canary)
        case = derive_case(surface, probe, body.text, case_seed, joiner, category=body.category)
        if _fits(surface, case, joiner, naming):
            cases.append(case)
        elif bodies is not None:
            misses[body.id] += 1
            if misses[body.id] == _TRIES:  # this body does not fit the surface: leave it out
                bodies.remove(body)
    return cases
