"""Locust users that drive a target through its profile's API steps (imported only inside
the Locust subprocess: importing Locust patches the process with gevent).

Each user is a pair of Faker personas with accounts of their own: an author, who posts,
comments and sends group messages (benign ones, and canary posts within the stage's quota),
and a member, who joins the author's groups and reports other users' posts. Requests go
through the harness's own `ApiTarget` (the profile's steps, templates, refusal rules and
`allowed_hosts` guard), or for a pages-only site its `PageDriver` (the profile's browser steps
as form posts, harness.load.forms), over a transport that sends them with the user's
`FastHttpUser` client, so Locust's statistics count every one. The personas sign up, or sign
in with the accounts the plan holds when the scenario made them before the load. Every canary
and every report filed is sent to the master (Locust's own messages, so workers may run on
other hosts), which writes it as one JSON line to the run's records file; the scenario reads
that file afterwards.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import re
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from locust import FastHttpUser, LoadTestShape, constant, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import WorkerRunner

from harness.load.forms import PageDriver
from harness.load.plan import PROGRESS_FILE, RECORDS_FILE, WORKER_ENV, LoadPlan, Stage
from harness.observe.flow import device_id, new_account, submission_index
from harness.probes.benign import benign_text
from harness.probes.cases import MUST_ALLOW, TEXT_PROBES, build_case
from harness.seeds import derive_seed
from harness.targets.api import Actor, ApiTarget, Exchange, actor_variables
from harness.targets.profile import Profile, load_profile
from harness.targets.scope import in_scope
from harness.targets.templates import MissingVariable, render

CANARIES = tuple(p for p in TEXT_PROBES if p.canary is not None)
BENIGN = tuple(p for p in TEXT_PROBES if p.expect == MUST_ALLOW)
_NUMBERED = re.compile(r"/\d+(?=/|$)")
RECORD_MESSAGE = "harness_record"  # a worker's record, sent to the master
_HOP_HEADERS = frozenset({"host", "content-length", "connection", "transfer-encoding",
                          "accept-encoding"})


@dataclass
class ProcessRun:
    """This process's share of the run: the plan, the profile, its records and counters."""

    plan: LoadPlan | None = None
    profile: Profile | None = None
    started: float = 0.0
    requests: int = 0
    capped: bool = False
    records: IO[str] | None = None
    users: Iterator[int] = field(default_factory=itertools.count)
    canaries: dict[int, int] = field(default_factory=dict)  # canaries sent, per stage
    # The ids of benign posts (`post_id`, `note_id`, ...), for reports to name.
    posts: deque[dict[str, str]] = field(default_factory=lambda: deque(maxlen=500))

    def elapsed(self) -> float:
        return time.time() - self.started if self.started else 0.0

    def store(self, record: dict[str, Any]) -> None:
        """Append one record to the run's file (on the master, or the single process)."""
        if self.records is not None:
            self.records.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.records.flush()


def _record(environment: Environment, record: dict[str, Any]) -> None:
    """Hand a record to the master (a worker, on any host) or store it (a single process;
    `run_single_user`, which has no runner)."""
    if environment.runner is None:
        RUN.store(record)
    else:
        environment.runner.send_message(RECORD_MESSAGE, record)


def _stored(environment: Environment, msg: Any, **_: Any) -> None:
    RUN.store(msg.data)


RUN = ProcessRun()


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--harness-plan", default="",
                        help="the harness's load plan: a JSON file, or the JSON itself")


def _plan_given(environment: Environment) -> str:
    options = environment.parsed_options
    return str(getattr(options, "harness_plan", "") or "") if options is not None else ""


def _use(text: str) -> None:
    """Take the plan (a file or its JSON) and the profile it names; refuse a target outside the
    profile's allowed_hosts before any user starts."""
    plan = RUN.plan = LoadPlan.from_text(text)
    RUN.profile = load_profile(plan.profile_path, base_url=plan.base_url)
    if not in_scope(plan.base_url, RUN.profile.allowed_hosts):
        raise SystemExit(f"refusing to load {plan.base_url}: not in the profile's allowed_hosts")


