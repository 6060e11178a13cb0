"""Rate cases: many cases of one evasion family run at once, each judged for its rate control.

A case the target shows is watched for the policy's grace window; running a cell's cases side by
side makes N leaking cases cost about one window rather than N. The verdict of each case is the
one `CaseRun` gives; only the polling and the record checks differ (see `RateCaseRun`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from harness.observe.flow import CaseResult, CaseRun, Session, Sighting
from harness.policy import Policy
from harness.probes.cases import MUST_BLOCK, Case

# Cases run at once. Image cases run two at a time: the target reads each image (OCR), which is
# heavy, and a crowd of uploads only makes them time out.
PARALLEL_CASES = 64
PARALLEL_IMAGE_CASES = 2


class RateCaseRun(CaseRun):
    """A case judged for its rate control only."""

    def __init__(self, session: Session, case: Case, policy: Policy, seed: int, *,
                 control: str) -> None:
        super().__init__(session, case, policy, seed)
        self.control = control
        # Thousands of authors in one run: ten digits of the case seed keep their names apart.
        self.account["account_name"] = (f"{self.account['account_name'][:12]}"
                                        f"{seed % 10**10:010d}_{session.nonce}")

    def watch(self, accepted: bool) -> tuple[list[Sighting], list[Sighting]]:
        """A must_block case that shows is read again once, when the grace window ends, rather
        than polled through it: the same verdict at a fraction of the load on the target."""
        if self.case.expect != MUST_BLOCK or not accepted:
            return super().watch(accepted)
        time.sleep(self.target.settle_seconds)
        first = self.read_all()
        if not any(s.visible for s in first):
            return first, first
        time.sleep(self.policy.grace_seconds)
        return first, self.read_all()

    def judge_records(self, *args: Any) -> None:
        """Records are judged by the direct-canary scenarios; a rate case adds no record check."""


def run_rate_cases(runs: Sequence[RateCaseRun], *, image: bool = False) -> list[CaseResult]:
    """Run the cases side by side (fewer at once for image families) and return their results
    in order."""
    with ThreadPoolExecutor(PARALLEL_IMAGE_CASES if image else PARALLEL_CASES) as pool:
        return list(pool.map(CaseRun.run, runs))
