"""Propagation: the profile's moderation section is validated, and removals and edits are judged
from the places read before and after (fail closed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from harness.errors import ConfigError
from harness.observe.judge import Sighting
from harness.observe.propagation import (
    gone,
    judge_edit,
    judge_removal,
    not_assessable,
    plant_steps,
    remove_steps,
)
from harness.policy import Policy
from harness.targets.profile import REFERENCE_PROFILE, load_profile
from harness.verdicts import Verdict

BASE = "http://127.0.0.1:8123"
MODERATION = """\
  moderation:
    plant:
      post: {method: POST, path: /api/admin/seed, as: admin, extract: {item_id: id}}
      forward: {method: POST, path: "/api/seed/{source_id}", as: admin, extract: {item_id: id}}
    edit:
      post: [{method: PATCH, path: "/api/posts/{item_id}", as: author}]
    remove: {method: POST, path: /api/admin/remove, as: admin, json: {target_id: "{item_id}"}}
    appears:
      post:
        - {method: GET, path: "/api/posts/{item_id}", as: [viewer, anonymous]}
      forward:
        - {method: GET, path: "/api/posts/{item_id}", as: [viewer, anonymous]}
"""


@pytest.fixture
def load(write_profile: Callable[..., Path], minimal_profile: str) -> Callable[[str], object]:
    """Load the minimal profile with a moderation section (as given) appended to `api`."""
    return lambda section: load_profile(write_profile(minimal_profile + section), base_url=BASE)


def _refusal(load: Callable[[str], object], section: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(section)
    return str(info.value)


# --- the profile section ----------------------------------------------------------------------


def test_moderation_section_loads(load) -> None:
    profile = load(MODERATION)
    assert set(profile.api["moderation"]) == {"plant", "edit", "remove", "appears"}
    assert not_assessable(profile, "api", "removal", "post") is None
    assert not_assessable(profile, "api", "edit", "post") is None


def test_misspelt_key_in_moderation_is_named(load) -> None:
    message = _refusal(load, MODERATION.replace("    appears:", "    appear:"))
    assert "'appear'" in message
    assert "did you mean 'appears'" in message
    assert "api.moderation" in message


def test_unknown_item_kind_is_refused(load) -> None:
    message = _refusal(load, MODERATION.replace("      forward: {method: POST",
                                                "      repost: {method: POST"))
    assert "repost" in message
    assert "api.moderation.plant" in message


def test_a_post_case_needs_a_forward_unless_the_site_has_none(load) -> None:
    section = "\n".join(line for line in MODERATION.splitlines()
                        if "forward: {method: POST" not in line) + "\n"
    profile = load(section)
    verdict, reason = not_assessable(profile, "api", "removal", "post")
    assert verdict is Verdict.INCONCLUSIVE
    assert "does not plant a forward" in reason
    profile.api["surfaces"]["forward"] = {"absent": "posts cannot be forwarded"}
    assert not_assessable(profile, "api", "removal", "post") is None


def test_an_absent_edit_of_a_kind_is_not_applicable_saying_why(load) -> None:
    profile = load(MODERATION.replace(
        '      post: [{method: PATCH, path: "/api/posts/{item_id}", as: author}]',
        "      post: {absent: posts cannot be edited}"))
    assert not_assessable(profile, "api", "edit", "post") == (
        Verdict.NOT_APPLICABLE, "the post edit is absent: posts cannot be edited")
    assert not_assessable(profile, "api", "removal", "post") is None


def test_moderation_without_remove_is_refused(load) -> None:
    section = "\n".join(line for line in MODERATION.splitlines()
                        if "remove:" not in line) + "\n"
    assert "missing key 'remove'" in _refusal(load, section)


def test_closed_request_in_moderation(load) -> None:
    message = _refusal(load, MODERATION.replace("json: {target_id:", "jsn: {target_id:"))
    assert "'jsn'" in message
    assert "api.moderation.remove" in message


def test_absent_moderation_is_not_applicable(load) -> None:
    profile = load("  moderation:\n    absent: no moderator interface\n")
    assert not_assessable(profile, "api", "removal", "post") == (
        Verdict.NOT_APPLICABLE, "no moderator interface")


def test_missing_section_is_not_excused(write_profile: Callable[..., Path]) -> None:
    profile = load_profile(write_profile(), base_url=BASE)
    verdict, reason = not_assessable(profile, "api", "removal", "post")
    assert verdict is Verdict.INCONCLUSIVE  # not N/A: only `absent` excuses
    assert "no api.moderation section" in reason


def test_kind_the_profile_does_not_plant_is_inconclusive(load) -> None:
    # Not applicable comes only from `absent`: a kind the profile leaves out is not assessed.
    verdict, reason = not_assessable(load(MODERATION), "api", "removal", "group")
    assert verdict is Verdict.INCONCLUSIVE
    assert "group" in reason


# --- judging ----------------------------------------------------------------------------------


def _seen(request: str, visible: bool | None, *, status: int = 200, role: str = "viewer",
          tag_only: bool = False) -> Sighting:
    exchange = SimpleNamespace(status=status, url=f"http://127.0.0.1{request.rsplit(maxsplit=1)[-1]}")
    return Sighting(role, request, exchange, visible, tag_only)


BEFORE = {
    "post": [_seen("post #1: GET /posts/1", True), _seen("post #1: GET /feed", True)],
    "forward": [_seen("forward #2: GET /posts/2", True)],
}


def test_removal_passes_when_every_place_is_clean() -> None:
    after = {"post": [gone(_seen("post #1: GET /posts/1", None, status=404), (404, 410)),
                      _seen("post #1: GET /feed", False)],
             "forward": [_seen("forward #2: GET /posts/2", False)]}
    verdict, reason = judge_removal("post", BEFORE, after)
    assert verdict is Verdict.PASS
    assert "3 place(s)" in reason


def test_removal_fails_naming_the_forward_that_still_shows_it() -> None:
    after = {"post": [_seen("post #1: GET /posts/1", False), _seen("post #1: GET /feed", False)],
             "forward": [_seen("forward #2: GET /posts/2", True, role="anonymous")]}
    verdict, reason = judge_removal("post", BEFORE, after)
    assert verdict is Verdict.FAIL
    assert "anonymous at forward #2: GET /posts/2" in reason
    assert "post #1" not in reason


def test_removal_of_an_item_never_seen_is_inconclusive() -> None:
    before = {"post": [_seen("post #1: GET /posts/1", False)]}
    verdict, reason = judge_removal("post", before, {"post": [_seen("post #1: GET /posts/1",
                                                                    False)]})
    assert verdict is Verdict.INCONCLUSIVE
    assert "never showed" in reason


def test_unreadable_place_after_removal_is_inconclusive_not_pass() -> None:
    after = {"post": [_seen("post #1: GET /posts/1", False),
                      _seen("post #1: GET /feed", None, status=500)],
             "forward": [_seen("forward #2: GET /posts/2", False)]}
    assert judge_removal("post", BEFORE, after)[0] is Verdict.INCONCLUSIVE


def test_a_leak_outweighs_an_unreadable_place() -> None:
    after = {"post": [_seen("post #1: GET /feed", None, status=503)],
             "forward": [_seen("forward #2: GET /posts/2", True)]}
    assert judge_removal("post", BEFORE, after)[0] is Verdict.FAIL


def test_only_gone_statuses_count_as_gone() -> None:
    assert gone(_seen("x: GET /posts/1", None, status=410), (404, 410)).visible is False
    assert gone(_seen("x: GET /posts/1", None, status=500), (404, 410)).visible is None
    assert gone(_seen("x: GET /posts/1", True), (404, 410)).visible is True


def test_refused_edit_passes() -> None:
    places = {"post": [_seen("post #1: GET /posts/1", False, tag_only=True)],
              "forward": [_seen("forward #2: GET /posts/2", False, tag_only=True)]}
    verdict, reason, disposition = judge_edit(False, places, places, Policy())
    assert (verdict, disposition) == (Verdict.PASS, "rejected")
    assert "post, forward" in reason


def test_accepted_edit_shown_in_a_forward_fails() -> None:
    first = {"post": [_seen("post #1: GET /posts/1", False)],
             "forward": [_seen("forward #2: GET /posts/2", True)]}
    verdict, reason, disposition = judge_edit(True, first, first, Policy())
    assert (verdict, disposition) == (Verdict.FAIL, "published")
    assert "forward #2" in reason


def test_accepted_edit_taken_down_later_is_removed() -> None:
    first = {"post": [_seen("post #1: GET /posts/1", True)]}
    final = {"post": [_seen("post #1: GET /posts/1", False)]}
    assert judge_edit(True, first, final, Policy())[::2] == (Verdict.PASS, "removed")


def test_edit_disposition_outside_the_policy_fails() -> None:
    places = {"post": [_seen("post #1: GET /posts/1", False, tag_only=True)]}
    policy = Policy(acceptable_dispositions=("rejected",))
    verdict, reason, disposition = judge_edit(True, places, places, policy)
    assert (verdict, disposition) == (Verdict.FAIL, "masked")
    assert "not acceptable" in reason


# --- the browser channel's section ------------------------------------------------------------

BROWSER = """\
browser:
  register:
    - {goto: /register}
  surfaces:
    post:
      create: [{goto: /}]
      edit: [{goto: /}]
      observe: [{goto: /, as: [viewer]}]
  moderation:
    edit:
      post:
        - {goto: "/posts/{item_id}"}
        - {click: "form button"}
    appears:
      post:
        - {goto: "/posts/{item_id}", as: [viewer, anonymous]}
      forward:
        - {goto: "/posts/{item_id}", as: [viewer]}
