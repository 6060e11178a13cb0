"""The variant contract: a deterministic, seeded transform of a probe that keeps its provenance.

Modelled on garak's buffs: each family is a small declarative class with a one-line `summary`
and a `source` saying where the trick (and its data) comes from, so reports can explain every
derived case. A family never touches a global random generator; its private `random.Random` is
keyed by the family name and the seed, so two families given the same seed still vary apart.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

DATA_DIR = Path(__file__).parents[2] / "data"
Kind = Literal["text", "image"]
# How the two parts of a `split_fields` case read when shown together.
PARTS_JOINER = "\n"


@dataclass(frozen=True, kw_only=True)
class Derived:
    """One derived case: what to submit, and where it came from.

    `text` is None for a pure image; `parts` is set only by `split_fields` (the pieces to put in
    two fields or messages), and then `text` is how they read together. An image says what it
    carries, so that observers can recognise it when a target re-encodes it: `shows`, the text
    drawn in it, or `payload`, the text of its QR code.
    """

    text: str | None
    image: bytes | None = None
    parts: tuple[str, ...] = ()
    shows: str | None = None
    payload: str | None = None
    variant: str
    parent: str


class Variant(ABC):
    """An evasion family. Subclasses set the class attributes and implement `apply`."""

    name: str
    summary: str
    source: str
    kind: Kind = "text"
    # False only for `identity`, the baseline every other family is compared with.
    changes_input: bool = True
    # False for families whose output does not depend on the seed (a fixed mapping).
    seeded: bool = True
    # Families whose output a later family cannot transform further (images, split fields):
    # in a composition they may only come last.
    terminal: bool = False

    def applies(self, text: str) -> bool:
        """Whether the family can change `text`; callers skip the family when it cannot."""
        return True

    @abstractmethod
    def apply(self, text: str, seed: int, parent: str) -> Derived:
        """The derived case for `text` under `seed`; `text` unchanged where the family does
        not apply."""

    def rng(self, seed: int) -> random.Random:
        """A private generator for one application (string seeds hash stably across runs)."""
        return random.Random(f"{self.name}:{seed}")

    def __repr__(self) -> str:
        return f"<variant {self.name}>"


class TextVariant(Variant):
    """A family that maps text to text; subclasses implement `transform`."""

    def apply(self, text: str, seed: int, parent: str) -> Derived:
        out = self.transform(text, self.rng(seed)) if self.applies(text) else text
        return Derived(text=out, variant=self.name, parent=parent)

    @abstractmethod
    def transform(self, text: str, rng: random.Random) -> str:
        """The transformed text; called only when `applies(text)`."""


class ImageVariant(Variant):
    """A family that renders text into a PNG; subclasses implement `render`."""

    kind: Kind = "image"
    terminal = True
    # How the image carries its text: drawn (`shows`) or as a QR code (`payload`).
    carries: Literal["drawn", "qr"] = "drawn"

    def applies(self, text: str) -> bool:
        return bool(text.strip())

    def apply(self, text: str, seed: int, parent: str) -> Derived:
        drawn = self.carries == "drawn"
        return Derived(text=None, image=self.render(text, self.rng(seed)),
                       shows=text if drawn else None, payload=None if drawn else text,
                       variant=self.name, parent=parent)

    @abstractmethod
    def render(self, text: str, rng: random.Random) -> bytes:
        """PNG bytes showing `text`."""


def pick_positions(rng: random.Random, candidates: list[int], rate: float) -> set[int]:
    """Each candidate with probability `rate`, and at least one, so the input always changes."""
    if not candidates:
        return set()
    chosen = {i for i in candidates if rng.random() < rate}
    return chosen or {rng.choice(candidates)}


def interleave(text: str, rng: random.Random, fillers: tuple[str, ...], rate: float) -> str:
    """`text` with a seeded choice of `fillers` in some gaps between characters (at least one)."""
    gaps = pick_positions(rng, list(range(1, len(text))), rate)
    return "".join((rng.choice(fillers) if i in gaps else "") + ch for i, ch in enumerate(text))


def substitute(text: str, options: list[tuple[str, ...]], rng: random.Random, rate: float) -> str:
    """Replace some characters by a seeded choice of their `options` (one tuple per position,
    empty where none); at least one is replaced when any has options."""
    chars = list(text)
    for i in sorted(pick_positions(rng, [i for i, opts in enumerate(options) if opts], rate)):
        chars[i] = rng.choice(options[i])
    return "".join(chars)


def data_rows(filename: str) -> list[list[str]]:
    """Tab-separated rows of a bundled data file in `harness/data/`, without '#' comments."""
    path = DATA_DIR / filename
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


class Composed(Variant):
    """Families applied in order, each with the same seed: `traditional+zero_width`."""

    def __init__(self, steps: tuple[Variant, ...]) -> None:
        self.steps = steps
        self.name = "+".join(step.name for step in steps)
        self.summary = "; then ".join(step.summary for step in steps)
        self.source = " | ".join(f"{step.name}: {step.source}" for step in steps)
        self.kind = steps[-1].kind
        self.terminal = steps[-1].terminal
        self.changes_input = any(step.changes_input for step in steps)
        self.seeded = any(step.seeded for step in steps)

    def applies(self, text: str) -> bool:
        """Every step applies to what the steps before it make (traced with seed 0)."""
        current = text
        for step in self.steps:
            if not step.applies(current):
                return False
            derived = step.apply(current, 0, "")
            if derived.text is None:
                return True
            current = derived.text
        return True

    def apply(self, text: str, seed: int, parent: str) -> Derived:
        derived = Derived(text=text, variant=self.name, parent=parent)
        for step in self.steps:
            # Only the last step can be terminal, so `derived.text` is a string here.
            derived = step.apply(derived.text or "", seed, parent)
        return Derived(text=derived.text, image=derived.image, parts=derived.parts,
                       shows=derived.shows, payload=derived.payload, variant=self.name,
                       parent=parent)
