"""Verdicts and their roll-up. Thresholds and waivers are applied here and nowhere else.

Most controls are strict: any failing observation fails them. Rate controls (evasion families,
the over-blocking bank) are judged per surface x family cell on a bound of the 95% Wilson
interval against a policy threshold: their verdict is the gate, not any single case.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from harness.controls import OVERBLOCK
from harness.policy import Policy
from harness.stats import Rate, smallest_perfect_n, wilson

MUST_BLOCK = "must_block"


class Verdict(str, Enum):
    """The outcome of one observation or one control."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    NOT_APPLICABLE = "not_applicable"
    WAIVED = "waived"


@dataclass
class Observation:
    """What happened to one case for one control through one channel, judged."""

    control: str
    surface: str | None
    channel: str
    case_id: str
    expect: str | None
    verdict: Verdict
    reason: str
    disposition: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    duration_s: float | None = None  # from the case's first request to this verdict

    def evidence(self) -> dict[str, Any]:
        """The evidence line of this observation."""
        line = asdict(self)
        line["verdict"] = self.verdict.value
        line["entry_type"] = "observation"
        return line


def rollup(verdicts: Iterable[Verdict]) -> tuple[Verdict, str]:
    """A control's verdict from its observations: any fail fails; nothing observed is inconclusive.

    Fail closed: a control with no observation, or with any inconclusive one, never passes.
    """
    counts = {verdict: 0 for verdict in Verdict}
    for verdict in verdicts:
        counts[verdict] += 1
    total = sum(counts.values())
    summary = ", ".join(f"{n} {v.value}" for v, n in counts.items() if n)
    if counts[Verdict.FAIL]:
        return Verdict.FAIL, summary
    if counts[Verdict.INCONCLUSIVE]:
        return Verdict.INCONCLUSIVE, summary
    if counts[Verdict.PASS]:
        return Verdict.PASS, summary
    if total and counts[Verdict.WAIVED]:
        return Verdict.WAIVED, summary
    if total and counts[Verdict.NOT_APPLICABLE] == total:
        return Verdict.NOT_APPLICABLE, summary
    return Verdict.INCONCLUSIVE, "no observation was made"


# --- rate controls: evasion families and the over-blocking bank -------------------------------

RATE = "rate"  # the `details` key that makes an observation count towards a rate
BLOCK_BOUND, FALSE_BLOCK_BOUND = "low", "high"


@dataclass(frozen=True)
class RateGate:
    """What one cell is judged against: the bound compared, its threshold, and whether a
    failing cell fails the run (`gating`) or is only measured."""

    threshold: float
    gating: bool

    def min_n(self, expect: str) -> int:
        """The fewest observed cases with which a perfect cell can clear the threshold."""
        return smallest_perfect_n(self.threshold if expect == MUST_BLOCK
                                  else 1 - self.threshold)


@dataclass(frozen=True)
class RateCell:
    """One surface x family x expectation: how many cases were blocked, with the verdict.

    For `must_block` cells `rate.k` counts cases blocked (as the policy requires); for
    `must_allow` cells it counts false blocks. `unobserved` cases are left out of `rate.n`.
    """

    control: str
    surface: str
    family: str
    expect: str
    rate: Rate
    unobserved: int
    gate: RateGate
    verdict: Verdict
    reason: str

    def evidence(self) -> dict[str, Any]:
        """The `rate` evidence line of this cell (what `harness report` tabulates)."""
        return {
            "entry_type": "rate", "control": self.control, "surface": self.surface,
            "family": self.family, "expect": self.expect, "k": self.rate.k, "n": self.rate.n,
            "rate": self.rate.value, "low": self.rate.low, "high": self.rate.high,
            "bound": BLOCK_BOUND if self.expect == MUST_BLOCK else FALSE_BLOCK_BOUND,
            "threshold": self.gate.threshold, "gating": self.gate.gating,
            "unobserved": self.unobserved, "verdict": self.verdict.value, "reason": self.reason,
        }


def rate_details(family: str, expect: str, verdict: Verdict) -> dict[str, Any]:
    """The `details[RATE]` of a rate observation: its family and whether it was blocked."""
    blocked = None
    if verdict in (Verdict.PASS, Verdict.FAIL):
        blocked = (verdict is Verdict.PASS) == (expect == MUST_BLOCK)
    return {"family": family, "blocked": blocked}


