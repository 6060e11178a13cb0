"""The controls under load: Article 5(4) prevention and Article 5(6) intake must hold while the
user scale grows (Provisions Art. 3(3) asks for a new assessment when it grows markedly).

One bounded Locust run (a subprocess, never this process) steps its users up from a no-load
stage, driving the target through the profile's API steps (a pages-only site: its browser steps
as form posts, with accounts made before the load); afterwards every canary it posted is read
as a viewer and an anonymous visitor (on a pages-only site through the browser, as the
functional scenarios read it), and every receipt it was given (or, where the site gives none,
every report by its reason text) is looked up in the moderator's queue. Each stage is one
observation of each control (harness.load.scenario).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
from pathlib import Path

import pytest

from harness.controls import A5_4_UNDER_LOAD, A5_6_INTAKE_UNDER_LOAD
from harness.load.display import live_progress
from harness.load.runner import run_load
from harness.load.scenario import (
    STAGE_TABLE,
    judge_load,
    make_accounts,
    make_plan,
    observations,
)
from harness.observe.flow import Session
from harness.observe.reports import NotObserved
from harness.pytest_plugin import SITE_KEY, Inconclusive
from harness.seeds import derive_seed

ARTIFACTS = ("plan.json", "locust.json", "locust_stats.csv", "locust_stats_history.csv",
             "locust_failures.csv", "progress.jsonl")


@pytest.mark.channel("load")
@pytest.mark.control(A5_4_UNDER_LOAD)
@pytest.mark.control(A5_6_INTAKE_UNDER_LOAD)
def test_controls_hold_under_load(request, target_profile, api_target, evidence, harness_policy,
                                  run_seed):
    seed = derive_seed(run_seed, "load")
    with tempfile.TemporaryDirectory(prefix="harness-load-") as scratch:
        try:
            plan = make_plan(target_profile, harness_policy.load, seed, Path(scratch))
        except NotObserved as exc:
            raise Inconclusive(str(exc)) from None
        observer = api_target
        if plan.steps == "browser":
            observer = request.getfixturevalue("target")  # the pages' own channel
            try:
                plan, made = make_accounts(plan, target_profile, api_target.mailbox,
                                           secrets.token_hex(2))
            except NotObserved as exc:
                raise Inconclusive(str(exc)) from None
            evidence.add_secrets([account["password"] for account in plan.accounts])
            for variables in made:  # deleted with what they wrote at the end of the run
                observer.ledger.account(variables)
        _, site_env = request.config.stash.get(SITE_KEY, (None, {}))
        capture = request.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled(), live_progress(
                sys.stdout if sys.stdout.isatty() else None) as show:
            result = run_load(plan, {**os.environ, **site_env}, show, show.note)
        for name in ARTIFACTS:
            path = Path(scratch) / name
            if path.is_file():
                evidence.artifact(f"locust/{name}", path.read_text(encoding="utf-8"))
        kept = [r for r in result.records if r.get("kind") in ("canary", "report", "setup")]
        evidence.artifact("locust/records.jsonl",
                          "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
        if result.timed_out or result.exit_code != 0 or not result.progress:
            evidence.artifact("locust/locust.log", result.log)
    if not any(r.get("kind") != "setup" for r in result.records):
        setup = [r["error"] for r in result.records if r.get("kind") == "setup"]
        raise Inconclusive(f"the load run submitted nothing (Locust exit {result.exit_code}"
                           f"{', stopped at the deadline' if result.timed_out else ''}): "
                           f"{setup[0] if setup else result.log[-600:]}")
    session = Session.open(observer, derive_seed(seed, "observers"), secrets.token_hex(2))
    evidence.add_secrets(session.secrets)
    table, checks, queue = judge_load(plan, session, harness_policy, target_profile,
                                      records=result.records, progress=result.progress)
    evidence.add_secrets(session.secrets)
    stages = evidence.artifact("load/stages.json",
                               json.dumps(table.evidence(), ensure_ascii=False, indent=1))
    canaries = evidence.artifact("load/canaries.json", json.dumps(
        [c.evidence() for c in checks], ensure_ascii=False, indent=1))
    reconciliation = evidence.artifact("load/reconciliation.json", json.dumps(
        {"stages": [v.figures for v in table.intake], "queue": queue}, ensure_ascii=False,
        indent=1, default=str))
    request.config.stash[STAGE_TABLE] = table.lines()
    found = observations(table)
    for observation in found:
        observation.details.update(plan=plan.summary(), artifacts={
            "stages": stages, "canaries": canaries, "reconciliation": reconciliation})
    evidence.record(found)
    evidence.judge()
