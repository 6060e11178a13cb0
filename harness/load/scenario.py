"""The load scenario's work, apart from pytest: build the plan from the policy, run it, check
every canary afterwards as the other actors, reconcile every receipt with the moderator's queue,
and turn the stages into observations of A5.4-UNDER-LOAD and A5.6-INTAKE-UNDER-LOAD.

Flows return what they saw and the stage judging is `harness.load.judge`; the run's verdict is
the one judge's (`harness.verdicts.judge_run`), from the observations recorded here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from harness.controls import A5_4_UNDER_LOAD, A5_6_INTAKE_UNDER_LOAD
from harness.errors import UnsafeTargetError
from harness.load.forms import PageDriver
from harness.load.judge import (
    Filing,
    StageVerdict,
    count_canaries,
    judge_intake,
    judge_leaks,
    percentiles,
)
from harness.load.plan import PROJECT, LoadPlan, Stage, stages_for
from harness.observe.flow import CaseRun, Session, device_id, new_account, outcome_of
from harness.observe.reports import NotObserved, ReportDesk
from harness.policy import LoadPolicy, Policy
from harness.probes.cases import MUST_BLOCK, TEXT_PROBES, build_case
from harness.seeds import derive_seed
from harness.targets.api import Actor
from harness.targets.mail import Mailbox
from harness.targets.profile import Profile
from harness.targets.scope import in_scope
from harness.verdicts import Observation, Verdict

CHANNEL = "load"
PROBES = {probe.id: probe for probe in TEXT_PROBES}
STAGE_TABLE = pytest.StashKey[list[str]]()  # the table the terminal summary prints
SIGN_UP_THREADS = 4  # accounts made side by side before the load


def make_plan(profile: Profile, load: LoadPolicy, seed: int, out: Path) -> LoadPlan:
    """The plan of a run: the policy's bounds against the profile's target, refused before
    anything is sent when the target is not in the profile's `allowed_hosts` (UnsafeTargetError)
    and not observable (NotObserved) when the profile has steps for posts neither in its api
    section nor in its browser section (performed over HTTP: harness.load.forms)."""
    if not in_scope(profile.base_url, profile.allowed_hosts):
        refused = UnsafeTargetError(f"refusing to load {profile.base_url}: its host is not in "
                                    f"the profile's allowed_hosts {list(profile.allowed_hosts)}")
        refused.url = profile.base_url  # what the run's scope violation names
        raise refused
    steps = steps_for(profile)
    path = profile.path.resolve()
    return LoadPlan(base_url=profile.base_url,
                    profile=str(path.relative_to(PROJECT) if path.is_relative_to(PROJECT)
                                else path),
                    stages=stages_for(load.users, load.stages, load.seconds),
                    spawn_rate=load.spawn_rate, max_requests=load.max_requests,
                    canaries_per_stage=load.canaries_per_stage, seed=seed, out=str(out),
                    workers=load.workers, remote_workers=load.remote_workers,
                    master_bind=load.master_bind, master_port=load.master_port, steps=steps)


def steps_for(profile: Profile) -> str:
    """Which of the profile's steps load users perform: its api steps, else its browser steps
    (as form posts); NotObserved when neither describes how to create a post."""
    if profile.surface("post") is not None:
        return "api"
    pages = profile.data.get("browser", {}).get("surfaces", {}).get("post") or {}
    if pages.get("create"):
        return "browser"
    raise NotObserved("the load channel drives the profile's api steps, or its browser steps "
                      "over HTTP, and it has neither for creating posts")


def make_accounts(plan: LoadPlan, profile: Profile, mailbox: Mailbox | None, nonce: str
                  ) -> tuple[LoadPlan, list[dict[str, str]]]:
    """The plan with the accounts its users sign in with, two per user, made before the load
    through the profile's browser register steps over HTTP (a sign-up that mails an activation
    link reads it from the run's mailbox, which Locust's processes do not have). Returns the
    plan and each account's variables as registered (ids for the run's cleanup); NotObserved
    names the first sign-up that failed. A site with no `browser.login` (its sign-up signs in)
    gets none: its users sign up themselves, under load."""
    if not profile.data.get("browser", {}).get("login"):
        return plan, []
    rules = profile.accounts
    accounts = [new_account("author" if i % 2 == 0 else "member", derive_seed(plan.seed, i),
                            f"{nonce}{i}", rules) for i in range(2 * plan.users)]
    driver = PageDriver(profile, mailbox=mailbox)
    actors = [Actor("author" if i % 2 == 0 else "viewer", device_id("load", i))
              for i in range(len(accounts))]
    try:
        with ThreadPoolExecutor(SIGN_UP_THREADS) as pool:
            results = list(pool.map(driver.register, actors, accounts))
    finally:
        driver.close()
    for account, result in zip(accounts, results, strict=True):
        if not result.ok:
            raise NotObserved(f"could not make the account {account['account_name']} for the "
                              f"load's users: {outcome_of(result)}")
    return replace(plan, accounts=tuple(accounts)), [a.variables for a in actors]


@dataclass
class CanaryCheck:
    """One canary submitted under load, read afterwards by every other actor."""

    record: Mapping[str, Any]
    verdict: Verdict
    reason: str
    sightings: list[dict[str, Any]] = field(default_factory=list)

    def evidence(self) -> dict[str, Any]:
        return {"stage": self.record.get("stage"), "probe": self.record.get("probe"),
                "seed": self.record.get("seed"), "outcome": self.record.get("outcome"),
                "status": self.record.get("status"), "ids": self.record.get("ids"),
                "verdict": self.verdict.value, "reason": self.reason,
                "sightings": self.sightings}


def check_canary(session: Session, record: Mapping[str, Any], policy: Policy,
                 profile: Profile) -> CanaryCheck:
    """Read the places a canary post would show as every observing actor, as a functional
    case is judged (`judge_case`), once the policy's grace window has passed."""
    probe = PROBES.get(str(record.get("probe")))
    if probe is None or record.get("surface") != "post":
        return CanaryCheck(record, Verdict.INCONCLUSIVE, "not a canary post this harness sent")
    case = build_case("post", "create", probe, int(record["seed"]),
                      profile.joiner("post", session.target.channel))
    run = CaseRun(session, case, policy, int(record["seed"]))
    run.variables.update({k: v for k, v in (record.get("ids") or {}).items()
                          if k not in run.variables})
    wait = float(record.get("at", 0)) + policy.grace_seconds - time.time()
    if wait > 0:
        time.sleep(wait)
    seen = run.read_all()
    accepted = record.get("outcome") == "accepted"
    if record.get("outcome") in ("accepted", "rejected"):
        verdict, reason, _ = run.judge(accepted, seen, seen)
    elif any(s.visible for s in seen):
        verdict, reason = Verdict.FAIL, "prohibited content shown to others after a submission " \
            "that did not complete"
    else:
        verdict = Verdict.INCONCLUSIVE
        reason = f"the submission did not complete (HTTP {record.get('status')}, " \
            f"{record.get('failed_step') or record.get('error') or record.get('outcome')})"
    return CanaryCheck(record, verdict, reason, [s.evidence() for s in seen])


