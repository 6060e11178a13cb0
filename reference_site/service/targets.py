"""The objects reports, removals and appeals are about: finding one, judging it, taking it down.

A target is named by its type (`post`, `comment`, `user`, `group`, `group_message`) and id.
"""

from __future__ import annotations

import sqlite3

from reference_site.db import Row, update_row
from reference_site.errors import ModerationUnavailable
from reference_site.images import ImageError, OcrError, decode_image
from reference_site.service.common import Core, timestamp

REPORT_TARGET_TYPES = ("post", "comment", "user", "group", "group_message")
# target type -> (table, the column that is 1 once the object is taken down)
TARGET_TABLES = {
    "post": ("posts", "removed"),
    "comment": ("comments", "removed"),
    "user": ("users", "banned"),
    "group": ("chat_groups", "removed"),
    "group_message": ("group_messages", "removed"),
}
# The columns the desk checks per target type (text columns, image column); the rest: text.
DESK_FIELDS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "user": (("account_name", "nickname", "bio"), "avatar_sha256"),
    "group": (("name", "intro"), "logo_sha256"),
}
# Target types that are a surface of their own (a post is `post` or `forward`; see find()).
_OWN_SURFACE = ("comment", "group_message")


class Targets:
    """Lookup, moderation and removal of reportable objects."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def find(
        self, target_type: str, target_id: int, *, removed_too: bool = False
    ) -> tuple[str | None, Row]:
        """A reportable object (visible ones only, unless `removed_too`) and its surface."""
        table, gone = TARGET_TABLES[target_type]
        hidden = "" if removed_too else f" AND {gone} = 0"
        row = self.core.db.found(
            f"SELECT * FROM {table} WHERE id = ?{hidden}", (target_id,),
            f"no {target_type} {target_id}",
        )
        if target_type == "post":
            return ("forward" if row["forward_of"] is not None else "post"), row
        return (target_type if target_type in _OWN_SURFACE else None), row

    def violation(self, target_type: str, target: Row) -> str | None:
        """What the moderation engine finds prohibited in an item's text or image, or None."""
        moderator = self.core.moderator
        texts, image = DESK_FIELDS.get(target_type, (("text",), None))
        for column in texts:
            verdict = moderator.check_text(target[column])
            if not verdict.allowed:
                return verdict.detail
        sha = target[image] if image else None
        if sha is None:
            return None
        data = self.core.db.scalar("SELECT data FROM media WHERE sha256 = ?", (sha,))
        try:
            verdict = moderator.check_image(decode_image(data))
        except (ImageError, OcrError) as exc:
            raise ModerationUnavailable(f"the image {sha} could not be checked: {exc}") from exc
        return None if verdict.allowed else verdict.detail

    @staticmethod
    def take_down(conn: sqlite3.Connection, target_type: str, target_id: int) -> None:
        """Remove a reported object everywhere it shows (forwards show it as removed)."""
        now = timestamp()
        if target_type == "user":
            # Reset the profile and close the account; '[...]' cannot be registered, so the
            # placeholder name never clashes with a real one.
            placeholder = f"[removed-{target_id}]"
            update_row(conn, "users", target_id, {
                "account_name": placeholder, "account_key": placeholder,
                "nickname": placeholder, "bio": "", "avatar_sha256": None, "banned": 1,
                "updated_at": now,
            })
            conn.execute("DELETE FROM credentials WHERE user_id = ?", (target_id,))
            return
        table, _gone = TARGET_TABLES[target_type]
        update_row(conn, table, target_id, {"removed": 1, "updated_at": now})
