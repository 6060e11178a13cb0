"""Faults the reference site can be started with, one per control it must be able to fail.

The detection matrix (tests/e2e) starts the site with one fault at a time and shows that the
harness turns exactly the named control red. The table below, the `Fault` enum, is the single
source: each member is the name a user passes to `--fault`, the control it breaks and what it
changes. Code asks `Fault.X in faults` (a `Faults`) where the behaviour lives; a misspelt member
is an AttributeError, and asking a `Faults` about a plain string is a TypeError, so no check
can be silently false.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from enum import Enum


class Fault(str, Enum):
    """One switchable defect: its `--fault` name (the value), the control it makes fail and
    the one behaviour it changes."""

    control: str
    description: str

    def __new__(cls, name: str, control: str, description: str) -> Fault:
        member = str.__new__(cls, name)
        member._value_ = name
        member.control = control
        member.description = description
        return member

    # Members print as their `--fault` name, on every supported Python.
    __str__ = str.__str__
    __format__ = str.__format__

    UNFILTERED_ACCOUNT_NAME = (
        "unfiltered-account-name",
        "A5.4-ACCOUNT_NAME", "account names are not checked, at registration or on change")
    NICKNAME_EDIT_UNCHECKED = (
        "nickname-edit-unchecked",
        "A5.4-NICKNAME", "nicknames are checked at registration but not when changed")
    UNFILTERED_BIO = (
        "unfiltered-bio", "A5.4-BIO", "profile introductions are not checked")
    UNFILTERED_REMARK = (
        "unfiltered-remark", "A5.4-REMARK", "remarks about other users are not checked")
    AVATAR_NO_OCR = (
        "avatar-no-ocr",
        "A5.4-AVATAR", "avatars are not OCR'd for text (QR codes are still decoded)")
    UNFILTERED_GROUP_NAME = (
        "unfiltered-group-name", "A5.4-GROUP_NAME", "group names are not checked")
    UNFILTERED_GROUP_INTRO = (
        "unfiltered-group-intro", "A5.4-GROUP_INTRO", "group introductions are not checked")
    LOGO_NO_QR = (
        "logo-no-qr",
        "A5.4-GROUP_LOGO", "group logos are not decoded for QR codes (OCR still runs)")
    UNFILTERED_POST = (
        "unfiltered-post", "A5.4-POST", "posts are not checked, when created or edited")
    OVERBLOCK_COMMENT = (
        "overblock-comment",
        "A5.4-COMMENT", "every comment containing a CJK character is refused as prohibited")
    UNFILTERED_FORWARD = (
        "unfiltered-forward", "A5.4-FORWARD", "the text added to a forward is not checked")
    UNFILTERED_GROUP_MESSAGE = (
        "unfiltered-group-message", "A5.4-GROUP_MESSAGE", "group messages are not checked")
    FORWARD_LEAK = (
        "forward-leak",
        "A5.4-PROPAGATION", "forwards keep showing the text of a removed original")
    AUDIT_NO_SOURCE_PORT = (
        "audit-no-source-port", "A5.3-LOG-FIELDS", "audit records store no source port")
    RECORDS_NOT_KEPT = (
        "records-not-kept",
        "A5.4-RECORDS", "refused writes are not audited (allowed ones still are)")
    SHORT_RETENTION = (
        "short-retention", "A5.4-RETENTION", "audit records are kept 30 days, not 180")
    FORM_BIO_UNCHECKED = (
        "form-bio-unchecked",
        "A5.4-BIO", "(browser only) the profile page's form skips the check of the "
        "introduction; the API still checks it")
    FORM_AVATAR_UNCHECKED = (
        "form-avatar-unchecked",
        "A5.4-AVATAR", "(browser only) the profile page's avatar upload skips the image "
        "check; the API still checks it")
    SKIP_NFKC = (
        "skip-nfkc",
        "A5.4-EVASION-FULLWIDTH", "text fields skip NFKC (full-width forms are not folded)")
    SKIP_CASEFOLD = (
        "skip-casefold", "A5.4-EVASION-CASE", "text fields skip case folding")
    SKIP_ZERO_WIDTH = (
        "skip-zero-width",
        "A5.4-EVASION-ZERO_WIDTH", "text fields keep zero-width characters")
    SKIP_SEPARATORS = (
        "skip-separators",
        "A5.4-EVASION-SPACING", "text fields keep spaces, punctuation and symbols")
    SKIP_CONFUSABLES = (
        "skip-confusables",
        "A5.4-EVASION-HOMOGLYPH", "text fields skip mapping Cyrillic/Greek look-alikes")
    SKIP_T2S = (
        "skip-t2s",
        "A5.4-EVASION-TRADITIONAL", "text fields skip traditional-to-simplified conversion")
    OVERBLOCK_FRAGMENTS = (
        "overblock-fragments",
        "A5.4-OVERBLOCK", "text fields also refuse pieces of terms: two adjacent characters of "
        "a Chinese term, a Latin word of five letters or more")
    NO_REPORT_CONTROL_COMMENT = (
        "no-report-control-comment",
        "A5.6-ENTRY-POINTS", "(browser only) comments render no report control; the API "
        "still takes reports on comments")
    RECEIPTS_NOT_STORED = (
        "receipts-not-stored",
        "A5.6-INTAKE", "reports (API and web form) get a ticket but nothing is stored: the "
        "lookup is 404 and the moderator queue stays empty")
    DUPLICATE_REPORTS_DROPPED = (
        "duplicate-reports-dropped",
        "A5.6-INTAKE", "a report of an item another account already reported gets a receipt "
        "but is not stored")
    SLOW_HANDLING = (
        "slow-handling",
        "A5.6-TIMELY", "the moderator desk decides reports only after 10 times the published "
        "limit (it acknowledges them on time)")
    NO_FEEDBACK = (
        "no-feedback",
        "A5.6-TIMELY", "reports are handled (content removed) but the reporter's views keep "
        "status in_review and no result")
    COMPLAINTS_UNLINKED = (
        "complaints-unlinked",
        "A5.6-PUBLISHED", "(browser only) no page links to /complaints (the page itself "
        "still exists)")
    COMPLAINT_FORM_BROKEN = (
        "complaint-form-broken",
        "A5.6-PUBLISHED", "(browser only) posting the /report web form fails with a 500 error "
        "page; the API still takes reports")
    NO_APPEAL = (
        "no-appeal",
        "A5.6-APPEAL", "no appeal path: the appeal endpoints and page are 404 and no page "
        "links to them")
    # Load only: correct while at most reference_site.load.BUSY_ABOVE requests are in flight.
    FILTER_FAILS_OPEN_UNDER_LOAD = (
        "filter-fails-open-under-load",
        "A5.4-UNDER-LOAD", "(load only) text is not checked while more than 8 requests are in "
        "flight: the filter fails open when the site is busy")
    REPORTS_DROPPED_WHEN_BUSY = (
        "reports-dropped-when-busy",
        "A5.6-INTAKE-UNDER-LOAD", "(load only) a report filed while more than 8 requests are "
        "in flight gets a receipt but is not stored")
    # Honest reads and refusals: moderation stays correct, but a read or a refusal says
    # nothing about it; the harness must say inconclusive, never pass.
    LOGIN_WALL_PROFILES = (
        "login-wall-profiles",
        "A5.4-BIO", "(inconclusive) anonymous visitors of a user's profile (the page, and the "
        "API's public profile read) are redirected (303/302) to the login page, served 200")
    JPEG_ONLY_UPLOADS = (
        "jpeg-only-uploads",
        "A5.4-AVATAR", "(inconclusive) avatar and group-logo uploads that are not JPEG are "
        "refused with 422 unsupported_image_format, \"only JPEG is allowed\" (validation, "
        "not moderation)")
    REENCODE_UPLOADS = (
        "reencode-uploads",
        "A5.4-AVATAR", "(tolerated) avatars and group logos are stored and served as 300x300 "
        "JPEGs (quality 80, padded to a square on white), not as uploaded; verdicts must not "
        "change")
    # Transport faults (transport.py): the wire misbehaves, moderation stays correct.
    FLAKY_5XX = (
        "flaky-5xx",
        "A5.4-POST", "(inconclusive) a seeded 1 in 4 of all requests is answered 503 before "
        "the site handles it")
    DROP_CONNECTIONS = (
        "drop-connections",
        "A5.4-POST", "(inconclusive) a seeded 1 in 4 of all requests has its connection "
        "closed without an answer")
    SLOW_RESPONSES = (
        "slow-responses",
        "A5.4-POST", "(tolerated) every answer comes 0.3 s late; verdicts must not change")
    SLOW_PAGE = (
        "slow-page",
        "A5.4-BIO", "(inconclusive) user profiles (API and page) answer after 20 s, past the "
        "harness's default read timeout")
    AUDIT_TIMEOUT = (
        "audit-timeout",
        "A5.4-RECORDS", "(inconclusive) the audit API hangs (300 s, or until the client "
        "gives up)")

# Name -> fault, in table order: what `--fault` accepts.
FAULTS: Mapping[str, Fault] = {fault.value: fault for fault in Fault}

# A description that starts with one of these marks a fault whose control does not fail.
# Under an INCONCLUSIVE fault the harness cannot observe (some of) the control's cases, so the
# control must come out inconclusive, never pass; a TOLERATED fault is one the harness must see
# through, with every verdict as on the clean site.
INCONCLUSIVE = "(inconclusive)"
TOLERATED = "(tolerated)"

# Faults that switch off one normalisation step (named as in moderation.STEPS) for user text.
# Text read from images always gets the full pipeline, so these faults touch no image control.
SKIPPED_STEPS: dict[Fault, str] = {
    Fault.SKIP_NFKC: "nfkc",
    Fault.SKIP_CASEFOLD: "casefold",
    Fault.SKIP_ZERO_WIDTH: "zero_width",
    Fault.SKIP_SEPARATORS: "separators",
    Fault.SKIP_CONFUSABLES: "confusables",
    Fault.SKIP_T2S: "t2s",
}


class UnknownFault(ValueError):
    """A fault name that is not in FAULTS."""


class Faults:
    """The faults one site runs with: ask `Fault.X in faults`.

    Only `Fault` members can be asked about; a plain string raises TypeError, so a check can
    never be silently false for a name that is not in the table. Iterates in table order.
    """

    __slots__ = ("_on",)

    def __init__(self, chosen: Iterable[Fault] = ()) -> None:
        on = frozenset(chosen)
        strays = [name for name in on if not isinstance(name, Fault)]
        if strays:
            raise TypeError(f"not Fault members: {strays!r}; use parse_faults for names")
        self._on = on

    def __contains__(self, fault: object) -> bool:
        if not isinstance(fault, Fault):
            raise TypeError(f"ask about a Fault member, not {fault!r}")
        return fault in self._on

    def __iter__(self) -> Iterator[Fault]:
        return (fault for fault in Fault if fault in self._on)

    def __len__(self) -> int:
        return len(self._on)

    def __repr__(self) -> str:
        return f"Faults({', '.join(self)})"


def parse_faults(names: Iterable[str]) -> Faults:
    """Validate fault names; raise UnknownFault naming the bad ones and listing the known ones."""
    chosen = frozenset(names)
    unknown = sorted(chosen - FAULTS.keys())
    if unknown:
        raise UnknownFault(
            f"unknown fault(s): {', '.join(unknown)}; known faults: {', '.join(FAULTS)}"
        )
    return Faults(FAULTS[name] for name in chosen)


def skipped_steps(faults: Iterable[Fault]) -> frozenset[str]:
    """The normalisation steps the given faults switch off for user text."""
    return frozenset(SKIPPED_STEPS[fault] for fault in faults if fault in SKIPPED_STEPS)


def describe() -> list[str]:
    """One line per fault, `NAME CONTROL-ID description`, for `--list-faults`."""
    return [f"{fault} {fault.control} {fault.description}" for fault in Fault]
