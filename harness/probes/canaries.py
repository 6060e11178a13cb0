"""The canary lexicon (see `harness/data/canaries.yaml` for the convention)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from harness.readers import parse_yaml

LEXICON_PATH = Path(__file__).parents[1] / "data" / "canaries.yaml"


@dataclass(frozen=True)
class Canary:
    """One synthetic prohibited term."""

    id: str
    text: str
    lang: str
    category: str
    summary: str


@cache
def lexicon() -> dict[str, Canary]:
    """Canary terms by id."""
    raw = parse_yaml(LEXICON_PATH.read_text(encoding="utf-8"))
    return {entry["id"]: Canary(**entry) for entry in raw["terms"]}
