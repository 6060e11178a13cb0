"""Appeals (Comment Provisions Art. 13): an author's removed items, and appeals of removals.

The `no-appeal` fault takes the whole path away: the endpoints and pages are 404 and the
removed items carry no appeal link.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from reference_site.audit import RequestContext
from reference_site.db import Row
from reference_site.errors import Conflict, Forbidden, NotFound
from reference_site.faults import Fault
from reference_site.service.common import (
    LIST_LIMIT,
    REASON_MAX,
    Core,
    User,
    acting,
    choice_field,
    int_field,
    limit,
    logged_in,
    text_field,
    timestamp,
)
from reference_site.service.targets import TARGET_TABLES

# Authored items whose removal the author can appeal: target type -> the author column.
APPEAL_AUTHORS = {"post": "author_id", "comment": "author_id", "group_message": "sender_id"}
EXCERPT_MAX = 200
_VIEW_FIELDS = ("appeal_id", "status", "target_type", "target_id", "reason", "created_at",
                "updated_at")


def _appeal_view(row: Row) -> dict[str, Any]:
    return {key: row[key] for key in _VIEW_FIELDS}


class Appeals:
    """Removed items as their authors see them, and the appeals they file."""

    def __init__(self, core: Core) -> None:
        self.core = core

    @property
    def offered(self) -> bool:
        """Whether the site has an appeal path (the `no-appeal` fault takes it away)."""
        return Fault.NO_APPEAL not in self.core.faults

    def _offered_only(self) -> None:
        if not self.offered:
            raise NotFound("no such page")

    def disposals(self, actor: User | None) -> list[dict[str, Any]]:
        """The caller's removed posts, comments and group messages, newest removal first.

        Each comes with its appeal path (`appeal: null` when the site offers none).
        """
        actor = logged_in(actor)
        found = []
        for target_type, author in APPEAL_AUTHORS.items():
            table = TARGET_TABLES[target_type][0]
            extra = ", forward_of" if table == "posts" else ""
            rows = self.core.db.all(
                f"SELECT id, text, updated_at{extra} FROM {table}"
                f" WHERE {author} = ? AND removed = 1 ORDER BY updated_at DESC LIMIT ?",
                (actor.id, LIST_LIMIT),
            )
            for row in rows:
                surface = target_type
                if table == "posts" and row["forward_of"] is not None:
                    surface = "forward"
                found.append({
                    "target_type": target_type,
                    "target_id": row["id"],
                    "surface": surface,
                    "text": row["text"][:EXCERPT_MAX],
                    "removed_at": row["updated_at"],
                    "appeal": self._appeal_link(actor, target_type, row["id"]),
                })
        return sorted(found, key=lambda item: item["removed_at"], reverse=True)

    def _appeal_link(self, actor: User, target_type: str, target_id: int) -> dict | None:
        if not self.offered:
            return None
        appeal_id = self.core.db.scalar(
            "SELECT appeal_id FROM appeals WHERE author_id = ? AND target_type = ?"
            " AND target_id = ? ORDER BY created_at DESC LIMIT 1",
            (actor.id, target_type, target_id),
        )
        return {
            "url": f"/appeal?target_type={target_type}&target_id={target_id}",
            "appeal_id": appeal_id,
        }

    def own_removed_comments(self, actor: User | None, post_id: int) -> list[dict[str, Any]]:
        """The viewer's own removed comments under a post (shown to them as placeholders)."""
        if actor is None:
            return []
        rows = self.core.db.all(
            "SELECT id, post_id, created_at FROM comments"
            " WHERE post_id = ? AND author_id = ? AND removed = 1 ORDER BY id",
            (post_id, actor.id),
        )
        return [{**dict(row), "removed": True,
                 "appeal": self._appeal_link(actor, "comment", row["id"])} for row in rows]

    def create_appeal(
        self, ctx: RequestContext, actor: User | None, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Appeal the removal of one's own post, comment or group message."""
        with self.core.audit.action(ctx, "appeal.create") as act:
            self._offered_only()
            user = acting(act, actor)
            target_type = choice_field(payload, "target_type", APPEAL_AUTHORS)
            target_id = int_field(payload, "target_id")
            reason = text_field(payload, "reason")
            limit("reason", reason, REASON_MAX)
            act.content(None, reason)
            act.target(target_id)
            table, author = TARGET_TABLES[target_type][0], APPEAL_AUTHORS[target_type]
            row = self.core.db.found(
                f"SELECT {author} AS author_id, removed FROM {table} WHERE id = ?", (target_id,),
                f"no {target_type} {target_id}",
            )
            if row["author_id"] != user.id:
                raise Forbidden("only the author of an item can appeal its removal")
            if not row["removed"]:
                raise Conflict(
                    f"{target_type} {target_id} has not been removed; there is nothing to appeal",
                    code="not_removed",
                )
            now = timestamp()
            appeal_id = f"APL-{secrets.token_hex(6).upper()}"
            self.core.db.insert("appeals", {
                "appeal_id": appeal_id, "author_id": user.id, "target_type": target_type,
                "target_id": target_id, "reason": reason, "status": "received",
                "created_at": now, "updated_at": now,
            })
            act.target(appeal_id)
            return _appeal_view(self._appeal_row(appeal_id))

    def _appeal_row(self, appeal_id: str) -> Row:
        return self.core.db.found(
            "SELECT * FROM appeals WHERE appeal_id = ?", (appeal_id,), f"no appeal {appeal_id}"
        )

    def appeal(self, actor: User | None, appeal_id: str) -> dict[str, Any]:
        """An appeal's status, for the author who filed it."""
        self._offered_only()
        actor = logged_in(actor)
        row = self._appeal_row(appeal_id)
        if row["author_id"] != actor.id:
            raise Forbidden("only the author can see this appeal")
        return _appeal_view(row)

    def appeal_queue(self, admin_token: str | None) -> list[dict[str, Any]]:
        """The moderator's list of appeals, oldest first."""
        self._offered_only()
        self.core.require_admin(admin_token)
        rows = self.core.db.all("SELECT * FROM appeals ORDER BY created_at")
        return [{**_appeal_view(row), "author_id": row["author_id"]} for row in rows]
