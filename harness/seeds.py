"""Seeds: one run seed, and per-test seeds derived from it and a stable key (pytest-randomly's
model), so that a run can be replayed exactly and parallel workers agree."""

from __future__ import annotations

import hashlib

__all__ = ["derive_seed"]


def derive_seed(run_seed: int, key: str) -> int:
    """A 64-bit seed from the run seed and a stable key (the test id)."""
    return int.from_bytes(hashlib.sha256(f"{run_seed}:{key}".encode()).digest()[:8], "big")
