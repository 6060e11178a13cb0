"""What a load run is told: its stages, bounds and target, written as one JSON file for the
Locust processes (master and workers read the same file).

Every bound is always set: users (the last stage's), spawn rate, duration (the stages' sum) and
a request cap. The first stage has one user: the no-load stage the others are compared with.
Each stage submits its canary quota evenly over the part of the stage after its users are all
running, so every stage is measured at its own load, with the same number of canaries.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

PROJECT = Path(__file__).parents[2]
NO_LOAD = 0  # the index of the no-load stage
TAIL_SHARE = 0.15  # the end of each stage left without new canaries, so they finish in it
WORKER_ENV = "HARNESS_LOAD_WORKER"  # a worker's number (0 in a single process), for seeds
# What the Locust processes write into the plan's `out` folder besides Locust's own stats.
PROGRESS_FILE = "progress.jsonl"  # the master's progress, one line per shape tick
RECORDS_FILE = "records.jsonl"  # every canary and report, written by the master


@dataclass(frozen=True)
class Stage:
    """One step of the load: `users` running for `seconds`, reached at the run's spawn rate."""

    index: int
    users: int
    seconds: float

    @property
    def label(self) -> str:
        """`no-load (1 user)` or `stage 2 (8 users)`, as the reasons and the table say it."""
        name = "no-load" if self.index == NO_LOAD else f"stage {self.index}"
        return f"{name} ({self.users} user{'s' if self.users != 1 else ''})"


def stages_for(users: int, count: int, seconds: float) -> tuple[Stage, ...]:
    """`count` stages of equal length over `seconds`: one user, then evenly up to `users`."""
    if users < 2 or count < 2:
        raise ConfigError(f"a load run needs at least 2 users and 2 stages, not {users} users "
                          f"in {count} stages")
    length = seconds / count
    steps = [1] + [max(2, round(users * i / (count - 1))) for i in range(1, count)]
    return tuple(Stage(i, n, length) for i, n in enumerate(steps))


def check_ramps(stages: tuple[Stage, ...], spawn_rate: float) -> None:
    """Refuse a stage whose users take (nearly) all of it to start at `spawn_rate`."""
    previous = 0
    for stage in stages:
        ramp = max(0, stage.users - previous) / spawn_rate
        if ramp >= stage.seconds * (1 - TAIL_SHARE):
            raise ConfigError(
                f"{stage.label} needs {ramp:.1f} s to start its users but lasts "
                f"{stage.seconds:.1f} s: raise the spawn rate or the time, or lower the users")
        previous = stage.users


@dataclass(frozen=True)
class LoadPlan:
    """The bounded load one run sends, and where its Locust processes write what they did."""

    base_url: str
    profile: str
    stages: tuple[Stage, ...]
    spawn_rate: float
    max_requests: int
    canaries_per_stage: int
    seed: int
    out: str
    workers: int = 0  # worker processes this machine starts (0: one process, no master)
    remote_workers: int = 0  # workers started elsewhere, that the master waits for
    master_bind: str = "127.0.0.1"  # where the master listens for workers
    master_port: int = 0  # 0: a free port (workers elsewhere need a known one)
    steps: str = "api"  # the profile's steps the users perform: `api`, or `browser` over HTTP
    # Accounts made before the load, two per user (an author, a member): a site whose sign-up
    # needs the harness's mailbox (an activation link) cannot sign users up inside Locust.
    accounts: tuple[dict[str, str], ...] = ()

    def __post_init__(self) -> None:
        check_ramps(self.stages, self.spawn_rate)

    @property
    def seconds(self) -> float:
        """The run's duration: the stages' sum."""
        return sum(stage.seconds for stage in self.stages)

    @property
    def users(self) -> int:
        return max(stage.users for stage in self.stages)

    @property
    def distributed(self) -> bool:
        return bool(self.workers or self.remote_workers)

    @property
    def processes(self) -> int:
        """Processes that run users: the workers, or the one local process."""
        return max(1, self.workers + self.remote_workers)

    def ramp_seconds(self, stage: Stage, previous_users: int | None = None) -> float:
        """How long the stage takes to reach its users from the previous stage's."""
        if previous_users is None:
            previous_users = self.stages[stage.index - 1].users if stage.index else 0
        return max(0, stage.users - previous_users) / self.spawn_rate

    def start_of(self, stage: Stage) -> float:
        """Seconds from the run's start to the stage's."""
        return sum(s.seconds for s in self.stages[:stage.index])

    def stage_at(self, elapsed: float) -> Stage | None:
        """The stage running `elapsed` seconds after the start; None once the run is over."""
        start = 0.0
        for stage in self.stages:
            if elapsed < start + stage.seconds:
                return stage
            start += stage.seconds
        return None

    def canary_allowance(self, stage: Stage, elapsed: float) -> int:
        """How many of the stage's canaries one process may have sent `elapsed` seconds into
        the run: none while the stage's users start, then evenly up to its share of the quota
        before the stage's tail."""
        # Locust spreads a stage's users evenly: min(processes, users) processes run them.
        quota = math.ceil(self.canaries_per_stage / min(self.processes, stage.users))
        opens = self.start_of(stage) + self.ramp_seconds(stage)
        closes = self.start_of(stage) + stage.seconds * (1 - TAIL_SHARE)
        if elapsed < opens:
            return 0
        share = min(1.0, (elapsed - opens) / max(closes - opens, 1e-9))
        return min(quota, math.ceil(quota * share))

    def accounts_for(self, process: int, number: int) -> tuple[dict[str, str], dict[str, str]]:
        """The author's and the member's accounts of a process's `number`th user: the run's
        users take the pairs in turn across processes (more users than pairs share them)."""
        pairs = len(self.accounts) // 2
        if not pairs:
            raise ConfigError("the plan has no accounts made before the load for its users")
        slot = (number * self.processes + process) % pairs
        return self.accounts[2 * slot], self.accounts[2 * slot + 1]

    def request_cap(self) -> int:
        """The request cap of one process that runs users (the run's cap shared out)."""
        return math.ceil(self.max_requests / self.processes)

    def evidence(self) -> dict[str, Any]:
        """The plan as evidence and as the Locust processes read it."""
        line = asdict(self)
        line["seconds"] = self.seconds
        return line

    def summary(self) -> dict[str, Any]:
        """The plan as an observation's details keep it: its accounts by name only."""
        return {**self.evidence(), "accounts": [a.get("account_name") for a in self.accounts]}

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(self.evidence(), indent=1), encoding="utf-8")
        return path

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> LoadPlan:
        values = {k: v for k, v in data.items() if k != "seconds"}
        values["stages"] = tuple(Stage(**s) for s in data["stages"])
        values["accounts"] = tuple(dict(a) for a in data.get("accounts", ()))
        return cls(**values)

    @classmethod
    def read(cls, path: Path | str) -> LoadPlan:
        return cls.from_mapping(json.loads(Path(path).read_text(encoding="utf-8")))

    @classmethod
    def from_text(cls, text: str) -> LoadPlan:
        """A plan from its JSON, or from the file holding it."""
        return cls.from_mapping(json.loads(text)) if text.lstrip().startswith("{") \
            else cls.read(text)

    @property
    def profile_path(self) -> Path:
        """The profile: a path inside the project is kept relative to it, so a worker on
        another host with its own checkout finds its own copy."""
        return PROJECT / self.profile if not Path(self.profile).is_absolute() \
            else Path(self.profile)
