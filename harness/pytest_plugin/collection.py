"""Collection: a scenario parametrised by channel, the run's scope kept (channels,
`--control`), its plan written before pytest's own narrowing, a shard or a resumed run's
remainder selected."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from harness import controls
from harness.errors import HarnessError
from harness.evidence import read_entries
from harness.evidence.chain import atomic_write, canonical_json
from harness.evidence.recorder import plan_file
from harness.settings import FUNCTIONAL_CHANNELS
from harness.verdicts import Plan, PlannedTest

from .config import harness_settings, profile_sections, selected_channels
from .keys import RECORDER, RESUME_KEY, RUN_DIR_KEY
from .run import narrowed


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A scenario that takes `channel` runs once per selected functional channel (api,
    browser; never load, which has scenarios of its own), marked with it; one
    marked with channels of its own (`@pytest.mark.channel("browser")`) only on those; one
    marked `one_channel` once, on the first selected channel the profile has a section for
    (its API where it has one: a pages-only site's through its pages)."""
    if "channel" in inspect.signature(metafunc.function).parameters:
        own = {m.args[0] for m in metafunc.definition.iter_markers("channel")}
        names = [name for name in selected_channels(metafunc.config)
                 if (name in own if own else name in FUNCTIONAL_CHANNELS)]
        if names and metafunc.definition.get_closest_marker("one_channel") is not None:
            sections = profile_sections(metafunc.config)
            names = [next((name for name in names if name in sections), names[0])]
        metafunc.parametrize("channel", [
            pytest.param(name, marks=pytest.mark.channel(name), id=name) for name in names
        ])


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse unknown control ids; keep the run's scope (channels, `--control`); write the plan
    of what that scope calls for before pytest's own narrowing (`-k`, `--deselect`) runs; on
    `--resume-run`, leave out the tests the run already observed."""
    known = controls.catalog()
    for item in items:
        for marker in item.iter_markers("control"):
            if not marker.args or marker.args[0] not in known:
                raise pytest.UsageError(
                    f"{item.nodeid}: unknown control {marker.args[:1]}; see `harness controls`"
                )
    # A channel-bound scenario on a run without its channel has an empty parameter set; a
    # scenario whose controls no selected channel can observe has nothing to do in this run.
    channels = selected_channels(config)
    patterns = list(harness_settings(config).controls)
    try:
        controls.check_patterns(patterns)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    out = [item for item in items if (
        getattr(item, "callspec", None) is not None and "channel" in item.callspec.params
        and item.callspec.params["channel"] not in channels
    ) or _unobservable(item, channels, known) or (patterns and not any(
        controls.matches(i, patterns) for i in control_ids(item)))]
    if out:
        config.hook.pytest_deselected(items=out)
        items[:] = [item for item in items if item not in out]
    run_dir = config.stash.get(RUN_DIR_KEY, None)
    if run_dir is None:
        return
    plan = Plan(tuple(patterns), channels,
                tuple(_planned(item) for item in items if control_ids(item)),
                narrowed=narrowed(config), shard=_shard(config))
    if plan.shard is not None:
        from harness.shards import share  # noqa: PLC0415

        mine = share((t.test for t in plan.tests), *plan.shard)
        others = [item for item in items if control_ids(item) and item.nodeid not in mine]
        if others:
            config.hook.pytest_deselected(items=others)
            items[:] = [item for item in items if item not in others]
    if config.stash.get(RESUME_KEY, False):
        done = _resume(run_dir, plan)
        kept = [item for item in items if item.nodeid not in done]
        if len(kept) < len(items):
            config.hook.pytest_deselected(items=[i for i in items if i.nodeid in done])
            items[:] = kept
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        atomic_write(plan_file(run_dir, workerinput["workerid"]),
                     canonical_json(plan.evidence()).encode("utf-8"))
        return
    recorder = config.pluginmanager.get_plugin(RECORDER)
    if recorder is not None:
        recorder.record_plan(plan)


def control_ids(item: pytest.Item) -> list[str]:
    """The catalog controls a test is marked with."""
    return [m.args[0] for m in item.iter_markers("control")]


def _shard(config: pytest.Config) -> tuple[int, int] | None:
    """`--shard I/N` as (I, N); a bad one is a usage error."""
    from harness.shards import parse_shard  # noqa: PLC0415

    text = config.getoption("harness_shard")
    try:
        return parse_shard(text) if text else None
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None


def _planned(item: pytest.Item) -> PlannedTest:
    """One planned test: its controls, channel, surface and case id."""
    params = getattr(item, "callspec", None)
    values = params.params if params is not None else {}
    channel = values.get("channel")
    if channel is None:
        marker = item.get_closest_marker("channel")
        channel = marker.args[0] if marker else "api"
    surface = item.get_closest_marker("surface")
    return PlannedTest(item.nodeid, tuple(control_ids(item)), channel,
                       surface.args[0] if surface else values.get("surface"),
                       params.id if params is not None else "")


def _resume(run_dir: Path, plan: Plan) -> set[str]:
    """The tests a resumed run already observed; refuse when its plan is not this run's."""
    entries = list(read_entries(run_dir))
    recorded = next((e for e in entries if e["entry_type"] == "plan"), None)
    if recorded is not None:
        before = {t.test for t in Plan.from_entry(recorded).tests}
        now = {t.test for t in plan.tests}
        if before != now:
            raise pytest.UsageError(
                f"cannot resume {run_dir}: its plan has {len(before)} tests, this collection "
                f"{len(now)} ({len(before - now)} missing, {len(now - before)} new); the "
                "scenarios or the scope changed since the run started")
    return {e.get("test") for e in entries if e["entry_type"] == "observation"}


def _unobservable(item: pytest.Item, channels: tuple[str, ...],
                  known: dict[str, controls.Control]) -> bool:
    ids = control_ids(item)
    return bool(ids) and not any(set(known[i].channels) & set(channels) for i in ids)
