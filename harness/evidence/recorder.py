"""The run recorder: the controller's plugin object that turns a pytest session into a run.

It writes the run's plan when collection ends (before any narrowing), every test's
observations and scope violations as they are reported, and at the end seals the run: rate
cells, each control's verdict from the one judge (`harness.verdicts.judge_run`), `run_end`,
`run.json`, JUnit and the manifest. An interrupted session is sealed too, marked incomplete,
with signals held back until the seal is down. Under pytest-xdist only the controller records.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable, Generator, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import __version__, interrupts
from harness.cleanup import CREATED, pending, run_cleanup
from harness.controls import catalog
from harness.errors import HarnessError
from harness.evidence.chain import file_sha256, utc_now_iso
from harness.evidence.redact import Redactor
from harness.evidence.store import RunStore, read_entries
from harness.evidence.verify import read_run_info
from harness.readers import parse_yaml
from harness.report.junit import write_junit
from harness.report.summary import by_hand_line, control_table, rate_grid, rate_table
from harness.targets.profile import SURFACES
from harness.verdicts import (
    MUST_BLOCK,
    RATE,
    Observation,
    Plan,
    RateGate,
    RunVerdict,
    Verdict,
    judge_run,
    latest_observations,
    policy_gate,
    rate_cells,
)
from harness.waivers import GATE

OBSERVATION = "harness.observation"
CONTROLS = "harness.controls"
VIOLATION = "harness.scope_violation"
NETWORK_REFUSAL = "harness.network_refusal"  # the browser's own calls outside allowed_hosts
PLAN_FILE = ".plan-{worker}.json"  # a worker's plan, handed to the controller, then removed


def plan_file(run_dir: Path, worker: str) -> Path:
    return run_dir / PLAN_FILE.format(worker=worker)


class RunRecorder:
    """Controller-only: records a session as a run and seals it, complete or not."""

    def __init__(self, config: pytest.Config, run_dir: Path, info: Mapping[str, Any], *,
                 resume: bool = False, secrets: Iterable[str] = ()) -> None:
        self.config = config
        self.run_dir = run_dir
        self.info = dict(info)  # the run's settings for run.json (profile, policy, pins, ...)
        pinned = self.info.get("profile") or {}
        about = profile_about(Path(pinned["path"])) if pinned.get("path") else None
        if about:  # the Article 6 report's part 1, kept with the run that it describes
            self.info.setdefault("about", about)
        self.resume = resume
        self.secrets = list(secrets)
        self.store: RunStore | None = None
        self.started = datetime.now(timezone.utc)
        self.planned = False
        self.problems: dict[str, str] = {}
        self.verdict: RunVerdict | None = None
        # The profile cleanup runs with (set by the plugin), and its (ok, failed) counts.
        self.cleanup_profile: Callable[[], Any] | None = None
        self.cleaned: tuple[int, int] | None = None
        self.deferred_cleanup = 0  # pending checks that hold the cleanup back

    # --- the run's start, plan and observations ---------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # pytest seals (calls sessionfinish) only once sessionstart is over: a signal while the
        # run is being laid out waits, and is raised when collection begins.
        with interrupts.deferred(swallow=True):
            self._start()

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> None:
        signum = interrupts.received()
        if signum is not None:
            raise KeyboardInterrupt(f"signal {signum}")

    def _start(self) -> None:
        if self.resume:
            self.store = RunStore.open(self.run_dir, redactor=Redactor(self.secrets))
            self.planned = any(e["entry_type"] == "plan" for e in self.store.entries())
            self.store.append({"entry_type": "run_resume", "seed": self.info.get("seed")})
            return
        if self.run_dir.exists() and any(self.run_dir.iterdir()):
            raise pytest.UsageError(f"--run-dir {self.run_dir} is not empty; give a new directory")
        self.store = RunStore.create(self.run_dir.parent, self.run_dir.name,
                                     redactor=Redactor(self.secrets))
        self.store.append({"entry_type": "run_start", "seed": self.info.get("seed")})
        if self.info.get("gate") is not None:  # the judge reads the gate from evidence alone
            self.store.append({"entry_type": GATE, **self.info["gate"]})
        # Settings first, so that even a run killed outright says what it was.
        self.store.write_run_info({**self.info, "run_id": self.run_dir.name, "complete": False,
                                   "started": self.started.isoformat(timespec="seconds")})

    def record_plan(self, plan: Plan) -> None:
        """Write the plan once (a resumed run keeps the plan it was started with)."""
        if self.planned or self.store is None:
            return
        self.store.append(plan.evidence())
        self.planned = True

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """A worker's collection is done: take the plan it wrote (every worker plans alike)."""
        path = plan_file(self.run_dir, node.workerinput["workerid"])
        if path.is_file():
            self.record_plan(Plan.from_entry(json.loads(path.read_text(encoding="utf-8"))))
            path.unlink()

    @pytest.hookimpl(tryfirst=True)  # before pytest's --junitxml reads the properties
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        assert self.store is not None
        props = dict(report.user_properties) if report.user_properties else {}
        ids = json.loads(props[CONTROLS]) if CONTROLS in props else []
        if report.failed:  # the reason a test that recorded nothing gives
            self.problems.setdefault(report.nodeid, f"{report.when} error: {short_error(report)}")
        if report.when != "teardown":
            return
        kinds = {VIOLATION: "scope_violation", NETWORK_REFUSAL: "network_refusal"}
        refused = [(name, json.loads(value)) for name, value in report.user_properties
                   if name in kinds]
        # A target records each refusal with its host; the test's own UnsafeTargetError
        # (no host) is recorded only when no target recorded it.
        recorded = any(name == VIOLATION and "host" in line for name, line in refused)
        for name, line in refused:
            if not (recorded and name == VIOLATION and "host" not in line):
                self.store.append({"entry_type": kinds[name], **line, "test": report.nodeid})
        for name, value in report.user_properties:
            if name == CREATED:  # what the test made on the target, deleted at the end
                self.store.append({**json.loads(value), "test": report.nodeid})
        lines = [json.loads(value) for name, value in report.user_properties
                 if name == OBSERVATION]
        for line in lines:
            self.store.append(line)
        if not lines and ids:
            reason = self.problems.get(report.nodeid, "the test made no observation")
            for control_id in ids:
                line = Observation(control=control_id, surface=None, channel="api",
                                   case_id=report.nodeid, expect=None,
                                   verdict=Verdict.INCONCLUSIVE, reason=reason).evidence()
                line["test"] = report.nodeid
                self.store.append(line)
        compact_properties(report, lines)

    # --- sealing ------------------------------------------------------------------------------

    def clean_up(self) -> None:
        """Delete what the run created on the target where the profile says how (see
        `harness.cleanup`): a `cleanup` line per item, before the run is sealed. A run
        interrupted by a signal skips this; `harness cleanup RUN` does it later."""
        if self.store is None or self.cleanup_profile is None:
            return
        entries = list(self.store.entries())
        self.deferred_cleanup = sum(1 for e in entries if e.get("entry_type") == "observation"
                                    and (e.get("details") or {}).get("pending"))
        if self.deferred_cleanup:
            return  # `harness followup` still needs what the pending reports were filed on
        items = pending(entries)
        if items:
            self.cleaned = run_cleanup(self.store, items, self.cleanup_profile())

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session,
                             exitstatus: int) -> Generator[None, None, None]:
        """Seal the run after every fixture (browser artifacts included) is torn down, and
        before the terminal summary. A teardown that raised (a browser that cannot answer
        after an interrupt) leaves the run incomplete, saying so, and the exit code the
        judge's."""
        torn = ""
        try:
            yield
        except Exception as exc:  # whatever a teardown raised, the run is sealed
            if self.store is None:
                raise
            torn = f"the session's teardown failed: {type(exc).__name__}: {exc}"[:300]
        if self.store is None:
            return
        with interrupts.deferred(swallow=True):
            usage = int(exitstatus) == pytest.ExitCode.USAGE_ERROR
            complete = (int(exitstatus) != pytest.ExitCode.INTERRUPTED and not usage
                        and not session.shouldstop and not session.shouldfail
                        and interrupts.received() is None and not torn)
            stopped = int(exitstatus) == pytest.ExitCode.INTERRUPTED \
                or interrupts.received() is not None
            why = "" if complete else (torn if torn and not stopped
                                       else _incomplete_reason(session, exitstatus))
            if not usage and int(exitstatus) != pytest.ExitCode.INTERRUPTED \
                    and interrupts.received() is None:
                self.clean_up()
                if interrupts.received() is not None:  # stopped while cleaning up
                    complete, why = False, _incomplete_reason(session, exitstatus)
            self.verdict = self.seal(complete, why, usage_error="the run was refused before "
                                     "it started; see the error above" if usage else None)
            interrupts.settle()
            if not usage:  # pytest's own code says it best
                session.exitstatus = self.verdict.exit_code

    def seal(self, complete: bool, why: str, usage_error: str | None = None) -> RunVerdict:
        """Judge what the evidence holds and write the run's ending, its reports and manifest."""
        assert self.store is not None
        for leftover in self.run_dir.glob(PLAN_FILE.format(worker="*")):
            leftover.unlink()
        rated = any(RATE in e.get("details", {}) for e in self.store.entries()
                    if e["entry_type"] == "observation")
        # Rate cells are judged against the policy's gates; a run without them never reads it.
        gate_of = policy_gate(self._policy()) if rated else None
        return seal_run(self.store, complete=complete, why=why, info=self._run_info,
                        gate_of=gate_of, usage_error=usage_error)[0]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.verdict is None:
            return
        terminalreporter.section("harness: controls")
        for line in verdict_lines(self.verdict):
            terminalreporter.write_line(line)
        if self.cleaned is not None:
            ok, failed = self.cleaned
            retry = f"; retry with: harness cleanup {self.run_dir}" if failed else ""
            terminalreporter.write_line(f"cleanup: {ok} deleted, {failed} failed{retry}")
        elif self.deferred_cleanup:
            terminalreporter.write_line(
                f"cleanup: held back for {self.deferred_cleanup} pending check(s); after "
                f"`harness followup {self.run_dir}`, run `harness cleanup {self.run_dir}`")
        terminalreporter.write_line(f"evidence: {self.run_dir}")

    def _policy(self) -> Any:
        from harness.policy import load_policy  # noqa: PLC0415

        return load_policy(self.info.get("policy", {}).get("path"))

    def _run_info(self, complete: bool, why: str, verdict: RunVerdict,
                  counts: Mapping[str, int]) -> dict[str, Any]:
        earlier: dict[str, Any] = {}
        if self.resume and (self.run_dir / "run.json").is_file():
            earlier = json.loads((self.run_dir / "run.json").read_text(encoding="utf-8"))
        finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
        info = dict(earlier) if earlier else dict(self.info)
        info.update({
            "run_id": self.run_dir.name,
            "finished": finished,
            "complete": complete,
            "interrupted": why or None,
            "exit_status": verdict.exit_code,
            "counts": dict(counts),
            "versions": {"harness": __version__, "python": platform.python_version(),
                         "pytest": pytest.__version__, "platform": platform.platform()},
        })
        info.setdefault("started", self.started.isoformat(timespec="seconds"))
        if self.resume:
            info["resumed"] = [*earlier.get("resumed", []),
                               {"started": self.started.isoformat(timespec="seconds"),
                                "finished": finished, "args": self.info.get("args")}]
        return info