"""


BROWSER_ONLY_SURFACES = BROWSER.split("  moderation:", maxsplit=1)[0]


def test_browser_section_loads_and_applies(load) -> None:
    profile = load(MODERATION + BROWSER)
    assert not_assessable(profile, "browser", "edit", "post") is None
    verdict, reason = not_assessable(profile, "browser", "removal", "group")
    assert verdict is Verdict.INCONCLUSIVE
    assert "api.moderation" in reason  # a group is not planted at all


def test_browser_section_without_a_kind_is_inconclusive_for_it(load) -> None:
    section = MODERATION.replace("      forward: {method: POST",
                                 "      group: {method: POST, path: /g, as: admin}\n"
                                 "      forward: {method: POST")
    verdict, reason = not_assessable(load(section + BROWSER), "browser", "removal", "group")
    assert verdict is Verdict.INCONCLUSIVE
    assert "browser.moderation" in reason


def test_missing_browser_section_is_not_excused(load) -> None:
    profile = load(MODERATION + BROWSER_ONLY_SURFACES)
    verdict, reason = not_assessable(profile, "browser", "removal", "post")
    assert verdict is Verdict.INCONCLUSIVE  # not N/A: only `absent` excuses
    assert "no browser.moderation section" in reason


def test_misspelt_key_in_browser_moderation_is_named(load) -> None:
    message = _refusal(load, MODERATION + BROWSER.replace("    appears:", "    appearing:"))
    assert "'appearing'" in message
    assert "browser.moderation" in message


def test_absent_moderation_excuses_every_channel(load) -> None:
    profile = load("  moderation:\n    absent: no moderator interface\n" + BROWSER_ONLY_SURFACES)
    assert not_assessable(profile, "browser", "edit", "post") == (
        Verdict.NOT_APPLICABLE, "no moderator interface")


# --- pages-only sites: planted by the author, removed by the moderator, through the pages -------


def _pages_only(tmp_path: Path, remove: bool = True) -> object:
    data = yaml.safe_load(REFERENCE_PROFILE.read_text(encoding="utf-8"))
    data.pop("api")
    if remove:
        data["browser"]["moderation"]["remove"] = {
            kind: [{"goto": "/mod/items/{item_id}"}, {"click": "button.take-down"}]
            for kind in ("post", "group", "comment", "group_message")}
    path = tmp_path / "pages.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_profile(path, base_url=BASE)


def test_a_pages_only_site_plants_and_removes_through_its_pages(tmp_path: Path) -> None:
    profile = _pages_only(tmp_path)
    for kind in ("post", "group", "comment", "group_message"):
        assert plant_steps(profile, "browser", kind)[0] == "pages"
        assert remove_steps(profile, "browser", kind)[0] == "pages"
        assert not_assessable(profile, "browser", "removal", kind) is None
    assert not_assessable(profile, "browser", "edit", "comment") is None


def test_page_steps_are_no_way_to_plant_on_the_api_channel(tmp_path: Path) -> None:
    profile = _pages_only(tmp_path)
    verdict, reason = not_assessable(profile, "api", "removal", "post")
    assert verdict is Verdict.INCONCLUSIVE
    assert "no api.moderation section" in reason
    assert plant_steps(profile, "api", "post") is None


def test_a_site_that_says_no_way_to_remove_is_inconclusive_for_removals_only(
        tmp_path: Path) -> None:
    profile = _pages_only(tmp_path, remove=False)
    verdict, reason = not_assessable(profile, "browser", "removal", "comment")
    assert verdict is Verdict.INCONCLUSIVE
    assert "names a way for a moderator to remove a comment" in reason
    assert not_assessable(profile, "browser", "edit", "comment") is None


def test_a_kind_the_site_does_not_have_is_not_applicable_and_one_left_out_is_not(
        tmp_path: Path) -> None:
    profile = _pages_only(tmp_path)
    profile.data["browser"]["surfaces"]["group_message"] = {"absent": "no groups here"}
    assert not_assessable(profile, "browser", "edit", "group_message") == (
        Verdict.NOT_APPLICABLE, "the site has no group_message: no groups here")
    del profile.data["browser"]["surfaces"]["comment"]
    verdict, reason = not_assessable(profile, "browser", "removal", "comment")
    assert verdict is Verdict.INCONCLUSIVE
    assert "describes no browser steps for comment" in reason
