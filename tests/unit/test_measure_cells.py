"""The library parts of the Article 5(4) scenarios: why a surface's case cannot run, and a
rate measurement's cells recorded (a surface that cannot be assessed is inconclusive or not
applicable with the profile's reason, and leaves the test inconclusive only when some case
went unobserved)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness.evidence.scenario import Inconclusive, ScenarioEvidence
from harness.observe.flow import surface_not_assessed
from harness.observe.rates import measure_cells
from harness.policy import load_policy
from harness.verdicts import RATE, Verdict

CONTROL = "A5.4-EVASION-FULLWIDTH"


def test_a_surface_without_steps_is_inconclusive_and_an_absent_one_not_applicable() -> None:
    assert surface_not_assessed(None, "bio", "browser") == (
        Verdict.INCONCLUSIVE, "not assessed: the profile describes no browser steps for bio")
    assert surface_not_assessed({"absent": "no bios here"}, "bio", "api") == \
        (Verdict.NOT_APPLICABLE, "no bios here")
    no_edit = {"create": [], "edit": {"absent": "bios are set once"}}
    assert surface_not_assessed(no_edit, "bio", "api", "create") is None
    assert surface_not_assessed(no_edit, "bio", "api", "edit") == \
        (Verdict.NOT_APPLICABLE, "the bio edit is absent: bios are set once")
    assert surface_not_assessed({"create": [], "edit": []}, "bio", "api", "edit") is None


def _session(specs: dict[str, Any]) -> Any:
    target = SimpleNamespace(channel="api", surface_spec=specs.get)
    return SimpleNamespace(target=target, secrets=[], nonce="n0")


def _evidence(tmp_path: Path) -> ScenarioEvidence:
    item = SimpleNamespace(nodeid="scenarios/a5_4/test_evasion.py::t", user_properties=[])
    return ScenarioEvidence(item, tmp_path)  # type: ignore[arg-type]


def test_cells_that_cannot_run_are_recorded_with_their_reason(tmp_path: Path) -> None:
    evidence = _evidence(tmp_path)
    session = _session({"bio": {"absent": "no bios"}, "post": {"create": []}})
    cells: dict[str, list[Any]] = {"bio": [], "post": [], "nickname": []}
    with pytest.raises(Inconclusive, match="1 of 0 cases not observed"):
        measure_cells(CONTROL, "fullwidth", "must_block", cells, session=session,
                      evidence=evidence, policy=load_policy(None), seed=1)
    found = {o.surface: (o.verdict, o.reason) for o in evidence.observations}
    assert found == {
        "bio": (Verdict.NOT_APPLICABLE, "no bios"),
        "post": (Verdict.NOT_APPLICABLE,
                 "fullwidth applies to none of the selected must_block content"),
        "nickname": (Verdict.INCONCLUSIVE,
                     "not assessed: the profile describes no api steps for nickname")}
    assert all(o.control == CONTROL and RATE in o.details for o in evidence.observations)
    assert (tmp_path / evidence.observations[0].details["exchanges"]).is_file()


def test_cells_that_are_all_not_applicable_leave_judging_to_the_gate(tmp_path: Path) -> None:
    evidence = _evidence(tmp_path)
    measure_cells(CONTROL, "fullwidth", "must_allow", {"bio": []},
                  session=_session({"bio": {"absent": "no bios"}}), evidence=evidence,
                  policy=load_policy(None), seed=1)
    assert [o.verdict for o in evidence.observations] == [Verdict.NOT_APPLICABLE]