def seal_run(store: RunStore, *, complete: bool, why: str,
             info: Callable[[bool, str, RunVerdict, Mapping[str, int]], dict[str, Any]],
             gate_of: Callable[[str, str, str], RateGate] | None = None,
             usage_error: str | None = None) -> tuple[RunVerdict, list[dict[str, Any]]]:
    """Seal a run: its rate cells (with `gate_of`), every control's verdict from the one judge,
    the `run_end` line, run.json (from `info`), JUnit and the manifest. Returns the verdict and
    the rate lines written."""
    entries = list(store.entries())
    rates: list[dict[str, Any]] = []
    if gate_of is not None:
        rated = [o for o in latest_observations(entries) if RATE in o.get("details", {})]
        order = list(catalog())
        for cell in sorted(rate_cells(rated, gate_of), key=lambda c: (
                order.index(c.control), c.family, SURFACES.index(c.surface),
                c.expect != MUST_BLOCK)):
            rates.append(store.append(cell.evidence()))
        entries += rates
    # The ending's time is the day waivers are judged against, now and whenever judged again.
    ending = {"entry_type": "run_end", "complete": complete, "usage_error": usage_error,
              "time": utc_now_iso()}
    verdict = judge_run([*entries, ending], gate_of)
    for control in verdict.controls:
        store.append(control.evidence())
    counts = _counts(entries)
    store.append({**ending, "exit_status": verdict.exit_code, "reason": verdict.why,
                  "interrupted": why or None, **counts})
    store.write_run_info(info(complete, why, verdict, counts))
    write_junit(store.path)
    store.finalize()
    return verdict, rates


