"""Article 5(4): every surface refuses prohibited content and shows benign content, on creation
and on every edit, and every disposal leaves a record with the Article 5(3) fields.

The probes are the canaries and Faker's benign cases, or, when the run is given an
organisation's corpus (`--corpus`, the profile's `corpora`), rows of that corpus (see
`harness.probes.cases.probes_for`). A surface the site cannot edit (`edit: {absent: reason}`)
is judged on its create cases; its edit cases are not applicable, saying why.
"""

from __future__ import annotations

import pytest

from harness import controls
from harness.controls import A5_3_LOG_FIELDS, A5_4_RECORDS
from harness.observe.flow import run_case, surface_not_assessed
from harness.probes.cases import MODES, build_case, probes_for
from harness.probes.corpora import organisation_corpora
from harness.pytest_plugin import run_corpora
from harness.targets.profile import SURFACES
from harness.verdicts import Observation, Verdict


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The (surface, mode, probe) matrix, from the run's corpora (the same in every worker)."""
    if metafunc.definition.name != "test_surface":
        return
    corpora = organisation_corpora(run_corpora(metafunc.config))
    params = []
    for surface in SURFACES:
        control = controls.for_surface(surface).id
        for mode in MODES:
            for probe in probes_for(surface, corpora):
                marks = [pytest.mark.control(control), pytest.mark.control(A5_4_RECORDS),
                         pytest.mark.control(A5_3_LOG_FIELDS), pytest.mark.surface(surface)]
                params.append(pytest.param(surface, mode, probe, marks=marks,
                                           id=f"{surface}-{mode}-{probe.id}"))
    metafunc.parametrize(("surface", "mode", "probe"), params)


def test_surface(surface, mode, probe, channel, target, harness_session, evidence, harness_policy,
                 case_seed):
    excuse = surface_not_assessed(target.surface_spec(surface), surface, channel, mode)
    if excuse is not None:
        verdict, reason = excuse
        evidence.record([Observation(
            control=controls.for_surface(surface).id, surface=surface, channel=target.channel,
            case_id=f"{surface}/{mode}/{probe.id}", expect=probe.expect,
            verdict=verdict, reason=reason,
        )])
        if verdict is Verdict.NOT_APPLICABLE:
            pytest.skip(f"{surface}: {reason}")
        evidence.judge()
    case = build_case(surface, mode, probe, case_seed, target.profile.joiner(surface, channel))
    result = run_case(harness_session, case, harness_policy, case_seed)
    evidence.record_case(result, harness_session.secrets)
    evidence.judge()
