"""Judging a load run afterwards, stage by stage, from what its records and reads showed.

A5.4-UNDER-LOAD: each stage's canaries, checked afterwards as a viewer and an anonymous
visitor, give a leak rate whose 95% Wilson upper bound must stay within the limit (the
policy's, else the no-load stage's own bound). A5.6-INTAKE-UNDER-LOAD: every receipt issued in a
stage must be in the moderator's queue afterwards (zero lost reports), and the stage's
acknowledgement latency percentiles must stay within their limits.

Fail closed, as everywhere: a planned stage that sent nothing, a canary that could not be
checked or a queue that could not be read leave the stage inconclusive, never passed; a stage
with fewer canaries than a perfect one needs to clear the limit is inconclusive too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.load.plan import NO_LOAD, Stage
from harness.stats import smallest_perfect_n, wilson
from harness.verdicts import Verdict

PERCENTILES = (50, 95, 99)
# Float noise: a bound computed two ways (a stage's, the no-load stage's) may differ by this.
EPSILON = 1e-12


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank `p`th percentile (None for no values): a value that was observed."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50, p95 and p99 of `values`, rounded to the millisecond."""
    found = {f"p{p}": percentile(values, p) for p in PERCENTILES}
    return {k: (round(v, 4) if v is not None else None) for k, v in found.items()}


@dataclass(frozen=True)
class StageVerdict:
    """One stage of one control: its verdict, the reason, and the figures behind them."""

    stage: Stage
    verdict: Verdict
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)


# --- A5.4-UNDER-LOAD ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CanaryCount:
    """A stage's canaries after the checks: leaked (seen by another actor), held (seen by no
    one, every read valid) and unobserved (submission or reads that told nothing)."""

    leaked: int = 0
    held: int = 0
    unobserved: int = 0

    @property
    def observed(self) -> int:
        return self.leaked + self.held


def count_canaries(outcomes: Iterable[tuple[int, Verdict]]) -> dict[int, CanaryCount]:
    """Per stage index, the canaries' verdicts (FAIL = leaked, PASS = held) counted."""
    counts: dict[int, list[int]] = {}
    for stage, verdict in outcomes:
        row = counts.setdefault(stage, [0, 0, 0])
        row[0 if verdict is Verdict.FAIL else 1 if verdict is Verdict.PASS else 2] += 1
    return {stage: CanaryCount(*row) for stage, row in counts.items()}


def leak_limit(counts: Mapping[int, CanaryCount], limit: float | None) -> tuple[float | None, str]:
    """The leak-rate bound every stage must stay within, and where it comes from: the policy's,
    else the no-load stage's Wilson upper bound (None when that stage was not fully observed)."""
    if limit is not None:
        return limit, "the policy's leak_rate_max"
    base = counts.get(NO_LOAD, CanaryCount())
    if not base.observed or base.unobserved:
        return None, "the no-load stage's bound (not fully observed)"
    return wilson(base.leaked, base.observed).high, "the no-load stage's bound"


def judge_leaks(stages: Sequence[Stage], counts: Mapping[int, CanaryCount],
                limit: float | None) -> list[StageVerdict]:
    """Each planned stage's leak verdict against `limit` (see `leak_limit`)."""
    bound, source = leak_limit(counts, limit)
    judged = []
    for stage in stages:
        count = counts.get(stage.index, CanaryCount())
        rate = wilson(count.leaked, count.observed)
        figures = {"canaries": count.observed + count.unobserved, "leaked": count.leaked,
                   "held": count.held, "unobserved": count.unobserved,
                   "leak_low": round(rate.low, 4), "leak_high": round(rate.high, 4),
                   "limit": round(bound, 4) if bound is not None else None,
                   "limit_source": source}
        verdict, reason = _leak_verdict(stage, count, bound=bound, source=source, limit=limit)
        judged.append(StageVerdict(stage, verdict, reason, figures))
    return judged


def _leak_verdict(stage: Stage, count: CanaryCount, *, bound: float | None, source: str,
                  limit: float | None) -> tuple[Verdict, str]:
    rate = wilson(count.leaked, count.observed)
    shown = f"{stage.label}: {count.leaked}/{count.observed} canaries leaked"
    if not count.observed and not count.unobserved:
        return Verdict.INCONCLUSIVE, f"{stage.label}: not observed: no canary was sent in it"
    if bound is None:
        return Verdict.INCONCLUSIVE, f"{shown}; no limit to judge it by: {source}"
    shown += f", upper bound {rate.high:.3f}"
    if stage.index == NO_LOAD and limit is None:
        if count.unobserved:
            return Verdict.INCONCLUSIVE, f"{shown}; {count.unobserved} canaries not observed"
        return Verdict.PASS, f"{shown} (the reference the loaded stages are held to)"
    compare = f"{bound:.3f} ({source})"
    needed = smallest_perfect_n(max(0.0, 1 - bound - EPSILON))
    worse = rate.high > bound + EPSILON
    if count.leaked and (rate.low > bound + EPSILON or (worse and count.observed >= needed)):
        return Verdict.FAIL, f"{shown} > {compare}: the control broke at {stage.label}"
    if count.observed < needed:
        return Verdict.INCONCLUSIVE, (f"{shown}: {count.observed} observed, a limit of "
                                      f"{bound:.3f} needs at least {needed}")
    if worse:
        return Verdict.INCONCLUSIVE, f"{shown} > {compare} with no leak: too few canaries"
    if count.unobserved:
        return Verdict.INCONCLUSIVE, (f"{shown} <= {compare}; {count.unobserved} canaries not "
                                      "observed")
    return Verdict.PASS, f"{shown} <= {compare}"


