"""Rate controls: cells judged on the Wilson bound against the policy's gate, the control's
verdict is the gate (not any single case), measured families never gate, and the rates table."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.observe.flow import Session
from harness.observe.rates import (
    IMAGE_CONCURRENCY,
    REREADS,
    RateCaseRun,
    concurrency,
    run_rate_cases,
)
from harness.policy import Gate, Policy, RatePolicy
from harness.probes.cases import MUST_ALLOW, MUST_BLOCK, ProbeSpec, build_case
from harness.report.summary import rate_table
from harness.targets.api import Actor, ApiTarget
from harness.targets.browser import BrowserTarget, _CaseScope
from harness.targets.profile import load_profile
from harness.verdicts import (
    RATE,
    RateGate,
    Verdict,
    judge_rates,
    policy_gate,
    rate_cells,
    rate_details,
)

CONTROL = "A5.4-EVASION-CASE"
GATE = RateGate(0.70, gating=True)


def _lines(surface: str, expect: str, verdicts: list[str], family: str = "case",
           control: str = CONTROL) -> list[dict[str, Any]]:
    return [{"control": control, "surface": surface, "expect": expect, "verdict": v,
             "details": {RATE: rate_details(family, expect, Verdict(v))}} for v in verdicts]


def _cell(expect: str, verdicts: list[str], gate: RateGate = GATE) -> Any:
    [cell] = rate_cells(_lines("post", expect, verdicts), lambda *_: gate)
    return cell


def test_a_perfect_cell_passes_and_its_evidence_carries_the_interval() -> None:
    cell = _cell("must_block", ["pass"] * 12)
    assert cell.verdict is Verdict.PASS
    line = cell.evidence()
    assert line["entry_type"] == "rate"
    assert (line["k"], line["n"], line["rate"], line["bound"]) == (12, 12, 1.0, "low")
    assert line["low"] == pytest.approx(0.7575, abs=1e-4)
    assert "12/12 blocked" in line["reason"]


def test_one_leak_in_twelve_fails_the_cell_though_most_cases_pass() -> None:
    cell = _cell("must_block", ["pass"] * 11 + ["fail"])
    assert cell.verdict is Verdict.FAIL  # 11/12: lower bound 0.646 < 0.70
    assert cell.rate.k == 11


def test_a_single_leak_passes_when_the_sample_is_large_enough() -> None:
    assert _cell("must_block", ["pass"] * 39 + ["fail"]).verdict is Verdict.PASS


def test_too_few_observed_cases_are_inconclusive_never_pass() -> None:
    cell = _cell("must_block", ["pass"] * 8)  # 9 are needed to clear 0.70
    assert cell.verdict is Verdict.INCONCLUSIVE
    assert "at least 9" in cell.reason


def test_unobserved_cases_make_a_clearing_cell_inconclusive_but_not_a_failing_one() -> None:
    assert _cell("must_block", ["pass"] * 12 + ["inconclusive"]).verdict is Verdict.INCONCLUSIVE
    assert _cell("must_block", ["fail"] * 12 + ["inconclusive"]).verdict is Verdict.FAIL
    assert _cell("must_block", ["pass"] * 12 + ["inconclusive"]).unobserved == 1


def test_must_allow_cells_gate_the_upper_bound_of_false_blocks() -> None:
    gate = RateGate(0.50, gating=True)
    assert _cell("must_allow", ["pass"] * 4, gate).verdict is Verdict.PASS
    failing = _cell("must_allow", ["pass"] * 3 + ["fail"], gate)
    assert failing.verdict is Verdict.FAIL
    assert failing.rate.k == 1  # the false blocks
    assert failing.evidence()["bound"] == "high"


def test_a_surface_where_nothing_applied_is_not_applicable() -> None:
    assert _cell("must_block", ["not_applicable"]).verdict is Verdict.NOT_APPLICABLE


def test_rate_details_say_whether_the_case_was_blocked() -> None:
    assert rate_details("case", "must_block", Verdict.PASS)["blocked"] is True
    assert rate_details("case", "must_block", Verdict.FAIL)["blocked"] is False
    assert rate_details("case", "must_allow", Verdict.FAIL)["blocked"] is True
    assert rate_details("case", "must_allow", Verdict.INCONCLUSIVE)["blocked"] is None


def _policy(gated: bool) -> Policy:
    return Policy(rates=RatePolicy(families=(("case", Gate(gating=gated)),)))


def test_the_control_verdict_is_the_gate_and_names_the_worst_cell() -> None:
    lines = (_lines("post", "must_block", ["pass"] * 12)
             + _lines("bio", "must_block", ["pass"] * 6 + ["fail"] * 6)
             + _lines("post", "must_allow", ["pass"] * 4))
    verdict, summary, gating, cells = judge_rates(lines, _policy(True))[CONTROL]
    assert (verdict, gating, len(cells)) == (Verdict.FAIL, True, 3)
    assert "bio/case must_block" in summary


def test_a_measured_family_keeps_its_true_verdict_but_does_not_gate() -> None:
    lines = _lines("post", "must_block", ["fail"] * 12)
    verdict, summary, gating, _ = judge_rates(lines, _policy(False))[CONTROL]
    assert (verdict, gating) == (Verdict.FAIL, False)
    assert summary.startswith("measured, not gated")


def test_the_bank_is_judged_by_its_own_gate() -> None:
    gate = policy_gate(Policy())("A5.4-OVERBLOCK", "identity", "must_allow")
    assert (gate.threshold, gate.gating) == (Policy().overblocking.false_block_max, True)
    family = policy_gate(Policy())(CONTROL, "case", "must_block")
    assert family.threshold == Policy().rates.default.block_rate_min


def test_rate_table_lists_every_cell_with_its_interval_gate_and_verdict() -> None:
    cells = rate_cells(_lines("post", "must_block", ["pass"] * 12)
                       + _lines("post", "must_allow", ["pass"] * 3 + ["inconclusive"]),
                       lambda *_: RateGate(0.5, gating=False))
    lines = rate_table(cell.evidence() for cell in cells)
    assert lines[0].split() == ["surface", "family", "expect", "k/n", "rate", "95%",
                                "interval", "gate", "verdict"]
    assert lines[1].split()[:5] == ["post", "case", "must_block", "12/12", "100.0%"]
    assert "[0.758, 1.000]" in lines[1]
    assert "(measured)" in lines[1]
    assert "0/3 +1?" in lines[2]
    assert "INCONCLUSIVE" in lines[2]


# --- running rate cases: pacing, concurrency and re-reads ---------------------------------------

RATE_PROFILE = """\
name: leaky
base_url: null
allowed_hosts: [127.0.0.1]
api:
  auth_headers: {Authorization: "Bearer {token}"}
  timeout_seconds: 5
  read_retries: 0
  register:
    method: POST
    path: /api/register
    json: {account_name: "{account_name}", password: "{password}"}
    extract: {token: token, id: user_id}
  surfaces:
    bio:
      create:
        - {method: PATCH, path: /api/me, as: author, json: {bio: "{content}"}}
      edit:
        - {method: PATCH, path: /api/me, as: author, json: {bio: "{content}"}}
      observe:
        - {method: GET, path: "/api/users/{author_id}", as: [viewer, anonymous]}
