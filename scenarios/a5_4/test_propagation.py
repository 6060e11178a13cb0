"""Article 5(4): content the target takes down is gone from everywhere it showed, forwards
included; an edit that adds a prohibited term to accepted content is checked again."""

from __future__ import annotations

import pytest

from harness import controls
from harness.observe.propagation import (
    CONTROL,
    KIND_SURFACES,
    case_id,
    not_assessable,
    run_propagation,
)
from harness.probes.cases import TEXT_PROBES, build_case
from harness.verdicts import Observation, Verdict

PROBE = next(p for p in TEXT_PROBES if p.id == "canary-zh-a")
# An edit case also judges the edit check of the item's own surface (on the item itself).
CASES = [
    pytest.param("removal", "post", id="removal-post"),
    pytest.param("removal", "group", id="removal-group"),
    pytest.param("edit", "post", id="edit-post", marks=pytest.mark.control(
        controls.for_surface(KIND_SURFACES["post"]).id)),
]


@pytest.mark.control(CONTROL)
@pytest.mark.parametrize(("change", "kind"), CASES)
def test_propagation(change, kind, channel, target, actors, evidence, harness_policy, case_seed):
    surface = KIND_SURFACES[kind]
    excuse = not_assessable(target.admin.profile, channel, change, kind)
    if excuse is not None:
        verdict, reason = excuse
        evidence.record([Observation(
            control=CONTROL, surface=surface, channel=target.channel,
            case_id=case_id(change, kind), expect=PROBE.expect, verdict=verdict, reason=reason,
        )])
        if verdict is Verdict.NOT_APPLICABLE:
            pytest.skip(f"{case_id(change, kind)}: {reason}")
        evidence.judge()
    joiner = (target.admin.surface_spec(surface) or {}).get("joiner", " ")
    case = build_case(surface, "edit" if change == "edit" else "create", PROBE, case_seed, joiner)
    result = run_propagation(actors, case, harness_policy, case_seed, change=change, kind=kind)
    evidence.record_case(result, actors.secrets)
    evidence.judge()
