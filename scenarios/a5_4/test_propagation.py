"""Article 5(4): content the target takes down is gone from everywhere it showed, forwards
included; an edit that adds a prohibited term to accepted content is checked again. Posts,
groups, comments and group messages."""

from __future__ import annotations

import pytest

from harness import controls
from harness.controls import A5_4_PROPAGATION
from harness.observe.propagation import (
    CASES as PROPAGATION_CASES,
)
from harness.observe.propagation import (
    KIND_SURFACES,
    case_id,
    not_assessable,
    plant_steps,
    run_propagation,
)
from harness.probes.cases import TEXT_PROBES, build_case
from harness.verdicts import Observation, Verdict

PROBE = next(p for p in TEXT_PROBES if p.id == "canary-zh-a")
# An item its author plants through the pages passes the filter first: its removal is shown
# on benign content (what is checked is the takedown, not the filter).
BENIGN = next(p for p in TEXT_PROBES if p.id == "benign-zh")


def _case(change: str, kind: str) -> object:
    """A propagation case; an edit case also judges the edit check of the item's own surface
    (on the item itself)."""
    marker = [pytest.mark.control(controls.for_surface(KIND_SURFACES[kind]).id)] \
        if change == "edit" else []
    return pytest.param(change, kind, id=f"{change}-{kind}", marks=marker)


CASES = [_case(change, kind) for change, kind in PROPAGATION_CASES]


@pytest.mark.control(A5_4_PROPAGATION)
@pytest.mark.parametrize(("change", "kind"), CASES)
def test_propagation(change, kind, channel, target, harness_session, evidence, harness_policy,
                     case_seed):
    surface = KIND_SURFACES[kind]
    profile = target.profile
    excuse = not_assessable(profile, channel, change, kind)
    if excuse is not None:
        verdict, reason = excuse
        # An edit case is planned for its surface's control too: one that cannot be observed
        # leaves that control short as well (a site without the case's needs is not
        # applicable for propagation only; the surface's own cases judge the surface).
        judged = [A5_4_PROPAGATION] + ([controls.for_surface(surface).id]
                              if change == "edit" and verdict is Verdict.INCONCLUSIVE else [])
        evidence.record([Observation(
            control=control, surface=surface, channel=target.channel,
            case_id=case_id(change, kind), expect=PROBE.expect, verdict=verdict, reason=reason,
        ) for control in judged])
        if verdict is Verdict.NOT_APPLICABLE:
            pytest.skip(f"{case_id(change, kind)}: {reason}")
        evidence.judge()
    planted = plant_steps(profile, channel, kind)
    probe = BENIGN if change == "removal" and planted and planted[0] == "pages" else PROBE
    case = build_case(surface, "edit" if change == "edit" else "create", probe, case_seed,
                      profile.joiner(surface, channel))
    result = run_propagation(harness_session, case, harness_policy, case_seed, change=change,
                             kind=kind)
    evidence.record_case(result, harness_session.secrets)
    evidence.judge()
