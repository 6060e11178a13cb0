"""Variants: deterministic, seeded evasion transforms of a probe that keep its provenance.

`get("traditional+zero_width").apply(text, seed, parent)` gives a `Derived` case; `registry()`
lists every family (built-ins and plugins of the `harness.variants` entry-point group). Heavy
dependencies (pypinyin, OpenCC, Pillow) load when a family that needs them first runs.
"""

from __future__ import annotations

from harness.probes.variants.base import PARTS_JOINER, Composed, Derived, Variant
from harness.probes.variants.loader import BUILTINS, ENTRY_POINT_GROUP, get, registry

__all__ = [
    "BUILTINS",
    "ENTRY_POINT_GROUP",
    "PARTS_JOINER",
    "Composed",
    "Derived",
    "Variant",
    "get",
    "registry",
]