def seal_unsealed(run_dir: Path) -> RunVerdict | None:
    """Seal, as incomplete, a run whose process ended before it could seal it (killed, or
    interrupted while pytest was still starting); None when the run was sealed already."""
    store = RunStore.recover(run_dir)
    if store is None:
        return None
    why = "the process ended before it sealed the run; sealed afterwards"

    def info(complete: bool, reason: str, verdict: RunVerdict,
             counts: Mapping[str, int]) -> dict[str, Any]:
        earlier = read_run_info(run_dir) if (run_dir / "run.json").is_file() else {}
        return {**earlier, "complete": complete, "interrupted": reason,
                "exit_status": verdict.exit_code, "counts": dict(counts)}

    return seal_run(store, complete=False, why=why, info=info)[0]


def verdict_lines(verdict: RunVerdict, *, rates: Iterable[Mapping[str, Any]] | None = None,
                  grid: bool = True) -> list[str]:
    """What a person reads of a judged run: one line per control with its coverage, the block
    rate grid (with `grid`; the full rate table instead when `rates` are given), what the scope
    left out and what the assessor checks by hand, and the exit code with its reason."""
    lines = control_table([(c.control, c.verdict.value, f"{c.observed}/{c.planned}", c.reason)
                           for c in verdict.controls])
    if rates is not None:
        lines += ["", "rates (95% Wilson intervals)", *rate_table(rates)]
    elif grid and verdict.cells:
        lines += ["", *rate_grid(verdict.cells)]
    if verdict.not_assessed:
        lines += ["", "not assessed (outside this run's controls or channels): "
                  + ", ".join(verdict.not_assessed)]
    lines.append(by_hand_line())
    measured = verdict.measured()
    if measured:
        lines.append("measured, not gated by the policy: "
                     + ", ".join(f"{c.control} {c.verdict.value}" for c in measured))
    for waiver in verdict.waivers:
        lines.append(f"waiver of {waiver['control']} until {waiver['expires']} by "
                     f"{waiver['approver'] or 'nobody'}: {waiver['status']}")
    for violation in verdict.violations:
        lines.append(f"scope violation: {violation.get('method', '')} {violation.get('url')} "
                     f"refused ({violation.get('reason', 'host not allowed')})")
    problems = verdict.problems()
    if problems and verdict.exit_code:
        lines += ["gating controls not passed:",
                  *(f"  {c.control}: {c.verdict.value}" for c in problems)]
    lines.append(f"exit {verdict.exit_code}: {verdict.why}")
    return lines


