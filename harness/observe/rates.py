"""Rate cases: many cases of one evasion family in flight at once, each judged for its rate
control.

A case the target shows is watched for the policy's grace window; having a cell's cases in
flight side by side makes N leaking cases cost about one window rather than N. How many are in
flight is the policy's `rates.concurrency` for the channel: a functional scenario, never a load
test. The API channel runs that many steps (a submission, a read) at once in threads, and a
case waiting for its window holds none; the browser channel (Playwright's pages belong to the
thread that made them) submits a batch of that many one after another and then reads them, so
that their windows overlap. The verdict of each case is the one `CaseRun` gives;
only the pacing and the record checks differ (see `RateCaseRun`).
"""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from harness.evidence.scenario import Inconclusive, ScenarioEvidence
from harness.observe.flow import (
    POLL_SECONDS,
    CaseResult,
    CaseRun,
    Session,
    surface_not_assessed,
)
from harness.observe.judge import Sighting
from harness.policy import Policy
from harness.probes.cases import MUST_BLOCK, Case
from harness.probes.variants import get
from harness.targets.refusals import ACCEPTED
from harness.verdicts import RATE, Observation, Verdict, rate_details

# Image cases run at most two at a time: the target reads each image (OCR), which is heavy,
# and a crowd of uploads only makes them time out.
IMAGE_CONCURRENCY = 2
# A final read that could not be made (an error, a timeout) is made again, at most this many
# times: the grace window is over, so a later read judges the case as well as the first.
REREADS = 2


class RateCaseRun(CaseRun):
    """A case judged for its rate control only, run in three steps (`start`, `first_read`,
    `finish`) so that a batch of them can share their waits."""

    def __init__(self, session: Session, case: Case, policy: Policy, seed: int, *,
                 control: str) -> None:
        super().__init__(session, case, policy, seed)
        self.control = control
        self.due = 0.0  # when the next step may run (time.monotonic)
        self.accepted: bool | None = None  # None: no submission to watch
        self.submission: Any = None
        self.first: list[Sighting] = []
        self.final: list[Sighting] | None = None  # set when the first reads settle the case

    def author_unique(self, seed: int) -> str:
        """Thousands of authors in one run: ten digits of the case seed keep their names
        apart (a digest of them where the naming rule has no room)."""
        return f"{seed % 10**10:010d}_{self.session.nonce}"

    def run(self) -> CaseResult:
        """The three steps in turn, each waiting for its moment."""
        for step in (self.start, self.first_read, self.finish):
            wait_until(self.due)
            step()
        return self.result

    def start(self) -> None:
        """Submit; an accepted case is first read after the target's settle time."""
        self.submission = super().submit()
        if self.submission is None:
            return
        self.accepted = self.target.classify(self.submission, self.case.surface) == ACCEPTED
        self.due = time.monotonic() + (self.target.settle_seconds if self.accepted else 0.0)

    def first_read(self) -> None:
        """Read as every observer. A must_block case that shows is read again once, when the
        grace window ends (rather than polled through it: the same verdict at a fraction of the
        load); a must_allow case not yet seen by all, once more after the settle time."""
        if self.accepted is None:
            return
        self.first = self.read_all()
        if not self.accepted:
            self.final = self.first
        elif self.case.expect == MUST_BLOCK:
            if any(s.visible for s in self.first):
                self.due = time.monotonic() + self.policy.grace_seconds
            else:
                self.final = self.first
        elif self.all_see(self.first):
            self.final = self.first
        else:
            self.due = time.monotonic() + max(self.target.settle_seconds, POLL_SECONDS * 5)

    def finish(self) -> None:
        """Judge the case as `CaseRun` does, from the submission and reads made so far; then
        let go of its author (a browser context), so that only cases in flight hold one."""
        if self.submission is not None:
            super().run()
        self.target.release(self.author)

    def submit(self) -> Any:
        """The submission `start` made (`CaseRun.run` asks for it)."""
        return self.submission

    def watch(self, accepted: bool) -> tuple[list[Sighting], list[Sighting]]:
        """The first reads and the final ones, made now unless the first settled the case; a
        final read that could not be made is made again (REREADS)."""
        final = self.final if self.final is not None else self.read_all()
        for _ in range(REREADS):
            if not self.unread(final):
                break
            time.sleep(POLL_SECONDS)
            final = self.read_all()
        return self.first, final

    def unread(self, sightings: list[Sighting]) -> bool:
        """Whether a judged role has a read that could not be made."""
        roles = self.judged_roles
        return any(s.visible is None for s in sightings if s.role in roles)

    def observe_records(self, *args: Any) -> None:
        """Records are judged by the direct-canary scenarios; a rate case adds no record check."""


