"""Probes: canary lexicon, benign cases (Faker), cases and probe images."""

from __future__ import annotations

import hashlib
import io
import json
import re

import pytest

from harness.probes import images
from harness.probes.benign import benign_text, faker_for
from harness.probes.canaries import lexicon
from harness.probes.cases import (
    IMAGE_PROBES,
    IMAGE_SURFACES,
    MODES,
    MUST_ALLOW,
    MUST_BLOCK,
    TEXT_PROBES,
    ProbeSpec,
    build_case,
    probes_for,
)
from harness.probes.corpora import DEFAULT_CORPUS, load_corpus, organisation_corpora
from harness.seeds import derive_seed
from harness.targets.profile import SURFACES

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TEXT_SURFACES = [s for s in SURFACES if s not in IMAGE_SURFACES]
SEED = derive_seed(1234, "tests/unit/test_probes.py::case")
OTHER_SEED = derive_seed(1235, "tests/unit/test_probes.py::case")


def _probe(probe_id: str) -> ProbeSpec:
    return next(p for p in (*TEXT_PROBES, *IMAGE_PROBES) if p.id == probe_id)


# --- canaries ---------------------------------------------------------------------------------


def test_lexicon_has_the_four_canaries() -> None:
    terms = lexicon()
    assert set(terms) == {"canary-zh-a", "canary-zh-b", "canary-latin-a", "canary-latin-b"}
    assert all(canary.id == key for key, canary in terms.items())


def test_every_canary_has_an_ecosystem_category() -> None:
    for canary in lexicon().values():
        assert re.fullmatch(r"ECO[67]\.\d+", canary.category), canary.id


def test_canary_texts_are_distinct_and_described() -> None:
    texts = [c.text for c in lexicon().values()]
    assert len(set(texts)) == len(texts)
    assert all(c.summary and c.lang in ("zh", "en") for c in lexicon().values())


def test_every_probe_canary_is_in_the_lexicon() -> None:
    for probe in (*TEXT_PROBES, *IMAGE_PROBES):
        if probe.canary is not None:
            assert probe.canary in lexicon()
            assert probe.expect == MUST_BLOCK
        else:
            assert probe.expect == MUST_ALLOW


# --- seeds and benign text --------------------------------------------------------------------


def test_derive_seed_is_stable_and_keyed() -> None:
    assert derive_seed(7, "a::b") == derive_seed(7, "a::b")
    assert derive_seed(7, "a::b") != derive_seed(8, "a::b")
    assert derive_seed(7, "a::b") != derive_seed(7, "a::c")
    assert 0 <= derive_seed(7, "x") < 2**64


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("surface", TEXT_SURFACES)
def test_benign_text_is_deterministic(surface: str, lang: str) -> None:
    assert benign_text(surface, lang, 99) == benign_text(surface, lang, 99)
    assert benign_text(surface, lang, 99)


def test_benign_text_differs_across_seeds() -> None:
    assert benign_text("post", "en", 1) != benign_text("post", "en", 2)


def test_benign_account_name_is_short() -> None:
    for seed in range(20):
        assert len(benign_text("account_name", "en", seed)) <= 24


def test_faker_is_private_not_global() -> None:
    first = faker_for("en", 5).name()
    faker_for("en", 6).name()
    assert faker_for("en", 5).name() == first


# --- cases ------------------------------------------------------------------------------------


def test_probes_for_text_and_image_surfaces() -> None:
    assert probes_for("post") == TEXT_PROBES
    assert probes_for("avatar") == IMAGE_PROBES
    assert probes_for("group_logo") == IMAGE_PROBES


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("probe", TEXT_PROBES, ids=lambda p: p.id)
def test_build_case_is_deterministic(probe: ProbeSpec, mode: str) -> None:
    assert build_case("post", mode, probe, SEED) == build_case("post", mode, probe, SEED)


@pytest.mark.parametrize("probe", TEXT_PROBES, ids=lambda p: p.id)
def test_build_case_differs_across_seeds(probe: ProbeSpec) -> None:
    one, other = build_case("post", "create", probe, SEED), build_case(
        "post", "create", probe, OTHER_SEED
    )
    assert one.tag != other.tag
    assert one.text != other.text


