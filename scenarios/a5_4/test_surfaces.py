"""Article 5(4): every surface refuses direct canaries and shows benign content, on creation
and on every edit, and every disposal leaves a record with the Article 5(3) fields."""

from __future__ import annotations

import pytest

from harness import controls
from harness.observe.flow import LOG_FIELDS, RECORDS, run_case
from harness.probes.cases import MODES, build_case, probes_for
from harness.targets.profile import SURFACES
from harness.verdicts import Observation, Verdict


def _matrix() -> list[object]:
    params = []
    for surface in SURFACES:
        control = controls.for_surface(surface).id
        for mode in MODES:
            for probe in probes_for(surface):
                marks = [pytest.mark.control(control), pytest.mark.control(RECORDS),
                         pytest.mark.control(LOG_FIELDS), pytest.mark.surface(surface)]
                params.append(pytest.param(surface, mode, probe, marks=marks,
                                           id=f"{surface}-{mode}-{probe.id}"))
    return params


@pytest.mark.parametrize(("surface", "mode", "probe"), _matrix())
def test_surface(surface, mode, probe, channel, target, actors, evidence, harness_policy,
                 case_seed):
    spec = target.surface_spec(surface)
    if spec is None or "absent" in spec:
        # Not applicable only where the profile says the site has no such surface.
        verdict = Verdict.NOT_APPLICABLE if spec else Verdict.INCONCLUSIVE
        reason = spec["absent"] if spec else \
            f"not assessed: the profile describes no {channel} steps for {surface}"
        evidence.record([Observation(
            control=controls.for_surface(surface).id, surface=surface, channel=target.channel,
            case_id=f"{surface}/{mode}/{probe.id}", expect=probe.expect,
            verdict=verdict, reason=reason,
        )])
        if spec:
            pytest.skip(f"{surface}: {reason}")
        evidence.judge()
    # How content is joined to its tag is a property of the surface, kept in the API section.
    joiner = (target.admin.surface_spec(surface) or {}).get("joiner", " ")
    case = build_case(surface, mode, probe, case_seed, joiner)
    result = run_case(actors, case, harness_policy, case_seed)
    evidence.record_case(result, actors.secrets)
    evidence.judge()
