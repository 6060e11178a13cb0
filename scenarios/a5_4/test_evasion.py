"""Article 5(4) in depth: how well every surface resists each evasion family, and how often it
blocks benign content built to look risky, as rates with 95% Wilson intervals.

Each test is one family and expectation on every surface the family applies to (one cell per
surface), submitted through one channel: the API where the profile has one, else the pages
(`one_channel`), with as many cases in flight as the policy's `rates.concurrency` says. A case
is an observation of the family's control that carries whether it was blocked; cells are not
judged here: the controller turns the observations into rates and the policy's gate decides the
control (harness.verdicts). Records of dispositions are judged by the direct-canary scenarios.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness import controls
from harness.observe.rates import RateCaseRun, concurrency, run_rate_cases
from harness.probes.cases import MUST_ALLOW, MUST_BLOCK, Case
from harness.probes.matrix import (
    RATE_SURFACES,
    TEXT_SURFACES,
    bank_pool,
    cell_cases,
    families_for,
    must_block_pool,
)
from harness.probes.variants import get
from harness.pytest_plugin import Inconclusive
from harness.seeds import derive_seed
from harness.verdicts import RATE, Observation, Verdict, rate_details


def _param(family: str, expect: str, control: str) -> Any:
    return pytest.param(family, expect, marks=[pytest.mark.control(control)],
                        id=f"{family}-{expect}")


def _unassessed(control: str, surface: str, family: str, expect: str, channel: str,
                verdict: Verdict, reason: str) -> Observation:
    return Observation(
        control=control, surface=surface, channel=channel,
        case_id=f"{surface}/{family}/{expect}", expect=expect, verdict=verdict,
        reason=reason, details={RATE: rate_details(family, expect, verdict)},
    )


def _measure(control: str, family: str, expect: str, cells: dict[str, list[Case]], *,
             target: Any, session: Any, evidence: Any, policy: Any, seed: int) -> None:
    """Submit every case of every surface's cell at once, record one observation per case, and
    leave judging to the gate: the test is inconclusive only when some case went unobserved."""
    observations: list[Observation] = []
    runs = []
    for surface, cases in cells.items():
        spec = target.surface_spec(surface)
        verdict = Verdict.NOT_APPLICABLE
        if spec is None:
            verdict = Verdict.INCONCLUSIVE
            reason = f"not assessed: the profile describes no {target.channel} steps for " \
                f"{surface}"
        elif "absent" in spec:
            reason = spec["absent"]
        elif not cases:
            reason = f"{family} applies to none of the selected {expect} content"
        else:
            runs += [RateCaseRun(session, case, policy, seed + len(runs) + i, control=control)
                     for i, case in enumerate(cases)]
            continue
        observations.append(_unassessed(control, surface, family, expect, target.channel,
                                        verdict, reason))
    at_once = concurrency(policy, target.channel, image=get(family).kind == "image")
    results = run_rate_cases(runs, at_once=at_once, threads=target.channel == "api")
    exchanges = []
    for result in results:
        evidence.add_secrets(result.secrets)
        exchanges += [e.evidence() for e in result.exchanges]
        for observation in result.observations:
            observation.details[RATE] = rate_details(family, expect, observation.verdict)
            observation.details["case"] = result.case.evidence()
            observation.details["concurrency"] = at_once
        observations += result.observations
    evidence.add_secrets(session.secrets)
    artifact = evidence.artifact("exchanges.json",
                                 json.dumps(exchanges, ensure_ascii=False, indent=1))
    for observation in observations:
        observation.details["exchanges"] = artifact
    evidence.record(observations)
    unclear = [o for o in observations if o.verdict is Verdict.INCONCLUSIVE]
    if unclear:
        raise Inconclusive(f"{len(unclear)} of {len(runs)} cases not observed: "
                           f"{unclear[0].reason}")


@pytest.mark.parametrize(("family", "expect"), [
    _param(family, expect, controls.for_family(family).id)
    for family in dict.fromkeys(f for s in RATE_SURFACES for f in families_for(s))
    for expect in (MUST_BLOCK, MUST_ALLOW)])
@pytest.mark.one_channel
def test_evasion(family, expect, channel, target, session, evidence, harness_policy,
                 harness_corpora, case_seed):
    gate = harness_policy.rates.gate(family)
    pool = must_block_pool(harness_corpora) if expect == MUST_BLOCK else None
    n = gate.must_block_n if expect == MUST_BLOCK else gate.must_allow_n
    cells = {surface: cell_cases(surface, family, expect, n, derive_seed(case_seed, surface),
                                 pool=pool, joiner=target.profile.joiner(surface, channel),
                                 naming=target.profile.accounts.naming)
             for surface in RATE_SURFACES if family in families_for(surface)}
    _measure(controls.for_family(family).id, family, expect, cells, target=target,
             session=session, evidence=evidence, policy=harness_policy, seed=case_seed)


@pytest.mark.parametrize(("family", "expect"), [
    _param("identity", MUST_ALLOW, controls.A5_4_OVERBLOCK)])
@pytest.mark.one_channel
def test_overblocking(family, expect, channel, target, session, evidence, harness_policy,
                      overblocking_bank, case_seed):
    pool = bank_pool(overblocking_bank)
    cells = {surface: cell_cases(surface, family, expect, harness_policy.overblocking.n,
                                 derive_seed(case_seed, surface), pool=pool,
                                 joiner=target.profile.joiner(surface, channel),
                                 naming=target.profile.accounts.naming)
             for surface in TEXT_SURFACES}
    _measure(controls.A5_4_OVERBLOCK, family, expect, cells, target=target, session=session,
             evidence=evidence, policy=harness_policy, seed=case_seed)
