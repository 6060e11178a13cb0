"""Pages-only sites and what a site may lack: a profile needs `api` or `browser`, a surface's
edit may be `absent`, and a control is then judged on its create cases, saying why."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.errors import ConfigError
from harness.targets.profile import REFERENCE_PROFILE, load_profile
from harness.verdicts import Plan, PlannedTest, Verdict, judge_run

POST = "A5.4-POST"
ENV = {"REFERENCE_ADMIN_TOKEN": "x"}


def _reference(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    data = yaml.safe_load(REFERENCE_PROFILE.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_a_profile_without_api_is_a_pages_only_site(tmp_path: Path) -> None:
    path = _reference(tmp_path, lambda d: d.pop("api"))
    profile = load_profile(path, base_url="http://127.0.0.1:1", environ=ENV)
    assert profile.channels == ("browser",)
    assert profile.api == {}
    assert profile.surface("post") is None  # no API steps: the API channel has none


def test_a_profile_with_neither_api_nor_browser_is_refused_saying_so(tmp_path: Path) -> None:
    path = _reference(tmp_path, lambda d: (d.pop("api"), d.pop("browser")))
    with pytest.raises(ConfigError, match="needs an `api` section, a `browser` section or both"):
        load_profile(path, base_url="http://127.0.0.1:1", environ=ENV)


def test_an_absent_edit_is_accepted_on_both_channels_and_needs_a_reason(tmp_path: Path) -> None:
    def no_post_edits(data: dict[str, Any]) -> None:
        for channel in ("api", "browser"):
            data[channel]["surfaces"]["post"]["edit"] = {"absent": "posts cannot be edited"}

    profile = load_profile(_reference(tmp_path, no_post_edits), base_url="http://127.0.0.1:1",
                           environ=ENV)
    assert profile.surface("post")["edit"] == {"absent": "posts cannot be edited"}

    def empty_reason(data: dict[str, Any]) -> None:
        data["browser"]["surfaces"]["post"]["edit"] = {"absent": ""}

    with pytest.raises(ConfigError, match=r"browser\.surfaces\.post\.edit"):
        load_profile(_reference(tmp_path, empty_reason), base_url="http://127.0.0.1:1",
                     environ=ENV)


def test_the_joiner_is_the_channels_own_else_the_apis(tmp_path: Path) -> None:
    def joiners(data: dict[str, Any]) -> None:
        data["api"]["surfaces"]["nickname"]["joiner"] = "_"

    profile = load_profile(_reference(tmp_path, joiners), base_url="http://127.0.0.1:1",
                           environ=ENV)
    assert profile.joiner("nickname", "browser") == "_"
    assert profile.joiner("bio", "browser") == " "


def test_a_control_whose_edit_is_absent_passes_on_its_create_cases_and_says_why() -> None:
    tests = ("create-a", "create-b", "edit-a", "edit-b")
    plan = Plan((POST,), ("browser",), tuple(PlannedTest(t, (POST,), "browser", "post", t)
                                             for t in tests)).evidence()
    why = "the post edit is absent: posts cannot be edited"
    entries = [plan, *({"entry_type": "observation", "control": POST, "channel": "browser",
                        "case_id": t, "test": t,
                        "verdict": "pass" if t.startswith("create") else "not_applicable",
                        "reason": "shown" if t.startswith("create") else why}
                       for t in tests), {"entry_type": "run_end", "complete": True}]
    [control] = judge_run(entries).controls
    assert control.verdict is Verdict.PASS
    assert "4 of 4 planned cases observed" not in control.reason  # nothing left unobserved
    assert control.reason.endswith(f"not applicable: {why}")
    # Every case absent is not a pass.
    entries[1]["verdict"] = entries[2]["verdict"] = "not_applicable"
    entries[1]["reason"] = entries[2]["reason"] = why
    [control] = judge_run(entries).controls
    assert control.verdict is Verdict.NOT_APPLICABLE
