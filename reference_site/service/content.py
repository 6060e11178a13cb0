"""Posts, forwards (a post that shows another) and comments: publishing, editing, reading."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reference_site.audit import RequestContext
from reference_site.db import Row
from reference_site.errors import Forbidden
from reference_site.faults import Fault
from reference_site.service.accounts import Accounts
from reference_site.service.common import (
    COMMENT_MAX,
    LIST_LIMIT,
    POST_MAX,
    Core,
    User,
    acting,
    limit,
    text_field,
    timestamp,
)
from reference_site.service.screening import Screening

POST_SELECT = (
    "SELECT p.*, u.account_name, u.nickname,"
    " s.text AS source_text, s.author_id AS source_author_id, s.removed AS source_removed,"
    " (SELECT COUNT(*) FROM comments c WHERE c.post_id = p.id AND c.removed = 0)"
    " AS comment_count"
    " FROM posts p JOIN users u ON u.id = p.author_id"
    " LEFT JOIN posts s ON s.id = p.forward_of"
)
_COMMENT_SELECT = (
    "SELECT c.*, u.account_name, u.nickname FROM comments c JOIN users u ON u.id = c.author_id"
)


def _comment_view(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "post_id": row["post_id"],
        "author_id": row["author_id"],
        "author_account_name": row["account_name"],
        "author_nickname": row["nickname"],
        "text": row["text"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


class Content:
    """Posts, forwards and comments."""

    def __init__(self, core: Core, accounts: Accounts, screening: Screening) -> None:
        self.core = core
        self.accounts = accounts
        self.screening = screening

    # --- posts and forwards -------------------------------------------------------------------

    def post_view(self, row: Row) -> dict[str, Any]:
        """A post row (selected with POST_SELECT) as readers see it."""
        forward_of = None
        if row["forward_of"] is not None:
            shown = not row["source_removed"] or Fault.FORWARD_LEAK in self.core.faults
            forward_of = {
                "id": row["forward_of"],
                "author_id": row["source_author_id"] if shown else None,
                "text": row["source_text"] if shown else None,
                "removed": not shown,
            }
        return {
            "id": row["id"],
            "author_id": row["author_id"],
            "author_account_name": row["account_name"],
            "author_nickname": row["nickname"],
            "text": row["text"],
            "forward_of": forward_of,
            "comment_count": row["comment_count"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
        }

    def post(self, post_id: int) -> dict[str, Any]:
        """One visible post (a forward also shows the forwarded post's text and id)."""
        return self.post_view(self.core.db.found(
            f"{POST_SELECT} WHERE p.id = ? AND p.removed = 0", (post_id,), f"no post {post_id}"
        ))

    def feed(self) -> list[dict[str, Any]]:
        """The latest posts, newest first."""
        rows = self.core.db.all(
            f"{POST_SELECT} WHERE p.removed = 0 ORDER BY p.id DESC LIMIT ?", (LIST_LIMIT,)
        )
        return [self.post_view(row) for row in rows]

    def user_posts(self, user_id: int) -> list[dict[str, Any]]:
        """A visible user's posts, newest first."""
        self.accounts.user(user_id)
        rows = self.core.db.all(
            f"{POST_SELECT} WHERE p.author_id = ? AND p.removed = 0"
            " ORDER BY p.id DESC LIMIT ?",
            (user_id, LIST_LIMIT),
        )
        return [self.post_view(row) for row in rows]

    def create_post(
        self, ctx: RequestContext, actor: User | None, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Publish a post."""
        with self.core.audit.action(ctx, "post.create") as act:
            user = acting(act, actor)
            text = text_field(payload, "text")
            act.content("post", text)
            self.screening.text("post", text)
            limit("text", text, POST_MAX)
            post_id = self.insert_post(user, text, None)
            act.target(post_id)
            return self.post(post_id)

    def forward_post(
        self, ctx: RequestContext, actor: User | None, source_id: int, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Forward a post with optional added text (the added text is checked)."""
        with self.core.audit.action(ctx, "forward.create") as act:
            user = acting(act, actor)
            text = text_field(payload, "text", required=False, allow_empty=True) or ""
            act.content("forward", text)
            self.post(source_id)
            self.screening.text("forward", text)
            limit("text", text, POST_MAX)
            post_id = self.insert_post(user, text, source_id)
            act.target(post_id)
            return self.post(post_id)

    def insert_post(self, user: User, text: str, forward_of: int | None) -> int:
        """Store a post (a forward of `forward_of`) by `user`, unchecked; return its id."""
        now = timestamp()
        return self.core.db.insert("posts", {
            "author_id": user.id, "text": text, "forward_of": forward_of,
            "created_at": now, "updated_at": now,
        })

    def edit_post(
        self, ctx: RequestContext, actor: User | None, post_id: int, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Edit one's own post or forward (a forward's text is the `forward` surface)."""
        row = self.core.db.one("SELECT forward_of FROM posts WHERE id = ?", (post_id,))
        surface = "forward" if row is not None and row["forward_of"] is not None else "post"
        with self.core.audit.action(ctx, f"{surface}.edit") as act:
            user = acting(act, actor)
            act.target(post_id)
            text = text_field(payload, "text", allow_empty=surface == "forward")
            act.content(surface, text)
            if self.post(post_id)["author_id"] != user.id:
                raise Forbidden("only the author can edit a post")
            self.screening.text(surface, text, editing=True)
            limit("text", text, POST_MAX)
            self.core.db.update("posts", post_id, {"text": text, "updated_at": timestamp()})
            return self.post(post_id)

    # --- comments -----------------------------------------------------------------------------

    def comment(self, comment_id: int) -> dict[str, Any]:
        """One visible comment."""
        return _comment_view(self.core.db.found(
            f"{_COMMENT_SELECT} WHERE c.id = ? AND c.removed = 0", (comment_id,),
            f"no comment {comment_id}",
        ))

    def comments(self, post_id: int) -> list[dict[str, Any]]:
        """A visible post's comments, oldest first."""
        self.post(post_id)
        rows = self.core.db.all(
            f"{_COMMENT_SELECT} WHERE c.post_id = ? AND c.removed = 0 ORDER BY c.id LIMIT 500",
            (post_id,),
        )
        return [_comment_view(row) for row in rows]

    def create_comment(
        self, ctx: RequestContext, actor: User | None, post_id: int, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Comment on a post."""
        with self.core.audit.action(ctx, "comment.create") as act:
            user = acting(act, actor)
            text = text_field(payload, "text")
            act.content("comment", text)
            self.post(post_id)
            self.screening.text("comment", text)
            limit("text", text, COMMENT_MAX)
            comment_id = self.insert_comment(user, post_id, text)
            act.target(comment_id)
            return self.comment(comment_id)

    def insert_comment(self, user: User, post_id: int, text: str) -> int:
        """Store a comment by `user` under a post, unchecked; return its id."""
        now = timestamp()
        return self.core.db.insert("comments", {
            "post_id": post_id, "author_id": user.id, "text": text,
            "created_at": now, "updated_at": now,
        })

    def edit_comment(
        self, ctx: RequestContext, actor: User | None, comment_id: int, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Edit one's own comment."""
        with self.core.audit.action(ctx, "comment.edit") as act:
            user = acting(act, actor)
            act.target(comment_id)
            text = text_field(payload, "text")
            act.content("comment", text)
            if self.comment(comment_id)["author_id"] != user.id:
                raise Forbidden("only the author can edit a comment")
            self.screening.text("comment", text, editing=True)
            limit("text", text, COMMENT_MAX)
            self.core.db.update("comments", comment_id, {"text": text, "updated_at": timestamp()})
            return self.comment(comment_id)
