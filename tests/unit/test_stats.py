"""The Wilson score interval against published values, and the smallest perfect sample."""

from __future__ import annotations

import pytest

from harness.stats import Z95, smallest_perfect_n, wilson


# Newcombe, "Two-sided confidence intervals for the single proportion", Statistics in Medicine
# 17 (1998), Table I, method 3 (Wilson score, no continuity correction).
@pytest.mark.parametrize(("k", "n", "low", "high"), [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_wilson_matches_newcombe(k: int, n: int, low: float, high: float) -> None:
    rate = wilson(k, n)
    assert rate.low == pytest.approx(low, abs=5e-5)
    assert rate.high == pytest.approx(high, abs=5e-5)
    assert rate.value == k / n


def test_the_ends_are_exact_and_a_perfect_cell_has_the_closed_form_bound() -> None:
    assert wilson(0, 10).low == 0.0
    assert wilson(10, 10).high == 1.0
    assert wilson(10, 10).low == pytest.approx(10 / (10 + Z95**2))
    assert wilson(0, 10).high == pytest.approx(Z95**2 / (10 + Z95**2))


def test_nothing_counted_is_the_whole_unit_interval() -> None:
    rate = wilson(0, 0)
    assert (rate.low, rate.high, rate.value) == (0.0, 1.0, None)


def test_the_interval_narrows_as_n_grows_and_contains_the_rate() -> None:
    widths = [wilson(n // 2, n).high - wilson(n // 2, n).low for n in (10, 40, 160)]
    assert widths == sorted(widths, reverse=True)
    for k, n in ((3, 7), (50, 51), (1, 300)):
        rate = wilson(k, n)
        assert rate.low <= k / n <= rate.high


@pytest.mark.parametrize(("k", "n"), [(-1, 3), (4, 3), (0, -1)])
def test_impossible_counts_are_refused(k: int, n: int) -> None:
    with pytest.raises(ValueError, match="k <= n"):
        wilson(k, n)


@pytest.mark.parametrize(("threshold", "n"), [(0.70, 9), (0.80, 16), (0.95, 73), (0.0, 1)])
def test_smallest_perfect_n(threshold: float, n: int) -> None:
    assert smallest_perfect_n(threshold) == n
    assert wilson(n, n).low >= threshold
    assert n == 1 or wilson(n - 1, n - 1).low < threshold


def test_a_threshold_of_one_can_never_be_reached() -> None:
    with pytest.raises(ValueError, match="threshold"):
        smallest_perfect_n(1.0)
