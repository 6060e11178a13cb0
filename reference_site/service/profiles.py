"""Profiles: what everyone sees of an account, its changes, its avatar, and private remarks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reference_site.audit import RequestContext
from reference_site.errors import BadRequest
from reference_site.service.accounts import (
    Accounts,
    account_key,
    check_account_name,
    unique_account_name,
)
from reference_site.service.common import (
    BIO_MAX,
    NICKNAME_MAX,
    REMARK_MAX,
    Core,
    User,
    acting,
    limit,
    only_fields,
    text_field,
    timestamp,
)
from reference_site.service.screening import Screening

# The site is reached over loopback or a private network, so every account shows this location.
IP_LOCATION = "本地"


class Profiles:
    """Profiles and remarks: the account's public face and what others note about it."""

    def __init__(self, core: Core, accounts: Accounts, screening: Screening) -> None:
        self.core = core
        self.accounts = accounts
        self.screening = screening

    def profile(self, user: User) -> dict[str, Any]:
        """A profile as everyone sees it."""
        return {
            "id": user.id,
            "account_name": user.account_name,
            "nickname": user.nickname,
            "bio": user.bio,
            "avatar_url": self.screening.media_url(user.avatar_sha256),
            "ip_location": IP_LOCATION,
            "created_at": user.created_at,
        }

    def update_profile(
        self, ctx: RequestContext, actor: User | None, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Change any of account_name, nickname and bio; every given field is checked."""
        with self.core.audit.action(ctx, "profile.update") as act:
            user = acting(act, actor)
            fields = only_fields(payload, ("account_name", "nickname", "bio"))
            values = {name: text_field(payload, name, allow_empty=name == "bio")
                      for name in fields}
            act.target(user.id)
            for name in fields:
                act.content(name, values[name])
            for name in fields:
                self.screening.text(name, values[name], editing=True, via_page=ctx.via_page)
            if "account_name" in values:
                check_account_name(values["account_name"])
            limit("nickname", values.get("nickname", ""), NICKNAME_MAX)
            limit("bio", values.get("bio", ""), BIO_MAX)
            if "nickname" in values and not values["nickname"].strip():
                raise BadRequest("nickname must not be empty", field="nickname")
            updates = dict(values)
            if "account_name" in values:
                updates["account_key"] = account_key(values["account_name"])
            updates["updated_at"] = timestamp()
            with unique_account_name():
                self.core.db.update("users", user.id, updates)
            if "account_name" in values:
                act.account = values["account_name"]
            return self.profile(self.accounts.user(user.id))

    def upload_avatar(
        self, ctx: RequestContext, actor: User | None, data: bytes | None
    ) -> dict[str, Any]:
        """Set the avatar (PNG or JPEG up to 2 MB, checked by OCR and QR decoding)."""
        with self.core.audit.action(ctx, "avatar.upload") as act:
            user = acting(act, actor)
            act.target(user.id)
            sha, _ext = self.screening.image(act, "avatar", data, via_page=ctx.via_page)
            self.core.db.update(
                "users", user.id, {"avatar_sha256": sha, "updated_at": timestamp()}
            )
            return self.profile(self.accounts.user(user.id))

    def set_remark(
        self, ctx: RequestContext, actor: User | None, target_id: int, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Keep a private remark about another account (visible only to the keeper)."""
        with self.core.audit.action(ctx, "remark.set") as act:
            user = acting(act, actor)
            text = text_field(payload, "text", allow_empty=True)
            act.content("remark", text)
            act.target(target_id)
            self.accounts.user(target_id)
            self.screening.text("remark", text)
            limit("text", text, REMARK_MAX)
            now = timestamp()
            with self.core.db.transaction() as conn:
                conn.execute(
                    "INSERT INTO remarks (owner_id, target_id, text, updated_at)"
                    " VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (owner_id, target_id)"
                    " DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at",
                    (user.id, target_id, text, now),
                )
            return {"user_id": target_id, "text": text, "updated_at": now}

    def remarks(self, user: User) -> list[dict[str, Any]]:
        """The remarks `user` keeps about others."""
        rows = self.core.db.all(
            "SELECT target_id, text, updated_at FROM remarks WHERE owner_id = ? ORDER BY target_id",
            (user.id,),
        )
        return [{"user_id": r["target_id"], "text": r["text"], "updated_at": r["updated_at"]}
                for r in rows]

    def remark_about(self, user: User, target_id: int) -> str | None:
        """The remark `user` keeps about one account, if any."""
        return self.core.db.scalar(
            "SELECT text FROM remarks WHERE owner_id = ? AND target_id = ?", (user.id, target_id)
        )