def test_build_case_differs_for_adjacent_small_seeds() -> None:
    # Only the top 30 bits of the seed reach the tag today, so seeds 1 and 2 make the same case.
    probe = _probe("canary-latin-a")
    one, two = (build_case("post", "create", probe, seed) for seed in (1, 2))
    assert one.tag != two.tag
    assert one.text != two.text


@pytest.mark.parametrize("surface", TEXT_SURFACES)
@pytest.mark.parametrize("probe_id", ["canary-zh-a", "canary-latin-a"])
def test_must_block_case_carries_term_and_tag(surface: str, probe_id: str) -> None:
    canary = lexicon()[probe_id]
    case = build_case(surface, "create", _probe(probe_id), SEED)
    assert case.expect == MUST_BLOCK
    assert case.term == canary.text
    assert case.category == canary.category
    assert canary.text in case.text
    assert case.tag in case.text
    assert case.text == f"{canary.text} {case.tag}"


def test_must_allow_case_has_no_term() -> None:
    case = build_case("post", "create", _probe("benign-en"), SEED)
    assert case.expect == MUST_ALLOW
    assert case.term is None
    assert case.category is None
    assert case.text.endswith(case.tag)
    assert all(c.text not in case.text for c in lexicon().values())


def test_tag_is_short_and_lowercase() -> None:
    case = build_case("post", "create", _probe("benign-zh"), SEED)
    assert re.fullmatch(r"[a-z2-7]{6}", case.tag)


def test_joiner_is_used_between_body_and_tag() -> None:
    case = build_case("account_name", "edit", _probe("canary-latin-a"), SEED, joiner="_")
    assert case.text == f"{case.term}_{case.tag}"
    assert case.original.endswith(f"_{case.tag}o")


@pytest.mark.parametrize("probe", TEXT_PROBES, ids=lambda p: p.id)
def test_edit_mode_original_differs_from_content(probe: ProbeSpec) -> None:
    case = build_case("bio", "edit", probe, SEED)
    assert case.original != case.text
    assert case.original.endswith(f"{case.tag}o")
    if case.term:
        assert case.term not in case.original


def test_case_id_and_evidence() -> None:
    case = build_case("comment", "edit", _probe("canary-zh-a"), SEED)
    assert case.case_id == "comment/edit/canary-zh-a"
    record = case.evidence()
    assert record["case_id"] == case.case_id
    assert record["expect"] == MUST_BLOCK
    assert record["content"] == case.text
    assert record["content_sha256"] == hashlib.sha256(case.text.encode("utf-8")).hexdigest()
    assert "image" not in record


def test_case_variables() -> None:
    case = build_case("post", "create", _probe("benign-en"), SEED)
    variables = case.variables()
    assert variables["content"] == case.text
    assert variables["tag"] == case.tag
    assert variables["filler"] == case.filler
    assert variables["image"] is None


def test_text_surfaces_have_no_images() -> None:
    case = build_case("post", "create", _probe("canary-zh-a"), SEED)
    assert case.image is None
    assert case.original_image is None


# --- images -----------------------------------------------------------------------------------


