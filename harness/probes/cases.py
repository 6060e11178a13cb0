"""Cases: one probe on one surface in one mode, with everything a target needs to submit it.

Case identity (surface, mode, probe) is fixed at collection time so that parallel workers collect
the same tests; the content is derived from the run seed when the case runs.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from harness.probes import images
from harness.probes.benign import benign_text
from harness.probes.canaries import lexicon
from harness.probes.corpora import Corpus, Row

if TYPE_CHECKING:
    from harness.targets.accounts import Naming

MODES = ("create", "edit")
IMAGE_SURFACES = ("avatar", "group_logo")
MUST_BLOCK = "must_block"
MUST_ALLOW = "must_allow"


@dataclass(frozen=True)
class Source:
    """Where a probe's text came from: one row of a corpus, pinned by the file's SHA-256."""

    corpus: str
    sha256: str
    row: str
    line: int

    def evidence(self) -> dict[str, object]:
        return {"corpus": self.corpus, "sha256": self.sha256, "row": self.row,
                "line": self.line}


@dataclass(frozen=True)
class ProbeSpec:
    """A probe a surface is tested with: the direct form of a canary, a row of an
    organisation's corpus (`text`, `category`, `source`), or a benign case."""

    id: str
    expect: str
    lang: str
    variant: str = "identity"
    canary: str | None = None
    text: str | None = None
    category: str | None = None
    source: Source | None = None


TEXT_PROBES = (
    ProbeSpec("canary-zh-a", MUST_BLOCK, "zh", canary="canary-zh-a"),
    ProbeSpec("canary-latin-a", MUST_BLOCK, "en", canary="canary-latin-a"),
    ProbeSpec("benign-zh", MUST_ALLOW, "zh"),
    ProbeSpec("benign-en", MUST_ALLOW, "en"),
)
IMAGE_PROBES = (
    ProbeSpec("image-text-canary-zh-a", MUST_BLOCK, "zh", "image_text", "canary-zh-a"),
    ProbeSpec("image-text-canary-latin-a", MUST_BLOCK, "en", "image_text", "canary-latin-a"),
    ProbeSpec("qr-canary-zh-b", MUST_BLOCK, "zh", "qr_code", "canary-zh-b"),
    ProbeSpec("image-text-benign-zh", MUST_ALLOW, "zh", "image_text"),
)


# Names are short on most services: corpus rows for them (and for the text drawn in probe
# images) are chosen among those of at most this many characters when there are any.
SHORT_SURFACES = ("account_name", "nickname", "remark", "group_name", *IMAGE_SURFACES)
SHORT_ROW = 32


def probes_for(surface: str, corpora: Sequence[Corpus] = ()) -> tuple[ProbeSpec, ...]:
    """The direct probes of a surface. Without an organisation corpus: the canaries that must
    be blocked and Faker's benign cases that must show. With one (see
    `harness.probes.corpora.organisation_corpora`): as many of its rows, chosen per surface
    (its `must_allow` rows for the benign probes, Faker's where it has none)."""
    canaries = IMAGE_PROBES if surface in IMAGE_SURFACES else TEXT_PROBES
    if not corpora:
        return canaries
    blocked = _pick(surface, corpora, MUST_BLOCK, sum(p.expect == MUST_BLOCK for p in canaries))
    if not blocked:
        return canaries  # the corpora have no must_block row: the canaries stay
    allowed = _pick(surface, corpora, MUST_ALLOW, sum(p.expect == MUST_ALLOW for p in canaries))
    if surface in IMAGE_SURFACES:
        variants = [p.variant for p in canaries if p.expect == MUST_BLOCK]
        # As many image probes as the canaries have: rows drawn again under another variant
        # where the corpora have fewer.
        drawn = {probe.id: probe for i, variant in enumerate(variants)
                 for probe in [_corpus_probe(*blocked[i % len(blocked)], variant)]}
        found = [*drawn.values()]
        found += [_corpus_probe(row, corpus, "image_text") for row, corpus in allowed]
        benign = [p for p in canaries if p.expect == MUST_ALLOW]
    else:
        found = [_corpus_probe(row, corpus) for row, corpus in (*blocked, *allowed)]
        benign = [p for p in canaries if p.expect == MUST_ALLOW]
    return (*found, *(benign if not allowed else ()))


