"""Search across users, groups and posts: what anyone can find by a piece of text."""

from __future__ import annotations

from typing import Any

from reference_site.service.common import LIST_LIMIT, Core, User
from reference_site.service.content import POST_SELECT, Content
from reference_site.service.groups import Groups
from reference_site.service.profiles import Profiles


class Search:
    """Case-insensitive substring search over the visible users, groups and posts."""

    def __init__(self, core: Core, profiles: Profiles, groups: Groups, content: Content) -> None:
        self.core = core
        self.profiles = profiles
        self.groups = groups
        self.content = content

    def find(self, query: str | None) -> dict[str, list[dict[str, Any]]]:
        """Users (account name, nickname), groups (name, intro) and posts containing `query`."""
        needle = (query or "").strip().casefold()
        if not needle:
            return {"users": [], "groups": [], "posts": []}
        db = self.core.db
        users = db.all(
            "SELECT * FROM users WHERE banned = 0 AND (instr(casefold(account_name), ?) > 0"
            " OR instr(casefold(nickname), ?) > 0) ORDER BY id DESC LIMIT ?",
            (needle, needle, LIST_LIMIT),
        )
        groups = db.all(
            "SELECT * FROM chat_groups WHERE removed = 0 AND (instr(casefold(name), ?) > 0"
            " OR instr(casefold(intro), ?) > 0) ORDER BY id DESC LIMIT ?",
            (needle, needle, LIST_LIMIT),
        )
        posts = db.all(
            f"{POST_SELECT} WHERE p.removed = 0 AND instr(casefold(p.text), ?) > 0"
            " ORDER BY p.id DESC LIMIT ?",
            (needle, LIST_LIMIT),
        )
        return {
            "users": [self.profiles.profile(User.from_row(row)) for row in users],
            "groups": [self.groups.group_view(row) for row in groups],
            "posts": [self.content.post_view(row) for row in posts],
        }
