"""Screening user content before it is stored, and the uploaded images it lets through.

Every text field and image goes through the moderation engine on creation and on every edit.
The surface faults switch one check off here, where the checks live; which fault switches off
which surface is the two tables below, keyed by members of the fault table.
"""

from __future__ import annotations

from reference_site.audit import Action
from reference_site.errors import (
    BadRequest,
    ContentRejected,
    ModerationUnavailable,
    NotFound,
    PayloadTooLarge,
    UnsupportedImageFormat,
)
from reference_site.faults import Fault
from reference_site.images import MAX_UPLOAD_BYTES, ImageError, OcrError, decode_image, reencoded
from reference_site.service.common import Core, timestamp

# Surfaces whose check a fault switches off for the site's own forms only (the API still checks):
# defects only a browser-driven assessment can see.
PAGE_UNCHECKED_BY_FAULT: dict[str, Fault] = {
    "bio": Fault.FORM_BIO_UNCHECKED,
    "avatar": Fault.FORM_AVATAR_UNCHECKED,
}

# Text surfaces whose check a fault switches off entirely (creation and edits).
UNCHECKED_BY_FAULT: dict[str, Fault] = {
    "account_name": Fault.UNFILTERED_ACCOUNT_NAME,
    "bio": Fault.UNFILTERED_BIO,
    "remark": Fault.UNFILTERED_REMARK,
    "group_name": Fault.UNFILTERED_GROUP_NAME,
    "group_intro": Fault.UNFILTERED_GROUP_INTRO,
    "post": Fault.UNFILTERED_POST,
    "forward": Fault.UNFILTERED_FORWARD,
    "group_message": Fault.UNFILTERED_GROUP_MESSAGE,
}

# Surfaces whose edits (not their first value) a fault leaves unchecked.
EDIT_UNCHECKED_BY_FAULT: dict[str, Fault] = {
    "nickname": Fault.NICKNAME_EDIT_UNCHECKED,
}


def has_cjk(text: str) -> bool:
    """Whether the text contains a CJK ideograph (used by the `overblock-comment` fault)."""
    return any(
        "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or ch >= "\U00020000"
        for ch in text
    )


def media_url(sha: str | None, ext: str = "png") -> str | None:
    """Where uploaded image bytes are served."""
    return None if sha is None else f"/media/{sha}.{ext}"


class Screening:
    """The moderation checks of user text and images, with the faults that skip them."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def _checks(self, surface: str, editing: bool, via_page: bool) -> bool:
        faults = self.core.faults
        if via_page and surface in PAGE_UNCHECKED_BY_FAULT and (
                PAGE_UNCHECKED_BY_FAULT[surface] in faults):
            return False
        if surface in EDIT_UNCHECKED_BY_FAULT:
            return not (editing and EDIT_UNCHECKED_BY_FAULT[surface] in faults)
        return surface not in UNCHECKED_BY_FAULT or UNCHECKED_BY_FAULT[surface] not in faults

    def text(self, surface: str, text: str, *, editing: bool = False,
             via_page: bool = False) -> None:
        """Refuse `text` for `surface` if it is prohibited (ContentRejected), else return."""
        if not self._checks(surface, editing, via_page):
            return
        if Fault.FILTER_FAILS_OPEN_UNDER_LOAD in self.core.faults and self.core.in_flight.busy:
            return
        if surface == "comment" and Fault.OVERBLOCK_COMMENT in self.core.faults and has_cjk(text):
            raise ContentRejected(surface, "a CJK character in a comment (overblock fault)")
        verdict = self.core.moderator.check_text(text)
        if not verdict.allowed:
            raise ContentRejected(surface, verdict.detail)

    def image(self, act: Action, surface: str, data: bytes | None,
              via_page: bool = False) -> tuple[str, str]:
        """Validate and check an uploaded image, store it, and return (sha256, extension)."""
        faults = self.core.faults
        if data is None:
            raise BadRequest("a file is required (multipart field 'file')", field="file")
        act.content(surface, data)
        if len(data) > MAX_UPLOAD_BYTES:
            raise PayloadTooLarge(f"images may be at most {MAX_UPLOAD_BYTES} bytes", field="file")
        try:
            image = decode_image(data)
        except ImageError as exc:
            raise BadRequest(str(exc), code="invalid_image", field="file") from exc
        if Fault.JPEG_ONLY_UPLOADS in faults and image.mime != "image/jpeg":
            raise UnsupportedImageFormat("only JPEG is allowed", field="file")
        if self._checks(surface, editing=False, via_page=via_page):
            ocr = not (surface == "avatar" and Fault.AVATAR_NO_OCR in faults)
            qr = not (surface == "group_logo" and Fault.LOGO_NO_QR in faults)
            try:
                verdict = self.core.moderator.check_image(image, ocr=ocr, qr=qr)
            except OcrError as exc:
                raise ModerationUnavailable(f"the image could not be checked: {exc}") from exc
            if not verdict.allowed:
                raise ContentRejected(surface, verdict.detail)
        sha = act.contents[surface]
        stored, mime, ext = data, image.mime, image.ext
        if Fault.REENCODE_UPLOADS in faults:
            stored, mime, ext = reencoded(image), "image/jpeg", "jpg"
        self.core.db.insert(
            "media",
            {"sha256": sha, "mime": mime, "ext": ext, "data": stored, "created_at": timestamp()},
            or_ignore=True,
        )
        return sha, ext

    def media_url(self, sha: str | None) -> str | None:
        """Where a stored image is served (its extension as stored), or None for no image."""
        if sha is None:
            return None
        ext = self.core.db.scalar("SELECT ext FROM media WHERE sha256 = ?", (sha,)) or "png"
        return media_url(sha, ext)

    def media(self, sha: str, ext: str) -> tuple[bytes, str]:
        """Image bytes, exactly as stored, while an avatar or logo still uses them."""
        db = self.core.db
        row = db.one("SELECT * FROM media WHERE sha256 = ? AND ext = ?", (sha, ext))
        in_use = row is not None and db.one(
            "SELECT 1 FROM users WHERE avatar_sha256 = ? AND banned = 0"
            " UNION SELECT 1 FROM chat_groups WHERE logo_sha256 = ? AND removed = 0",
            (sha, sha),
        )
        if not in_use:
            raise NotFound("no such image")
        return row["data"], row["mime"]
