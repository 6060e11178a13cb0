"""The case's judge decides from what a flow saw alone: no site, no clock. A case cannot pass
on a read it did not make, and a record cannot pass on a field nobody compared."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.controls import A5_3_LOG_FIELDS, A5_4_RECORDS
from harness.observe.audit import FieldCheck
from harness.observe.judge import (
    Sighting,
    disposition_of,
    judge_case,
    judge_records,
)
from harness.probes.cases import MUST_ALLOW, MUST_BLOCK
from harness.verdicts import NOT_COMPARED, Verdict

ROLES = ["anonymous", "viewer"]
ACCEPTABLE = ("rejected", "held", "removed", "masked")


def seen(role: str, visible: bool | None, *, tag_only: bool = False) -> Sighting:
    return Sighting(role, f"GET /{role}", SimpleNamespace(status=200, url=f"http://t/{role}"),
                    visible, tag_only, note="" if visible is not None else "landed on /login")


def judge(expect: str, accepted: bool, first: list[Sighting], final: list[Sighting] | None = None,
          **kwargs: object) -> tuple[Verdict, str, str | None]:
    options = {"roles": ROLES, "excused": {}, "acceptable": ACCEPTABLE, **kwargs}
    return judge_case(expect, accepted, first, first if final is None else final, **options)


@pytest.mark.parametrize(("accepted", "first", "final", "disposition"), [
    (False, [], [], "rejected"),
    (True, [seen("viewer", False)], [seen("viewer", False)], "held"),
    (True, [seen("viewer", True)], [seen("viewer", False)], "removed"),
    (True, [seen("viewer", False)], [seen("viewer", False, tag_only=True)], "masked"),
])
def test_the_disposition_follows_what_was_seen(accepted, first, final, disposition) -> None:
    assert disposition_of(accepted, first, final) == disposition


def test_a_blocked_case_passes_when_no_judged_role_sees_it() -> None:
    verdict, reason, disposition = judge(
        MUST_BLOCK, True, [seen("anonymous", True), seen("viewer", True)],
        [seen("anonymous", False), seen("viewer", False)])
    assert (verdict, disposition) == (Verdict.PASS, "removed")
    assert reason == "removed; not shown to anonymous, viewer"


def test_a_blocked_case_shown_to_anyone_fails_as_published() -> None:
    verdict, reason, disposition = judge(MUST_BLOCK, True, [seen("anonymous", False),
                                                            seen("viewer", True)])
    assert (verdict, disposition) == (Verdict.FAIL, "published")
    assert "viewer at http://t/viewer" in reason


def test_a_disposition_the_policy_does_not_accept_fails() -> None:
    verdict, reason, _ = judge(MUST_BLOCK, False, [seen("anonymous", False),
                                                   seen("viewer", False)],
                               acceptable=("held",))
    assert verdict is Verdict.FAIL
    assert reason == "disposition rejected is not acceptable by policy"


def test_a_role_left_unread_leaves_the_case_inconclusive() -> None:
    verdict, reason, disposition = judge(MUST_BLOCK, False, [seen("anonymous", None),
                                                             seen("viewer", False)])
    assert (verdict, disposition) == (Verdict.INCONCLUSIVE, None)
    assert reason == "could not read as anonymous: GET /anonymous: landed on /login"
    assert judge(MUST_BLOCK, False, [seen("viewer", False)])[0] is Verdict.INCONCLUSIVE


def test_an_excused_role_is_not_judged_and_says_why() -> None:
    verdict, reason, _ = judge(MUST_BLOCK, False, [seen("anonymous", None),
                                                   seen("viewer", False)],
                               roles=["viewer"], excused={"anonymous": "members only"})
    assert verdict is Verdict.PASS
    assert reason.endswith("(not applicable: anonymous: members only)")
    verdict, reason, _ = judge(MUST_BLOCK, False, [], roles=[],
                               excused={"anonymous": "members only"})
    assert verdict is Verdict.INCONCLUSIVE
    assert "login_required for every observing role: anonymous: members only" in reason


@pytest.mark.parametrize(("accepted", "sightings", "verdict", "disposition"), [
    (True, [seen("anonymous", True), seen("viewer", True)], Verdict.PASS, "published"),
    (False, [seen("anonymous", True), seen("viewer", True)], Verdict.FAIL, "rejected"),
    (True, [seen("anonymous", True), seen("viewer", False)], Verdict.FAIL, "held"),
    (True, [seen("anonymous", True), seen("viewer", None)], Verdict.INCONCLUSIVE, None),
])
def test_a_benign_case_passes_only_when_every_judged_role_sees_it(
        accepted, sightings, verdict, disposition) -> None:
    assert judge(MUST_ALLOW, accepted, sightings)[::2] == (verdict, disposition)


@given(st.lists(st.tuples(st.sampled_from(ROLES), st.sampled_from([True, False, None])),
                max_size=6), st.booleans())
def test_a_blocked_case_never_passes_on_a_read_that_showed_it_or_was_not_made(
        reads, accepted) -> None:
    final = [seen(role, visible) for role, visible in reads]
    verdict = judge(MUST_BLOCK, accepted, final)[0]
    complete = {role for role, _ in reads} == set(ROLES)
    if verdict is Verdict.PASS:
        assert complete
        assert all(visible is False for _, visible in reads)


CHECKED = FieldCheck(missing=(), mismatched=(), details={"source_ip": "ok"})
RECORD = {"decision": "rejected", "source_ip": "127.0.0.1"}


def records(disposition: str | None, accepted: bool = False, **kwargs: object) -> dict:
    options = {"problem": None, "record": RECORD, "check": CHECKED, "decisions": (),
               "wait_s": 2.0, "channel": "api", **kwargs}
    return {j.control: (j.verdict, j.reason, j.details)
            for j in judge_records(disposition, accepted, **options)}


def test_a_disposal_with_its_record_passes_both_controls() -> None:
    judged = records("rejected", decisions={"rejected"})
    assert judged[A5_4_RECORDS][:2] == (Verdict.PASS, "record kept with decision 'rejected'")
    assert judged[A5_3_LOG_FIELDS][:2] == (Verdict.PASS, "all 5(3) fields present and matching")


def test_a_published_case_is_judged_on_its_log_record_alone() -> None:
    assert set(records("published", True)) == {A5_3_LOG_FIELDS}
    assert records("published", True, record=None, check=None)[A5_3_LOG_FIELDS][:2] == (
        Verdict.FAIL, "no log record of an accepted write")


@pytest.mark.parametrize(("kwargs", "verdict", "reason"), [
    ({"record": None, "check": None}, Verdict.FAIL, "no record of the held write within 2s"),
    ({"decisions": {"removed"}}, Verdict.FAIL, "record decision 'rejected' is not a disposal"),
    ({"problem": "HTTP 503"}, Verdict.INCONCLUSIVE, "audit interface unreadable: HTTP 503"),
])
def test_a_disposal_without_its_record_never_passes(kwargs, verdict, reason) -> None:
    assert records("held", **kwargs)[A5_4_RECORDS][:2] == (verdict, reason)


@pytest.mark.parametrize(("check", "verdict", "reason"), [
    (FieldCheck(("device",), (), {}), Verdict.FAIL, "missing device"),
    (FieldCheck((), ("source_port",), {}), Verdict.FAIL,
     "not what the harness used: source_port"),
    (FieldCheck((), (), {}, unverified=("source_port",)), Verdict.INCONCLUSIVE,
     "the harness does not know its own source_port for this request"),
])
def test_log_fields_pass_only_when_present_and_compared(check, verdict, reason) -> None:
    assert records("rejected", check=check)[A5_3_LOG_FIELDS][:2] == (verdict, reason)


def test_fields_the_channel_cannot_know_are_marked_not_compared() -> None:
    verdict, reason, details = records("rejected", channel="browser",
                                       not_compared={"source_port"})[A5_3_LOG_FIELDS]
    assert verdict is Verdict.PASS
    assert reason.endswith("source_port present, not compared: the browser channel cannot "
                           "tell what it used")
    assert details[NOT_COMPARED] == ["source_port"]