def judge_recorded(run_dir: Path) -> RunVerdict:
    """Judge a recorded run from its evidence alone (callers verify it first)."""
    return judge_run(read_entries(run_dir))


def _counts(entries: list[Mapping[str, Any]]) -> dict[str, int]:
    plan = next((e for e in entries if e.get("entry_type") == "plan"), None)
    planned = {t["test"] for t in plan["tests"]} if plan else set()
    observed = {o.get("test") for o in entries if o.get("entry_type") == "observation"}
    return {"planned_tests": len(planned), "observed_tests": len(planned & observed),
            "observations": sum(1 for e in entries if e.get("entry_type") == "observation")}


def _incomplete_reason(session: pytest.Session, exitstatus: int) -> str:
    signum = interrupts.received()
    if signum is not None:
        return f"signal {signum} while sealing"
    if int(exitstatus) == pytest.ExitCode.USAGE_ERROR:
        return "usage error"
    if int(exitstatus) == pytest.ExitCode.INTERRUPTED:
        return f"interrupted: {session.shouldstop or 'KeyboardInterrupt or a signal'}"
    return f"stopped early: {session.shouldstop or session.shouldfail}"


def compact_properties(report: pytest.TestReport, lines: list[dict[str, Any]]) -> None:
    """Replace the evidence a test handed over in its properties (observation lines, refusals:
    kilobytes each, recorded now) by its verdict counts, so that pytest's own --junitxml stays
    readable."""
    bulky = (OBSERVATION, VIOLATION, NETWORK_REFUSAL)
    counts: dict[str, int] = {}
    for line in lines:
        counts[line["verdict"]] = counts.get(line["verdict"], 0) + 1
    report.user_properties = [(name, value) for name, value in report.user_properties
                              if name not in bulky]
    if counts:
        report.user_properties.append(("harness.verdicts", ", ".join(
            f"{n} {verdict}" for verdict, n in sorted(counts.items()))))


def short_error(report: pytest.TestReport) -> str:
    """The error's own message (pytest's crash line), not the last line of a traceback."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return str(crash.message)[:300]
    text = str(report.longrepr or "").strip().splitlines()
    return text[-1][:300] if text else "unknown error"


def file_pin(path: Path | str | None) -> dict[str, Any] | None:
    """`{path, sha256}` of a settings file, as run.json pins the profile and policy."""
    if path is None:
        return None
    path = Path(path)
    try:
        return {"path": str(path.resolve()), "sha256": file_sha256(path)}
    except OSError as exc:
        raise HarnessError(f"{path}: cannot read to pin it: {exc}") from exc


def profile_name(path: Path) -> str | None:
    """The profile's `name`, for run.json (None when unreadable: it was validated already)."""
    return _profile_yaml(path).get("name")


def profile_about(path: Path) -> dict[str, Any] | None:
    """The profile's `about` section (the service as the Article 6 report describes it)."""
    return _profile_yaml(path).get("about")


def _profile_yaml(path: Path) -> dict[str, Any]:
    """A profile's top level as written (empty when unreadable: it was validated already)."""
    try:
        raw = parse_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return raw if isinstance(raw, dict) else {}