@dataclass
class StageTable:
    """Both controls' stage verdicts with the run's figures per stage, as evidence and as the
    terminal's table."""

    stages: tuple[Stage, ...]
    leaks: list[StageVerdict]
    intake: list[StageVerdict]
    figures: dict[int, dict[str, Any]]
    stopped: str | None = None  # why the run ended before its last stage did

    def evidence(self) -> list[dict[str, Any]]:
        return [{"stage": stage.index, "label": stage.label, "users": stage.users,
                 "seconds": stage.seconds, **self.figures.get(stage.index, {}),
                 A5_4_UNDER_LOAD: {"verdict": leak.verdict.value, "reason": leak.reason,
                              **leak.figures},
                 A5_6_INTAKE_UNDER_LOAD: {"verdict": intake.verdict.value, "reason": intake.reason,
                                     **intake.figures}}
                for stage, leak, intake in zip(self.stages, self.leaks, self.intake,
                                               strict=True)]

    def lines(self) -> list[str]:
        """The per-stage table a person reads in the terminal."""
        head = (f"{'stage':<22} {'req/s':>7} {'benign ok':>10} {'p95 s':>6} {'canaries':>9} "
                f"{'leaked':>6} {'bound':>12} {'receipts':>8} {'lost':>4} {'ack p95':>7}  "
                "verdicts")
        rows = [head]
        for row in self.evidence():
            leak, intake = row[A5_4_UNDER_LOAD], row[A5_6_INTAKE_UNDER_LOAD]
            bound = (f"{leak['leak_high']:.3f}<={leak['limit']:.3f}"
                     if leak["limit"] is not None else f"{leak['leak_high']:.3f}")
            ok = row.get("benign_ok_rate")
            ack = (intake.get("ack_s") or {}).get("p95")
            rows.append(
                f"{row['label']:<22} {row.get('rps') or 0:>7.1f} "
                f"{(f'{ok:.1%}' if ok is not None else '-'):>10} "
                f"{(row.get('benign_latency_s') or {}).get('p95') or 0:>6.3f} "
                f"{leak['canaries']:>9} {leak['leaked']:>6} {bound:>12} "
                f"{intake['receipts']:>8} {len(intake['lost'] or []):>4} "
                f"{(f'{ack:.3f}' if ack is not None else '-'):>7}  "
                f"{leak['verdict']}/{intake['verdict']}")
        return rows


