"""Benign cases made with Faker: ordinary content that a service must show.

Each call takes its own seeded Faker instance (never the global generator), so a case's content
depends only on the run seed and the case.
"""

from __future__ import annotations

import random
from functools import cache

from faker import Faker

# Faker's own providers (person, lorem, company, address) are the data source; see
# https://faker.readthedocs.io/ for their provenance.
LOCALES = {"zh": "zh_CN", "en": "en_US"}


def faker_for(lang: str, seed: int) -> Faker:
    """The private Faker of one language, reseeded (building a Faker costs milliseconds)."""
    fake = _faker(lang)
    fake.seed_instance(seed)
    return fake


@cache
def _faker(lang: str) -> Faker:
    return Faker(LOCALES[lang])


def benign_text(surface: str, lang: str, seed: int) -> str:
    """Ordinary content for a surface, short enough for its usual length limits."""
    fake = faker_for(lang, seed)
    if surface == "account_name":
        return f"{fake.user_name()}{random.Random(seed).randrange(100, 999)}"[:24]
    if surface == "nickname":
        return fake.name()
    if surface == "remark":
        return fake.name() if lang == "zh" else fake.first_name()
    if surface == "group_name":
        return fake.company()[:24] if lang == "en" else f"{fake.city()}{fake.word()}群"
    if surface in ("bio", "group_intro"):
        return fake.sentence(nb_words=8)
    return fake.paragraph(nb_sentences=2)
