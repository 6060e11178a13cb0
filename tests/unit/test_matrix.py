"""The evasion matrix: which families each surface gets, how a cell's cases are drawn, and which
corpora a run selects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import controls
from harness.errors import ConfigError
from harness.probes.canaries import lexicon
from harness.probes.corpora import DEFAULT_CORPUS, OVERBLOCKING_BANK, load_corpus, select_corpora
from harness.probes.matrix import (
    NAME_LENGTH,
    RATE_SURFACES,
    bank_pool,
    cell_cases,
    families_for,
    must_block_pool,
)
from harness.probes.variants import registry
from harness.probes.variants.text import ZeroWidth

ORG_ROW = {"id": "org-1", "text": "组织自有违规样本词", "category": "ECO6.5",
           "expect": "must_block", "lang": "zh"}


def _corpus(tmp_path: Path, rows: list[dict[str, str]], name: str = "org.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def test_image_surfaces_get_image_families_and_text_surfaces_the_rest() -> None:
    assert set(families_for("avatar")) == {"image_text", "qr_code"}
    text = set(families_for("post"))
    assert "identity" not in text
    assert "image_text" not in text
    assert text == {n for n, v in registry().items() if v.kind == "text" and v.changes_input}
    assert "account_name" not in RATE_SURFACES


def test_every_family_has_an_automated_api_control() -> None:
    for surface in RATE_SURFACES:
        for family in families_for(surface):
            control = controls.for_family(family)
            assert control.automated, family
            assert control.channels == ("api", "browser"), family
    assert controls.get(controls.A5_4_OVERBLOCK).automated


def test_the_pool_holds_the_canaries_and_the_sample_rows_once_each() -> None:
    pool = must_block_pool([load_corpus(DEFAULT_CORPUS)])
    texts = [body.text for body in pool]
    assert len(texts) == len(set(texts))
    assert {c.text for c in lexicon().values()} <= set(texts)
    assert all(b.category != "BENIGN" for b in pool)


def test_an_organisation_corpus_replaces_the_canaries_in_the_pool(tmp_path: Path) -> None:
    org = load_corpus(_corpus(tmp_path, [ORG_ROW]))
    pool = must_block_pool([load_corpus(DEFAULT_CORPUS), org])
    assert [body.text for body in pool] == [ORG_ROW["text"]]


def test_cells_are_deterministic_transformed_and_tagged() -> None:
    pool = must_block_pool([load_corpus(DEFAULT_CORPUS)])
    first = cell_cases("post", "traditional", "must_block", 9, 11, pool=pool)
    again = cell_cases("post", "traditional", "must_block", 9, 11, pool=pool)
    assert [c.text for c in first] == [c.text for c in again]
    assert len(first) == 9
    assert len({c.tag for c in first}) == 9
    for case in first:
        assert case.probe.variant == "traditional"
        assert case.expect == "must_block"
        assert case.term is None  # observers look for the whole transformed text
        assert case.text.endswith(case.tag)
        assert any(ch in case.text for ch in "審絲")
    other = cell_cases("post", "traditional", "must_block", 9, 12, pool=pool)
    assert [c.text for c in other] != [c.text for c in first]


def test_a_family_that_applies_to_nothing_gives_no_case() -> None:
    latin = [b for b in must_block_pool([]) if b.lang == "en"]
    assert cell_cases("post", "traditional", "must_block", 9, 1, pool=latin) == []


def test_must_allow_cells_use_benign_text_under_the_family() -> None:
    cases = cell_cases("comment", "zero_width", "must_allow", 4, 5)
    assert len(cases) == 4
    for case in cases:
        assert case.expect == "must_allow"
        assert set(case.text) & set(ZeroWidth.FILLERS)


def test_name_surfaces_keep_cases_short() -> None:
    pool = must_block_pool([load_corpus(DEFAULT_CORPUS)])
    for case in cell_cases("nickname", "spacing", "must_block", 9, 3, pool=pool):
        assert len(case.text) - len(case.tag) - 1 <= NAME_LENGTH


def test_image_cells_carry_the_rendered_probe() -> None:
    pool = must_block_pool([])
    [case] = cell_cases("avatar", "qr_code", "must_block", 1, 2, pool=pool)
    assert case.image is not None
    assert case.image.startswith(b"\x89PNG")


def test_the_bank_cells_draw_benign_rows_unchanged() -> None:
    bank = load_corpus(OVERBLOCKING_BANK)
    cases = cell_cases("post", "identity", "must_allow", 20, 9, pool=bank_pool(bank))
    texts = {row.text for row in bank.rows}
    assert len(cases) == 20
    assert all(c.text[: -len(c.tag) - 1] in texts for c in cases)


def test_select_corpora_prefers_the_option_then_the_profile_then_the_default(
        tmp_path: Path) -> None:
    org = _corpus(tmp_path, [ORG_ROW])
    profile = tmp_path / "profile.yaml"
    profile.write_text("name: x\ncorpora: [org.jsonl]\n", encoding="utf-8")
    assert [c.name for c in select_corpora([], None)] == ["canary-sample"]
    assert [c.path for c in select_corpora([], profile)] == [org]
    other = _corpus(tmp_path, [{**ORG_ROW, "id": "o2"}], "other.jsonl")
    assert [c.path for c in select_corpora([other], profile)] == [other]


def test_a_bad_corpus_path_is_a_config_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.jsonl"):
        select_corpora([tmp_path / "missing.jsonl"])
