"""Verdicts and their roll-up. Thresholds and waivers are applied here and nowhere else.

Most controls are strict: any failing observation fails them. Rate controls (evasion families,
the over-blocking bank) are judged per surface x family cell on a bound of the 95% Wilson
interval against a policy threshold: their verdict is the gate, not any single case.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from typing import Any

from harness.controls import A5_4_OVERBLOCK, catalog, matches
from harness.policy import Policy
from harness.stats import Rate, smallest_perfect_n, wilson
from harness.waivers import GATE, Waiver

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
# The `details` key of a pass that saw fields present it could not compare with what the
# harness used (A5.3's source address and port through a browser).
NOT_COMPARED = "not_compared"
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
        if control == A5_4_OVERBLOCK:
            bank = policy.overblocking
            return RateGate(bank.false_block_max, bank.gating)
        gate = policy.rates.gate(family)
        threshold = gate.block_rate_min if expect == MUST_BLOCK else gate.false_block_max
        return RateGate(threshold, gate.gating)

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


# --- the one judge: evidence -> control verdicts with coverage -> the run's exit code ----------
#
# The run recorder (at the end of every run, plain pytest included), `harness assess`, `harness
# report`, `harness followup` and `--resume` all judge a run through `judge_run`, from its
# evidence lines alone, so none of them can disagree.

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_EMPTY = 3
EXIT_REGRESSION = 4
EXIT_INTERRUPTED = 130  # the shell's code for Ctrl-C; clashes with none of pytest's
EXIT_NOT_INTACT = 5
EXIT_BAD_SIGNATURE = 6
EXIT_CODES: dict[int, str] = {
    EXIT_PASS: "every gating control in the run's scope passed (or is waived), on a complete run",
    EXIT_FAIL: "the gate failed: a gating control failed or was inconclusive, or a waiver of a "
               "control in scope is expired or not approved",
    EXIT_USAGE: "usage or configuration error (bad option, profile, policy or corpus; a request "
                "that would have left the profile's allowed_hosts); nothing more was sent",
    EXIT_EMPTY: "nothing was assessed: no control in scope, no observation, or every control "
                "not applicable",
    EXIT_REGRESSION: "`harness diff`: a verdict regressed (a control or case that passed "
                     "before does not now)",
    EXIT_NOT_INTACT: "the run's evidence does not verify (altered, missing or added lines or "
                     "files); nothing is reported from it",
    EXIT_BAD_SIGNATURE: "`harness verify --key`: the run is intact but its signature is missing, "
                        "by another key, or not over its manifest as it is now",
    EXIT_INTERRUPTED: "the run is incomplete: interrupted (SIGINT, SIGTERM, a crash, a stop on "
                      "failure; `harness assess --resume RUN` finishes it), or merged without "
                      "every shard intact (`harness merge` them all)",
}


@dataclass(frozen=True)
class PlannedTest:
    """One planned case: a scenario test, the controls it gives evidence for, and where."""

    test: str
    controls: tuple[str, ...]
    channel: str | None = None
    surface: str | None = None
    case: str = ""

    def evidence(self) -> dict[str, Any]:
        return {"test": self.test, "controls": list(self.controls), "channel": self.channel,
                "surface": self.surface, "case": self.case}


@dataclass(frozen=True)
class Plan:
    """What a run's chosen controls call for, written at collection before any narrowing:
    its scope (control patterns, channels) and every planned test. `narrowed` names path
    arguments narrower than the scenario tree, which no plan can see past; `shard` (I, N) says
    the run observes only share I of N of it (`harness.shards`)."""

    patterns: tuple[str, ...]
    channels: tuple[str, ...]
    tests: tuple[PlannedTest, ...]
    narrowed: str | None = None
    shard: tuple[int, int] | None = None

    def evidence(self) -> dict[str, Any]:
        return {"entry_type": "plan", "controls": list(self.patterns),
                "channels": list(self.channels), "narrowed": self.narrowed,
                "shard": {"index": self.shard[0], "count": self.shard[1]} if self.shard
                else None,
                "tests": [t.evidence() for t in self.tests]}

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> Plan:
        return cls(
            patterns=tuple(entry.get("controls") or ()),
            channels=tuple(entry.get("channels") or ("api",)),
            tests=tuple(PlannedTest(t["test"], tuple(t.get("controls") or ()), t.get("channel"),
                                    t.get("surface"), t.get("case", ""))
                        for t in entry.get("tests") or ()),
            narrowed=entry.get("narrowed"),
            shard=(entry["shard"]["index"], entry["shard"]["count"]) if entry.get("shard")
            else None,
        )

    def in_scope(self) -> list[str]:
        """The automated controls this run assesses, in catalog order."""
        return [c.id for c in catalog().values()
                if c.automated and c.in_scope(self.patterns, self.channels)]

    def not_assessed(self) -> list[str]:
        """The automated controls the run's scope leaves out (listed once, never judged)."""
        scope = set(self.in_scope())
        return [c.id for c in catalog().values() if c.automated and c.id not in scope]


