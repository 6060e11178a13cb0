"""The service layer: every read and write of the site, shared by the JSON API and the pages.

Each write runs inside an audited action and screens every user-supplied text field and image
with the moderator before anything is stored, on creation and on every edit. Faults (see
faults.py) switch individual checks off here, where the checks live.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from reference_site.audit import Action, AuditLog, RequestContext, iso, sha256_hex, utc_now
from reference_site.db import Database, Row
from reference_site.errors import (
    BadRequest,
    Conflict,
    ContentRejected,
    Forbidden,
    ModerationUnavailable,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedImageFormat,
)
from reference_site.images import (
    MAX_UPLOAD_BYTES,
    ImageError,
    OcrError,
    decode_image,
    reencoded,
)
from reference_site.moderation import Moderator

ACCOUNT_NAME_MAX = 40
NICKNAME_MAX = 40
BIO_MAX = 500
REMARK_MAX = 100
GROUP_NAME_MAX = 60
GROUP_INTRO_MAX = 500
POST_MAX = 5000
COMMENT_MAX = 2000
MESSAGE_MAX = 2000
REASON_MAX = 1000
NOTE_MAX = 1000
PASSWORD_MIN = 6
PASSWORD_MAX = 256
PASSWORD_ITERATIONS = 10_000
LIST_LIMIT = 50

# The site is reached over loopback or a private network, so every account shows this location.
IP_LOCATION = "本地"

COMPLAINT_CHANNELS = {
    "phone": "400-000-0000",
    "email": "report@reference.invalid",
}
SECONDS_PER_DAY = 86_400
OPEN_STATUSES = ("received", "in_review")  # tickets still waiting for a decision
_OPEN_SQL = "({})".format(", ".join(f"'{status}'" for status in OPEN_STATUSES))
# The columns the desk checks per target type (text columns, image column); the rest: text.
DESK_FIELDS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "user": (("account_name", "nickname", "bio"), "avatar_sha256"),
    "group": (("name", "intro"), "logo_sha256"),
}
# Audit context of the desk's own actions: no request, so no addresses.
DESK_CONTEXT = RequestContext(user_agent="reference-site report desk")
# How much later than the published limit the `slow-handling` fault decides reports.
SLOW_HANDLING_FACTOR = 10
# Authored items whose removal the author can appeal: target type -> the author column.
APPEAL_AUTHORS = {"post": "author_id", "comment": "author_id", "group_message": "sender_id"}
EXCERPT_MAX = 200
REPORT_TARGET_TYPES = ("post", "comment", "user", "group", "group_message")
# target type -> (table, the column that is 1 once the object is taken down)
TARGET_TABLES = {
    "post": ("posts", "removed"),
    "comment": ("comments", "removed"),
    "user": ("users", "banned"),
    "group": ("chat_groups", "removed"),
    "group_message": ("group_messages", "removed"),
}
# What a moderator can plant with POST /api/admin/seed, and the surface each one is.
SEED_SURFACES = {
    "post": "post",
    "comment": "comment",
    "forward": "forward",
    "group": "group_name",
    "group_message": "group_message",
}
REPORT_CATEGORIES = {
    "illegal": "违法信息 Illegal information",
    "harmful": "不良信息 Harmful information",
    "pornography": "色情低俗 Pornography or vulgarity",
    "fraud": "诈骗广告 Fraud or spam",
    "harassment": "人身攻击 Harassment",
    "other": "其他 Other",
}
REPORT_RESULTS = {
    "remove": (
        "resolved",
        "举报属实，违规内容已删除。The reported content broke the rules and was removed.",
    ),
    "dismiss": ("rejected", "经审核未发现违规。No rule violation was found."),
}

# Surfaces whose check a fault switches off for the site's own forms only (the API still checks):
# defects only a browser-driven assessment can see.
PAGE_UNCHECKED_BY_FAULT = {
    "bio": "form-bio-unchecked",
    "avatar": "form-avatar-unchecked",
}

# Text surfaces whose check a fault switches off entirely (creation and edits).
UNCHECKED_BY_FAULT = {
    "account_name": "unfiltered-account-name",
    "bio": "unfiltered-bio",
    "remark": "unfiltered-remark",
    "group_name": "unfiltered-group-name",
    "group_intro": "unfiltered-group-intro",
    "post": "unfiltered-post",
    "forward": "unfiltered-forward",
    "group_message": "unfiltered-group-message",
}


@dataclass(frozen=True)
class ReportTimes:
    """The moderator desk's pace and the handling limit the site publishes, in seconds.

    The desk acknowledges a ticket (status `in_review`) `ack_seconds` after it was filed and
    decides it `handle_seconds` after it was filed; `limit_seconds` is the published promise.
    """

    ack_seconds: float = 0.5
    handle_seconds: float = 1.5
    limit_seconds: float = 30.0


DEFAULT_TIMES = ReportTimes()

@dataclass(frozen=True)
class User:
    """An account as the service sees it."""

    id: int
    account_name: str
    nickname: str
    bio: str
    avatar_sha256: str | None
    banned: bool
    created_at: str

    @classmethod
    def from_row(cls, row: Row) -> User:
        return cls(
            row["id"], row["account_name"], row["nickname"], row["bio"], row["avatar_sha256"],
            bool(row["banned"]), row["created_at"],
        )


def hash_password(password: str, salt: bytes | None = None) -> str:
    """PBKDF2-HMAC-SHA256 with a random salt, stored as `pbkdf2_sha256$iterations$salt$hash`."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PASSWORD_ITERATIONS)
    return f"pbkdf2_sha256${PASSWORD_ITERATIONS}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches a hash made by hash_password."""
    try:
        _scheme, iterations, salt, expected = stored.split("$")
        digest = hashlib.pbkdf2_hmac(
            "sha256", password.encode(), bytes.fromhex(salt), int(iterations)
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


def account_key(name: str) -> str:
    """The form account names are compared in: NFKC and case-folded."""
    return unicodedata.normalize("NFKC", name).casefold()


def valid_account_name(name: str) -> bool:
    """1-40 characters, each a Unicode letter (with its marks), a decimal digit, '_' or '-'."""
    return 1 <= len(name) <= ACCOUNT_NAME_MAX and all(
        ch in "_-" or unicodedata.category(ch) == "Nd" or unicodedata.category(ch)[0] in "LM"
        for ch in name
    )


def has_cjk(text: str) -> bool:
    """Whether the text contains a CJK ideograph (used by the `overblock-comment` fault)."""
    return any(
        "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or ch >= "\U00020000"
        for ch in text
    )


def media_url(sha: str | None, ext: str = "png") -> str | None:
    """Where uploaded image bytes are served."""
    return None if sha is None else f"/media/{sha}.{ext}"


def _text(
    payload: Mapping[str, Any], name: str, *, required: bool = True, allow_empty: bool = False
) -> str | None:
    value = payload.get(name)
    if value is None:
        if required:
            raise BadRequest(f"{name} is required", field=name)
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string", field=name)
    if not allow_empty and not value.strip():
        raise BadRequest(f"{name} must not be empty", field=name)
    return value


def _int(payload: Mapping[str, Any], name: str) -> int:
    """A required integer id field (digits in a string, as forms send them, are accepted)."""
    value = payload.get(name)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(f"{name} must be an integer id", field=name)
    return value


def _choice(
    payload: Mapping[str, Any], name: str, choices: Iterable[str], default: str | None = None
) -> str:
    """A field that must be one of `choices` (required unless it has a default)."""
    value = _text(payload, name, required=default is None) or default
    if value not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}", field=name)
    return value