def wait_until(due: float) -> None:
    """Sleep until `due` (time.monotonic), if it is still ahead."""
    delay = due - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def concurrency(policy: Policy, channel: str, *, image: bool = False) -> int:
    """How many rate cases run at once on `channel` (image cases: at most two)."""
    n = policy.rates.concurrency_of(channel)
    return min(n, IMAGE_CONCURRENCY) if image else n


STEPS = (RateCaseRun.start, RateCaseRun.first_read, RateCaseRun.finish)


def run_rate_cases(runs: Sequence[RateCaseRun], *, at_once: int,
                   threads: bool) -> list[CaseResult]:
    """Run the cases and return their results in order: in threads, at most `at_once` steps
    at a time, or (a channel whose driver is bound to one thread) in batches of `at_once`
    whose waits overlap."""
    if threads:
        _run_in_threads(runs, at_once)
        return [run.result for run in runs]
    for first in range(0, len(runs), at_once):
        batch = runs[first:first + at_once]
        for step in STEPS:
            for run in batch:
                wait_until(run.due)
                step(run)
    return [run.result for run in runs]


def _run_in_threads(runs: Sequence[RateCaseRun], at_once: int) -> None:
    """Each case's steps in turn, each when it is due, `at_once` steps at a time: a case
    waiting for its moment (a grace window) holds no thread, so the target never has more
    than `at_once` of the harness's requests in flight and a cell's windows all overlap.
    Steps that are due go in case order, submissions before reads."""
    due: list[tuple[float, int, int]] = [(0.0, index, 0) for index in range(len(runs))]
    running: dict[Future[None], tuple[int, int]] = {}
    with ThreadPoolExecutor(at_once) as pool:
        while due or running:
            now = time.monotonic()
            while due and len(running) < at_once and due[0][0] <= now:
                _, index, step = heapq.heappop(due)
                running[pool.submit(STEPS[step], runs[index])] = (index, step)
            idle = len(running) < at_once and due
            timeout = max(0.0, due[0][0] - now) if idle else None
            if not running:
                time.sleep(timeout or 0.0)
                continue
            done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
            for future in done:
                index, step = running.pop(future)
                future.result()  # a step's error is the scenario's
                if step + 1 < len(STEPS):
                    heapq.heappush(due, (runs[index].due, index, step + 1))


def measure_cells(control: str, family: str, expect: str, cells: Mapping[str, list[Case]], *,
                  session: Session, evidence: ScenarioEvidence, policy: Policy,
                  seed: int) -> None:
    """Submit every case of every surface's cell at once (`rates.concurrency` of them in
    flight), record one observation of `control` per case, with its rate details, and one per
    surface that cannot be assessed, and leave judging to the gate (the controller's rate
    cells): Inconclusive only when some case went unobserved."""
    target = session.target
    observations: list[Observation] = []
    runs: list[RateCaseRun] = []
    for surface, cases in cells.items():
        excuse = surface_not_assessed(target.surface_spec(surface), surface, target.channel)
        if excuse is None and cases:
            runs += [RateCaseRun(session, case, policy, seed + len(runs) + i, control=control)
                     for i, case in enumerate(cases)]
            continue
        verdict, reason = excuse or (
            Verdict.NOT_APPLICABLE, f"{family} applies to none of the selected {expect} content")
        observations.append(Observation(
            control=control, surface=surface, channel=target.channel,
            case_id=f"{surface}/{family}/{expect}", expect=expect, verdict=verdict,
            reason=reason, details={RATE: rate_details(family, expect, verdict)}))
    at_once = concurrency(policy, target.channel, image=get(family).kind == "image")
    exchanges = []
    for result in run_rate_cases(runs, at_once=at_once, threads=target.channel == "api"):
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