@dataclass(frozen=True)
class ControlVerdict:
    """One control's verdict over a run, with its coverage: planned and observed cases."""

    control: str
    verdict: Verdict
    reason: str
    gating: bool
    planned: int
    observed: int

    def evidence(self) -> dict[str, Any]:
        control = catalog()[self.control]
        return {"entry_type": "control", "control": self.control, "clause": control.clause,
                "title": control.title, "verdict": self.verdict.value, "reason": self.reason,
                "gating": self.gating, "planned": self.planned, "observed": self.observed}


@dataclass(frozen=True)
class RunVerdict:
    """A run judged: every control in scope, the rate cells, what was left out, and the exit
    code with the reason for it."""

    controls: list[ControlVerdict]
    cells: list[RateCell]
    not_assessed: list[str]
    complete: bool
    violations: list[dict[str, Any]]
    exit_code: int
    why: str
    waivers: list[dict[str, Any]] = field(default_factory=list)
    """Each recorded waiver with its `status`: applied, not needed, out of scope, or
    `refused: why` (which fails the gate)."""

    def problems(self) -> list[ControlVerdict]:
        """Gating controls that did not pass."""
        return [c for c in self.controls
                if c.gating and c.verdict in (Verdict.FAIL, Verdict.INCONCLUSIVE)]

    def measured(self) -> list[ControlVerdict]:
        """Controls judged and shown but not gating this run (families the policy measures)."""
        return [c for c in self.controls if not c.gating]


def recorded_gates(lines: Iterable[Mapping[str, Any]],
                   fallback: Callable[[str, str, str], RateGate]
                   ) -> Callable[[str, str, str], RateGate]:
    """`gate_of` from the run's own `rate` lines (the gate each cell was judged against when the
    run ended), so a later judgement needs no policy file; `fallback` for cells without one."""
    gates = {(e["control"], e["family"], e["expect"]): RateGate(e["threshold"], e["gating"])
             for e in lines if e.get("entry_type") == "rate"}

    def gate_of(control: str, family: str, expect: str) -> RateGate:
        return gates.get((control, family, expect)) or fallback(control, family, expect)

    return gate_of