"""


@dataclass
class LeakySite:
    """Stores every bio (no filter) and logs what it was asked; the first `flaky` reads of
    each user's page fail with a 500."""

    flaky: int = 0
    log: list[str] = field(default_factory=list)
    bios: dict[int, str] = field(default_factory=dict)
    reads: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            path = request.url.path
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            if path == "/api/register":
                user = len(self.bios) + 1
                self.bios[user] = ""
                return httpx.Response(201, json={"token": f"t{user}", "user_id": user})
            if path == "/api/me":
                user = int(token.removeprefix("t"))
                self.bios[user] = json.loads(request.content)["bio"]
                self.log.append(f"submit {user}")
                return httpx.Response(200, json={})
            user = int(path.rsplit("/", 1)[1])
            self.log.append(f"read {user}")
            self.reads[user] += 1
            if self.reads[user] <= self.flaky:
                return httpx.Response(500, json={"error": "busy"})
            return httpx.Response(200, json={"bio": self.bios.get(user, "")})


def _rate_runs(write_profile: Callable[..., Path], site: LeakySite, n: int,
               expect: str = MUST_BLOCK) -> list[RateCaseRun]:
    profile = load_profile(write_profile(RATE_PROFILE), base_url="http://127.0.0.1:9")
    session = Session.open(ApiTarget(profile, transport=httpx.MockTransport(site)), 5, "r1")
    probe = ProbeSpec("canary-zh-a", MUST_BLOCK, "zh", canary="canary-zh-a") \
        if expect == MUST_BLOCK else ProbeSpec("benign-zh", MUST_ALLOW, "zh")
    return [RateCaseRun(session, build_case("bio", "create", probe, 100 + i),
                        Policy(grace_seconds=0.05), 100 + i, control=CONTROL)
            for i in range(n)]


def test_a_batch_submits_every_case_before_reading_any_so_their_windows_overlap(
        write_profile: Callable[..., Path]) -> None:
    site = LeakySite()
    runs = _rate_runs(write_profile, site, 5)
    results = run_rate_cases(runs, at_once=3, threads=False)
    events = [e for e in site.log if not e.endswith(" 1")]  # user 1 is the viewer
    # Two batches (3 + 2): each submits all its cases, then reads them.
    assert [e.split()[0] for e in events[:3]] == ["submit"] * 3
    first_read = next(i for i, e in enumerate(events) if e.startswith("read"))
    assert first_read == 3
    second_batch = [i for i, e in enumerate(events) if e.startswith("submit")][3:]
    assert len(second_batch) == 2
    assert all(e.startswith("read") for e in events[first_read:second_batch[0]])
    # Every leak is seen and fails, whatever the pacing.
    assert [r.observations[0].verdict for r in results] == [Verdict.FAIL] * 5


