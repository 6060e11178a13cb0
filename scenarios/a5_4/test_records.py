"""Article 5(4) record keeping: the target keeps records and network logs at least six months."""

from __future__ import annotations

import pytest

from harness.controls import A5_4_RETENTION
from harness.observe.flow import read_retention
from harness.verdicts import Observation, Verdict


@pytest.mark.control(A5_4_RETENTION)
@pytest.mark.one_channel
def test_retention(channel, target, harness_session, evidence, harness_policy):
    days, reason = read_retention(harness_session)
    if days is None:
        verdict = Verdict.INCONCLUSIVE
    elif days >= harness_policy.retention_min_days:
        verdict = Verdict.PASS
        reason = f"retention {days} days >= {harness_policy.retention_min_days}"
    else:
        verdict = Verdict.FAIL
        reason = f"retention {days} days < {harness_policy.retention_min_days}"
    evidence.record([Observation(
        control=A5_4_RETENTION, surface=None, channel=target.channel, case_id="retention",
        expect=None, verdict=verdict, reason=reason, details={"days": days},
    )])
    evidence.judge()
