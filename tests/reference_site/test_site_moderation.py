"""The moderation engine: each normalisation step, the fault that skips it, and matching."""

from __future__ import annotations

import pytest

from reference_site.faults import FAULTS, SKIPPED_STEPS, skipped_steps
from reference_site.moderation import (
    CONFUSABLES_PATH,
    STEP_NAMES,
    Matcher,
    Moderator,
    fold_confusables,
    fragments,
    load_lexicon,
    normalise,
    remove_separators,
    remove_zero_width,
    to_simplified,
    within_distance,
)

CANARIES = ("审核金丝雀甲", "审核金丝雀乙", "MODHARNESS-CANARY-ALPHA", "MODHARNESS-CANARY-BRAVO")

# An evasive spelling of a canary that only the named step undoes.
EVASIONS = {
    "skip-nfkc": "ＭＯＤＨＡＲＮＥＳＳ-ＣＡＮＡＲＹ-ＡＬＰＨＡ",
    "skip-casefold": "modharness-canary-alpha",
    "skip-zero-width": "审\u200b核\u200c金\u200d丝\u2060雀\ufeff甲",
    "skip-separators": "审 核·金-丝 雀！甲",
    "skip-confusables": "MОDНARNЕSS-САNARY-ALРHA",  # Cyrillic О Н Е С А Р
    "skip-t2s": "審核金絲雀甲",
}


def test_lexicon_holds_the_harness_canaries() -> None:
    assert set(CANARIES) <= set(load_lexicon())


def test_every_step_has_a_fault_and_an_evasion() -> None:
    assert set(SKIPPED_STEPS.values()) == STEP_NAMES
    assert set(EVASIONS) == set(SKIPPED_STEPS)
    assert all(name in FAULTS for name in SKIPPED_STEPS)


@pytest.mark.parametrize("fault", sorted(EVASIONS))
def test_each_step_catches_its_evasion_and_its_fault_lets_it_through(fault: str) -> None:
    evasive = f"看这里 {EVASIONS[fault]} ok"
    assert not Moderator(load_lexicon()).check_text(evasive).allowed
    faulty = Moderator(load_lexicon(), text_skip=skipped_steps({fault}))
    assert faulty.check_text(evasive).allowed
    # The plain canary is still caught: a step fault weakens one evasion family only.
    assert not faulty.check_text("看这里 审核金丝雀甲 ok").allowed
    assert not faulty.check_text("see MODHARNESS-CANARY-ALPHA here").allowed


def test_look_alikes_are_folded_before_nfkc_can_change_them() -> None:
    # NFKC turns the lunate sigma (a C look-alike) into Σ; folding first keeps it a C.
    assert not Moderator(load_lexicon()).check_text("MODHARNESS-\u03f9ANAR\u0423-ALPHA").allowed


def test_the_fragments_fault_refuses_pieces_of_terms_that_the_clean_site_allows() -> None:
    assert set(fragments(CANARIES)) >= {"金丝", "雀甲", "CANARY", "ALPHA"}
    benign = ("金丝峡景区风景很好。", "We took the train to Canary Wharf.")
    clean = Moderator(load_lexicon())
    faulty = Moderator(load_lexicon(), block_fragments=True)
    for text in benign:
        assert clean.check_text(text).allowed
        assert not faulty.check_text(text).allowed
    assert faulty.check_text("今天天气很好。").allowed


@pytest.mark.parametrize(
    ("step", "text", "expected"),
    [
        ("nfkc", "ＡＢＣ１２３", "abc123"),
        ("casefold", "MiXeD", "mixed"),
        ("zero_width", "a\u200bb\u200cc\u200dd\u2060e\ufefff\u180eg", "abcdefg"),
        ("separators", "a b\tc,d。e！f★g\u3000h", "abcdefgh"),
        ("confusables", "Α Β Ε Ν Ρ а е о р с х", "abenpaeopcx"),
        ("t2s", "繁體中文測試", "繁体中文测试"),
    ],
)
def test_step_output(step: str, text: str, expected: str) -> None:
    others = STEP_NAMES - {step, "casefold", "separators"}
    assert normalise(text, frozenset(others)) == expected


def test_step_functions_directly() -> None:
    assert remove_zero_width("a\u200bb") == "ab"
    assert remove_separators("a - b") == "ab"
    assert to_simplified("審核") == "审核"
    # Case decides the Latin letter: Greek capital Nu is N, small nu is v.
    assert fold_confusables("Νν") == "Nv"


def test_confusables_file_cites_its_source_and_covers_cyrillic_and_greek() -> None:
    text = CONFUSABLES_PATH.read_text(encoding="utf-8")
    assert "https://www.unicode.org/Public/security/latest/confusables.txt" in text
    for letter in "аеорсхАВЕКМНОРСТХαοριΑΒΕΗΙΚΜΝΟΡΤΥΧ":
        assert fold_confusables(letter).isascii(), letter


def test_terms_are_normalised_like_text() -> None:
    matcher = Matcher(["Bad-Word", "繁體"])
    assert matcher.find("a b a d w o r d") == "Bad-Word"
    assert matcher.find("繁体") == "繁體"
    assert matcher.find("nothing here") is None


def test_benign_text_passes() -> None:
    moderator = Moderator(load_lexicon())
    for text in ("今天天气很好", "审核金丝雀", "canary alpha", "Modern harness", ""):
        assert moderator.check_text(text).allowed, text


def test_approximate_matching_tolerates_ocr_errors_only_in_long_terms() -> None:
    assert within_distance("用户审核金丝汰乙x7", "审核金丝雀乙", 1)
    assert within_distance("moddharnes3canarybravo", "modharnesscanarybravo", 4)
    assert not within_distance("审核金红誉乙", "审核金丝雀乙", 1)
    matcher = Matcher(CANARIES)
    assert matcher.find_approximate("审核金丝举甲") == "审核金丝雀甲"
    assert matcher.find_approximate("今天天气很好") is None
    assert Matcher(["abcd"]).find_approximate("abce") is None  # short terms: exact only


def test_unknown_step_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown normalisation steps"):
        Moderator(CANARIES, text_skip=frozenset({"nope"}))