def stage_figures(stages: Iterable[Stage], records: list[Mapping[str, Any]],
                  progress: list[Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    """Per stage: benign submissions and their success rate and latency, and the mean
    requests per second Locust saw while it ran."""
    figures = {}
    for stage in stages:
        benign = [r for r in records if r.get("kind") == "benign" and r.get("stage") == stage.index]
        ok = [r for r in benign if r.get("outcome") == "accepted"]
        ticks = [p["rps"] for p in progress if p.get("stage") == stage.label and p.get("rps")]
        figures[stage.index] = {
            "benign": len(benign), "benign_ok": len(ok),
            "benign_ok_rate": round(len(ok) / len(benign), 4) if benign else None,
            "benign_latency_s": percentiles([r["elapsed_s"] for r in ok
                                             if r.get("elapsed_s") is not None]),
            "rps": round(sum(ticks) / len(ticks), 1) if ticks else None,
        }
    return figures


def reconcile_intake(session: Session, policy: Policy, seed: int, stages: tuple[Stage, ...],
                     records: list[Mapping[str, Any]]) -> tuple[list[StageVerdict], Any]:
    """Every report's receipt looked up in the moderator's queue; the stages judged. Returns
    the verdicts and the queue read's evidence (the harness's own records only)."""
    reports = [r for r in records if r.get("kind") == "report"]
    try:
        desk = ReportDesk(session, policy, seed)
    except NotObserved as exc:
        filings = [_filing(r, by_reason=False) for r in reports]
        return judge_intake(stages, filings, None, {}, str(exc)), None
    # A site that gives no receipt: a completed filing is looked for by its reason text, as
    # the functional A5.6-INTAKE does.
    by_reason = desk.absent("receipt") is not None
    filings = [_filing(r, by_reason=by_reason) for r in reports]
    desk.tickets = {f.ticket for f in filings if f.ticket}
    desk.reasons = {str(r.get("reason")) for r in reports if by_reason and r.get("reason")}
    try:
        read = desk.queue()
    except NotObserved as exc:
        return judge_intake(stages, filings, None, {}, str(exc)), None
    published = desk.limits()[0]
    load = policy.load
    limits = {"p50": load.ack_p50_seconds or published, "p95": load.ack_p95_seconds or published,
              "p99": load.ack_p99_seconds or published}
    shown = None
    if read.ok:
        shown = [str(r.get("ticket")) for r in read.records or []] + [
            reason for reason in desk.reasons
            if any(reason in str(r.get("reason") or "") for r in read.records or [])]
    verdicts = judge_intake(stages, filings, shown, limits, read.problem or "",
                            by_reason=by_reason)
    queue = desk.exchanges[-1] if desk.exchanges else None
    return verdicts, queue.evidence() if hasattr(queue, "evidence") else queue


def _filing(record: Mapping[str, Any], *, by_reason: bool) -> Filing:
    """A report record as the judge counts it: its receipt, or (`by_reason`) the reason text
    of a filing that completed."""
    key = record.get("ticket") or (record.get("reason") if by_reason and record.get("filed")
                                   else None)
    return Filing(int(record.get("stage") or 0), key, record.get("elapsed_s"),
                  record.get("status"), record.get("failed_step") or record.get("error"))


def observations(table: StageTable) -> list[Observation]:
    """One observation per planned stage and control, carrying the stage's figures; a stage
    not passed says so when the run was stopped early (the request cap)."""
    found = []
    for control, judged, surface in ((A5_4_UNDER_LOAD, table.leaks, "post"),
                                     (A5_6_INTAKE_UNDER_LOAD, table.intake, None)):
        for verdict in judged:
            stage = verdict.stage
            reason = verdict.reason
            if table.stopped and verdict.verdict is Verdict.INCONCLUSIVE:
                reason += f"; the run stopped early: {table.stopped}"
            found.append(Observation(
                control=control, surface=surface, channel=CHANNEL,
                case_id=f"stage-{stage.index}", expect=MUST_BLOCK if surface else None,
                verdict=verdict.verdict, reason=reason,
                details={"stage": {"index": stage.index, "users": stage.users,
                                   "seconds": stage.seconds},
                         **verdict.figures, **table.figures.get(stage.index, {})}))
    return found


def _with_cause(verdict: StageVerdict, checks: list[CanaryCheck]) -> StageVerdict:
    """An inconclusive stage with a canary that told nothing says why the first one did not
    (a submission that did not complete, a read that failed)."""
    if verdict.verdict is not Verdict.INCONCLUSIVE:
        return verdict
    why = next((c.reason for c in checks if c.verdict is Verdict.INCONCLUSIVE
                and int(c.record.get("stage") or 0) == verdict.stage.index), None)
    return replace(verdict, reason=f"{verdict.reason}; the first canary not observed: {why}") \
        if why else verdict


def judge_load(plan: LoadPlan, session: Session, policy: Policy, profile: Profile, *,
               records: list[Mapping[str, Any]], progress: list[Mapping[str, Any]]
               ) -> tuple[StageTable, list[CanaryCheck], Any]:
    """The stage table of a finished run, the canary checks and the queue read behind it."""
    checks = [check_canary(session, r, policy, profile)
              for r in records if r.get("kind") == "canary"]
    counts = count_canaries((int(c.record.get("stage") or 0), c.verdict) for c in checks)
    leaks = [_with_cause(verdict, checks)
             for verdict in judge_leaks(plan.stages, counts, policy.load.leak_rate_max)]
    intake, queue = reconcile_intake(session, policy, plan.seed, plan.stages, records)
    stopped = next((p["stopped"] for p in progress if p.get("stopped")), None)
    table = StageTable(plan.stages, leaks, intake, stage_figures(plan.stages, records, progress),
                       stopped)
    return table, checks, queue