@events.init.add_listener
def _init(environment: Environment, **_: Any) -> None:
    given = _plan_given(environment)
    if not given:
        return  # `locust --help`, or a worker that gets the plan from the master
    _use(given)
    if isinstance(environment.runner, WorkerRunner):
        return
    # The master hands its custom options to every worker: the plan itself, not a path, so a
    # worker on another host needs no copy of the file.
    environment.parsed_options.harness_plan = json.dumps(RUN.plan.evidence())
    environment.host = environment.host or RUN.plan.base_url
    RUN.records = (Path(RUN.plan.out) / RECORDS_FILE).open("a", encoding="utf-8")
    if environment.runner is not None:
        environment.runner.register_message(RECORD_MESSAGE, _stored)


@events.test_start.add_listener
def _start(environment: Environment, **_: Any) -> None:
    """The run's clock is the master's: a worker that gets its first users in a later stage
    still places its records in the stage they fell in."""
    if RUN.plan is None:
        _use(_plan_given(environment))
    options = environment.parsed_options
    if isinstance(environment.runner, WorkerRunner):
        RUN.started = float(getattr(options, "harness_started", 0.0) or time.time())
        return
    RUN.started = time.time()
    if options is not None:  # sent to the workers with every start message
        options.harness_started = RUN.started


@events.request.add_listener
def _count(**_: Any) -> None:
    RUN.requests += 1
    if RUN.plan is not None and RUN.requests >= RUN.plan.request_cap():
        RUN.capped = True


@events.quitting.add_listener
def _close(**_: Any) -> None:
    if RUN.records is not None:
        RUN.records.close()
        RUN.records = None


class LocustTransport(httpx.BaseTransport):
    """An httpx transport that sends through a Locust `FastHttpSession`: the harness builds
    each request from the profile, Locust sends, times and counts it.

    A moderation or validation refusal (4xx) is an expected answer, not a failure in Locust's
    statistics; 5xx answers and requests that got no answer are. With `cookies=False` the
    session keeps no cookies of its own: the httpx clients (one per actor) send theirs."""

    def __init__(self, session: Any, *, cookies: bool = True) -> None:
        self.session = session
        self.cookies = cookies

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self.cookies:
            self.session.cookiejar.clear()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        name = f"{_NUMBERED.sub('/{id}', request.url.path)}"
        with self.session.request(request.method, str(request.url), name=name,
                                  data=request.read() or None, headers=headers,
                                  allow_redirects=False, catch_response=True) as response:
            status = response.status_code or 0
            if not status or status >= 500:
                response.failure(str(response.error) if not status else f"HTTP {status}")
            else:
                response.success()
        if not status:
            raise httpx.ConnectError(str(response.error or "no answer"), request=request)
        return httpx.Response(status, headers=list(response.headers.items()),
                              content=response.content or b"", request=request)