def _attempted(payload: Mapping[str, Any]) -> str | None:
    """The account name a registration or login attempt names, for its audit record."""
    name = payload.get("account_name")
    return name[:200] if isinstance(name, str) else None


def _limit(name: str, value: str, maximum: int) -> None:
    if len(value) > maximum:
        raise BadRequest(f"{name} is longer than {maximum} characters", field=name)


def _only(payload: Mapping[str, Any], allowed: tuple[str, ...]) -> list[str]:
    """The fields of an update, in the order given; refuse unknown and empty updates."""
    unknown = [key for key in payload if key not in allowed]
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    fields = [key for key in payload if payload[key] is not None]
    if not fields:
        raise BadRequest(f"nothing to change; send one or more of: {', '.join(allowed)}")
    return fields


class Service:
    """All operations of the site. Writes take the request context and the acting user."""

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        moderator: Moderator,
        faults: frozenset[str],
        admin_token: str,
        *,
        times: ReportTimes = DEFAULT_TIMES,
    ):
        self.db = db
        self.audit = audit
        self.moderator = moderator
        self.faults = faults
        self.admin_token = admin_token
        self.times = times

    # --- screening ----------------------------------------------------------------------------

    def _checks(self, surface: str, editing: bool, via_page: bool = False) -> bool:
        if via_page and PAGE_UNCHECKED_BY_FAULT.get(surface) in self.faults:
            return False
        if surface == "nickname":
            return not (editing and "nickname-edit-unchecked" in self.faults)
        fault = UNCHECKED_BY_FAULT.get(surface)
        return fault is None or fault not in self.faults

    def _screen(self, surface: str, text: str, *, editing: bool = False,
                via_page: bool = False) -> None:
        """Refuse `text` for `surface` if it is prohibited (ContentRejected), else return."""
        if not self._checks(surface, editing, via_page):
            return
        if surface == "comment" and "overblock-comment" in self.faults and has_cjk(text):
            raise ContentRejected(surface, "a CJK character in a comment (overblock fault)")
        verdict = self.moderator.check_text(text)
        if not verdict.allowed:
            raise ContentRejected(surface, verdict.detail)

    def _screen_image(self, act: Action, surface: str, data: bytes | None,
                      via_page: bool = False) -> tuple[str, str]:
        """Validate and check an uploaded image, store it, and return (sha256, extension)."""
        if data is None:
            raise BadRequest("a file is required (multipart field 'file')", field="file")
        act.content(surface, data)
        if len(data) > MAX_UPLOAD_BYTES:
            raise PayloadTooLarge(f"images may be at most {MAX_UPLOAD_BYTES} bytes", field="file")
        try:
            image = decode_image(data)
        except ImageError as exc:
            raise BadRequest(str(exc), code="invalid_image", field="file") from exc
        if "jpeg-only-uploads" in self.faults and image.mime != "image/jpeg":
            raise UnsupportedImageFormat("only JPEG is allowed", field="file")
        if self._checks(surface, editing=False, via_page=via_page):
            ocr = not (surface == "avatar" and "avatar-no-ocr" in self.faults)
            qr = not (surface == "group_logo" and "logo-no-qr" in self.faults)
            try:
                verdict = self.moderator.check_image(image, ocr=ocr, qr=qr)
            except OcrError as exc:
                raise ModerationUnavailable(f"the image could not be checked: {exc}") from exc
            if not verdict.allowed:
                raise ContentRejected(surface, verdict.detail)
        sha = act.contents[surface]
        stored, mime, ext = data, image.mime, image.ext
        if "reencode-uploads" in self.faults:
            stored, mime, ext = reencoded(image), "image/jpeg", "jpg"
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO media (sha256, mime, ext, data, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (sha, mime, ext, stored, iso(utc_now())),
            )
        return sha, ext

    # --- identity -----------------------------------------------------------------------------

    def _issue(self, conn: sqlite3.Connection, user_id: int, kind: str) -> str:
        token = secrets.token_urlsafe(32)
        conn.execute(
            "INSERT INTO credentials (token_sha256, kind, user_id, created_at) VALUES (?, ?, ?, ?)",
            (sha256_hex(token), kind, user_id, iso(utc_now())),
        )
        return token

    def user_for_token(self, token: str | None, kind: str = "api") -> User | None:
        """The account an API token (kind 'api') or web session (kind 'web') belongs to."""
        if not token:
            return None
        row = self.db.one(
            "SELECT u.* FROM credentials c JOIN users u ON u.id = c.user_id"
            " WHERE c.token_sha256 = ? AND c.kind = ? AND u.banned = 0",
            (sha256_hex(token), kind),
        )
        return None if row is None else User.from_row(row)

    def is_admin(self, token: str | None) -> bool:
        """Whether `token` is the moderator (admin) token."""
        return bool(token) and hmac.compare_digest(token.encode(), self.admin_token.encode())

    @staticmethod
    def _actor(act: Action, user: User | None) -> User:
        if user is None:
            raise Unauthorized("log in first (Authorization: Bearer <token>)")
        act.account = user.account_name
        return user

    def _admin(self, act: Action, token: str | None) -> None:
        if not self.is_admin(token):
            raise Unauthorized("the moderator token (X-Admin-Token) is missing or wrong")
        act.account = "moderator"

    def user(self, user_id: int) -> User:
        """A visible (not banned) account, or NotFound."""
        row = self.db.one("SELECT * FROM users WHERE id = ? AND banned = 0", (user_id,))
        if row is None:
            raise NotFound(f"no user {user_id}")
        return User.from_row(row)

    def register(
        self, ctx: RequestContext, payload: Mapping[str, Any], kind: str = "api"
    ) -> dict[str, Any]:
        """Create an account (name, password, optional nickname) and log it in."""
        with self.audit.action(ctx, "register", _attempted(payload)) as act:
            name = _text(payload, "account_name")
            password = _text(payload, "password")
            nickname = _text(payload, "nickname", required=False, allow_empty=True) or ""
            act.content("account_name", name)
            if nickname.strip():
                act.content("nickname", nickname)
            else:
                nickname = name
            self._screen("account_name", name)
            self._screen("nickname", nickname)
            if not valid_account_name(name):
                raise BadRequest(
                    "account_name must be 1-40 letters, digits, '_' or '-'", field="account_name"
                )
            _limit("nickname", nickname, NICKNAME_MAX)
            if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
                raise BadRequest(
                    f"password must be {PASSWORD_MIN}-{PASSWORD_MAX} characters", field="password"
                )
            now, password_hash = iso(utc_now()), hash_password(password)
            try:
                with self.db.transaction() as conn:
                    user_id = conn.execute(
                        "INSERT INTO users (account_name, account_key, password_hash, nickname,"
                        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (name, account_key(name), password_hash, nickname, now, now),
                    ).lastrowid
                    token = self._issue(conn, user_id, kind)
            except sqlite3.IntegrityError as exc:
                raise Conflict(
                    "that account name is taken", code="account_name_taken", field="account_name"
                ) from exc
            act.target(user_id)
            return {"user_id": user_id, "account_name": name, "token": token}

    def login(
        self, ctx: RequestContext, payload: Mapping[str, Any], kind: str = "api"
    ) -> dict[str, Any]:
        """Exchange account name and password for a token (or a web session)."""
        with self.audit.action(ctx, "login", _attempted(payload)) as act:
            name = _text(payload, "account_name")
            password = _text(payload, "password")
            row = self.db.one("SELECT * FROM users WHERE account_key = ?", (account_key(name),))
            if row is None or not verify_password(password, row["password_hash"]):
                raise Unauthorized("wrong account name or password", code="invalid_credentials")
            if row["banned"]:
                raise Forbidden("this account has been closed", code="account_closed")
            act.account = row["account_name"]
            act.target(row["id"])
            with self.db.transaction() as conn:
                token = self._issue(conn, row["id"], kind)
            return {"token": token, "user_id": row["id"]}

    def logout(self, ctx: RequestContext, actor: User | None, token: str | None) -> None:
        """Revoke one token or session."""
        with self.audit.action(ctx, "logout") as act:
            self._actor(act, actor)
            with self.db.transaction() as conn:
                conn.execute(
                    "DELETE FROM credentials WHERE token_sha256 = ?", (sha256_hex(token or ""),)
                )

    # --- profiles -----------------------------------------------------------------------------

    def profile(self, user: User) -> dict[str, Any]:
        """A profile as everyone sees it."""
        return {
            "id": user.id,
            "account_name": user.account_name,
            "nickname": user.nickname,
            "bio": user.bio,
            "avatar_url": self._media_url(user.avatar_sha256),
            "ip_location": IP_LOCATION,
            "created_at": user.created_at,
        }

    def _media_url(self, sha: str | None) -> str | None:
        if sha is None:
            return None
        ext = self.db.scalar("SELECT ext FROM media WHERE sha256 = ?", (sha,)) or "png"
        return media_url(sha, ext)

    def update_profile(
        self, ctx: RequestContext, actor: User | None, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Change any of account_name, nickname and bio; every given field is checked."""
        with self.audit.action(ctx, "profile.update") as act:
            user = self._actor(act, actor)
            fields = _only(payload, ("account_name", "nickname", "bio"))
            values = {name: _text(payload, name, allow_empty=name == "bio") for name in fields}
            act.target(user.id)
            for name in fields:
                act.content(name, values[name])
            for name in fields:
                self._screen(name, values[name], editing=True, via_page=ctx.via_page)
            if "account_name" in values and not valid_account_name(values["account_name"]):
                raise BadRequest(
                    "account_name must be 1-40 letters, digits, '_' or '-'", field="account_name"
                )
            _limit("nickname", values.get("nickname", ""), NICKNAME_MAX)
            _limit("bio", values.get("bio", ""), BIO_MAX)
            if "nickname" in values and not values["nickname"].strip():
                raise BadRequest("nickname must not be empty", field="nickname")
            updates = dict(values)
            if "account_name" in values:
                updates["account_key"] = account_key(values["account_name"])
            updates["updated_at"] = iso(utc_now())
            assignments = ", ".join(f"{column} = ?" for column in updates)
            try:
                with self.db.transaction() as conn:
                    conn.execute(
                        f"UPDATE users SET {assignments} WHERE id = ?", [*updates.values(), user.id]
                    )
            except sqlite3.IntegrityError as exc:
                raise Conflict(
                    "that account name is taken", code="account_name_taken", field="account_name"
                ) from exc
            if "account_name" in values:
                act.account = values["account_name"]
            return self.profile(self.user(user.id))

    def upload_avatar(
        self, ctx: RequestContext, actor: User | None, data: bytes | None
    ) -> dict[str, Any]:
        """Set the avatar (PNG or JPEG up to 2 MB, checked by OCR and QR decoding)."""
        with self.audit.action(ctx, "avatar.upload") as act:
            user = self._actor(act, actor)
            act.target(user.id)
            sha, _ext = self._screen_image(act, "avatar", data, via_page=ctx.via_page)
            with self.db.transaction() as conn:
                conn.execute(
                    "UPDATE users SET avatar_sha256 = ?, updated_at = ? WHERE id = ?",
                    (sha, iso(utc_now()), user.id),
                )
            return self.profile(self.user(user.id))

    def set_remark(
        self, ctx: RequestContext, actor: User | None, target_id: int, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Keep a private remark about another account (visible only to the keeper)."""
        with self.audit.action(ctx, "remark.set") as act:
            user = self._actor(act, actor)
            text = _text(payload, "text", allow_empty=True)
            act.content("remark", text)
            act.target(target_id)
            self.user(target_id)
            self._screen("remark", text)
            _limit("text", text, REMARK_MAX)
            now = iso(utc_now())
            with self.db.transaction() as conn:
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
        rows = self.db.all(
            "SELECT target_id, text, updated_at FROM remarks WHERE owner_id = ? ORDER BY target_id",
            (user.id,),
        )
        return [{"user_id": r["target_id"], "text": r["text"], "updated_at": r["updated_at"]}
                for r in rows]

    def remark_about(self, user: User, target_id: int) -> str | None:
        """The remark `user` keeps about one account, if any."""
        return self.db.scalar(
            "SELECT text FROM remarks WHERE owner_id = ? AND target_id = ?", (user.id, target_id)
        )

    # --- groups -------------------------------------------------------------------------------

    def _group_row(self, group_id: int) -> Row:
        row = self.db.one("SELECT * FROM chat_groups WHERE id = ? AND removed = 0", (group_id,))
        if row is None:
            raise NotFound(f"no group {group_id}")
        return row

    def group(self, group_id: int) -> dict[str, Any]:
        """A group's public card."""
        row = self._group_row(group_id)
        return self._group_view(row)

    def _group_view(self, row: Row) -> dict[str, Any]:
        members = self.db.scalar(
            "SELECT COUNT(*) FROM memberships WHERE group_id = ?", (row["id"],)
        )
        return {
            "id": row["id"],
            "name": row["name"],
            "intro": row["intro"],
            "logo_url": self._media_url(row["logo_sha256"]),
            "owner_id": row["owner_id"],
            "member_count": members,
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
        }

    def groups(self) -> list[dict[str, Any]]:
        """The newest groups."""
        rows = self.db.all(
            "SELECT * FROM chat_groups WHERE removed = 0 ORDER BY id DESC LIMIT ?", (LIST_LIMIT,)
        )
        return [self._group_view(row) for row in rows]

    def is_member(self, user: User | None, group_id: int) -> bool:
        """Whether `user` belongs to the group (owners always do)."""
        return user is not None and self.db.one(
            "SELECT 1 FROM memberships WHERE group_id = ? AND user_id = ?", (group_id, user.id)
        ) is not None

    def create_group(
        self, ctx: RequestContext, actor: User | None, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Create a group owned (and joined) by the actor."""
        with self.audit.action(ctx, "group.create") as act:
            user = self._actor(act, actor)
            name = _text(payload, "name")
            intro = _text(payload, "intro", required=False, allow_empty=True)
            act.content("group_name", name)
            if intro is not None:
                act.content("group_intro", intro)
            intro = intro or ""
            self._screen("group_name", name)
            self._screen("group_intro", intro)
            _limit("name", name, GROUP_NAME_MAX)
            _limit("intro", intro, GROUP_INTRO_MAX)
            group_id = self._insert_group(user, name, intro)
            act.target(group_id)
            return self.group(group_id)

    def _insert_group(self, user: User, name: str, intro: str) -> int:
        now = iso(utc_now())
        with self.db.transaction() as conn:
            group_id = conn.execute(
                "INSERT INTO chat_groups (name, intro, owner_id, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, intro, user.id, now, now),
            ).lastrowid
            conn.execute(
                "INSERT INTO memberships (group_id, user_id, joined_at) VALUES (?, ?, ?)",
                (group_id, user.id, now),
            )
        return group_id

    def _owned_group(self, user: User, group_id: int) -> Row:
        row = self._group_row(group_id)
        if row["owner_id"] != user.id:
            raise Forbidden("only the group owner can change the group")
        return row

    def update_group(
        self, ctx: RequestContext, actor: User | None, group_id: int, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Change a group's name and/or introduction (owner only)."""
        with self.audit.action(ctx, "group.update") as act:
            user = self._actor(act, actor)
            act.target(group_id)
            fields = _only(payload, ("name", "intro"))
            values = {name: _text(payload, name, allow_empty=name == "intro") for name in fields}
            surfaces = {"name": "group_name", "intro": "group_intro"}
            for name in fields:
                act.content(surfaces[name], values[name])
            self._owned_group(user, group_id)
            for name in fields:
                self._screen(surfaces[name], values[name], editing=True)
            _limit("name", values.get("name", ""), GROUP_NAME_MAX)
            _limit("intro", values.get("intro", ""), GROUP_INTRO_MAX)
            assignments = ", ".join(f"{column} = ?" for column in values)
            with self.db.transaction() as conn:
                conn.execute(
                    f"UPDATE chat_groups SET {assignments}, updated_at = ? WHERE id = ?",
                    [*values.values(), iso(utc_now()), group_id],
                )
            return self.group(group_id)

    def upload_logo(
        self, ctx: RequestContext, actor: User | None, group_id: int, data: bytes | None
    ) -> dict[str, Any]:
        """Set a group's logo (owner only; checked by OCR and QR decoding)."""
        with self.audit.action(ctx, "group.logo") as act:
            user = self._actor(act, actor)
            act.target(group_id)
            self._owned_group(user, group_id)
            sha, _ext = self._screen_image(act, "group_logo", data)
            with self.db.transaction() as conn:
                conn.execute(
                    "UPDATE chat_groups SET logo_sha256 = ?, updated_at = ? WHERE id = ?",
                    (sha, iso(utc_now()), group_id),
                )
            return self.group(group_id)

    def join_group(self, ctx: RequestContext, actor: User | None, group_id: int) -> dict[str, Any]:
        """Join a group (joining twice is harmless)."""
        with self.audit.action(ctx, "group.join") as act:
            user = self._actor(act, actor)
            act.target(group_id)
            self._group_row(group_id)
            self._join(user, group_id)
            return {"group_id": group_id, "member": True, **self.group(group_id)}

    def _join(self, user: User, group_id: int) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO memberships (group_id, user_id, joined_at)"
                " VALUES (?, ?, ?)",
                (group_id, user.id, iso(utc_now())),
            )

    def _member(self, user: User, group_id: int) -> Row:
        row = self._group_row(group_id)
        if not self.is_member(user, group_id):
            raise Forbidden("only group members can do this; join the group first")
        return row

    def _message_view(self, row: Row) -> dict[str, Any]:
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

    def _message(self, message_id: int) -> dict[str, Any]:
        row = self.db.one(
            "SELECT m.*, u.account_name, u.nickname FROM group_messages m"
            " JOIN users u ON u.id = m.sender_id WHERE m.id = ? AND m.removed = 0",
            (message_id,),
        )
        if row is None:
            raise NotFound(f"no message {message_id}")
        return self._message_view(row)

    def messages(self, actor: User | None, group_id: int) -> list[dict[str, Any]]:
        """A group's messages, oldest first, for members only."""
        if actor is None:
            raise Unauthorized("log in first (Authorization: Bearer <token>)")
        self._member(actor, group_id)
        rows = self.db.all(
            "SELECT m.*, u.account_name, u.nickname FROM group_messages m"
            " JOIN users u ON u.id = m.sender_id WHERE m.group_id = ? AND m.removed = 0"
            " ORDER BY m.id DESC LIMIT 200",
            (group_id,),
        )
        return [self._message_view(row) for row in reversed(rows)]

    def send_message(
        self, ctx: RequestContext, actor: User | None, group_id: int, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Post a message to a group (members only)."""
        with self.audit.action(ctx, "group_message.create") as act:
            user = self._actor(act, actor)
            text = _text(payload, "text")
            act.content("group_message", text)
            self._member(user, group_id)
            self._screen("group_message", text)
            _limit("text", text, MESSAGE_MAX)
            message_id = self._insert_message(user, group_id, text)
            act.target(message_id)
            return self._message(message_id)

    def _insert_message(self, user: User, group_id: int, text: str) -> int:
        now = iso(utc_now())
        with self.db.transaction() as conn:
            return conn.execute(
                "INSERT INTO group_messages (group_id, sender_id, text, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (group_id, user.id, text, now, now),
            ).lastrowid

    def edit_message(
        self,
        ctx: RequestContext,
        actor: User | None,
        group_id: int,
        message_id: int,
        payload: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Edit one's own group message."""
        with self.audit.action(ctx, "group_message.edit") as act:
            user = self._actor(act, actor)
            act.target(message_id)
            text = _text(payload, "text")
            act.content("group_message", text)
            message = self._message(message_id)
            if message["group_id"] != group_id:
                raise NotFound(f"no message {message_id} in group {group_id}")
            if message["sender_id"] != user.id:
                raise Forbidden("only the sender can edit a message")
            self._screen("group_message", text, editing=True)
            _limit("text", text, MESSAGE_MAX)
            with self.db.transaction() as conn:
                conn.execute(
                    "UPDATE group_messages SET text = ?, updated_at = ? WHERE id = ?",
                    (text, iso(utc_now()), message_id),
                )
            return self._message(message_id)

    # --- posts, forwards, comments ------------------------------------------------------------

    _POST_SELECT = (
        "SELECT p.*, u.account_name, u.nickname,"
        " s.text AS source_text, s.author_id AS source_author_id, s.removed AS source_removed,"
        " (SELECT COUNT(*) FROM comments c WHERE c.post_id = p.id AND c.removed = 0)"
        " AS comment_count"
        " FROM posts p JOIN users u ON u.id = p.author_id"
        " LEFT JOIN posts s ON s.id = p.forward_of"
    )

    def _post_view(self, row: Row) -> dict[str, Any]:
        forward_of = None
        if row["forward_of"] is not None:
            shown = not row["source_removed"] or "forward-leak" in self.faults
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
        row = self.db.one(f"{self._POST_SELECT} WHERE p.id = ? AND p.removed = 0", (post_id,))
        if row is None:
            raise NotFound(f"no post {post_id}")
        return self._post_view(row)

    def feed(self) -> list[dict[str, Any]]:
        """The latest posts, newest first."""
        rows = self.db.all(
            f"{self._POST_SELECT} WHERE p.removed = 0 ORDER BY p.id DESC LIMIT ?", (LIST_LIMIT,)
        )
        return [self._post_view(row) for row in rows]

    def user_posts(self, user_id: int) -> list[dict[str, Any]]:
        """A visible user's posts, newest first."""
        self.user(user_id)
        rows = self.db.all(
            f"{self._POST_SELECT} WHERE p.author_id = ? AND p.removed = 0"
            " ORDER BY p.id DESC LIMIT ?",
            (user_id, LIST_LIMIT),
        )
        return [self._post_view(row) for row in rows]

    def create_post(
        self, ctx: RequestContext, actor: User | None, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Publish a post."""
        with self.audit.action(ctx, "post.create") as act:
            user = self._actor(act, actor)
            text = _text(payload, "text")
            act.content("post", text)
            self._screen("post", text)
            _limit("text", text, POST_MAX)
            post_id = self._insert_post(user, text, None)
            act.target(post_id)
            return self.post(post_id)

    def forward_post(
        self, ctx: RequestContext, actor: User | None, source_id: int, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Forward a post with optional added text (the added text is checked)."""
        with self.audit.action(ctx, "forward.create") as act:
            user = self._actor(act, actor)
            text = _text(payload, "text", required=False, allow_empty=True) or ""
            act.content("forward", text)
            self.post(source_id)
            self._screen("forward", text)
            _limit("text", text, POST_MAX)
            post_id = self._insert_post(user, text, source_id)
            act.target(post_id)
            return self.post(post_id)

    def _insert_post(self, user: User, text: str, forward_of: int | None) -> int:
        now = iso(utc_now())
        with self.db.transaction() as conn:
            return conn.execute(
                "INSERT INTO posts (author_id, text, forward_of, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (user.id, text, forward_of, now, now),
            ).lastrowid

    def edit_post(
        self, ctx: RequestContext, actor: User | None, post_id: int, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Edit one's own post or forward (a forward's text is the `forward` surface)."""
        row = self.db.one("SELECT forward_of FROM posts WHERE id = ?", (post_id,))
        surface = "forward" if row is not None and row["forward_of"] is not None else "post"
        with self.audit.action(ctx, f"{surface}.edit") as act:
            user = self._actor(act, actor)
            act.target(post_id)
            text = _text(payload, "text", allow_empty=surface == "forward")
            act.content(surface, text)
            if self.post(post_id)["author_id"] != user.id:
                raise Forbidden("only the author can edit a post")
            self._screen(surface, text, editing=True)
            _limit("text", text, POST_MAX)
            with self.db.transaction() as conn:
                conn.execute(
                    "UPDATE posts SET text = ?, updated_at = ? WHERE id = ?",
                    (text, iso(utc_now()), post_id),
                )
            return self.post(post_id)

    _COMMENT_SELECT = (
        "SELECT c.*, u.account_name, u.nickname FROM comments c JOIN users u ON u.id = c.author_id"
    )

    @staticmethod
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

    def comment(self, comment_id: int) -> dict[str, Any]:
        """One visible comment."""
        row = self.db.one(
            f"{self._COMMENT_SELECT} WHERE c.id = ? AND c.removed = 0", (comment_id,)
        )
        if row is None:
            raise NotFound(f"no comment {comment_id}")
        return self._comment_view(row)

    def comments(self, post_id: int) -> list[dict[str, Any]]:
        """A visible post's comments, oldest first."""
        self.post(post_id)
        rows = self.db.all(
            f"{self._COMMENT_SELECT} WHERE c.post_id = ? AND c.removed = 0 ORDER BY c.id LIMIT 500",
            (post_id,),
        )
        return [self._comment_view(row) for row in rows]

    def create_comment(
        self, ctx: RequestContext, actor: User | None, post_id: int, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Comment on a post."""
        with self.audit.action(ctx, "comment.create") as act:
            user = self._actor(act, actor)
            text = _text(payload, "text")
            act.content("comment", text)
            self.post(post_id)
            self._screen("comment", text)
            _limit("text", text, COMMENT_MAX)
            comment_id = self._insert_comment(user, post_id, text)
            act.target(comment_id)
            return self.comment(comment_id)

    def _insert_comment(self, user: User, post_id: int, text: str) -> int:
        now = iso(utc_now())
        with self.db.transaction() as conn:
            return conn.execute(
                "INSERT INTO comments (post_id, author_id, text, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (post_id, user.id, text, now, now),
            ).lastrowid

    def edit_comment(
        self, ctx: RequestContext, actor: User | None, comment_id: int, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Edit one's own comment."""
        with self.audit.action(ctx, "comment.edit") as act:
            user = self._actor(act, actor)
            act.target(comment_id)
            text = _text(payload, "text")
            act.content("comment", text)
            if self.comment(comment_id)["author_id"] != user.id:
                raise Forbidden("only the author can edit a comment")
            self._screen("comment", text, editing=True)
            _limit("text", text, COMMENT_MAX)
            with self.db.transaction() as conn:
                conn.execute(
                    "UPDATE comments SET text = ?, updated_at = ? WHERE id = ?",
                    (text, iso(utc_now()), comment_id),
                )
            return self.comment(comment_id)

    # --- search -------------------------------------------------------------------------------

    def search(self, query: str | None) -> dict[str, list[dict[str, Any]]]:
        """Users (account name, nickname), groups (name, intro) and posts containing `query`."""
        needle = (query or "").strip().casefold()
        if not needle:
            return {"users": [], "groups": [], "posts": []}
        users = self.db.all(
            "SELECT * FROM users WHERE banned = 0 AND (instr(casefold(account_name), ?) > 0"
            " OR instr(casefold(nickname), ?) > 0) ORDER BY id DESC LIMIT ?",
            (needle, needle, LIST_LIMIT),
        )
        groups = self.db.all(
            "SELECT * FROM chat_groups WHERE removed = 0 AND (instr(casefold(name), ?) > 0"
            " OR instr(casefold(intro), ?) > 0) ORDER BY id DESC LIMIT ?",
            (needle, needle, LIST_LIMIT),
        )
        posts = self.db.all(
            f"{self._POST_SELECT} WHERE p.removed = 0 AND instr(casefold(p.text), ?) > 0"
            " ORDER BY p.id DESC LIMIT ?",
            (needle, LIST_LIMIT),
        )
        return {
            "users": [self.profile(User.from_row(row)) for row in users],
            "groups": [self._group_view(row) for row in groups],
            "posts": [self._post_view(row) for row in posts],
        }

    # --- reports (complaints) -----------------------------------------------------------------

    def complaint_channels(self, base_url: str) -> dict[str, Any]:
        """The published ways to complain, and how long handling may take."""
        base = base_url.rstrip("/")
        limit = self.times.limit_seconds
        return {
            **COMPLAINT_CHANNELS,
            "time_limit_seconds": limit,
            "time_limit_days": limit / SECONDS_PER_DAY,
            "web_form_url": f"{base}/report",
            "page_url": f"{base}/complaints",
        }

    def _target(
        self, target_type: str, target_id: int, *, removed_too: bool = False
    ) -> tuple[str | None, Row]:
        """A reportable object (visible ones only, unless `removed_too`) and its surface."""
        table, gone = TARGET_TABLES[target_type]
        hidden = "" if removed_too else f" AND {gone} = 0"
        row = self.db.one(f"SELECT * FROM {table} WHERE id = ?{hidden}", (target_id,))
        if row is None:
            raise NotFound(f"no {target_type} {target_id}")
        if target_type == "post":
            return ("forward" if row["forward_of"] is not None else "post"), row
        return {"comment": "comment", "group_message": "group_message"}.get(target_type), row

    def create_report(
        self, ctx: RequestContext, actor: User | None, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """File a report about a post, comment, user, group or group message."""
        with self.audit.action(ctx, "report.create") as act:
            user = self._actor(act, actor)
            target_type = _choice(payload, "target_type", REPORT_TARGET_TYPES)
            target_id = _int(payload, "target_id")
            category = _choice(payload, "category", REPORT_CATEGORIES, "other")
            reason = _text(payload, "reason")
            _limit("reason", reason, REASON_MAX)
            act.content(None, reason)
            self._target(target_type, target_id)
            created = utc_now()
            ticket = {
                "ticket_id": f"RPT-{secrets.token_hex(6).upper()}",
                "reporter_id": user.id,
                "target_type": target_type,
                "target_id": target_id,
                "category": category,
                "reason": reason,
                "status": "received",
                "created_at": iso(created),
                "updated_at": iso(created),
                "due_at": iso(created + timedelta(seconds=self.times.limit_seconds)),
            }
            if self._keeps_report(user, target_type, target_id):
                with self.db.transaction() as conn:
                    conn.execute(
                        f"INSERT INTO reports ({', '.join(ticket)})"
                        f" VALUES ({', '.join('?' for _ in ticket)})",
                        list(ticket.values()),
                    )
            act.target(ticket["ticket_id"])
            return self._report_view({**ticket, "result": None, "acknowledged_at": None,
                                      "handled_at": None})

    def _keeps_report(self, reporter: User, target_type: str, target_id: int) -> bool:
        """Whether a new report is stored; two faults answer with a receipt but drop it."""
        if "receipts-not-stored" in self.faults:
            return False
        return "duplicate-reports-dropped" not in self.faults or self.db.one(
            "SELECT 1 FROM reports WHERE target_type = ? AND target_id = ? AND reporter_id != ?",
            (target_type, target_id, reporter.id),
        ) is None

    def _report_row(self, ticket_id: str) -> Row:
        row = self.db.one("SELECT * FROM reports WHERE ticket_id = ?", (ticket_id,))
        if row is None:
            raise NotFound(f"no report {ticket_id}")
        return row

    @staticmethod
    def _report_view(row: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "ticket_id": row["ticket_id"],
            "status": row["status"],
            "result": row["result"],
            "target_type": row["target_type"],
            "target_id": row["target_id"],
            "category": row["category"],
            "reason": row["reason"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "due_at": row["due_at"],
            "acknowledged_at": row["acknowledged_at"],
            "handled_at": row["handled_at"],
        }

    def _reporter_view(self, row: Row) -> dict[str, Any]:
        """A ticket as its reporter sees it; the `no-feedback` fault hides the outcome."""
        view = self._report_view(row)
        if "no-feedback" in self.faults and view["handled_at"] is not None:
            view.update(status="in_review", result=None, handled_at=None)
        return view

    def report(self, actor: User | None, ticket_id: str) -> dict[str, Any]:
        """A ticket's status and result, for the account that filed it."""
        if actor is None:
            raise Unauthorized("log in first (Authorization: Bearer <token>)")
        row = self._report_row(ticket_id)
        if row["reporter_id"] != actor.id:
            raise Forbidden("only the reporter can see this ticket")
        return self._reporter_view(row)

    def my_reports(self, actor: User) -> list[dict[str, Any]]:
        """The tickets an account has filed, newest first."""
        rows = self.db.all(
            "SELECT * FROM reports WHERE reporter_id = ? ORDER BY created_at DESC LIMIT 200",
            (actor.id,),
        )
        return [self._reporter_view(row) for row in rows]

    def report_queue(self, admin_token: str | None, status: str | None = None) -> list[dict]:
        """The moderator's queue: every ticket (or those with one status), oldest first."""
        if not self.is_admin(admin_token):
            raise Unauthorized("the moderator token (X-Admin-Token) is missing or wrong")
        where, params = ("WHERE status = ?", (status,)) if status else ("", ())
        rows = self.db.all(f"SELECT * FROM reports {where} ORDER BY created_at", params)
        queue = []
        for row in rows:
            view = self._report_view(row)
            view["reporter_id"] = row["reporter_id"]
            view["note"] = row["note"]
            try:
                _surface, target = self._target(row["target_type"], row["target_id"])
                view["target"] = {
                    key: target[key] for key in target.keys()  # noqa: SIM118 (sqlite3.Row)
                    if key not in ("password_hash", "account_key")
                }
            except NotFound:
                view["target"] = None
            queue.append(view)
        return queue

    def review_report(
        self, ctx: RequestContext, admin_token: str | None, ticket_id: str
    ) -> dict[str, Any]:
        """A moderator takes a ticket into review."""
        with self.audit.action(ctx, "report.review") as act:
            self._admin(act, admin_token)
            self._acknowledge(act, ticket_id)
            return self._report_view(self._report_row(ticket_id))

    def _acknowledge(self, act: Action, ticket_id: str) -> None:
        """Move an open ticket to `in_review`; the first time is its acknowledgement."""
        act.target(ticket_id)
        now = iso(utc_now())
        with self.db.transaction() as conn:
            changed = conn.execute(
                "UPDATE reports SET status = 'in_review', updated_at = ?,"
                " acknowledged_at = COALESCE(acknowledged_at, ?)"
                f" WHERE ticket_id = ? AND status IN {_OPEN_SQL}",
                (now, now, ticket_id),
            ).rowcount
        if not changed:
            raise Conflict(f"ticket {ticket_id} is already {self._report_row(ticket_id)['status']}")

    def decide_report(
        self,
        ctx: RequestContext,
        admin_token: str | None,
        ticket_id: str,
        payload: Mapping[str, Any],
    ) -> dict[str, Any]:
        """A moderator's decision: `remove` takes the target down, `dismiss` keeps it.

        Either way the ticket gets a final status and a result the reporter can read.
        """
        with self.audit.action(ctx, "report.decide") as act:
            self._admin(act, admin_token)
            action = _choice(payload, "action", REPORT_RESULTS)
            note = _text(payload, "note", required=False, allow_empty=True) or ""
            _limit("note", note, NOTE_MAX)
            self._decide(act, self._report_row(ticket_id), action, note)
            return self._report_view(self._report_row(ticket_id))

    def _decide(self, act: Action, row: Row, action: str, note: str) -> None:
        """Close an open ticket with its result; `remove` also takes the target down."""
        ticket_id = row["ticket_id"]
        act.target(row["target_id"])
        act.reason = f"ticket {ticket_id}: {action}" + (f": {note}" if note else "")
        status, result = REPORT_RESULTS[action]
        if note:
            result = f"{result} {note}"
        now = iso(utc_now())
        with self.db.transaction() as conn:
            changed = conn.execute(
                "UPDATE reports SET status = ?, result = ?, note = ?, updated_at = ?,"
                " handled_at = ?, acknowledged_at = COALESCE(acknowledged_at, ?)"
                f" WHERE ticket_id = ? AND status IN {_OPEN_SQL}",
                (status, result, note, now, now, now, ticket_id),
            ).rowcount
            if not changed:
                raise Conflict(f"ticket {ticket_id} is already {row['status']}")
            if action == "remove":
                try:
                    act.surface, _target = self._target(row["target_type"], row["target_id"])
                except NotFound:
                    act.surface = None  # already gone; the ticket still gets its answer
                self._take_down(conn, row["target_type"], row["target_id"])
                act.decision = "removed"

    # --- the moderator desk (see desk.py, which runs it in the background) --------------------

    def reports_due(self) -> tuple[list[str], list[str]]:
        """The open tickets the desk should acknowledge now, and those it should decide now."""
        now = utc_now()
        handle = self.times.handle_seconds
        if "slow-handling" in self.faults:
            handle = self.times.limit_seconds * SLOW_HANDLING_FACTOR
        acknowledge = self.db.all(
            "SELECT ticket_id FROM reports WHERE status = 'received' AND created_at <= ?"
            " ORDER BY created_at",
            (iso(now - timedelta(seconds=self.times.ack_seconds)),),
        )
        decide = self.db.all(
            f"SELECT ticket_id FROM reports WHERE status IN {_OPEN_SQL} AND created_at <= ?"
            " ORDER BY created_at",
            (iso(now - timedelta(seconds=handle)),),
        )
        return [r["ticket_id"] for r in acknowledge], [r["ticket_id"] for r in decide]

    def desk_acknowledge(self, ticket_id: str) -> None:
        """The desk's acknowledgement of a ticket (status `in_review`)."""
        with self.audit.action(DESK_CONTEXT, "report.review", "moderator") as act:
            self._acknowledge(act, ticket_id)

    def desk_decide(self, ticket_id: str) -> None:
        """The desk's decision: remove the target if the site's own checks prohibit it.

        A ticket decided meanwhile by a moderator is left alone; an item already gone counts
        as removed. Raises ModerationUnavailable when an image cannot be checked.
        """
        row = self._report_row(ticket_id)
        if row["status"] not in OPEN_STATUSES:
            return
        try:
            _surface, target = self._target(row["target_type"], row["target_id"])
        except NotFound:
            violation: str | None = "the item was already taken down"
        else:
            violation = self._violation(row["target_type"], target)
        with self.audit.action(DESK_CONTEXT, "report.decide", "moderator") as act:
            self._decide(act, row, "dismiss" if violation is None else "remove", "")
            act.reason = f"{act.reason} (report desk: {violation or 'nothing prohibited'})"

    def _violation(self, target_type: str, target: Row) -> str | None:
        """What the moderation engine finds prohibited in an item's text or image, or None."""
        texts, image = DESK_FIELDS.get(target_type, (("text",), None))
        for column in texts:
            verdict = self.moderator.check_text(target[column])
            if not verdict.allowed:
                return verdict.detail
        sha = target[image] if image else None
        if sha is None:
            return None
        data = self.db.scalar("SELECT data FROM media WHERE sha256 = ?", (sha,))
        try:
            verdict = self.moderator.check_image(decode_image(data))
        except (ImageError, OcrError) as exc:
            raise ModerationUnavailable(f"the image {sha} could not be checked: {exc}") from exc
        return None if verdict.allowed else verdict.detail

    @staticmethod
    def _take_down(conn: sqlite3.Connection, target_type: str, target_id: int) -> None:
        """Remove a reported object everywhere it shows (forwards show it as removed)."""
        now = iso(utc_now())
        if target_type == "user":
            # Reset the profile and close the account; '[...]' cannot be registered, so the
            # placeholder name never clashes with a real one.
            placeholder = f"[removed-{target_id}]"
            conn.execute(
                "UPDATE users SET account_name = ?, account_key = ?, nickname = ?, bio = '',"
                " avatar_sha256 = NULL, banned = 1, updated_at = ? WHERE id = ?",
                (placeholder, placeholder, placeholder, now, target_id),
            )
            conn.execute("DELETE FROM credentials WHERE user_id = ?", (target_id,))
            return
        table, _gone = TARGET_TABLES[target_type]
        conn.execute(
            f"UPDATE {table} SET removed = 1, updated_at = ? WHERE id = ?", (now, target_id)
        )

    # --- appeals (Comment Provisions Art. 13) -------------------------------------------------

    @property
    def appeals_offered(self) -> bool:
        """Whether the site has an appeal path (the `no-appeal` fault takes it away)."""
        return "no-appeal" not in self.faults

    def _appeals_only(self) -> None:
        if not self.appeals_offered:
            raise NotFound("no such page")

    def disposals(self, actor: User | None) -> list[dict[str, Any]]:
        """The caller's removed posts, comments and group messages, newest removal first.

        Each comes with its appeal path (`appeal: null` when the site offers none).
        """
        if actor is None:
            raise Unauthorized("log in first (Authorization: Bearer <token>)")
        found = []
        for target_type, author in APPEAL_AUTHORS.items():
            table = TARGET_TABLES[target_type][0]
            extra = ", forward_of" if table == "posts" else ""
            rows = self.db.all(
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
        if not self.appeals_offered:
            return None
        appeal_id = self.db.scalar(
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
        rows = self.db.all(
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
        with self.audit.action(ctx, "appeal.create") as act:
            self._appeals_only()
            user = self._actor(act, actor)
            target_type = _choice(payload, "target_type", APPEAL_AUTHORS)
            target_id = _int(payload, "target_id")
            reason = _text(payload, "reason")
            _limit("reason", reason, REASON_MAX)
            act.content(None, reason)
            act.target(target_id)
            table, author = TARGET_TABLES[target_type][0], APPEAL_AUTHORS[target_type]
            row = self.db.one(
                f"SELECT {author} AS author_id, removed FROM {table} WHERE id = ?", (target_id,)
            )
            if row is None:
                raise NotFound(f"no {target_type} {target_id}")
            if row["author_id"] != user.id:
                raise Forbidden("only the author of an item can appeal its removal")
            if not row["removed"]:
                raise Conflict(
                    f"{target_type} {target_id} has not been removed; there is nothing to appeal",
                    code="not_removed",
                )
            now = iso(utc_now())
            appeal_id = f"APL-{secrets.token_hex(6).upper()}"
            with self.db.transaction() as conn:
                conn.execute(
                    "INSERT INTO appeals (appeal_id, author_id, target_type, target_id, reason,"
                    " status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'received', ?, ?)",
                    (appeal_id, user.id, target_type, target_id, reason, now, now),
                )
            act.target(appeal_id)
            return self._appeal_view(self._appeal_row(appeal_id))

    def _appeal_row(self, appeal_id: str) -> Row:
        row = self.db.one("SELECT * FROM appeals WHERE appeal_id = ?", (appeal_id,))
        if row is None:
            raise NotFound(f"no appeal {appeal_id}")
        return row

    @staticmethod
    def _appeal_view(row: Row) -> dict[str, Any]:
        return {
            key: row[key]
            for key in ("appeal_id", "status", "target_type", "target_id", "reason",
                        "created_at", "updated_at")
        }

    def appeal(self, actor: User | None, appeal_id: str) -> dict[str, Any]:
        """An appeal's status, for the author who filed it."""
        self._appeals_only()
        if actor is None:
            raise Unauthorized("log in first (Authorization: Bearer <token>)")
        row = self._appeal_row(appeal_id)
        if row["author_id"] != actor.id:
            raise Forbidden("only the author can see this appeal")
        return self._appeal_view(row)

    def appeal_queue(self, admin_token: str | None) -> list[dict[str, Any]]:
        """The moderator's list of appeals, oldest first."""
        self._appeals_only()
        if not self.is_admin(admin_token):
            raise Unauthorized("the moderator token (X-Admin-Token) is missing or wrong")
        rows = self.db.all("SELECT * FROM appeals ORDER BY created_at")
        return [{**self._appeal_view(row), "author_id": row["author_id"]} for row in rows]

    # --- moderator tools ------------------------------------------------------------------------

    def seed(
        self, ctx: RequestContext, admin_token: str | None, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Store an item as if `author_id` wrote it, skipping the moderation check.

        For planting must-block content that a test then reports or removes; the audit record
        (decision `seeded`) names the moderator, the author and the content hash.
        """
        with self.audit.action(ctx, "admin.seed") as act:
            self._admin(act, admin_token)
            kind = _choice(payload, "kind", SEED_SURFACES)
            author = self.user(_int(payload, "author_id"))
            if kind == "group":
                text = _text(payload, "name")
                intro = _text(payload, "text", required=False, allow_empty=True) or ""
                if intro:
                    act.content("group_intro", intro)
            else:
                text = _text(payload, "text", allow_empty=kind == "forward")
            act.content(SEED_SURFACES[kind], text)
            act.decision = "seeded"
            act.reason = f"planted as user {author.id}; moderation check skipped"
            if kind == "group":
                item_id = self._insert_group(author, text, intro)
            elif kind == "group_message":
                group_id = _int(payload, "group_id")
                self._group_row(group_id)
                self._join(author, group_id)
                item_id = self._insert_message(author, group_id, text)
            elif kind == "comment":
                post_id = _int(payload, "post_id")
                self.post(post_id)
                item_id = self._insert_comment(author, post_id, text)
            else:
                forward_of = None
                if kind == "forward":
                    forward_of = _int(payload, "post_id")
                    self.post(forward_of)
                item_id = self._insert_post(author, text, forward_of)
            act.target(item_id)
            return {"id": item_id, "kind": kind}

    def remove(
        self, ctx: RequestContext, admin_token: str | None, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A moderator takes an item down everywhere it shows.

        Removing an item that is already down succeeds again (`already_removed: true`), so a
        cleanup can be repeated; only the first removal is audited with decision `removed`.
        """
        with self.audit.action(ctx, "admin.remove") as act:
            self._admin(act, admin_token)
            target_type = _choice(payload, "target_type", REPORT_TARGET_TYPES)
            target_id = _int(payload, "target_id")
            reason = _text(payload, "reason", required=False, allow_empty=True) or ""
            _limit("reason", reason, REASON_MAX)
            act.target(target_id)
            act.surface, row = self._target(target_type, target_id, removed_too=True)
            already = bool(row[TARGET_TABLES[target_type][1]])
            act.reason = "already removed" if already else reason or None
            if not already:
                with self.db.transaction() as conn:
                    self._take_down(conn, target_type, target_id)
                act.decision = "removed"
            return {"removed": True, "target_type": target_type, "target_id": target_id,
                    "already_removed": already}

    # --- media --------------------------------------------------------------------------------

    def media(self, sha: str, ext: str) -> tuple[bytes, str]:
        """Image bytes, exactly as uploaded, while an avatar or logo still uses them."""
        row = self.db.one("SELECT * FROM media WHERE sha256 = ? AND ext = ?", (sha, ext))
        in_use = row is not None and self.db.one(
            "SELECT 1 FROM users WHERE avatar_sha256 = ? AND banned = 0"
            " UNION SELECT 1 FROM chat_groups WHERE logo_sha256 = ? AND removed = 0",
            (sha, sha),
        )
        if not in_use:
            raise NotFound("no such image")
        return row["data"], row["mime"]