def rate_cells(lines: Iterable[Mapping[str, Any]],
               gate_of: Callable[[str, str, str], RateGate]) -> list[RateCell]:
    """The cells of rate observations (evidence lines), each judged by `gate_of(control,
    family, expect)`; cells come in the order of their first observation."""
    counts: dict[tuple[str, str, str, str], Counter[Verdict]] = {}
    for line in lines:
        family = line["details"][RATE]["family"]
        key = (line["control"], line["surface"], family, line["expect"])
        counts.setdefault(key, Counter())[Verdict(line["verdict"])] += 1
    return [_judge_cell(key, found, gate_of(key[0], key[2], key[3]))
            for key, found in counts.items()]


def _judge_cell(key: tuple[str, str, str, str], found: Counter[Verdict],
                gate: RateGate) -> RateCell:
    """Fail when the bound misses the threshold; inconclusive when too few cases were observed
    or some could not be; not applicable when no case applied."""
    expect = key[3]
    observed = found[Verdict.PASS] + found[Verdict.FAIL]
    unobserved = found[Verdict.INCONCLUSIVE]
    if expect == MUST_BLOCK:
        rate = wilson(found[Verdict.PASS], observed)
        missed = rate.low < gate.threshold
        shown = f"{rate.k}/{observed} blocked, lower bound {rate.low:.3f}"
        compare = f"{'<' if missed else '>='} {gate.threshold:g}"
    else:
        rate = wilson(found[Verdict.FAIL], observed)
        missed = rate.high > gate.threshold
        shown = f"{rate.k}/{observed} falsely blocked, upper bound {rate.high:.3f}"
        compare = f"{'>' if missed else '<='} {gate.threshold:g}"
    needed = gate.min_n(expect)
    if not observed and not unobserved:
        verdict, reason = Verdict.NOT_APPLICABLE, "no case applied"
    elif observed < needed:
        verdict = Verdict.INCONCLUSIVE
        reason = f"{shown}: {observed} observed, the threshold needs at least {needed}"
    elif missed:
        verdict, reason = Verdict.FAIL, f"{shown} {compare}"
    elif unobserved:
        verdict, reason = Verdict.INCONCLUSIVE, f"{shown} {compare}; {unobserved} not observed"
    else:
        verdict, reason = Verdict.PASS, f"{shown} {compare}"
    return RateCell(*key, rate=rate, unobserved=unobserved, gate=gate, verdict=verdict,
                    reason=reason)


def rate_rollup(cells: Iterable[RateCell]) -> tuple[Verdict, str]:
    """A rate control's verdict from its cells' gates (any fail fails, fail closed as `rollup`),
    with the worst cell named."""
    cells = list(cells)
    verdict, summary = rollup(cell.verdict for cell in cells)
    worst = next((c for c in cells if c.verdict is verdict), None)
    if worst is None or verdict in (Verdict.PASS, Verdict.NOT_APPLICABLE):
        return verdict, f"{len(cells)} cells: {summary}"
    return verdict, (f"{len(cells)} cells: {summary}; {worst.surface}/{worst.family} "
                     f"{worst.expect}: {worst.reason}")


def policy_gate(policy: Policy) -> Callable[[str, str, str], RateGate]:
    """`gate_of` for `rate_cells` from a policy: the over-blocking bank's gate for
    A5.4-OVERBLOCK, else the family's (false blocks of must_allow cases against its
    `false_block_max`, blocks of must_block cases against its `block_rate_min`)."""

    def gate_of(control: str, family: str, expect: str) -> RateGate:
        if control == OVERBLOCK:
            bank = policy.overblocking
            return RateGate(bank.false_block_max, bank.gate)
        gate = policy.rates.gate(family)
        threshold = gate.block_rate_min if expect == MUST_BLOCK else gate.false_block_max
        return RateGate(threshold, gate.gate)

    return gate_of


def judge_rates(lines: Iterable[Mapping[str, Any]],
                policy: Policy) -> dict[str, tuple[Verdict, str, bool, list[RateCell]]]:
    """Per rate control: its verdict, summary, whether it gates the run (some cell gates), and
    its cells."""
    by_control: dict[str, list[RateCell]] = {}
    for cell in rate_cells(lines, policy_gate(policy)):
        by_control.setdefault(cell.control, []).append(cell)
    judged = {}
    for control, cells in by_control.items():
        verdict, summary = rate_rollup(cells)
        gating = any(cell.gate.gating for cell in cells)
        judged[control] = (verdict, summary if gating else f"measured, not gated: {summary}",
                           gating, cells)
    return judged
