"""Template rendering and JSON lookups shared by every channel's declarative steps."""

from __future__ import annotations

import pytest

from harness.targets.templates import MissingVariable, lookup, lookup_one, render


def test_render_substitutes_inside_a_longer_string() -> None:
    assert render("/api/users/{author_id}/posts", {"author_id": 7}) == "/api/users/7/posts"


def test_render_several_placeholders_in_one_string() -> None:
    assert render("{a}-{b}", {"a": "x", "b": 2}) == "x-2"


def test_whole_placeholder_keeps_bytes() -> None:
    image = b"\x89PNG\r\n"
    rendered = render({"file": "{image}"}, {"image": image})
    assert rendered == {"file": image}
    assert isinstance(rendered["file"], bytes)


def test_whole_placeholder_keeps_numbers_and_lists() -> None:
    assert render("{n}", {"n": 3}) == 3
    assert render("{items}", {"items": [1, 2]}) == [1, 2]


def test_render_recurses_through_dicts_and_lists() -> None:
    template = {"json": {"text": "{content}", "tags": ["{tag}", "fixed"]}, "n": 5}
    rendered = render(template, {"content": "hello", "tag": "abc"})
    assert rendered == {"json": {"text": "hello", "tags": ["abc", "fixed"]}, "n": 5}


def test_render_leaves_non_strings_and_none_alone() -> None:
    assert render(None, {}) is None
    assert render(4.5, {}) == 4.5
    assert render(True, {}) is True


def test_render_does_not_mutate_the_template() -> None:
    template = {"a": ["{x}"]}
    render(template, {"x": "1"})
    assert template == {"a": ["{x}"]}


def test_text_without_placeholders_is_unchanged() -> None:
    assert render("no braces {} or {1x}", {}) == "no braces {} or {1x}"


def test_missing_variable_is_named() -> None:
    with pytest.raises(MissingVariable) as info:
        render("/api/posts/{post_id}", {})
    assert info.value.name == "post_id"
    assert isinstance(info.value, KeyError)


def test_none_valued_variable_counts_as_missing() -> None:
    with pytest.raises(MissingVariable) as info:
        render("{image}", {"image": None})
    assert info.value.name == "image"


def test_missing_variable_deep_inside_a_structure() -> None:
    with pytest.raises(MissingVariable, match="group_id"):
        render({"json": [{"id": "{group_id}"}]}, {"other": 1})


DOC = {
    "items": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": None}],
    "users": {"u1": {"avatar_url": "/a.png"}, "u2": {"avatar_url": "/b.png"}},
    "token": "t",
}


def test_lookup_simple_key() -> None:
    assert lookup(DOC, "token") == ["t"]


def test_lookup_list_index() -> None:
    assert lookup(DOC, "items.1.id") == [2]


def test_lookup_out_of_range_index_is_empty() -> None:
    assert lookup(DOC, "items.9.id") == []


def test_lookup_star_over_list() -> None:
    assert lookup(DOC, "items.*.id") == [1, 2, 3]


def test_lookup_star_over_mapping_values() -> None:
    assert lookup(DOC, "users.*.avatar_url") == ["/a.png", "/b.png"]


def test_lookup_drops_none_values() -> None:
    assert lookup(DOC, "items.*.name") == ["a", "b"]


def test_lookup_absent_path_is_empty() -> None:
    assert lookup(DOC, "nope.deeper") == []
    assert lookup(None, "a") == []
    assert lookup("text", "a") == []


def test_lookup_top_level_list() -> None:
    assert lookup([{"id": "x"}], "0.id") == ["x"]


def test_lookup_one_first_or_none() -> None:
    assert lookup_one(DOC, "items.*.id") == 1
    assert lookup_one(DOC, "missing") is None
