"""Faults the reference site can be started with, one per control it must be able to fail.

The detection matrix (tests/e2e) starts the site with one fault at a time and shows that the
harness turns exactly the named control red. Faults are data: the name a user passes to
`--fault`, the control it breaks and what it changes. Code asks `name in faults` where the
behaviour lives.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple


class Fault(NamedTuple):
    """One switchable defect: the control it makes fail and the one behaviour it changes."""

    control: str
    description: str


FAULTS: dict[str, Fault] = {
    "unfiltered-account-name": Fault(
        "A5.4-ACCOUNT_NAME", "account names are not checked, at registration or on change"),
    "nickname-edit-unchecked": Fault(
        "A5.4-NICKNAME", "nicknames are checked at registration but not when changed"),
    "unfiltered-bio": Fault("A5.4-BIO", "profile introductions are not checked"),
    "unfiltered-remark": Fault("A5.4-REMARK", "remarks about other users are not checked"),
    "avatar-no-ocr": Fault(
        "A5.4-AVATAR", "avatars are not OCR'd for text (QR codes are still decoded)"),
    "unfiltered-group-name": Fault("A5.4-GROUP_NAME", "group names are not checked"),
    "unfiltered-group-intro": Fault("A5.4-GROUP_INTRO", "group introductions are not checked"),
    "logo-no-qr": Fault(
        "A5.4-GROUP_LOGO", "group logos are not decoded for QR codes (OCR still runs)"),
    "unfiltered-post": Fault("A5.4-POST", "posts are not checked, when created or edited"),
    "overblock-comment": Fault(
        "A5.4-COMMENT", "every comment containing a CJK character is refused as prohibited"),
    "unfiltered-forward": Fault("A5.4-FORWARD", "the text added to a forward is not checked"),
    "unfiltered-group-message": Fault("A5.4-GROUP_MESSAGE", "group messages are not checked"),
    "forward-leak": Fault(
        "A5.4-PROPAGATION", "forwards keep showing the text of a removed original"),
    "audit-no-source-port": Fault("A5.3-LOG-FIELDS", "audit records store no source port"),
    "records-not-kept": Fault(
        "A5.4-RECORDS", "refused writes are not audited (allowed ones still are)"),
    "short-retention": Fault("A5.4-RETENTION", "audit records are kept 30 days, not 180"),
    "form-bio-unchecked": Fault(
        "A5.4-BIO", "(browser only) the profile page's form skips the check of the "
        "introduction; the API still checks it"),
    "form-avatar-unchecked": Fault(
        "A5.4-AVATAR", "(browser only) the profile page's avatar upload skips the image "
        "check; the API still checks it"),
    "skip-nfkc": Fault(
        "A5.4-EVASION-FULLWIDTH", "text fields skip NFKC (full-width forms are not folded)"),
    "skip-casefold": Fault("A5.4-EVASION-CASE", "text fields skip case folding"),
    "skip-zero-width": Fault(
        "A5.4-EVASION-ZERO_WIDTH", "text fields keep zero-width characters"),
    "skip-separators": Fault(
        "A5.4-EVASION-SPACING", "text fields keep spaces, punctuation and symbols"),
    "skip-confusables": Fault(
        "A5.4-EVASION-HOMOGLYPH", "text fields skip mapping Cyrillic/Greek look-alikes"),
    "skip-t2s": Fault(
        "A5.4-EVASION-TRADITIONAL", "text fields skip traditional-to-simplified conversion"),
    "overblock-fragments": Fault(
        "A5.4-OVERBLOCK", "text fields also refuse pieces of terms: two adjacent characters of "
        "a Chinese term, a Latin word of five letters or more"),
    "no-report-control-comment": Fault(
        "A5.6-ENTRY-POINTS", "(browser only) comments render no report control; the API "
        "still takes reports on comments"),
    "receipts-not-stored": Fault(
        "A5.6-INTAKE", "reports (API and web form) get a ticket but nothing is stored: the "
        "lookup is 404 and the moderator queue stays empty"),
    "duplicate-reports-dropped": Fault(
        "A5.6-INTAKE", "a report of an item another account already reported gets a receipt "
        "but is not stored"),
    "slow-handling": Fault(
        "A5.6-TIMELY", "the moderator desk decides reports only after 10 times the published "
        "limit (it acknowledges them on time)"),
    "no-feedback": Fault(
        "A5.6-TIMELY", "reports are handled (content removed) but the reporter's views keep "
        "status in_review and no result"),
    "complaints-unlinked": Fault(
        "A5.6-PUBLISHED", "(browser only) no page links to /complaints (the page itself "
        "still exists)"),
    "complaint-form-broken": Fault(
        "A5.6-PUBLISHED", "(browser only) posting the /report web form fails with a 500 error "
        "page; the API still takes reports"),
    "no-appeal": Fault(
        "A5.6-APPEAL", "no appeal path: the appeal endpoints and page are 404 and no page "
        "links to them"),
    # Honest reads and refusals: moderation stays correct, but a read or a refusal says
    # nothing about it; the harness must say inconclusive, never pass.
    "login-wall-profiles": Fault(
        "A5.4-BIO", "(inconclusive) anonymous visitors of a user's profile (the page, and the "
        "API's public profile read) are redirected (303/302) to the login page, served 200"),
    "jpeg-only-uploads": Fault(
        "A5.4-AVATAR", "(inconclusive) avatar and group-logo uploads that are not JPEG are "
        "refused with 422 unsupported_image_format, \"only JPEG is allowed\" (validation, "
        "not moderation)"),
    "reencode-uploads": Fault(
        "A5.4-AVATAR", "(tolerated) avatars and group logos are stored and served as 300x300 "
        "JPEGs (quality 80, padded to a square on white), not as uploaded; verdicts must not "
        "change"),
    # Transport faults (transport.py): the wire misbehaves, moderation stays correct.
    "flaky-5xx": Fault(
        "A5.4-POST", "(inconclusive) a seeded 1 in 4 of all requests is answered 503 before "
        "the site handles it"),
    "drop-connections": Fault(
        "A5.4-POST", "(inconclusive) a seeded 1 in 4 of all requests has its connection "
        "closed without an answer"),
    "slow-responses": Fault(
        "A5.4-POST", "(tolerated) every answer comes 0.3 s late; verdicts must not change"),
    "slow-page": Fault(
        "A5.4-BIO", "(inconclusive) user profiles (API and page) answer after 20 s, past the "
        "harness's default read timeout"),
    "audit-timeout": Fault(
        "A5.4-RECORDS", "(inconclusive) the audit API hangs (300 s, or until the client "
        "gives up)"),
}

# A description that starts with one of these marks a fault whose control does not fail.
# Under an INCONCLUSIVE fault the harness cannot observe (some of) the control's cases, so the
# control must come out inconclusive, never pass; a TOLERATED fault is one the harness must see
# through, with every verdict as on the clean site.
INCONCLUSIVE = "(inconclusive)"
TOLERATED = "(tolerated)"

# Faults that switch off one normalisation step (named as in moderation.STEPS) for user text.
# Text read from images always gets the full pipeline, so these faults touch no image control.
SKIPPED_STEPS: dict[str, str] = {
    "skip-nfkc": "nfkc",
    "skip-casefold": "casefold",
    "skip-zero-width": "zero_width",
    "skip-separators": "separators",
    "skip-confusables": "confusables",
    "skip-t2s": "t2s",
}


class UnknownFault(ValueError):
    """A fault name that is not in FAULTS."""


def parse_faults(names: Iterable[str]) -> frozenset[str]:
    """Validate fault names; raise UnknownFault naming the bad ones and listing the known ones."""
    chosen = frozenset(names)
    unknown = sorted(chosen - FAULTS.keys())
    if unknown:
        raise UnknownFault(
            f"unknown fault(s): {', '.join(unknown)}; known faults: {', '.join(FAULTS)}"
        )
    return chosen


def skipped_steps(faults: Iterable[str]) -> frozenset[str]:
    """The normalisation steps the given faults switch off for user text."""
    return frozenset(SKIPPED_STEPS[name] for name in faults if name in SKIPPED_STEPS)


def describe() -> list[str]:
    """One line per fault, `NAME CONTROL-ID description`, for `--list-faults`."""
    return [f"{name} {fault.control} {fault.description}" for name, fault in FAULTS.items()]
