"""Moderator tools: planting items without the moderation check, taking items down, and
deleting an account with everything it made (how a test harness cleans up after itself)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reference_site.audit import RequestContext
from reference_site.service.accounts import Accounts
from reference_site.service.common import (
    REASON_MAX,
    Core,
    choice_field,
    int_field,
    limit,
    text_field,
)
from reference_site.service.content import Content
from reference_site.service.groups import Groups
from reference_site.service.targets import REPORT_TARGET_TYPES, TARGET_TABLES, Targets

# What a moderator can plant with POST /api/admin/seed, and the surface each one is.
SEED_SURFACES = {
    "post": "post",
    "comment": "comment",
    "forward": "forward",
    "group": "group_name",
    "group_message": "group_message",
}


class Admin:
    """What only the moderator token may do: seed and remove."""

    def __init__(
        self, core: Core, accounts: Accounts, groups: Groups, content: Content, targets: Targets
    ) -> None:
        self.core = core
        self.accounts = accounts
        self.groups = groups
        self.content = content
        self.targets = targets

    def seed(
        self, ctx: RequestContext, admin_token: str | None, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Store an item as if `author_id` wrote it, skipping the moderation check.

        For planting must-block content that a test then reports or removes; the audit record
        (decision `seeded`) names the moderator, the author and the content hash.
        """
        with self.core.audit.action(ctx, "admin.seed") as act:
            self.core.admin(act, admin_token)
            kind = choice_field(payload, "kind", SEED_SURFACES)
            author = self.accounts.user(int_field(payload, "author_id"))
            if kind == "group":
                text = text_field(payload, "name")
                intro = text_field(payload, "text", required=False, allow_empty=True) or ""
                if intro:
                    act.content("group_intro", intro)
            else:
                text = text_field(payload, "text", allow_empty=kind == "forward")
            act.content(SEED_SURFACES[kind], text)
            act.decision = "seeded"
            act.reason = f"planted as user {author.id}; moderation check skipped"
            if kind == "group":
                item_id = self.groups.insert_group(author, text, intro)
            elif kind == "group_message":
                group_id = int_field(payload, "group_id")
                self.groups.group_row(group_id)
                self.groups.join(author, group_id)
                item_id = self.groups.insert_message(author, group_id, text)
            elif kind == "comment":
                post_id = int_field(payload, "post_id")
                self.content.post(post_id)
                item_id = self.content.insert_comment(author, post_id, text)
            else:
                forward_of = None
                if kind == "forward":
                    forward_of = int_field(payload, "post_id")
                    self.content.post(forward_of)
                item_id = self.content.insert_post(author, text, forward_of)
            act.target(item_id)
            return {"id": item_id, "kind": kind}

    def remove(
        self, ctx: RequestContext, admin_token: str | None, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A moderator takes an item down everywhere it shows.

        Removing an item that is already down succeeds again (`already_removed: true`), so a
        cleanup can be repeated; only the first removal is audited with decision `removed`.
        """
        with self.core.audit.action(ctx, "admin.remove") as act:
            self.core.admin(act, admin_token)
            target_type = choice_field(payload, "target_type", REPORT_TARGET_TYPES)
            target_id = int_field(payload, "target_id")
            reason = text_field(payload, "reason", required=False, allow_empty=True) or ""
            limit("reason", reason, REASON_MAX)
            act.target(target_id)
            act.surface, row = self.targets.find(target_type, target_id, removed_too=True)
            already = bool(row[TARGET_TABLES[target_type][1]])
            act.reason = "already removed" if already else reason or None
            if not already:
                with self.core.db.transaction() as conn:
                    self.targets.take_down(conn, target_type, target_id)
                act.decision = "removed"
            return {"removed": True, "target_type": target_type, "target_id": target_id,
                    "already_removed": already}

    def delete_user(self, ctx: RequestContext, admin_token: str | None,
                    user_id: int) -> dict[str, Any]:
        """Delete an account for good with everything it made: its posts (and their forwards
        and comments), comments, groups (and their messages and members), messages, remarks,
        reports, appeals and sessions; images no one shows any more go too. The audit log is
        kept: deleting is audited like any moderator action. Deleting an account that is gone
        succeeds again (`deleted: false`), so a cleanup can be retried."""
        with self.core.audit.action(ctx, "admin.delete") as act:
            self.core.admin(act, admin_token)
            act.surface = "account_name"
            act.target(user_id)
            if self.core.db.one("SELECT id FROM users WHERE id = ?", (user_id,)) is None:
                act.reason = "already deleted"
                return {"deleted": False, "user_id": user_id}
            with self.core.db.transaction() as conn:
                posts = [row[0] for row in conn.execute(_DOOMED_POSTS, (user_id,))]
                images = [row[0] for row in conn.execute(_IMAGES, (user_id, user_id))]
                for statement in _DELETE_USER:
                    conn.execute(statement, {"user": user_id, "posts": json.dumps(posts),
                                             "images": json.dumps(images)})
            act.decision = "deleted"
            return {"deleted": True, "user_id": user_id}


# Deleting one account (:user) and what it made, children before parents (foreign keys hold):
# its posts and every forward of them, at any depth (:posts, a JSON list), its groups, and
# the images it showed that no one else shows (:images).
_DOOMED_POSTS = """WITH RECURSIVE doomed(id) AS (
    SELECT id FROM posts WHERE author_id = ?
    UNION SELECT posts.id FROM posts JOIN doomed ON posts.forward_of = doomed.id)
    SELECT id FROM doomed"""
_IMAGES = """SELECT avatar_sha256 FROM users WHERE id = ? AND avatar_sha256 IS NOT NULL
    UNION SELECT logo_sha256 FROM chat_groups WHERE owner_id = ? AND logo_sha256 IS NOT NULL"""
_POSTS = "SELECT value FROM json_each(:posts)"
_GROUPS = "SELECT id FROM chat_groups WHERE owner_id = :user"
_DELETE_USER = (
    f"DELETE FROM comments WHERE author_id = :user OR post_id IN ({_POSTS})",
    f"DELETE FROM posts WHERE id IN ({_POSTS})",
    f"DELETE FROM group_messages WHERE sender_id = :user OR group_id IN ({_GROUPS})",
    f"DELETE FROM memberships WHERE user_id = :user OR group_id IN ({_GROUPS})",
    "DELETE FROM chat_groups WHERE owner_id = :user",
    "DELETE FROM remarks WHERE owner_id = :user OR target_id = :user",
    "DELETE FROM reports WHERE reporter_id = :user",
    "DELETE FROM appeals WHERE author_id = :user",
    "DELETE FROM credentials WHERE user_id = :user",
    "DELETE FROM users WHERE id = :user",
    "DELETE FROM media WHERE sha256 IN (SELECT value FROM json_each(:images)) AND sha256 "
    "NOT IN (SELECT avatar_sha256 FROM users WHERE avatar_sha256 IS NOT NULL UNION "
    "SELECT logo_sha256 FROM chat_groups WHERE logo_sha256 IS NOT NULL)",
)
