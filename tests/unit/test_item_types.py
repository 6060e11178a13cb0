"""Item kinds by the site's own names: `reports.items.<kind>.type` fills {kind} and
{item_type}, the channel's section before the API's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.targets.profile import load_profile

ITEMS = """\
  reports:
    items:
      post: {surface: post, type: topic, id: "{post_id}"}
      group: {surface: post, type: circle, id: "{post_id}"}
    submit:
      - {method: POST, path: /flags, as: reporter, json: {kind: "{item_type}"}}
    lookup: {method: GET, path: "/flags/{ticket}", as: reporter}
    fields: {status: status}
    queue: {request: {method: GET, path: /admin/flags, as: admin}, records: flags,
            fields: {ticket: ticket}}
"""


def test_the_site_names_its_own_kinds(write_profile: Callable[..., Path],
                                      minimal_profile: str) -> None:
    profile = load_profile(write_profile(minimal_profile + ITEMS), base_url="http://127.0.0.1:1")
    assert profile.item_type("post", "api") == "topic"
    assert profile.item_type("group", "api") == "circle"
    assert profile.item_type("group", "browser") == "circle"  # the pages name it alike
    assert profile.item_type("forward", "api") == "forward"  # no name given: the harness's


def test_a_kind_the_site_does_not_name_keeps_the_harness_name(
        write_profile: Callable[..., Path]) -> None:
    profile = load_profile(write_profile(), base_url="http://127.0.0.1:1")
    assert [profile.item_type(kind, "api") for kind in ("post", "comment", "group")] == \
        ["post", "comment", "group"]