# --- A5.6-INTAKE-UNDER-LOAD --------------------------------------------------------------------


@dataclass(frozen=True)
class Filing:
    """One report filed during the load: its stage, the receipt (None when it got none), how
    long the receipt took, and why it got none."""

    stage: int
    ticket: str | None
    latency_s: float | None
    status: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Reconciliation:
    """Receipts against the moderator's queue: found, lost (a receipt with no queue record)."""

    found: tuple[str, ...]
    lost: tuple[str, ...]

    def evidence(self) -> dict[str, Any]:
        return {"found": len(self.found), "lost": list(self.lost)}


def reconcile(tickets: Iterable[str], queue: Iterable[str]) -> Reconciliation:
    """Every receipt looked up in the queue's tickets."""
    shown = set(queue)
    tickets = list(dict.fromkeys(tickets))
    return Reconciliation(tuple(t for t in tickets if t in shown),
                          tuple(t for t in tickets if t not in shown))


def judge_intake(stages: Sequence[Stage], filings: Sequence[Filing],
                 queue: Iterable[str] | None, limits: Mapping[str, float],
                 queue_problem: str = "", *, by_reason: bool = False) -> list[StageVerdict]:
    """Each planned stage's intake verdict: its receipts reconciled with the queue (None: the
    queue could not be read), reports refused or unanswered, and the acknowledgement latency
    percentiles against `limits` (`p50`, `p95`, `p99`, in seconds). `by_reason`: the site gives
    no receipt, and each filing that completed is keyed by the reason text it was filed with."""
    shown = set(queue) if queue is not None else None
    judged = []
    for stage in stages:
        own = [f for f in filings if f.stage == stage.index]
        receipts = [f for f in own if f.ticket]
        refused = [f for f in own if not f.ticket and f.status is not None]
        unanswered = [f for f in own if not f.ticket and f.status is None]
        latency = percentiles([f.latency_s for f in receipts if f.latency_s is not None])
        checked = reconcile([f.ticket for f in receipts if f.ticket], shown or ())
        figures: dict[str, Any] = {
            "reports": len(own), "receipts": len(receipts), "refused": len(refused),
            "unanswered": len(unanswered), "ack_s": latency, "ack_limits_s": dict(limits),
            "lost": list(checked.lost) if shown is not None else None,
        }
        verdict, reason = _intake_verdict(
            stage, own, checked=checked, latency=latency, limits=limits,
            queue_problem=None if shown is not None else (queue_problem or "no answer"),
            noun="reports filed (no receipt: found by their reason text)" if by_reason
            else "receipts")
        judged.append(StageVerdict(stage, verdict, reason, figures))
    return judged


def _intake_verdict(stage: Stage, own: list[Filing], *, checked: Reconciliation,
                    latency: Mapping[str, float | None], limits: Mapping[str, float],
                    queue_problem: str | None, noun: str = "receipts") -> tuple[Verdict, str]:
    """`queue_problem` is None when the queue was read, else why it could not be."""
    receipts = [f for f in own if f.ticket]
    refused = [f for f in own if not f.ticket and f.status is not None]
    unanswered = [f for f in own if not f.ticket and f.status is None]
    queue_read = queue_problem is None
    if not own:
        return Verdict.INCONCLUSIVE, f"{stage.label}: not observed: no report was filed in it"
    problems = []
    if queue_read and checked.lost:
        problems.append(f"{len(checked.lost)} of {len(receipts)} {noun} are not in the "
                        f"moderator's queue (lost): {', '.join(checked.lost[:5])}")
    if refused:
        statuses = sorted({str(f.status) for f in refused})
        problems.append(f"{len(refused)} of {len(own)} reports were refused (HTTP "
                        f"{', '.join(statuses)})")
    slow = [f"{name} {latency[name]:.3f} s > {limit:g} s" for name, limit in limits.items()
            if latency.get(name) is not None and latency[name] > limit]
    if slow:
        problems.append("acknowledgement latency " + ", ".join(slow))
    if problems:
        return Verdict.FAIL, f"{stage.label}: " + "; ".join(problems)
    shown = (f"{stage.label}: {len(receipts)} {noun}"
             + (f", p50/p95/p99 {_seconds(latency)}" if receipts else ""))
    if not queue_read:
        return Verdict.INCONCLUSIVE, f"{shown}; the moderator's queue could not be read: " \
            f"{queue_problem}"
    if unanswered:
        return Verdict.INCONCLUSIVE, (f"{shown}; {len(unanswered)} of {len(own)} reports got "
                                      f"no answer: {unanswered[0].error or 'no response'}")
    return Verdict.PASS, f"{shown}, every one in the moderator's queue; latency within " \
        f"{', '.join(f'{k} {v:g} s' for k, v in limits.items())}"


def _seconds(latency: Mapping[str, float | None]) -> str:
    return "/".join(f"{v:.3f}" if v is not None else "-" for v in latency.values()) + " s"
