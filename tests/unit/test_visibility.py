"""Visibility: whether a case's content shows in what another actor read."""

from __future__ import annotations

import pytest

from harness.observe.visibility import TextMatch, match_text, normalise, strings_in
from harness.probes.cases import TEXT_PROBES, Case, build_case
from harness.seeds import derive_seed

SEED = derive_seed(42, "tests/unit/test_visibility.py")
PROBES = {p.id: p for p in TEXT_PROBES}


@pytest.fixture
def blocked() -> Case:
    """A must_block case with the Latin canary."""
    return build_case("post", "create", PROBES["canary-latin-a"], SEED)


@pytest.fixture
def blocked_zh() -> Case:
    return build_case("post", "create", PROBES["canary-zh-a"], SEED)


@pytest.fixture
def allowed() -> Case:
    return build_case("post", "create", PROBES["benign-en"], SEED)


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# --- normalise and strings_in ----------------------------------------------------------------


def test_normalise_folds_case_width_and_spacing() -> None:
    assert normalise("ＡＢＣ d\te\u200bF") == "abcdef"


def test_normalise_removes_zero_width_and_bom() -> None:
    assert normalise("a\u200cb\u200dc\u2060d\ufeffe") == "abcde"


def test_strings_in_walks_nested_json() -> None:
    document = {"a": "x", "b": [1, {"c": "y"}, None], "d": {"e": ["z"]}}
    assert sorted(strings_in(document)) == ["x", "y", "z"]


def test_strings_in_of_plain_text() -> None:
    assert list(strings_in("<p>hi</p>")) == ["<p>hi</p>"]


# --- must_block ------------------------------------------------------------------------------


def test_term_and_tag_in_one_string_is_visible(blocked: Case) -> None:
    document = {"items": [{"text": blocked.text}]}
    assert match_text(document, blocked) == TextMatch(visible=True, tag_only=False)


def test_term_and_tag_in_a_page_of_html_is_visible(blocked: Case) -> None:
    page = f"<html><body><p>{blocked.term}</p> <span>{blocked.tag}</span></body></html>"
    assert match_text(page, blocked).visible


def test_term_and_tag_in_different_strings_is_not_visible(blocked: Case) -> None:
    document = {"title": blocked.term, "marker": blocked.tag}
    result = match_text(document, blocked)
    assert not result.visible
    assert result.tag_only


def test_term_without_tag_is_not_visible(blocked: Case) -> None:
    # Someone else's copy of the canary is not this case's content.
    result = match_text({"text": f"{blocked.term} zzzzzz"}, blocked)
    assert result == TextMatch(visible=False, tag_only=False)


def test_tag_only_means_masked(blocked: Case) -> None:
    result = match_text({"text": f"*** {blocked.tag}"}, blocked)
    assert result == TextMatch(visible=False, tag_only=True)


def test_nothing_of_the_case(blocked: Case) -> None:
    result = match_text({"items": []}, blocked)
    assert result == TextMatch(visible=False, tag_only=False)


def test_fullwidth_term_still_matches(blocked: Case) -> None:
    shown = _fullwidth(blocked.text)
    assert shown != blocked.text
    assert match_text({"text": shown}, blocked).visible


def test_extra_spaces_and_zero_width_still_match(blocked: Case) -> None:
    spaced = " ".join(blocked.term) + "\u200b  " + blocked.tag.upper()
    assert match_text({"text": spaced}, blocked).visible


def test_chinese_term_with_spaces_matches(blocked_zh: Case) -> None:
    assert blocked_zh.term is not None
    shown = "  ".join(blocked_zh.term) + "\n" + blocked_zh.tag
    assert match_text([shown], blocked_zh).visible


def test_chinese_term_alone_with_tag_elsewhere_is_not_visible(blocked_zh: Case) -> None:
    assert not match_text([blocked_zh.term, blocked_zh.tag], blocked_zh).visible


def test_visible_wins_over_an_earlier_masked_string(blocked: Case) -> None:
    document = [f"*** {blocked.tag}", blocked.text]
    assert match_text(document, blocked) == TextMatch(visible=True, tag_only=False)


# --- must_allow ------------------------------------------------------------------------------


def test_whole_text_is_visible(allowed: Case) -> None:
    assert match_text({"text": allowed.text}, allowed).visible


def test_whole_text_with_other_layout_is_visible(allowed: Case) -> None:
    shown = "  " + allowed.text.upper().replace(" ", "\n") + " "
    assert match_text({"text": shown}, allowed).visible


def test_part_of_the_text_with_tag_is_not_visible(allowed: Case) -> None:
    half = allowed.text[len(allowed.text) // 2:]
    assert allowed.tag in half
    result = match_text({"text": half}, allowed)
    assert result == TextMatch(visible=False, tag_only=True)


def test_must_allow_tag_only(allowed: Case) -> None:
    result = match_text({"text": allowed.tag}, allowed)
    assert not result.visible
    assert result.tag_only
