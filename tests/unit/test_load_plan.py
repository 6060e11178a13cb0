"""The load plan: bounded stages stepping up from one user, each stage's canary quota spread
over its running part, the request cap shared by the processes, and the policy's `load:`."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from harness.errors import ConfigError, UnsafeTargetError
from harness.load.plan import LoadPlan, stages_for
from harness.load.runner import commands
from harness.load.scenario import make_plan
from harness.observe.reports import NotObserved
from harness.policy import LoadPolicy, load_policy, load_section
from harness.targets.profile import REFERENCE_PROFILE, load_profile


def plan(**changes) -> LoadPlan:
    values = {"base_url": "http://127.0.0.1:1", "profile": "p.yaml",
              "stages": stages_for(16, 4, 20), "spawn_rate": 8.0, "max_requests": 1000,
              "canaries_per_stage": 10, "seed": 1, "out": "/tmp/x", **changes}
    return LoadPlan(**values)


def test_stages_step_up_from_one_user():
    assert [s.users for s in stages_for(16, 4, 20)] == [1, 5, 11, 16]
    assert sum(s.seconds for s in stages_for(16, 4, 20)) == pytest.approx(20)
    assert stages_for(16, 4, 20)[0].label == "no-load (1 user)"
    with pytest.raises(ConfigError):
        stages_for(1, 4, 20)


def test_canaries_wait_for_the_stage_users_and_reach_the_quota_before_its_tail():
    p = plan()
    stage = p.stages[2]  # 5 -> 11 users: 0.75 s of spawning at 8/s
    start = p.start_of(stage)
    assert p.canary_allowance(stage, start + 0.5) == 0
    assert 0 < p.canary_allowance(stage, start + 2.0) < 10
    assert p.canary_allowance(stage, start + stage.seconds * 0.9) == 10


def test_a_stage_too_short_for_its_users_is_refused():
    with pytest.raises(ConfigError, match="raise the spawn rate"):
        plan(spawn_rate=1.0)


def test_workers_share_the_quota_and_the_request_cap():
    p = plan(workers=3)
    assert p.request_cap() == 334
    stage = p.stages[1]
    assert p.canary_allowance(stage, p.start_of(stage) + stage.seconds * 0.9) == 4
    alone = p.stages[0]  # one user: one process runs it and sends the whole quota
    assert p.canary_allowance(alone, alone.seconds * 0.9) == 10


def test_the_plan_round_trips_through_its_file(tmp_path: Path):
    p = plan(out=str(tmp_path))
    assert LoadPlan.read(p.write(tmp_path / "plan.json")) == p


def test_commands_one_master_and_k_workers(tmp_path: Path):
    one = commands(plan(out=str(tmp_path)), tmp_path / "plan.json")
    assert len(one) == 1
    assert "--headless" in one[0]
    assert "--master" not in one[0]
    many = commands(plan(out=str(tmp_path), workers=2), tmp_path / "plan.json")
    assert len(many) == 3
    assert "--master" in many[0]
    assert many[0][many[0].index("--expect-workers") + 1] == "2"
    # The master hands the plan to its workers, wherever they run: they need no file.
    assert all("--worker" in c and "--harness-plan" not in c for c in many[1:])
    remote = commands(plan(out=str(tmp_path), workers=1, remote_workers=2,
                           master_bind="0.0.0.0", master_port=5557), tmp_path / "plan.json")
    assert len(remote) == 2  # the master and the one local worker
    master = remote[0]
    assert master[master.index("--expect-workers") + 1] == "3"
    assert master[master.index("--master-bind-host") + 1:][:3] == \
        ["0.0.0.0", "--master-bind-port", "5557"]


def test_a_plan_passed_as_json_reads_the_same(tmp_path: Path):
    p = plan(out=str(tmp_path))
    assert LoadPlan.from_text(json.dumps(p.evidence())) == p
    assert LoadPlan.from_text(str(p.write(tmp_path / "plan.json"))) == p


def test_policy_load_section(tmp_path: Path):
    assert load_policy().load == LoadPolicy()
    path = tmp_path / "p.yaml"
    path.write_text("load: {users: 4, seconds: 8, leak_rate_max: 0.2}\n", encoding="utf-8")
    assert load_policy(path).load.users == 4
    for bad in ({"users": 1}, {"seconds": 0}, {"leak_rate_max": 1.0}, {"stages": 2.5},
                {"bogus": 1}, {"max_requests": True}):
        with pytest.raises(ConfigError, match="load"):
            load_section(path, bad)


def test_a_target_outside_allowed_hosts_is_refused_before_the_plan(tmp_path: Path):
    environ = {"REFERENCE_ADMIN_TOKEN": "t"}
    inside = load_profile(REFERENCE_PROFILE, base_url="http://127.0.0.1:9", environ=environ)
    with pytest.raises(UnsafeTargetError, match="allowed_hosts"):
        make_plan(replace(inside, base_url="http://example.com"), LoadPolicy(), 1, tmp_path)
    assert make_plan(inside, LoadPolicy(), 1, tmp_path).profile == \
        "fixtures/targets/reference.yaml"
    assert make_plan(inside, LoadPolicy(), 1, tmp_path).steps == "api"
    pages_only = replace(inside, data={**inside.data, "api": {}})
    assert make_plan(pages_only, LoadPolicy(), 1, tmp_path).steps == "browser"
    no_posts = replace(pages_only, data={**pages_only.data, "browser": {"surfaces": {}}})
    with pytest.raises(NotObserved, match="neither"):
        make_plan(no_posts, LoadPolicy(), 1, tmp_path)


def test_users_take_the_accounts_made_before_the_load_in_turn_across_processes(tmp_path: Path):
    accounts = tuple({"account_name": f"a{i}", "password": f"p{i}"} for i in range(8))
    plan = LoadPlan(base_url="http://127.0.0.1:1", profile="p.yaml",
                    stages=stages_for(4, 2, 10), spawn_rate=4, max_requests=100,
                    canaries_per_stage=1, seed=1, out=str(tmp_path), workers=2,
                    steps="browser", accounts=accounts)
    slots = {(p, n): plan.accounts_for(p, n) for p in range(2) for n in range(2)}
    assert len({author["account_name"] for author, _ in slots.values()}) == 4  # no two share
    assert slots[(1, 0)] == (accounts[2], accounts[3])
    assert LoadPlan.from_text(json.dumps(plan.evidence())) == plan  # as workers get it
    assert plan.summary()["accounts"] == [f"a{i}" for i in range(8)]  # no passwords
    with pytest.raises(ConfigError, match="no accounts"):
        LoadPlan.from_mapping({**plan.evidence(), "accounts": []}).accounts_for(0, 0)