def latest_observations(entries: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Observation lines with the latest per (test, control, channel, case) kept: a followup's
    or a resumed run's observation of a case replaces the earlier one."""
    latest: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for entry in entries:
        if entry.get("entry_type") == "observation":
            key = (entry.get("test"), entry["control"], entry.get("channel"), entry["case_id"])
            latest.pop(key, None)
            latest[key] = entry
    return list(latest.values())


def judge_run(entries: Iterable[Mapping[str, Any]],
              gate_of: Callable[[str, str, str], RateGate] | None = None) -> RunVerdict:
    """Judge a run from its evidence lines.

    A control passes only when every planned case of it was observed and the observations pass
    (rate controls: their cells' gates). A planned case with no observation leaves it
    inconclusive ("k of n planned cases observed"), unless an observed case already fails it.
    `gate_of` judges rate cells (the recorder passes the policy's); by default the gates the
    run recorded are used.
    """
    entries = list(entries)
    plan_entry = next((e for e in entries if e.get("entry_type") == "plan"), None)
    plan = Plan.from_entry(plan_entry) if plan_entry else Plan((), (), ())
    observations = latest_observations(entries)
    reported = {o.get("test") for o in observations}
    by_control: dict[str, list[Mapping[str, Any]]] = {}
    for line in observations:
        by_control.setdefault(line["control"], []).append(line)
    if gate_of is None:
        from harness.policy import load_policy  # noqa: PLC0415 (only for unrecorded gates)

        gate_of = recorded_gates(entries, policy_gate(load_policy(None)))
    cells = rate_cells([o for o in observations if RATE in o.get("details", {})], gate_of)
    judged = [_judge_control(control_id, plan, reported, by_control.get(control_id, []),
                             [c for c in cells if c.control == control_id])
              for control_id in (plan.in_scope() if plan_entry else [])]
    ends = [e for e in entries if e.get("entry_type") == "run_end"]
    judged, waivers = apply_gate(judged, next(
        (e for e in reversed(entries) if e.get("entry_type") == GATE), None), _run_day(ends))
    complete = _complete(entries)
    violations = [dict(e) for e in entries if e.get("entry_type") == "scope_violation"]
    usage_error = ends[-1].get("usage_error") if ends else None
    refused = [w for w in waivers if w["status"].startswith("refused")]
    code, why = _exit(plan_entry is not None, judged, complete, violations,
                      observed=bool(observations), usage_error=usage_error, refused=refused)
    if plan.shard:
        why = (f"shard {plan.shard[0]}/{plan.shard[1]}, judged over the whole plan: {why}; "
               "`harness merge` the shards for the run's verdict")
    return RunVerdict(controls=judged, cells=cells,
                      not_assessed=plan.not_assessed() if plan_entry else [],
                      complete=complete, violations=violations, exit_code=code, why=why,
                      waivers=waivers)


def _run_day(ends: list[Mapping[str, Any]]) -> dt.date:
    """The day (UTC) a run ended, against which waivers expire; today while it is sealed."""
    stamp = ends[-1].get("time") if ends else None
    if isinstance(stamp, str) and len(stamp) >= 10:
        try:
            return dt.date.fromisoformat(stamp[:10])
        except ValueError:
            pass
    return dt.datetime.now(dt.timezone.utc).date()


def apply_gate(judged: list[ControlVerdict], gate: Mapping[str, Any] | None,
               day: dt.date) -> tuple[list[ControlVerdict], list[dict[str, Any]]]:
    """Apply the run's recorded gate (a `gate` line) to its control verdicts: controls the
    policy only measures stop gating; a valid waiver turns a fail or inconclusive into
    `waived`. Returns the verdicts and every waiver with its status."""
    if gate is None:
        return judged, []
    measured = list(gate.get("measured") or ())
    operator = gate.get("operator")
    waivers = {w.control: w for w in map(Waiver.from_entry, gate.get("waivers") or ())}
    statuses: dict[str, str] = dict.fromkeys(waivers, "out of scope")
    out = []
    for control in judged:
        gated, status = _gated(control, measured, waivers.get(control.control), operator, day)
        if status is not None:
            statuses[control.control] = status
        out.append(gated)
    return out, [{**w.evidence(), "status": statuses[c]} for c, w in waivers.items()]


def _gated(control: ControlVerdict, measured: list[str], waiver: Waiver | None,
           operator: str | None, day: dt.date) -> tuple[ControlVerdict, str | None]:
    """One control under the gate, with its waiver's status (None: no waiver)."""
    if measured and matches(control.control, measured) and control.gating:
        control = replace(control, gating=False,
                          reason=f"measured, not gated by the policy: {control.reason}")
    if waiver is None:
        return control, None
    problem = waiver.problem(operator, day)
    if problem:
        return replace(control, reason=f"{control.reason}; waiver refused: {problem}"), \
            f"refused: {problem}"
    if control.verdict not in (Verdict.FAIL, Verdict.INCONCLUSIVE):
        return control, "not needed"
    return replace(control, verdict=Verdict.WAIVED, reason=(
        f"waived until {waiver.expires.isoformat()} by {waiver.approver} ({waiver.reason}); "
        f"without the waiver {control.verdict.value}: {control.reason}")), "applied"


def _judge_control(control_id: str, plan: Plan, reported: set[Any],
                   lines: list[Mapping[str, Any]], cells: list[RateCell]) -> ControlVerdict:
    control = catalog()[control_id]
    planned = [t for t in plan.tests if control_id in t.controls]
    observed = [t for t in planned if t.test in reported]
    gating = control.gating
    if cells:
        verdict, summary = rate_rollup(cells)
        gating = gating and any(cell.gate.gating for cell in cells)
        if not gating:
            summary = f"measured, not gated: {summary}"
    else:
        verdict, summary = rollup(Verdict(line["verdict"]) for line in lines)
        # What the profile declares absent, and why: the verdict rests on the other cases.
        absent = dict.fromkeys(line.get("reason") or "a reason not given" for line in lines
                               if line["verdict"] == Verdict.NOT_APPLICABLE.value)
        if absent:
            summary += "; not applicable: " + "; ".join(absent)
    never = _never_compared(lines) if verdict is Verdict.PASS else []
    if never:
        verdict = Verdict.INCONCLUSIVE
        summary = (f"{', '.join(never)} never compared with what the harness used (a browser "
                   "does not tell them; the api channel compares them); " + summary)
    coverage = f"{len(observed)} of {len(planned)} planned cases observed"
    if not planned:
        where = f"the run collected only {plan.narrowed}" if plan.narrowed else \
            "no scenario of this run observes it"
        verdict, summary = Verdict.INCONCLUSIVE, f"not assessed: {where}"
    elif len(observed) < len(planned):
        if verdict is not Verdict.FAIL:
            verdict = Verdict.INCONCLUSIVE
        summary = f"{coverage}; {summary}"
    elif plan.narrowed and verdict is Verdict.PASS:
        verdict = Verdict.INCONCLUSIVE
        summary = f"the run collected only {plan.narrowed}; {summary}"
    return ControlVerdict(control_id, verdict, summary, gating, len(planned), len(observed))


def _never_compared(lines: list[Mapping[str, Any]]) -> list[str]:
    """The fields some passing observation could only see present (`NOT_COMPARED`) and no
    passing observation compared: a pass would rest on what was not checked."""
    passed = [line.get("details") or {} for line in lines
              if line["verdict"] == Verdict.PASS.value]
    unseen = {name for details in passed for name in details.get(NOT_COMPARED, ())}
    compared = {name for details in passed for name in unseen
                if name not in details.get(NOT_COMPARED, ())}
    return sorted(unseen - compared)


def _complete(entries: list[Mapping[str, Any]]) -> bool:
    """Whether the run ran its course: its last `run_end` (after any resume) says so."""
    for entry in reversed(entries):
        if entry.get("entry_type") == "run_end":
            return bool(entry.get("complete", True))
        if entry.get("entry_type") in ("run_start", "run_resume"):
            return False
    return False


def _exit(planned: bool, judged: list[ControlVerdict], complete: bool,
          violations: list[dict[str, Any]], *, observed: bool,
          usage_error: str | None, refused: list[dict[str, Any]]) -> tuple[int, str]:
    """The exit code and why: a usage error or a scope violation, then an interruption, then
    an empty run, then any gating control not passed or waiver refused."""
    if usage_error:
        return EXIT_USAGE, f"usage or configuration error: {usage_error}"
    if violations:
        hosts = sorted({str(v.get("host") or v.get("url")) for v in violations})
        return EXIT_USAGE, (f"{len(violations)} request(s) outside the profile's allowed_hosts "
                            f"were refused: {', '.join(hosts)}")
    if not complete:
        return EXIT_INTERRUPTED, "the run is incomplete; `harness assess --resume RUN` finishes it"
    if not planned or not judged:
        return EXIT_EMPTY, "nothing assessed: no control of the run's scope can be observed " \
            "through its channels"
    if not observed:
        return EXIT_EMPTY, "nothing assessed: the run made no observation"
    if all(c.verdict is Verdict.NOT_APPLICABLE for c in judged):
        return EXIT_EMPTY, "nothing assessed: every control in scope is not applicable"
    failing = [c for c in judged if c.gating and c.verdict in (Verdict.FAIL, Verdict.INCONCLUSIVE)]
    why = []
    if failing:
        why.append(f"{len(failing)} gating control(s) not passed")
    if refused:
        why.append("waiver(s) refused: " + "; ".join(
            f"{w['control']} {w['status'].removeprefix('refused: ')}" for w in refused))
    if why:
        return EXIT_FAIL, "; ".join(why)
    waived = sum(1 for c in judged if c.verdict is Verdict.WAIVED)
    return EXIT_PASS, "every gating control passed" + (f" ({waived} waived)" if waived else "")
