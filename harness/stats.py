"""Rates with confidence intervals, for the evasion-family and over-blocking gates.

The Wilson score interval (Wilson, JASA 1927; recommended over the normal approximation by Brown,
Cai and DasGupta, Statistical Science 2001) stays inside [0, 1] and is honest at the small `n`
and at the 0% and 100% rates a conformance run sees most, where the normal interval collapses to
a point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054  # the standard normal quantile for a two-sided 95% interval


@dataclass(frozen=True)
class Rate:
    """`k` of `n` trials with the 95% Wilson interval [low, high] of the true proportion."""

    k: int
    n: int
    low: float
    high: float

    @property
    def value(self) -> float | None:
        """k / n, or None when nothing was counted."""
        return self.k / self.n if self.n else None


def wilson(k: int, n: int, z: float = Z95) -> Rate:
    """The Wilson score interval of `k` successes in `n` trials; [0, 1] when `n` is 0."""
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return Rate(0, 0, 0.0, 1.0)
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # The exact ends at k == 0 and k == n; rounding would otherwise leave 1e-17 off them.
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return Rate(k, n, low, high)


def smallest_perfect_n(threshold: float, z: float = Z95) -> int:
    """The smallest `n` at which n of n clears a lower-bound `threshold` (lower bound >= it).

    With every trial a success the lower bound is n / (n + z^2), so a threshold t needs
    n >= t z^2 / (1 - t). The same `n` lets 0 of n clear an upper-bound threshold of 1 - t.
    """
    if not 0 <= threshold < 1:
        raise ValueError(f"a threshold must be in [0, 1), got {threshold}")
    n = max(1, math.ceil(threshold * z * z / (1 - threshold)))
    while wilson(n, n, z).low < threshold:  # guard against rounding at the boundary
        n += 1
    return n
