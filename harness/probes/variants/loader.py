"""Finding variant families: built-ins and third-party ones through the same entry points.

Like wptrunner's products, the built-ins are listed in the `harness.variants` entry-point group of
this project's own `pyproject.toml`, so a plugin package registers a family exactly the way the
harness does. The same list is kept here as `BUILTINS` and loaded as `EntryPoint` objects too, so
a source checkout that was never installed (or was installed before the group existed) still has
every built-in; installed entry points are merged in, and one that would replace a built-in with
something else is refused.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from harness.errors import ConfigError
from harness.probes.variants.base import Composed, Variant

ENTRY_POINT_GROUP = "harness.variants"
_TEXT = "harness.probes.variants.text"
_CHINESE = "harness.probes.variants.chinese"
_IMAGE = "harness.probes.variants.image"
# name -> "module:Class", the same as [project.entry-points."harness.variants"] in pyproject.toml.
BUILTINS: dict[str, str] = {
    "identity": f"{_TEXT}:Identity",
    "fullwidth": f"{_TEXT}:Fullwidth",
    "case": f"{_TEXT}:Case",
    "zero_width": f"{_TEXT}:ZeroWidth",
    "spacing": f"{_TEXT}:Spacing",
    "homoglyph": f"{_TEXT}:Homoglyph",
    "digit_styles": f"{_TEXT}:DigitStyles",
    "repeat": f"{_TEXT}:Repeat",
    "emoji_interleave": f"{_TEXT}:EmojiInterleave",
    "split_fields": f"{_TEXT}:SplitFields",
    "contact_embed": f"{_TEXT}:ContactEmbed",
    "traditional": f"{_CHINESE}:Traditional",
    "pinyin": f"{_CHINESE}:Pinyin",
    "pinyin_initials": f"{_CHINESE}:PinyinInitials",
    "homophone": f"{_CHINESE}:Homophone",
    "split_chars": f"{_CHINESE}:SplitChars",
    "image_text": f"{_IMAGE}:ImageText",
    "qr_code": f"{_IMAGE}:QrCode",
}
_REQUIRED = ("name", "summary", "source", "kind", "apply", "applies")


@cache
def registry() -> dict[str, Variant]:
    """Every registered family by name: the built-ins, then entry points of other packages."""
    specs = {name: EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in BUILTINS.items()}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in BUILTINS and entry.value != BUILTINS[entry.name]:
            raise ConfigError(
                f"variant entry point {entry.name!r} = {entry.value!r} clashes with the "
                f"built-in family of that name ({BUILTINS[entry.name]}); rename it"
            )
        specs[entry.name] = entry
    return {name: _load(entry) for name, entry in specs.items()}


def _load(entry: EntryPoint) -> Variant:
    try:
        found = entry.load()
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"variant entry point {entry.name!r} = {entry.value!r} does not "
                          f"load: {exc}") from exc
    variant = found() if isinstance(found, type) else found
    missing = [attr for attr in _REQUIRED if not hasattr(variant, attr)]
    if missing or variant.name != entry.name:
        raise ConfigError(
            f"variant entry point {entry.name!r} = {entry.value!r} is not a variant family: "
            f"it needs the attributes {', '.join(_REQUIRED)} (missing: {missing or 'none'}) and "
            f"name == {entry.name!r} (has {getattr(variant, 'name', None)!r})"
        )
    return variant  # type: ignore[no-any-return]


def get(name: str) -> Variant:
    """The family called `name`; "a+b" composes families, applied left to right.

    Text families compose freely; a terminal family (an image, or split fields) may only come
    last, since nothing can transform its output further.
    """
    known = registry()
    steps = [part.strip() for part in name.split("+")]
    unknown = [step for step in steps if step not in known]
    if unknown:
        raise ConfigError(f"unknown variant family {', '.join(map(repr, unknown))} in "
                          f"{name!r}; known: {', '.join(sorted(known))}")
    if len(steps) == 1:
        return known[steps[0]]
    repeated = sorted({step for step in steps if steps.count(step) > 1})
    if repeated:
        # Each step is seeded alike, so a repeated family can undo itself (case+case).
        raise ConfigError(f"variant {name!r} repeats {', '.join(repeated)}; name each family "
                          "once")
    early = [step for step in steps[:-1] if known[step].terminal]
    if early:
        raise ConfigError(f"variant {name!r}: {', '.join(early)} must come last in a "
                          "composition (its output is an image or split fields, which no "
                          "later family can transform)")
    return Composed(tuple(known[step] for step in steps))