def _decode(png: bytes) -> list[str]:
    import zxingcpp
    from PIL import Image

    return [result.text for result in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def test_qr_probe_decodes_back_to_the_case_text() -> None:
    case = build_case("avatar", "create", _probe("qr-canary-zh-b"), SEED)
    assert case.image is not None
    assert case.image.startswith(PNG_MAGIC)
    assert _decode(case.image) == [case.text]
    assert lexicon()["canary-zh-b"].text in case.text


@pytest.mark.parametrize("surface", IMAGE_SURFACES)
@pytest.mark.parametrize("probe", IMAGE_PROBES, ids=lambda p: p.id)
def test_image_case_is_png_and_hash_is_of_the_image(surface: str, probe: ProbeSpec) -> None:
    case = build_case(surface, "edit", probe, SEED)
    assert case.image is not None
    assert case.original_image is not None
    assert case.image.startswith(PNG_MAGIC)
    assert case.original_image.startswith(PNG_MAGIC)
    assert case.image != case.original_image
    assert case.content_sha256 == hashlib.sha256(case.image).hexdigest()
    assert case.evidence()["content_sha256"] == case.content_sha256


def test_image_case_is_deterministic() -> None:
    probe = _probe("image-text-canary-latin-a")
    one = build_case("avatar", "create", probe, SEED)
    assert one.image == build_case("avatar", "create", probe, SEED).image
    assert one.image != build_case("avatar", "create", probe, OTHER_SEED).image


def test_text_image_has_the_probe_size() -> None:
    from PIL import Image

    png = images.text_image(["审核金丝雀甲", "abcdef"])
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        assert image.size == (images.SIZE, images.SIZE)


def test_qr_image_round_trips_unicode() -> None:
    assert _decode(images.qr_image("审核金丝雀乙 xyz234")) == ["审核金丝雀乙 xyz234"]


def test_cjk_font_is_found() -> None:
    assert images.cjk_font_path().is_file()


# --- an organisation's corpus drives the surface probes ----------------------------------------


def _org_corpus(tmp_path, rows):
    path = tmp_path / "org.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    return load_corpus(path)


ORG_ROWS = [
    {"id": "b1", "text": "组织自有的违规样本甲", "category": "ECO6.5", "expect": "must_block"},
    {"id": "b2", "text": "org banned phrase alpha", "category": "ECO6.4", "expect": "must_block",
     "lang": "en"},
    {"id": "b3", "text": "组织自有的违规样本乙" * 5, "category": "ECO6.5", "expect": "must_block"},
    {"id": "a1", "text": "今天的会议改到下午三点", "category": "BENIGN", "expect": "must_allow"},
]


def test_without_an_organisation_corpus_the_canaries_are_the_probes() -> None:
    assert organisation_corpora([load_corpus(DEFAULT_CORPUS)]) == []
    assert probes_for("post", []) == TEXT_PROBES


def test_an_organisation_corpus_replaces_the_canaries_on_every_surface(tmp_path) -> None:
    org = _org_corpus(tmp_path, ORG_ROWS)
    assert organisation_corpora([load_corpus(DEFAULT_CORPUS), org]) == [org]
    for surface in SURFACES:
        probes = probes_for(surface, [org])
        assert not any(p.canary for p in probes), surface
        blocked = [p for p in probes if p.expect == MUST_BLOCK]
        assert blocked, surface
        assert all(p.source.corpus == "org" for p in blocked), surface
        # The corpus's benign row is used; Faker fills in only where a corpus has none.
        assert [p.text for p in probes if p.expect == MUST_ALLOW] == [ORG_ROWS[3]["text"]]
    # Two languages where the rows have them; names get the short rows.
    assert {p.lang for p in probes_for("post", [org]) if p.expect == MUST_BLOCK} == {"zh", "en"}
    assert all(len(p.text) <= 32 for p in probes_for("nickname", [org]))
    # Image surfaces draw the rows, as text and as a QR code.
    assert {p.variant for p in probes_for("avatar", [org])} == {"image_text", "qr_code"}


def test_a_corpus_case_carries_its_row_and_the_files_pin(tmp_path) -> None:
    org = _org_corpus(tmp_path, ORG_ROWS)
    probe = next(p for p in probes_for("post", [org]) if p.source.row == "b2")
    case = build_case("post", "create", probe, SEED)
    assert case.text.startswith("org banned phrase alpha ")
    assert case.term == "org banned phrase alpha"
    assert case.category == "ECO6.4"
    assert case.evidence()["source"] == {"corpus": "org", "sha256": org.sha256, "row": "b2",
                                         "line": 2}
    assert probes_for("post", [org]) == probes_for("post", [_org_corpus(tmp_path, ORG_ROWS)])


def test_a_corpus_without_must_block_rows_leaves_the_canaries(tmp_path) -> None:
    org = _org_corpus(tmp_path, ORG_ROWS[3:])
    assert probes_for("bio", [org]) == TEXT_PROBES