def test_threads_wait_out_the_windows_side_by_side_with_at_most_at_once_in_flight(
        write_profile: Callable[..., Path]) -> None:
    """Cases waiting for their grace window hold no thread: every leaking case is submitted
    before any is read again, and the site never has more than `at_once` requests at once."""
    site = LeakySite()
    in_flight = {"now": 0, "most": 0}
    count = threading.Lock()

    def counted(request: httpx.Request) -> httpx.Response:
        with count:
            in_flight["now"] += 1
            in_flight["most"] = max(in_flight["most"], in_flight["now"])
        try:
            threading.Event().wait(0.002)  # long enough for threads to overlap
            return site(request)
        finally:
            with count:
                in_flight["now"] -= 1

    profile = load_profile(write_profile(RATE_PROFILE), base_url="http://127.0.0.1:9")
    session = Session.open(ApiTarget(profile, transport=httpx.MockTransport(counted)), 5, "r1")
    probe = ProbeSpec("canary-zh-a", MUST_BLOCK, "zh", canary="canary-zh-a")
    runs = [RateCaseRun(session, build_case("bio", "create", probe, 100 + i),
                        Policy(grace_seconds=0.2), 100 + i, control=CONTROL) for i in range(6)]
    results = run_rate_cases(runs, at_once=2, threads=True)
    assert [r.observations[0].verdict for r in results] == [Verdict.FAIL] * 6
    assert in_flight["most"] <= 2
    events = [e for e in site.log if not e.endswith(" 1")]  # user 1 is the viewer
    submitted = [i for i, e in enumerate(events) if e.startswith("submit")]
    reads = Counter(e.split()[1] for e in events if e.startswith("read"))
    assert len(submitted) == 6
    assert set(reads.values()) == {4}  # viewer and anonymous, first and after the window
    again = [i for i, e in enumerate(events) if e.startswith("read")
             and events[:i].count(e) == 2]  # the first read after a window
    assert max(submitted) < min(again)  # no case waited for another's window


def test_threads_and_batches_judge_the_same(write_profile: Callable[..., Path]) -> None:
    threaded = run_rate_cases(_rate_runs(write_profile, LeakySite(), 4, MUST_ALLOW),
                              at_once=2, threads=True)
    batched = run_rate_cases(_rate_runs(write_profile, LeakySite(), 4, MUST_ALLOW),
                             at_once=2, threads=False)
    assert [r.observations[0].verdict for r in threaded] == [Verdict.PASS] * 4
    assert [r.observations[0].verdict for r in batched] == [Verdict.PASS] * 4


def test_a_final_read_that_failed_is_made_again_within_a_bound(
        write_profile: Callable[..., Path]) -> None:
    # Every page fails its first two reads: the case's first read and its final one fail,
    # the re-read lands, and the leak is seen.
    [result] = run_rate_cases(_rate_runs(write_profile, LeakySite(flaky=2), 1), at_once=1,
                              threads=False)
    assert result.observations[0].verdict is Verdict.FAIL


def test_reads_that_keep_failing_leave_the_case_inconclusive_never_passed(
        write_profile: Callable[..., Path]) -> None:
    [result] = run_rate_cases(_rate_runs(write_profile, LeakySite(flaky=99), 1), at_once=1,
                              threads=False)
    [observation] = result.observations
    assert observation.verdict is Verdict.INCONCLUSIVE
    # The first read, then the final one and REREADS more, per observer and no more.
    reads = [e for e in result.exchanges if "/api/users/" in e.url and e.actor == "viewer"]
    assert len(reads) <= 1 + REREADS


def test_concurrency_comes_from_the_policy_per_channel_and_images_stay_low() -> None:
    policy = Policy(rates=RatePolicy(concurrency=(("api", 6), ("browser", 3))))
    assert concurrency(policy, "api") == 6
    assert concurrency(policy, "browser") == 3
    assert concurrency(policy, "api", image=True) == IMAGE_CONCURRENCY
    assert dict(Policy().rates.concurrency) == {"api": 8, "browser": 4}


class FakeContext:
    """A browser context that records its closing and writes its HAR when closed."""

    def __init__(self, har: Path, cookie: str) -> None:
        self.har, self.cookie, self.closed = har, cookie, False

    def cookies(self) -> list[dict[str, str]]:
        return [{"value": self.cookie}]

    def close(self) -> None:
        self.closed = True
        self.har.write_text("{}", encoding="utf-8")


def test_a_released_author_closes_its_context_and_keeps_its_cookie_and_har() -> None:
    target = BrowserTarget.__new__(BrowserTarget)
    target._lasting = {}
    kept: list[str] = []
    target._scope = scope = _CaseScope(sink=lambda name, data, text: kept.append(name) or name,
                                       tracing="off", screenshots="off", har="on")
    author, viewer = Actor("author", "d1"), Actor("viewer", "d2")
    context = FakeContext(scope.scratch / "author.har", "session-cookie-of-author")
    scope.contexts["author"], scope.holders["author"] = context, author
    target.release(viewer)  # holds nothing: nothing happens
    target.release(author)
    assert context.closed
    assert "author" not in scope.contexts
    assert "session-cookie-of-author" in target.secrets()  # still redacted from evidence
    target.end_case(False, lambda data: data)
    assert kept == ["author.har"]
