"""Groups (name, introduction, logo, membership) and the messages their members exchange."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reference_site.audit import RequestContext
from reference_site.db import Row, insert_row
from reference_site.errors import Forbidden, NotFound
from reference_site.service.common import (
    GROUP_INTRO_MAX,
    GROUP_NAME_MAX,
    LIST_LIMIT,
    MESSAGE_MAX,
    Core,
    User,
    acting,
    limit,
    logged_in,
    only_fields,
    text_field,
    timestamp,
)
from reference_site.service.screening import Screening

_MESSAGE_SELECT = (
    "SELECT m.*, u.account_name, u.nickname FROM group_messages m"
    " JOIN users u ON u.id = m.sender_id"
)
# Group form field -> the surface it is.
_GROUP_SURFACES = {"name": "group_name", "intro": "group_intro"}


def _message_view(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "group_id": row["group_id"],
        "sender_id": row["sender_id"],
        "sender_account_name": row["account_name"],
        "sender_nickname": row["nickname"],
        "text": row["text"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


class Groups:
    """Groups and group messages."""

    def __init__(self, core: Core, screening: Screening) -> None:
        self.core = core
        self.screening = screening

    # --- groups -------------------------------------------------------------------------------

    def group_row(self, group_id: int) -> Row:
        """A visible group's row, or NotFound."""
        return self.core.db.found(
            "SELECT * FROM chat_groups WHERE id = ? AND removed = 0", (group_id,),
            f"no group {group_id}",
        )

    def group(self, group_id: int) -> dict[str, Any]:
        """A group's public card."""
        return self.group_view(self.group_row(group_id))

    def group_view(self, row: Row) -> dict[str, Any]:
        """The public card of a group row."""
        members = self.core.db.scalar(
            "SELECT COUNT(*) FROM memberships WHERE group_id = ?", (row["id"],)
        )
        return {
            "id": row["id"],
            "name": row["name"],
            "intro": row["intro"],
            "logo_url": self.screening.media_url(row["logo_sha256"]),
            "owner_id": row["owner_id"],
            "member_count": members,
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
        }

    def groups(self) -> list[dict[str, Any]]:
        """The newest groups."""
        rows = self.core.db.all(
            "SELECT * FROM chat_groups WHERE removed = 0 ORDER BY id DESC LIMIT ?", (LIST_LIMIT,)
        )
        return [self.group_view(row) for row in rows]

    def is_member(self, user: User | None, group_id: int) -> bool:
        """Whether `user` belongs to the group (owners always do)."""
        return user is not None and self.core.db.one(
            "SELECT 1 FROM memberships WHERE group_id = ? AND user_id = ?", (group_id, user.id)
        ) is not None

    def create_group(
        self, ctx: RequestContext, actor: User | None, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Create a group owned (and joined) by the actor."""
        with self.core.audit.action(ctx, "group.create") as act:
            user = acting(act, actor)
            name = text_field(payload, "name")
            intro = text_field(payload, "intro", required=False, allow_empty=True)
            act.content("group_name", name)
            if intro is not None:
                act.content("group_intro", intro)
            intro = intro or ""
            self.screening.text("group_name", name)
            self.screening.text("group_intro", intro)
            limit("name", name, GROUP_NAME_MAX)
            limit("intro", intro, GROUP_INTRO_MAX)
            group_id = self.insert_group(user, name, intro)
            act.target(group_id)
            return self.group(group_id)

    def insert_group(self, user: User, name: str, intro: str) -> int:
        """Store a group owned and joined by `user`, unchecked; return its id."""
        now = timestamp()
        with self.core.db.transaction() as conn:
            group_id = insert_row(conn, "chat_groups", {
                "name": name, "intro": intro, "owner_id": user.id,
                "created_at": now, "updated_at": now,
            })
            insert_row(conn, "memberships",
                       {"group_id": group_id, "user_id": user.id, "joined_at": now})
        return group_id

    def _owned_group(self, user: User, group_id: int) -> Row:
        row = self.group_row(group_id)
        if row["owner_id"] != user.id:
            raise Forbidden("only the group owner can change the group")
        return row

    def update_group(
        self, ctx: RequestContext, actor: User | None, group_id: int, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Change a group's name and/or introduction (owner only)."""
        with self.core.audit.action(ctx, "group.update") as act:
            user = acting(act, actor)
            act.target(group_id)
            fields = only_fields(payload, ("name", "intro"))
            values = {name: text_field(payload, name, allow_empty=name == "intro")
                      for name in fields}
            for name in fields:
                act.content(_GROUP_SURFACES[name], values[name])
            self._owned_group(user, group_id)
            for name in fields:
                self.screening.text(_GROUP_SURFACES[name], values[name], editing=True)
            limit("name", values.get("name", ""), GROUP_NAME_MAX)
            limit("intro", values.get("intro", ""), GROUP_INTRO_MAX)
            self.core.db.update("chat_groups", group_id, {**values, "updated_at": timestamp()})
            return self.group(group_id)

    def upload_logo(
        self, ctx: RequestContext, actor: User | None, group_id: int, data: bytes | None
    ) -> dict[str, Any]:
        """Set a group's logo (owner only; checked by OCR and QR decoding)."""
        with self.core.audit.action(ctx, "group.logo") as act:
            user = acting(act, actor)
            act.target(group_id)
            self._owned_group(user, group_id)
            sha, _ext = self.screening.image(act, "group_logo", data)
            self.core.db.update(
                "chat_groups", group_id, {"logo_sha256": sha, "updated_at": timestamp()}
            )
            return self.group(group_id)

    def join_group(self, ctx: RequestContext, actor: User | None, group_id: int) -> dict[str, Any]:
        """Join a group (joining twice is harmless)."""
        with self.core.audit.action(ctx, "group.join") as act:
            user = acting(act, actor)
            act.target(group_id)
            self.group_row(group_id)
            self.join(user, group_id)
            return {"group_id": group_id, "member": True, **self.group(group_id)}

    def join(self, user: User, group_id: int) -> None:
        """Make `user` a member of the group (already being one is fine)."""
        self.core.db.insert(
            "memberships", {"group_id": group_id, "user_id": user.id, "joined_at": timestamp()},
            or_ignore=True,
        )

    def _member(self, user: User, group_id: int) -> Row:
        row = self.group_row(group_id)
        if not self.is_member(user, group_id):
            raise Forbidden("only group members can do this; join the group first")
        return row

    # --- group messages -----------------------------------------------------------------------

    def _message(self, message_id: int) -> dict[str, Any]:
        return _message_view(self.core.db.found(
            f"{_MESSAGE_SELECT} WHERE m.id = ? AND m.removed = 0", (message_id,),
            f"no message {message_id}",
        ))

    def messages(self, actor: User | None, group_id: int) -> list[dict[str, Any]]:
        """A group's messages, oldest first, for members only."""
        self._member(logged_in(actor), group_id)
        rows = self.core.db.all(
            f"{_MESSAGE_SELECT} WHERE m.group_id = ? AND m.removed = 0"
            " ORDER BY m.id DESC LIMIT 200",
            (group_id,),
        )
        return [_message_view(row) for row in reversed(rows)]

    def send_message(
        self, ctx: RequestContext, actor: User | None, group_id: int, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Post a message to a group (members only)."""
        with self.core.audit.action(ctx, "group_message.create") as act:
            user = acting(act, actor)
            text = text_field(payload, "text")
            act.content("group_message", text)
            self._member(user, group_id)
            self.screening.text("group_message", text)
            limit("text", text, MESSAGE_MAX)
            message_id = self.insert_message(user, group_id, text)
            act.target(message_id)
            return self._message(message_id)

    def insert_message(self, user: User, group_id: int, text: str) -> int:
        """Store a group message from `user`, unchecked; return its id."""
        now = timestamp()
        return self.core.db.insert("group_messages", {
            "group_id": group_id, "sender_id": user.id, "text": text,
            "created_at": now, "updated_at": now,
        })

    def edit_message(
        self,
        ctx: RequestContext,
        actor: User | None,
        group_id: int,
        message_id: int,
        payload: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Edit one's own group message."""
        with self.core.audit.action(ctx, "group_message.edit") as act:
            user = acting(act, actor)
            act.target(message_id)
            text = text_field(payload, "text")
            act.content("group_message", text)
            message = self._message(message_id)
            if message["group_id"] != group_id:
                raise NotFound(f"no message {message_id} in group {group_id}")
            if message["sender_id"] != user.id:
                raise Forbidden("only the sender can edit a message")
            self.screening.text("group_message", text, editing=True)
            limit("text", text, MESSAGE_MAX)
            self.core.db.update(
                "group_messages", message_id, {"text": text, "updated_at": timestamp()}
            )
            return self._message(message_id)