def _pick(surface: str, corpora: Iterable[Corpus], expect: str,
          n: int) -> list[tuple[Row, Corpus]]:
    """Up to `n` rows of `expect` for a surface, in an order fixed by the surface and the
    files' pins (so every worker collects the same), other languages first taken in turn."""
    rows = [(row, corpus) for corpus in corpora for row in corpus.rows if row.expect == expect]
    if surface in SHORT_SURFACES and any(len(r.text) <= SHORT_ROW for r, _ in rows):
        rows = [(r, c) for r, c in rows if len(r.text) <= SHORT_ROW]
    rows.sort(key=lambda rc: hashlib.sha256(
        f"{surface}:{rc[1].sha256}:{rc[0].id}".encode()).digest())
    picked: list[tuple[Row, Corpus]] = []
    langs: set[str] = set()
    for row, corpus in rows:  # one per language first, then the rest in order
        if len(picked) < n and _row_lang(row) not in langs:
            picked.append((row, corpus))
            langs.add(_row_lang(row))
    picked += [rc for rc in rows if rc not in picked][:n - len(picked)]
    return picked


def _row_lang(row: Row) -> str:
    if row.lang:
        return row.lang.split("-")[0]
    return "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in row.text) else "en"


def _corpus_probe(row: Row, corpus: Corpus, variant: str = "identity") -> ProbeSpec:
    prefix = {"identity": "", "image_text": "image-text-", "qr_code": "qr-"}[variant]
    name = re.sub(r"[^A-Za-z0-9_.:-]+", "_", f"{corpus.name}:{row.id}")
    return ProbeSpec(f"{prefix}{name}", row.expect, _row_lang(row), variant, text=row.text,
                     category=row.category,
                     source=Source(corpus.name, corpus.sha256, row.id, row.line))


@dataclass(frozen=True)
class Case:
    """Concrete content for one (surface, mode, probe), ready to submit."""

    surface: str
    mode: str
    probe: ProbeSpec
    text: str
    tag: str
    original: str
    filler: str
    filler_name: str
    category: str | None = None
    term: str | None = None
    image: bytes | None = field(default=None, repr=False)
    original_image: bytes | None = field(default=None, repr=False)
    # What the probe image carries, to recognise it when a target re-encodes it: the text
    # drawn in it (one line per line drawn), or the payload of its QR code.
    image_text: str | None = None
    image_qr: str | None = None
    joiner: str = " "  # between the content and its tag
    # Why the site's naming rule cannot take this content; such a case is not sent (see
    # `for_naming`).
    unfit: str | None = None

    @property
    def case_id(self) -> str:
        return f"{self.surface}/{self.mode}/{self.probe.id}"

    @property
    def expect(self) -> str:
        return self.probe.expect

    @property
    def content_sha256(self) -> str:
        """SHA-256 of what is submitted (`payload`)."""
        return hashlib.sha256(self.payload).hexdigest()

    @property
    def payload(self) -> bytes:
        """What is submitted: the image bytes, or the UTF-8 text."""
        return self.image if self.image is not None else self.text.encode("utf-8")

    def for_naming(self, naming: Naming) -> Case:
        """The case as the site's naming rule lets it be sent on a name surface (account name,
        nickname; other surfaces are untouched). Benign content is cut, or stripped of the
        characters the rule refuses: it stays benign, and what is sent is what evidence
        keeps. Prohibited content is never changed into a different probe: when it cannot
        fit, the case is `unfit`, with the reason, and is not sent."""
        tail = f"{self.joiner}{self.tag}"
        problem = naming.refusal(self.surface, self.text)
        fitted = self
        if problem is not None:
            if self.expect == MUST_BLOCK:
                return replace(self, unfit=(
                    f"not sent: the prohibited {self.surface} {problem}, and the site's naming "
                    f"rule allows only {naming.describe(self.surface)}; cut or changed it would "
                    "be another probe"))
            text = naming.fit(self.surface, _name_forms(self.text.removesuffix(tail)), tail)
            if text is None:
                return replace(self, unfit=(
                    f"not sent: no benign {self.surface} ending in {tail!r} fits the site's "
                    f"naming rule ({naming.describe(self.surface)}); is the surface's `joiner` "
                    "one the rule allows?"))
            fitted = replace(self, text=text)
        if self.mode == "edit" and naming.refusal(self.surface, self.original) is not None:
            original = naming.fit(self.surface, _name_forms(
                self.original.removesuffix(f"{tail}o")), f"{tail}o")
            if original is None:
                return replace(fitted, unfit=(
                    f"not sent: no benign {self.surface} to edit from fits the site's naming "
                    f"rule ({naming.describe(self.surface)})"))
            fitted = replace(fitted, original=original)
        return fitted

    def for_upload(self, upload_format: str) -> Case:
        """The case with its images in `upload_format` (png, jpeg, webp): what is sent, and
        so what evidence keeps and what the audit record's content hash is compared with."""
        if self.image is None or upload_format == images.DEFAULT_UPLOAD_FORMAT:
            return self
        original = self.original_image
        return replace(self, image=images.convert(self.image, upload_format),
                       original_image=None if original is None
                       else images.convert(original, upload_format))

    def variables(self) -> dict[str, object]:
        """The case's template variables (see the profile format)."""
        return {
            "content": self.text,
            "image": self.image,
            "original": self.original,
            "original_image": self.original_image,
            "filler": self.filler,
            "filler_name": self.filler_name,
            "tag": self.tag,
        }

    def evidence(self) -> dict[str, object]:
        """What evidence records of the case (images are stored as artifacts, by hash)."""
        return {
            "case_id": self.case_id,
            "surface": self.surface,
            "mode": self.mode,
            "probe": self.probe.id,
            "variant": self.probe.variant,
            "expect": self.expect,
            "lang": self.probe.lang,
            "category": self.category,
            "content": self.text,
            "content_sha256": self.content_sha256,
            "tag": self.tag,
            **({"image_text": self.image_text} if self.image_text is not None else {}),
            **({"image_qr": self.image_qr} if self.image_qr is not None else {}),
            **({"source": self.probe.source.evidence()} if self.probe.source else {}),
        }


