"""Checks that outlive a run: a report whose handling limit is longer than the run is left
pending, and `harness followup RUN` settles it later in the same run's evidence.

What a later poll needs includes the reporter's session token, which must never reach evidence,
so pending checks are kept outside the run directory, in the harness's state directory
(`$HARNESS_STATE_DIR`, default `~/.local/state/harness`), readable by the owner only.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.controls import A5_6_TIMELY
from harness.verdicts import Observation, RunVerdict, Verdict, judge_run

STATE_ENV = "HARNESS_STATE_DIR"


def state_dir() -> Path:
    """Where pending checks are kept."""
    configured = os.environ.get(STATE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "harness"


def _folder(run_id: str) -> Path:
    return state_dir() / "pending" / run_id


def save_pending(run_id: str, check: dict[str, Any]) -> Path:
    """Keep one pending check of a run (owner-only file; it holds the reporter's token)."""
    folder = _folder(run_id)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{check['channel']}-{check['case_id']}")[:150]
    path = folder / f"{name}.json"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(check, handle, ensure_ascii=False, indent=1)
    return path


def pending_check(filing: Any, timeline: Any, limits: tuple[float, float], *, case_id: str,
                  channel: str, test: str, expect: str) -> dict[str, Any]:
    """What a later poll of a report needs (the format `save_pending` keeps): its ticket, the
    times on both clocks, the published limits, the reported item and the reporter."""
    item = filing.item
    return {
        "control": A5_6_TIMELY, "case_id": case_id, "channel": channel, "test": test,
        "expect": expect, "ticket": filing.ticket, "submitted": filing.submitted,
        "received": filing.received, "clock_offset_s": filing.clock_offset_s,
        "events": timeline.events, "open_at": timeline.open_at,
        "limits": list(limits),
        "item": {"kind": item.kind,
                 "variables": {k: item.variables[k] for k in ("item_id", "item_type")}},
        "reporter": {"device_id": filing.reporter.device_id,
                     "variables": dict(filing.reporter.variables)},
    }


def pending_checks(run_id: str) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The run's pending checks, oldest first."""
    folder = _folder(run_id)
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.json")):
        yield path, json.loads(path.read_text(encoding="utf-8"))


@dataclass
class FollowupResult:
    """What a followup did: checks polled, settled, still pending, and the new verdicts."""

    polled: int
    settled: int
    pending: int
    verdict: RunVerdict


def followup(run_dir: Path, wait_seconds: float) -> FollowupResult:
    """Poll the run's pending report checks (for up to `wait_seconds`), append their
    observations and the updated control verdicts to the run's evidence, re-finalize it."""
    from harness.evidence import read_entries, read_run_info  # noqa: PLC0415
    from harness.observe.flow import Session  # noqa: PLC0415
    from harness.observe.reports import ReportDesk  # noqa: PLC0415
    from harness.policy import load_policy  # noqa: PLC0415
    from harness.targets.api import ApiTarget  # noqa: PLC0415
    from harness.targets.profile import load_profile  # noqa: PLC0415

    run_dir = run_dir.resolve()  # `latest` names the run it links to
    info = read_run_info(run_dir)
    checks = list(pending_checks(run_dir.name))
    if not checks:
        return FollowupResult(0, 0, 0, judge_run(read_entries(run_dir)))
    profile = load_profile(info["profile"]["path"], base_url=info["target"]["base_url"])
    secrets = list(profile.secrets)
    settled: list[tuple[Path, Observation, str]] = []
    deadline = time.monotonic() + wait_seconds
    with ApiTarget(profile) as api:
        desk = ReportDesk(Session(target=api, seed=0, nonce="followup"),
                          load_policy((info.get("policy") or {}).get("path")), 0)
        for path, check in checks:
            secrets.extend(v for v in check["reporter"]["variables"].values() if v)
            settled.append((path, _settle(desk, check, deadline), check["test"]))
            desk.exchanges.clear()
        violations = api.take_violations()
    return _append(run_dir, settled, secrets, violations)


def _settle(desk: Any, check: dict[str, Any], deadline: float) -> Observation:
    """Poll one pending report until `deadline` and judge it again."""
    from harness.observe.reports import (  # noqa: PLC0415
        Filing,
        Item,
        Timeline,
        judge_timeliness,
    )
    from harness.targets.api import Actor  # noqa: PLC0415

    reporter = Actor("reporter", check["reporter"]["device_id"],
                     dict(check["reporter"]["variables"]))
    item = Item(check["item"]["kind"], dict(check["item"]["variables"]), None)
    received = check.get("received") or check["submitted"]
    filing = Filing(item, reporter, check["ticket"], check["submitted"], received, [],
                    check["clock_offset_s"])
    timeline = Timeline(check["submitted"], check["clock_offset_s"], dict(check["events"]),
                        received=received, open_at=check.get("open_at"))
    timeline, moderator_handled = desk.follow(filing, deadline, timeline)
    verdict, reason = judge_timeliness(timeline, tuple(check["limits"]),
                                       moderator_handled=moderator_handled)
    if verdict is Verdict.PASS and check["expect"] == "must_block":
        reason += "; its removal was checked only in the run itself"
    return Observation(
        control=A5_6_TIMELY, surface=None, channel=check["channel"], case_id=check["case_id"],
        expect=check["expect"], verdict=verdict, reason=reason,
        details={"ticket": check["ticket"], "followup": True, "timeline": timeline.evidence(),
                 "exchanges": [e.evidence() for e in desk.exchanges]},
    )


def _append(run_dir: Path, settled: list[tuple[Path, Observation, str]],
            secrets: list[str], violations: list[dict[str, str]]) -> FollowupResult:
    """Append the new observations (the latest observation of a case counts), the new verdict
    of each control they touch from the one judge, and a followup entry; re-finalize the run;
    forget the settled checks."""
    from harness.evidence import Redactor, RunStore, read_entries  # noqa: PLC0415
    from harness.report.junit import write_junit  # noqa: PLC0415

    store = RunStore.open(run_dir, redactor=Redactor(secrets))
    for _, observation, test in settled:
        store.append({**observation.evidence(), "test": test})
    for violation in violations:  # the judge ends the run with 2 for any of them
        store.append({"entry_type": "scope_violation", **violation, "test": "followup"})
    changed = {observation.control for _, observation, _ in settled}
    verdict = judge_run(read_entries(run_dir))
    for control in verdict.controls:
        if control.control in changed:
            store.append({**control.evidence(), "reason": f"{control.reason} (after followup)"})
    still = [path for path, o, _ in settled if _is_pending(o)]
    store.append({"entry_type": "followup", "polled": len(settled),
                  "settled": len(settled) - len(still), "pending": len(still)})
    write_junit(store.path)
    store.finalize()
    for path, observation, _ in settled:
        if not _is_pending(observation):
            path.unlink()
    return FollowupResult(len(settled), len(settled) - len(still), len(still), verdict)


def _is_pending(observation: Observation) -> bool:
    return observation.verdict is Verdict.INCONCLUSIVE and observation.reason.startswith(
        "pending")