class ProfileUser(FastHttpUser):
    """An author and a member driving the target through the profile's API steps, or its
    browser steps over HTTP (the plan's `steps`)."""

    wait_time = constant(0)
    network_timeout = 15.0
    connection_timeout = 5.0

    def on_start(self) -> None:
        plan = RUN.plan
        if plan is None or RUN.profile is None:
            raise StopUser("no plan or profile in this process (see its log for why)")
        number = next(RUN.users)
        process = _process_name(self.environment)
        self.seed = derive_seed(plan.seed, f"load:{process}:{number}")
        self.nonce = f"l{hashlib.sha256(process.encode()).hexdigest()[:4]}{number}"
        self.serial = itertools.count()
        self.random = random.Random(self.seed)
        self.author = Actor("author", device_id("author", self.seed))
        self.member = Actor("viewer", device_id("viewer", self.seed))
        self.actors = {"author": self.author, "viewer": self.member, "reporter": self.member}
        self.target: ApiTarget | PageDriver
        if plan.steps == "browser":
            self.target = PageDriver(RUN.profile, transport=LocustTransport(
                self.client, cookies=False), timeout=self.network_timeout)
        else:
            self.target = ApiTarget(RUN.profile, transport=LocustTransport(self.client),
                                    read_retries=0, unreachable_after=0)
        if plan.accounts:  # made before the load: signed in
            author, member = plan.accounts_for(_process_number(process), number)
            self.accounts = {"author": author}
            self._begin("sign-in", ((self.author, author), (self.member, member)),
                        self.target.sign_in)
        else:
            rules = RUN.profile.accounts
            self.accounts = {"author": new_account("author", self.seed, self.nonce, rules)}
            self._begin("registration", (
                (self.author, self.accounts["author"]),
                (self.member, new_account("member", self.seed + 1, self.nonce, rules))),
                self.target.register)
        self.submit("post", self.random.choice(BENIGN), "benign")

    def _begin(self, what: str, pairs: Any, act: Any) -> None:
        """Register or sign in both personas; a failure is recorded (the scenario says why
        nothing was submitted) and stops the user."""
        for actor, account in pairs:
            result = act(actor, account)
            if not result.ok:
                error = f"{what} of the {actor.role} failed: {_said(result)}"
                _record(self.environment, {"kind": "setup", "at": round(time.time(), 3),
                                           "error": error})
                raise StopUser(error)

    def on_stop(self) -> None:
        self.target.close()

    def _next_seed(self) -> int:
        return derive_seed(self.seed, str(next(self.serial)))

    def _stage(self) -> Stage | None:
        if RUN.capped:
            if self.environment.runner is not None:
                self.environment.runner.quit()
            raise StopUser("the request cap was reached")
        return RUN.plan.stage_at(RUN.elapsed())

    def submit(self, surface: str, probe: Any, kind: str, stage: Stage | None = None) -> None:
        """One case on `surface` through its create steps; recorded with its outcome."""
        seed = self._next_seed()
        case = build_case(surface, "create", probe, seed,
                          RUN.profile.joiner(surface, RUN.plan.steps))
        spec = self.target.surface_spec(surface)
        if spec is None or "create" not in spec:
            return
        variables: dict[str, Any] = {**case.variables(), **actor_variables(self.author),
                                     **actor_variables(self.member)}
        steps = [*spec.get("prepare", []), *spec["create"]]
        at = time.time()
        done = self.target.run_steps(steps, variables, self.actors, self.accounts,
                                     action=f"{surface} create")
        index = submission_index(steps)
        submitted = done[index] if len(done) > index else None
        outcome = self.target.classify(submitted, surface) if submitted else "error"
        # What names the item and its author, for the reads afterwards and for reports.
        ids = {k: str(v) for k, v in variables.items()
               if k.endswith(("_id", "_account_name")) and isinstance(v, str | int)}
        if kind == "benign" and surface == "post" and outcome == "accepted" \
                and len(done) == len(steps):
            RUN.posts.append(ids)
        # A step that failed for another reason than a refusal (which is the outcome).
        failed = done[-1] if done and self.target.classify(done[-1], surface) == "error" \
            else None
        _record(self.environment, {
            "kind": kind, "stage": stage.index if stage else self._stage_of(at), "at": round(at, 3),
            "surface": surface, "probe": probe.id, "seed": seed, "outcome": outcome,
            **_answer(submitted or (done[-1] if done else None)),
            **({"failed_step": _said(failed)} if failed is not None else {}), "ids": ids,
        })

    @staticmethod
    def _stage_of(at: float) -> int:
        """The stage a moment falls in: the first before the run started, the last after."""
        if not RUN.started:
            return 0
        stage = RUN.plan.stage_at(at - RUN.started)
        return stage.index if stage else RUN.plan.stages[-1].index

    @task(4)
    def benign_post(self) -> None:
        self._stage()
        self.submit("post", self.random.choice(BENIGN), "benign")

    @task(2)
    def benign_comment(self) -> None:
        self._stage()
        self.submit("comment", self.random.choice(BENIGN), "benign")

    @task(2)
    def benign_group_message(self) -> None:
        self._stage()
        self.submit("group_message", self.random.choice(BENIGN), "benign")

    @task(2)
    def canary_post(self) -> None:
        """A canary post while the stage's quota allows one now, else a benign post."""
        stage = self._stage()
        if stage is None:
            return
        sent = RUN.canaries.get(stage.index, 0)
        if sent >= RUN.plan.canary_allowance(stage, RUN.elapsed()):
            self.submit("post", self.random.choice(BENIGN), "benign")
            return
        RUN.canaries[stage.index] = sent + 1  # taken before any I/O: greenlets cannot race
        self.submit("post", self.random.choice(CANARIES), "canary", stage)

    @task(2)
    def report(self) -> None:
        """The member reports a benign post (another user's where there is one)."""
        self._stage()
        steps, item = _report_steps(RUN.profile, RUN.plan.steps)
        if not steps or not RUN.posts:
            return
        seed = self._next_seed()
        # The reason names the filing: a site that gives no receipt is reconciled by it.
        variables: dict[str, Any] = {**self.random.choice(RUN.posts),
                                     **actor_variables(self.author),
                                     **actor_variables(self.member),
                                     "reason": f"{benign_text('bio', 'en', seed)} "
                                               f"[{self.nonce}.{next(self.serial)}]"}
        try:
            variables.update(item_type=item["type"], item_id=render(item["id"], variables))
        except MissingVariable:
            return
        at = time.time()
        done = self.target.run_steps(steps, variables, self.actors, {}, action="report post")
        filed = len(done) == len(steps) and done[-1].ok
        index = submission_index(steps)
        _record(self.environment, {
            "kind": "report", "stage": self._stage_of(at), "at": round(at, 3),
            "ticket": variables.get("ticket") if filed else None, "filed": filed,
            "reason": variables["reason"], "item": variables["item_id"],
            **_answer(done[index] if len(done) > index else (done[-1] if done else None)),
            **({"failed_step": _said(done[-1])} if done and not filed else {})})