def build_case(surface: str, mode: str, probe: ProbeSpec, seed: int, joiner: str = " ") -> Case:
    """Make the case's content from its seed."""
    digest = hashlib.sha256(seed.to_bytes(8, "big")).digest()
    tag = base64.b32encode(digest[:5]).decode("ascii").lower()[:6]
    filler = benign_text("bio", probe.lang, seed + 1)
    filler_name = benign_text("group_name", probe.lang, seed + 4)
    original = benign_text(surface, probe.lang, seed + 2)
    if probe.text is not None:
        body, category = probe.text, probe.category
        term = probe.text if probe.expect == MUST_BLOCK else None
    elif probe.canary is not None:
        canary = lexicon()[probe.canary]
        term, category, body = canary.text, canary.category, canary.text
    else:
        term, category, body = None, None, benign_text(surface, probe.lang, seed)
    text = f"{body}{joiner}{tag}"
    if mode == "edit":
        original = f"{original}{joiner}{tag}o"
    image = original_image = image_text = image_qr = None
    if surface in IMAGE_SURFACES:
        if probe.variant == "qr_code":
            image, image_qr = images.qr_image(text), text
        else:
            image, image_text = images.text_image([body, tag]), f"{body}\n{tag}"
        original_image = images.text_image([benign_text("remark", probe.lang, seed + 3), tag + "o"])
    return Case(
        surface=surface, mode=mode, probe=probe, text=text, tag=tag, original=original,
        filler=filler, filler_name=filler_name, category=category, term=term, image=image,
        original_image=original_image, image_text=image_text, image_qr=image_qr,
        joiner=joiner,
    )


def _name_forms(body: str) -> tuple[str, ...]:
    """Benign text as a name may take it: as it is, without punctuation and spaces, ASCII
    letters and digits only, and lower case."""
    words = re.sub(r"[^\w]", "", body)
    ascii_ = re.sub(r"[^A-Za-z0-9]", "", body)
    return (body, words, ascii_, ascii_.lower())


def derive_case(surface: str, probe: ProbeSpec, body: str, seed: int, joiner: str = " ", *,
                category: str | None = None) -> Case:
    """A rate case: `body` (a canary, a corpus row or benign text) under the probe's variant
    family, followed by the case's tag (text families) or drawn as the probe image (image
    families). The variant keeps the probe's id as its parent.

    The case has no `term`: a transformed term is not the plain one, so observers look for the
    whole transformed text (see harness.observe.visibility)."""
    from harness.probes.variants import get  # noqa: PLC0415 (variant data loads on first use)

    derived = get(probe.variant).apply(body, seed, probe.id)
    plain = build_case(surface, "create", replace(probe, variant="identity"), seed, joiner)
    text = derived.text if derived.text is not None else body
    drawn = {"image": derived.image, "image_text": derived.shows,
             "image_qr": derived.payload} if derived.image is not None else {}
    return replace(plain, probe=probe, text=f"{text}{joiner}{plain.tag}", category=category,
                   term=None, **drawn)
