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

from typing import Any

import pytest

from harness import controls
from harness.observe.rates import measure_cells
from harness.probes.cases import MUST_ALLOW, MUST_BLOCK
from harness.probes.matrix import (
    RATE_SURFACES,
    TEXT_SURFACES,
    bank_pool,
    cell_cases,
    families_for,
    must_block_pool,
)
from harness.seeds import derive_seed


def _param(family: str, expect: str, control: str) -> Any:
    return pytest.param(family, expect, marks=[pytest.mark.control(control)],
                        id=f"{family}-{expect}")


@pytest.mark.parametrize(("family", "expect"), [
    _param(family, expect, controls.for_family(family).id)
    for family in dict.fromkeys(f for s in RATE_SURFACES for f in families_for(s))
    for expect in (MUST_BLOCK, MUST_ALLOW)])
@pytest.mark.one_channel
def test_evasion(family, expect, channel, target, harness_session, evidence, harness_policy,
                 harness_corpora, case_seed):
    gate = harness_policy.rates.gate(family)
    pool = must_block_pool(harness_corpora) if expect == MUST_BLOCK else None
    n = gate.must_block_n if expect == MUST_BLOCK else gate.must_allow_n
    cells = {surface: cell_cases(surface, family, expect, n, derive_seed(case_seed, surface),
                                 pool=pool, joiner=target.profile.joiner(surface, channel),
                                 naming=target.profile.accounts.naming)
             for surface in RATE_SURFACES if family in families_for(surface)}
    measure_cells(controls.for_family(family).id, family, expect, cells, session=harness_session,
                  evidence=evidence, policy=harness_policy, seed=case_seed)


@pytest.mark.parametrize(("family", "expect"), [
    _param("identity", MUST_ALLOW, controls.A5_4_OVERBLOCK)])
@pytest.mark.one_channel
def test_overblocking(family, expect, channel, target, harness_session, evidence, harness_policy,
                      overblocking_bank, case_seed):
    pool = bank_pool(overblocking_bank)
    cells = {surface: cell_cases(surface, family, expect, harness_policy.overblocking.n,
                                 derive_seed(case_seed, surface), pool=pool,
                                 joiner=target.profile.joiner(surface, channel),
                                 naming=target.profile.accounts.naming)
             for surface in TEXT_SURFACES}
    measure_cells(controls.A5_4_OVERBLOCK, family, expect, cells, session=harness_session,
                  evidence=evidence, policy=harness_policy, seed=case_seed)