def _process_name(environment: Environment) -> str:
    """This process among the run's: the number the harness gave a worker it started, else
    Locust's own id of a worker started elsewhere (host and a random part), else `0`."""
    return os.environ.get(WORKER_ENV) or str(getattr(environment.runner, "client_id", "0"))


def _process_number(name: str) -> int:
    """A process's number among the run's (a remote worker's id, hashed)."""
    return int(name) if name.isdigit() else int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)


def _report_steps(profile: Profile, steps: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """How a member reports a post, and the profile's post item (empty when it cannot): the
    API's submit steps; or, on the pages, the post's page, its report entry point, the form."""
    if steps == "api":
        reports = profile.api.get("reports") or {}
        item = (reports.get("items") or {}).get("post") or {}
        return (list(reports.get("submit") or []) if item else []), item
    pages = profile.data.get("browser", {}).get("reports") or {}
    item = (pages.get("items") or {}).get("post") or {}
    control = (pages.get("controls") or {}).get("post") or {}
    if "absent" in item or "page" not in control or not pages.get("submit"):
        return [], item
    return [{"as": "reporter", **step} for step in (
        {"goto": control["page"]}, {"click": control["control"]}, *pages["submit"])], item


def _said(result: Any) -> str:
    """Which step failed and how, as a record keeps it."""
    return f"{getattr(result, 'step', None) or 'a step'}: " \
        f"{result.error or f'HTTP {result.status}'}"


def _answer(exchange: Exchange | None) -> dict[str, Any]:
    """What a record keeps of the submission's answer (no bodies, no secrets)."""
    if exchange is None:
        return {"status": None, "error": "nothing was sent", "elapsed_s": None}
    return {"status": exchange.status, "error": exchange.error,
            "elapsed_s": round(exchange.elapsed_s, 4)}


class SteppedShape(LoadTestShape):
    """The plan's stages: one user, then steps up to the plan's users; stops at the end of the
    last stage or at the request cap, and writes the progress the harness shows."""

    def tick(self) -> tuple[int, float] | None:
        plan = RUN.plan
        elapsed = self.get_run_time()
        stage = plan.stage_at(elapsed)
        runner = self.runner
        stats = runner.stats.total if runner is not None else None
        requests = stats.num_requests if stats is not None else 0
        line = {"elapsed": round(elapsed, 2),
                "remaining": round(max(0.0, plan.seconds - elapsed), 2),
                "stage": stage.label if stage else "done",
                "users": runner.user_count if runner is not None else 0,
                "rps": round(stats.current_rps, 1) if stats is not None else 0.0,
                "requests": requests,
                "failures": stats.num_failures if stats is not None else 0}
        capped = stage is not None and requests >= plan.max_requests
        if capped:
            line["stopped"] = f"the request cap of {plan.max_requests} was reached"
        with (Path(plan.out) / PROGRESS_FILE).open("a", encoding="utf-8") as progress:
            progress.write(json.dumps(line) + "\n")
        if stage is None or capped:
            return None
        return stage.users, plan.spawn_rate
