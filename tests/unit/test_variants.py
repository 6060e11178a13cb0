"""Variants: a meta-test over every registered family (garak style), then composition, the
registry's entry points, per-family properties, images and a 10,000-case generation run."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import unicodedata
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.probes.canaries import lexicon
from harness.probes.variants import (
    BUILTINS,
    ENTRY_POINT_GROUP,
    PARTS_JOINER,
    Derived,
    Variant,
    get,
    loader,
    registry,
)
from harness.probes.variants.text import confusables

ROOT = Path(__file__).parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CANARIES = tuple(c.text for c in lexicon().values())
ZH_CANARIES = tuple(c.text for c in lexicon().values() if c.lang == "zh")
LATIN_CANARIES = tuple(c.text for c in lexicon().values() if c.lang == "en")
# A case's content is the term and a tag; the tag brings the digits `digit_styles` needs.
SAMPLES = (*CANARIES, f"{ZH_CANARIES[0]} k3m7ab", f"{LATIN_CANARIES[0]} 2024")
NAMES = sorted(registry())
TEXT_NAMES = [name for name in NAMES if registry()[name].kind == "text"]
PARENT = "post/create/canary-zh-a"


@pytest.fixture(params=NAMES)
def variant(request: pytest.FixtureRequest) -> Variant:
    return registry()[request.param]


def _applicable(variant: Variant) -> Iterator[str]:
    return (text for text in SAMPLES if variant.applies(text))


def _payload(derived: Derived) -> object:
    return derived.image if derived.image is not None else (derived.text, derived.parts)


# --- meta-tests over every registered family -----------------------------------------------


def test_every_builtin_family_is_registered() -> None:
    assert set(BUILTINS) <= set(registry())
    assert len(BUILTINS) == 18


def test_pyproject_lists_the_builtins_in_the_entry_point_group() -> None:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["entry-points"][ENTRY_POINT_GROUP] == BUILTINS


def test_variant_is_documented(variant: Variant) -> None:
    assert variant.name in registry()
    assert registry()[variant.name] is variant
    assert variant.summary.strip()
    assert "\n" not in variant.summary
    assert len(variant.summary) <= 100, "a summary is one short line"
    assert variant.source.strip(), "every family says where it comes from"
    assert variant.kind in ("text", "image")


def test_variant_applies_to_some_sample(variant: Variant) -> None:
    assert any(_applicable(variant)), f"{variant.name} applies to none of {SAMPLES}"


def test_variant_is_deterministic_for_a_seed(variant: Variant) -> None:
    for text in _applicable(variant):
        assert variant.apply(text, 42, PARENT) == variant.apply(text, 42, PARENT)


def test_seeds_vary_the_output_of_seeded_families(variant: Variant) -> None:
    for text in _applicable(variant):
        outputs = {repr(_payload(variant.apply(text, seed, PARENT))) for seed in range(12)}
        if variant.seeded and len(text) >= 6:
            assert len(outputs) > 1, f"{variant.name} ignores the seed on {text!r}"
        elif not variant.seeded:
            assert len(outputs) == 1, f"{variant.name} says it is unseeded but varies"


def test_variant_changes_each_input_it_applies_to(variant: Variant) -> None:
    for text in _applicable(variant):
        derived = variant.apply(text, 7, PARENT)
        if variant.kind == "image":
            assert derived.text is None
            assert derived.image is not None
            assert derived.image.startswith(PNG_MAGIC)
        elif variant.changes_input:
            assert derived.text is not None
            assert derived.text != text, (variant.name, text)
        else:
            assert derived.text == text


def test_variant_keeps_provenance(variant: Variant) -> None:
    for text in _applicable(variant):
        derived = variant.apply(text, 3, PARENT)
        assert derived.parent == PARENT
        assert derived.variant == variant.name


def test_text_variant_leaves_text_it_does_not_apply_to_unchanged(variant: Variant) -> None:
    for text in SAMPLES:
        if variant.kind == "text" and not variant.applies(text):
            assert variant.apply(text, 5, PARENT).text == text


# --- composition and lookup ------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 99])
def test_composition_equals_applying_both_in_order(seed: int) -> None:
    composed = get("traditional+zero_width")
    for text in ZH_CANARIES:
        once = get("traditional").apply(text, seed, PARENT)
        twice = get("zero_width").apply(once.text or "", seed, PARENT)
        derived = composed.apply(text, seed, PARENT)
        assert derived.text == twice.text
        assert derived.variant == "traditional+zero_width"
        assert derived.parent == PARENT


def test_composition_is_documented_from_its_steps() -> None:
    composed = get("homoglyph+qr_code")
    assert composed.name == "homoglyph+qr_code"
    assert composed.kind == "image"
    assert "homoglyph" in composed.source
    assert "qr_code" in composed.source


def test_composition_applies_only_when_every_step_does() -> None:
    assert get("traditional+zero_width").applies(ZH_CANARIES[0])
    assert not get("traditional+zero_width").applies(LATIN_CANARIES[0])
    assert not get("pinyin+homophone").applies(ZH_CANARIES[0]), "pinyin leaves no hanzi"


@pytest.mark.parametrize("name", ["image_text+traditional", "qr_code+case", "split_fields+case",
                                  "image_text+qr_code"])
def test_a_terminal_family_may_only_come_last(name: str) -> None:
    with pytest.raises(ConfigError, match="must come last"):
        get(name)


def test_a_family_may_appear_only_once_in_a_composition() -> None:
    with pytest.raises(ConfigError, match="repeats case"):
        get("case+zero_width+case")


@pytest.mark.parametrize("name", ["nope", "traditional+nope", "", "traditional+"])
def test_unknown_family_names_the_known_ones(name: str) -> None:
    with pytest.raises(ConfigError, match="unknown variant family") as caught:
        get(name)
    assert "homoglyph" in str(caught.value)
    assert "zero_width" in str(caught.value)


def _plugin_entry_points(monkeypatch: pytest.MonkeyPatch, *entries: EntryPoint) -> None:
    loader.registry.cache_clear()
    monkeypatch.setattr(loader, "entry_points", lambda group: list(entries))


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    loader.registry.cache_clear()
    yield
    loader.registry.cache_clear()


PLUGIN = '''
from harness.probes.variants.base import TextVariant

class Reverse(TextVariant):
    name = "reverse"
    summary = "The text backwards."
    source = "a test plugin"

    def transform(self, text, rng):
        return text[::-1]


class Nameless:
    pass
'''


@pytest.mark.usefixtures("fresh_registry")
def test_a_plugin_family_is_found_through_its_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mh_variant_plugin.py").write_text(PLUGIN, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    _plugin_entry_points(monkeypatch, EntryPoint("reverse", "mh_variant_plugin:Reverse",
                                                 ENTRY_POINT_GROUP))
    assert set(registry()) == {*BUILTINS, "reverse"}
    assert get("reverse+zero_width").apply("abc", 1, PARENT).text.startswith("c")  # type: ignore[union-attr]


@pytest.mark.usefixtures("fresh_registry")
@pytest.mark.parametrize(("entry", "message"), [
    (EntryPoint("fullwidth", "mh_variant_plugin:Reverse", ENTRY_POINT_GROUP), "clashes"),
    (EntryPoint("nameless", "mh_variant_plugin:Nameless", ENTRY_POINT_GROUP), "not a variant"),
    (EntryPoint("other", "mh_variant_plugin:Reverse", ENTRY_POINT_GROUP), "name == 'other'"),
    (EntryPoint("gone", "mh_no_such_module:Thing", ENTRY_POINT_GROUP), "does not load"),
])
def test_a_bad_plugin_is_refused_with_a_reason(
    entry: EntryPoint, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mh_variant_plugin.py").write_text(PLUGIN, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    _plugin_entry_points(monkeypatch, entry)
    with pytest.raises(ConfigError, match=re.escape(message)):
        registry()


@pytest.mark.usefixtures("fresh_registry")
def test_builtins_load_without_distribution_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    _plugin_entry_points(monkeypatch)
    assert set(registry()) == set(BUILTINS)


# --- what each family does -------------------------------------------------------------------


def _apply(name: str, text: str, seed: int = 11) -> str:
    derived = get(name).apply(text, seed, PARENT)
    assert derived.text is not None
    return derived.text


@pytest.mark.parametrize(("name", "applies", "does_not_apply"), [
    ("homoglyph", LATIN_CANARIES[0], ZH_CANARIES[0]),
    ("fullwidth", LATIN_CANARIES[0], ZH_CANARIES[0]),
    ("case", LATIN_CANARIES[0], ZH_CANARIES[0]),
    ("digit_styles", "room 101", LATIN_CANARIES[0]),
    ("traditional", ZH_CANARIES[0], LATIN_CANARIES[0]),
    ("pinyin", ZH_CANARIES[0], LATIN_CANARIES[0]),
    ("pinyin_initials", ZH_CANARIES[0], LATIN_CANARIES[0]),
    ("homophone", ZH_CANARIES[0], LATIN_CANARIES[0]),
    ("split_chars", ZH_CANARIES[0], "乙"),
    ("zero_width", "ab", "a"),
    ("split_fields", "ab", "a"),
])
def test_applies_rules(name: str, applies: str, does_not_apply: str) -> None:
    assert get(name).applies(applies)
    assert not get(name).applies(does_not_apply)


def test_folding_families_are_undone_by_nfkc_and_case_folding() -> None:
    for seed in range(20):
        for text in (*LATIN_CANARIES, "电话2024 abc"):
            assert unicodedata.normalize("NFKC", _apply("fullwidth", text, seed)) == text
            assert _apply("case", text, seed).casefold() == text.casefold()
        styled = unicodedata.normalize("NFKC", _apply("digit_styles", "0123456789", seed))
        assert styled.replace("(", "").replace(")", "") == "0123456789"


@pytest.mark.parametrize(("name", "removed"), [
    ("zero_width", "[\u200b\u200c\u200d\u2060\ufeff]"),
    ("spacing", r"[ .·\-_*/|、，~]"),
    ("emoji_interleave", "[😀🔥✨🌸🎉💡🍀⭐🐱🌈👍🎵]"),
])
def test_inserting_families_only_insert(name: str, removed: str) -> None:
    for seed in range(20):
        for text in CANARIES:
            assert re.sub(removed, "", _apply(name, text, seed)) == re.sub(removed, "", text)


def test_homoglyph_uses_only_confusables_and_keeps_chinese() -> None:
    lookalikes = {ch for found in confusables().values() for ch in found}
    mixed = f"{ZH_CANARIES[0]}{LATIN_CANARIES[0]}"
    for seed in range(20):
        out = _apply("homoglyph", mixed, seed)
        assert out.startswith(ZH_CANARIES[0])
        changed = [(a, b) for a, b in zip(mixed, out, strict=True) if a != b]
        assert changed
        assert all(b in lookalikes and b in confusables()[a] for a, b in changed)


def test_repeat_only_repeats() -> None:
    for seed in range(20):
        for text in CANARIES:
            out = _apply("repeat", text, seed)
            assert re.sub(r"(.)\1+", r"\1", out) == re.sub(r"(.)\1+", r"\1", text)
            assert len(out) > len(text)


def test_split_fields_gives_two_parts_shown_together() -> None:
    for seed in range(20):
        for text in CANARIES:
            derived = get("split_fields").apply(text, seed, PARENT)
            assert len(derived.parts) == 2
            assert all(derived.parts)
            assert "".join(derived.parts) == text
            assert derived.text == PARTS_JOINER.join(derived.parts)


def test_contact_embed_uses_reserved_names_only() -> None:
    for seed in range(40):
        out = _apply("contact_embed", ZH_CANARIES[0], seed)
        assert ZH_CANARIES[0] in out
        for domain in re.findall(r"[a-z0-9.-]+\.(?:com|org|net|invalid)\b", out):
            assert domain.endswith(("example.com", "example.org", "example.net", ".invalid"))
        for digits in re.findall(r"\d[\d -]{6,}\d", out):
            assert "555" in digits


def test_traditional_round_trips_through_opencc() -> None:
    from opencc import OpenCC

    back = OpenCC("t2s")
    for text in ZH_CANARIES:
        out = _apply("traditional", text)
        assert out != text
        assert back.convert(out) == text


def test_pinyin_families_leave_no_chinese_characters() -> None:
    for seed in range(10):
        assert re.fullmatch(r"[a-zāáǎàēéěèīíǐìōóǒòūúǔùüǖǘǚǜ1-5' ]+",
                            _apply("pinyin", ZH_CANARIES[0], seed))
    assert {_apply("pinyin_initials", ZH_CANARIES[0], seed) for seed in range(10)} <= {
        "shjsqj", "SHJSQJ"}


def test_homophone_always_changes_chinese_and_keeps_the_sound() -> None:
    from pypinyin import lazy_pinyin

    texts = (*ZH_CANARIES, "今天天气很好", "我们去公园散步", "中")
    for seed in range(30):
        for text in texts:
            out = _apply("homophone", text, seed)
            assert out != text
            assert len(out) == len(text)
            for before, after in zip(text, out, strict=True):
                if before != after:
                    assert lazy_pinyin(after) == lazy_pinyin(before) or after in text


def test_split_chars_writes_the_components() -> None:
    outputs = {_apply("split_chars", "审核雀", seed) for seed in range(30)}
    assert "宀申木亥小隹" in outputs
    assert all(out != "审核雀" for out in outputs)


# --- images ----------------------------------------------------------------------------------


def _decode_qr(png: bytes) -> list[str]:
    import zxingcpp
    from PIL import Image

    return [result.text for result in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def test_qr_code_decodes_to_the_text() -> None:
    for text in CANARIES:
        assert _decode_qr(get("qr_code").apply(text, 1, PARENT).image or b"") == [text]
    composed = get("traditional+qr_code").apply(ZH_CANARIES[0], 1, PARENT)
    assert _decode_qr(composed.image or b"") == [_apply("traditional", ZH_CANARIES[0])]


def test_image_text_is_a_png_that_decodes() -> None:
    from PIL import Image

    for text in (*CANARIES, "第一行\nsecond line", "长" * 80):
        image = Image.open(io.BytesIO(get("image_text").apply(text, 2, PARENT).image or b""))
        assert image.format == "PNG"
        assert image.width > 100
        assert image.height > 50
    first = get("image_text").apply(CANARIES[0], 2, PARENT).image
    assert first != get("image_text").apply(CANARIES[0], 3, PARENT).image


def _tesseract_reads(png: bytes) -> str:
    out = subprocess.run(["tesseract", "stdin", "stdout", "-l", "chi_sim+eng", "--psm", "6"],
                         input=png, capture_output=True, check=True, timeout=60).stdout
    return re.sub(r"[\W_]+", "", out.decode("utf-8")).casefold()


def _has_chinese_ocr() -> bool:
    if shutil.which("tesseract") is None:
        return False
    langs = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True,
                           check=False).stdout.split()
    return "chi_sim" in langs and "eng" in langs


@pytest.mark.skipif(not _has_chinese_ocr(), reason="tesseract with chi_sim and eng is not "
                    "installed (Debian: apt-get install tesseract-ocr tesseract-ocr-chi-sim)")
@pytest.mark.parametrize("text", [ZH_CANARIES[0], LATIN_CANARIES[0]])
def test_image_text_stays_readable_by_ocr_most_of_the_time(text: str) -> None:
    """One plain tesseract pass reads the term (punctuation aside) in most seeded images."""
    seeds = range(10)
    read = sum(re.sub(r"[\W_]+", "", text).casefold()
               in _tesseract_reads(get("image_text").apply(text, seed, PARENT).image or b"")
               for seed in seeds)
    assert read > len(seeds) // 2, f"tesseract read {text!r} in only {read}/{len(seeds)} images"


# --- scale -----------------------------------------------------------------------------------


def test_generating_ten_thousand_text_variant_cases_works() -> None:
    """A smoke run at scale (timings belong in bench/, not here)."""
    made = []
    seed = 0
    while len(made) < 10_000:
        for name in TEXT_NAMES:
            variant = registry()[name]
            for text in SAMPLES:
                if variant.applies(text) and len(made) < 10_000:
                    made.append(variant.apply(text, seed, f"case-{seed}"))
        seed += 1
    assert len(made) == 10_000
    assert all(d.text is not None and d.parent.startswith("case-") for d in made)
