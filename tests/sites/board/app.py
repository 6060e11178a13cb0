"""Corkboard (软木布告板): the harness's third test site, a pages-only notice board.

Built unlike the reference site and Lantern Forum: no JSON API at all, only server-rendered
forms with CSRF tokens that redirect after a post; SQLite in memory; sign-up by handle, e-mail
and password, with an activation link sent over SMTP (the account signs in only after the link
is opened); handles of 3-20 letters, digits or underscores that never change; notes and replies
that cannot be edited; pictures re-encoded to JPEG; profile pages behind a login wall; reports
without a receipt, read by a provisioned moderator in an HTML queue; no appeal; an HTML audit
log and a retention setting. Run it as a script:

    python tests/sites/board/app.py --port 0 --smtp-port 2525 --moderator mod_1:secret-pass

It prints `Corkboard listening on http://127.0.0.1:PORT` once its socket listens, and serves
until SIGTERM. `--fault NAME` (repeatable) breaks one control; `--list-faults` prints them, and
`--list-load-faults` the ones that show only under load.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import secrets
import smtplib
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

import cork_filter
import uvicorn
from jinja2 import Environment, FileSystemLoader
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

SMTP_PORT_ENV = "BOARD_SMTP_PORT"
MODERATOR_ENV = "BOARD_MODERATOR"
COOKIE = "cork_session"
DEVICE_COOKIE = "cork_device"
HANDLE = re.compile(r"[A-Za-z0-9_]{3,20}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
NICKNAME_MAX = 32
ABOUT_MAX = 300
NOTE_MAX = 2000
CLUB_NAME_MAX = 60
MAX_UPLOAD = 3 * 1024 * 1024
RETENTION_DAYS = 400
SHORT_RETENTION_DAYS = 30
LOG_PAGE_ROWS = 2000
REPORT_KINDS = ("note", "reply", "person", "club", "wall")
REPORT_CATEGORIES = (
    ("illegal", "违法信息 Illegal"),
    ("harmful", "有害信息 Harmful"),
    ("spam", "广告 Spam"),
    ("other", "其他 Other"),
)
COMPLAINT_PHONE = "400-820-3311"
COMPLAINT_EMAIL = "report@board.test"

# One fault per control Corkboard implements: each skips or breaks exactly what that control
# checks. `--list-faults` prints this table.
FAULTS: dict[str, tuple[str, str]] = {
    "nickname-unscreened": ("A5.4-NICKNAME", "display names skip the banned-word filter"),
    "about-unscreened": ("A5.4-BIO", "'about me' texts skip the banned-word filter"),
    "portrait-unscreened": ("A5.4-AVATAR", "portraits are stored without the picture check"),
    "club-name-unscreened": ("A5.4-GROUP_NAME", "club names skip the banned-word filter"),
    "club-about-unscreened": ("A5.4-GROUP_INTRO", "club introductions skip the filter"),
    "club-logo-unscreened": ("A5.4-GROUP_LOGO", "club logos are stored without the picture check"),
    "note-unscreened": ("A5.4-POST", "notes skip the banned-word filter"),
    "reply-unscreened": ("A5.4-COMMENT", "replies skip the banned-word filter"),
    "wall-unscreened": ("A5.4-GROUP_MESSAGE", "club wall messages skip the filter"),
    "refusals-unlogged": ("A5.4-RECORDS", "refused writes leave no audit record"),
    "log-without-port": ("A5.3-LOG-FIELDS", "audit records leave the source port empty"),
    "short-retention": ("A5.4-RETENTION", f"records are kept {SHORT_RETENTION_DAYS} days"),
    "takedown-leaves-listing": ("A5.4-PROPAGATION",
                                "a taken-down item still shows in listings and search"),
    "bare-complaint-page": ("A5.6-PUBLISHED", "the complaint page gives no phone or e-mail"),
    "no-report-link-on-replies": ("A5.6-ENTRY-POINTS", "replies have no report link"),
    "reports-dropped": ("A5.6-INTAKE", "reports never reach the moderator's queue"),
}

# Faults that change nothing without load, so no functional run shows them: the load tests'
# own. `--list-load-faults` prints them. The board counts as busy while more than BUSY_MEMBERS
# signed-in members sent requests in the last BUSY_WINDOW_S seconds.
BUSY_MEMBERS = 2
BUSY_WINDOW_S = 0.5
LOAD_FAULTS: dict[str, tuple[str, str]] = {
    "notes-unscreened-when-busy": ("A5.4-UNDER-LOAD", "notes skip the banned-word filter while "
                                   "the board is busy"),
}

SCHEMA = """
CREATE TABLE account (
  id INTEGER PRIMARY KEY, handle TEXT NOT NULL UNIQUE COLLATE NOCASE, email TEXT NOT NULL,
  password TEXT NOT NULL, nickname TEXT NOT NULL, about TEXT NOT NULL DEFAULT '',
  portrait TEXT, role TEXT NOT NULL DEFAULT 'member', active INTEGER NOT NULL DEFAULT 0,
  code TEXT UNIQUE, created TEXT NOT NULL);
CREATE TABLE note (
  id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL, body TEXT NOT NULL, created TEXT NOT NULL,
  taken_down INTEGER NOT NULL DEFAULT 0);
CREATE TABLE reply (
  id INTEGER PRIMARY KEY, note_id INTEGER NOT NULL, author_id INTEGER NOT NULL,
  body TEXT NOT NULL, created TEXT NOT NULL, taken_down INTEGER NOT NULL DEFAULT 0);
CREATE TABLE club (
  id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL, name TEXT NOT NULL, about TEXT NOT NULL,
  logo TEXT, created TEXT NOT NULL, taken_down INTEGER NOT NULL DEFAULT 0);
CREATE TABLE member (club_id INTEGER NOT NULL, account_id INTEGER NOT NULL,
  PRIMARY KEY (club_id, account_id));
CREATE TABLE wall (
  id INTEGER PRIMARY KEY, club_id INTEGER NOT NULL, author_id INTEGER NOT NULL,
  body TEXT NOT NULL, created TEXT NOT NULL, taken_down INTEGER NOT NULL DEFAULT 0);
CREATE TABLE report (
  id INTEGER PRIMARY KEY, reporter_id INTEGER, kind TEXT NOT NULL, target_id INTEGER,
  category TEXT NOT NULL, details TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open',
  queued INTEGER NOT NULL DEFAULT 1, created TEXT NOT NULL);
CREATE TABLE log (
  id INTEGER PRIMARY KEY, at TEXT NOT NULL, account TEXT NOT NULL, operation TEXT NOT NULL,
  subject TEXT, src_ip TEXT, src_port INTEGER, dst_ip TEXT, dst_port INTEGER, user_agent TEXT,
  device TEXT, digest TEXT, decision TEXT NOT NULL);
CREATE TABLE file (key TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE session (sid TEXT PRIMARY KEY, csrf TEXT NOT NULL, account_id INTEGER);
CREATE TABLE setting (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def now() -> datetime:
    return datetime.now(timezone.utc)


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- refusals the pages show -----------------------------------------------------------------

class BoardError(Exception):
    """A refused request, shown to people as a message on the page."""

    status = 200
    markup = "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(BoardError):
    """The input's format or length is wrong (a validation message, not moderation)."""


class Banned(BoardError):
    """The banned-word filter refused the content."""

    markup = "banned"


class Gone(BoardError):
    status = 404


class NotAllowed(BoardError):
    status = 403


@dataclass(frozen=True)
class Origin:
    """Where a write came from and where it arrived: the Article 5(3) fields."""

    src_ip: str | None
    src_port: int | None
    dst_ip: str | None
    dst_port: int | None
    user_agent: str | None
    device: str | None

    @classmethod
    def of(cls, request: Request) -> Origin:
        client = request.client
        server = request.scope.get("server") or (None, None)
        device = request.headers.get("x-device-id") or request.cookies.get(DEVICE_COOKIE)
        return cls(client.host if client else None, client.port if client else None,
                   server[0], server[1], request.headers.get("user-agent"), device)


def content_digest(account: str, operation: str, content: str | bytes) -> str:
    """The audit record's digest: SHA-256 of account, operation and content joined by newlines
    (text as UTF-8, pictures as the bytes uploaded)."""
    body = content.encode("utf-8") if isinstance(content, str) else content
    return hashlib.sha256(f"{account}\n{operation}\n".encode() + body).hexdigest()


class Mailer:
    """Sends mail over SMTP to one host and port (a relay, or a test sink)."""

    def __init__(self, host: str, port: int | None) -> None:
        self.host, self.port = host, port

    def send(self, to: str, subject: str, text: str, html: str) -> None:
        if self.port is None:
            raise OSError("no SMTP port configured (--smtp-port or BOARD_SMTP_PORT)")
        message = EmailMessage()
        message["From"] = "Corkboard <no-reply@board.test>"
        message["To"] = to
        message["Subject"] = subject
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            smtp.send_message(message)


class Board:
    """All state in one in-memory SQLite database behind a lock; every write is logged."""

    def __init__(self, faults: Iterable[str] = ()) -> None:
        self.faults = frozenset(faults)
        known = FAULTS.keys() | LOAD_FAULTS.keys()
        unknown = self.faults - known
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; known: {sorted(known)}")
        self.members: dict[int, float] = {}  # signed-in account id -> its last request
        self.lock = threading.RLock()
        self.db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.executescript(SCHEMA)
        days = SHORT_RETENTION_DAYS if "short-retention" in self.faults else RETENTION_DAYS
        self.db.execute("INSERT INTO setting VALUES ('retention_days', ?)", (str(days),))

    # --- plumbing -------------------------------------------------------------------------

    def one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        with self.lock:
            return self.db.execute(sql, args).fetchone()

    def all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        with self.lock:
            return self.db.execute(sql, args).fetchall()

    def write(self, sql: str, *args: Any) -> int:
        with self.lock:
            return int(self.db.execute(sql, args).lastrowid or 0)

    def found(self, table: str, row_id: int, what: str) -> sqlite3.Row:
        row = self.one(f"SELECT * FROM {table} WHERE id = ?", row_id)
        if row is None:
            raise Gone(f"没有这个{what} There is no such {what}.")
        return row

    # --- the audit log --------------------------------------------------------------------

    @property
    def retention_days(self) -> int:
        row = self.one("SELECT value FROM setting WHERE key = 'retention_days'")
        return int(row["value"]) if row else RETENTION_DAYS

    def set_retention(self, days: int) -> None:
        self.write("UPDATE setting SET value = ? WHERE key = 'retention_days'", str(days))

    def log(self, origin: Origin, account: str, operation: str, subject: str | None,
            content: str | bytes | None, decision: str) -> None:
        """One audit record; records older than the retention setting are purged."""
        if decision == "refused" and "refusals-unlogged" in self.faults:
            return
        digest = content_digest(account, operation, content) if content is not None else None
        port = None if "log-without-port" in self.faults else origin.src_port
        moment = now()
        with self.lock:
            self.db.execute(
                "INSERT INTO log (at, account, operation, subject, src_ip, src_port, dst_ip, "
                "dst_port, user_agent, device, digest, decision) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (stamp(moment), account, operation, subject, origin.src_ip, port, origin.dst_ip,
                 origin.dst_port, origin.user_agent, origin.device, digest, decision))
            self.db.execute("DELETE FROM log WHERE at < ?",
                            (stamp(moment - timedelta(days=self.retention_days)),))

    def screen(self, origin: Origin, account: str, operation: str, subject: str | None,
               fields: dict[str, str], skip: str | None = None) -> None:
        """Filter and log each non-empty field; Banned on the first banned word (unless the
        fault `skip` is on)."""
        for name, value in fields.items():
            if not value:
                continue
            word = None if skip in self.faults else cork_filter.banned_word(value)
            self.log(origin, account, f"{operation}.{name}", subject, value,
                     "refused" if word else "accepted")
            if word:
                raise Banned("未发布：内容含有禁用词 Not posted: it contains a banned word.")

    async def picture(self, origin: Origin, account: str, operation: str, subject: str,
                      data: bytes, skip: str) -> str:
        """Check an upload, store it as a JPEG and return its file key."""
        if not data:
            raise Invalid("请选择图片 Choose a picture file.")
        if len(data) > MAX_UPLOAD:
            raise Invalid("图片不能超过 3 MB The picture is larger than 3 MB.")
        try:
            jpeg = await run_in_threadpool(cork_filter.to_jpeg, data)
        except cork_filter.NotAnImage as exc:
            raise Invalid(f"无法读取图片 {exc}") from None
        word = None
        if skip not in self.faults:
            word = await run_in_threadpool(cork_filter.image_banned_word, jpeg)
        self.log(origin, account, operation, subject, data, "refused" if word else "accepted")
        if word:
            raise Banned("未发布：图片含有禁用内容 Not posted: the picture shows a banned word.")
        key = f"{hashlib.sha256(jpeg).hexdigest()[:32]}.jpg"
        self.write("INSERT OR IGNORE INTO file VALUES (?, ?)", key, jpeg)
        return key

    # --- accounts -------------------------------------------------------------------------

    @staticmethod
    def _password_hash(password: str, salt: str) -> str:
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 20_000)
        return f"{salt}${digest.hex()}"

    def check_password(self, row: sqlite3.Row, password: str) -> bool:
        salt = row["password"].split("$", 1)[0]
        return secrets.compare_digest(row["password"], self._password_hash(password, salt))

    def create_account(self, origin: Origin, handle: str, email: str, password: str, *,
                       role: str = "member", active: bool = False) -> sqlite3.Row:
        if not HANDLE.fullmatch(handle):
            raise Invalid("账号须为 3-20 个字母、数字或下划线 A handle is 3 to 20 letters, "
                          "digits or underscores.")
        if not EMAIL.fullmatch(email):
            raise Invalid("请填写有效的邮箱 Enter a valid e-mail address.")
        if len(password) < 8:
            raise Invalid("密码至少 8 位 The password needs at least 8 characters.")
        with self.lock:
            if self.one("SELECT 1 FROM account WHERE handle = ?", handle):
                raise Invalid("这个账号已被使用 That handle is taken.")
            self.screen(origin, handle, "account.join", None, {"handle": handle})
            code = None if active else secrets.token_urlsafe(18)
            account_id = self.write(
                "INSERT INTO account (handle, email, password, nickname, role, active, code, "
                "created) VALUES (?,?,?,?,?,?,?,?)", handle, email,
                self._password_hash(password, secrets.token_hex(8)), handle, role, int(active),
                code, stamp(now()))
            return self.found("account", account_id, "account")

    def forget_account(self, account_id: int) -> None:
        self.write("DELETE FROM account WHERE id = ?", account_id)

    def activate(self, origin: Origin, code: str) -> sqlite3.Row:
        row = self.one("SELECT * FROM account WHERE code = ?", code)
        if row is None:
            raise Gone("激活链接无效或已使用 This activation link is unknown or used.")
        self.write("UPDATE account SET active = 1, code = NULL WHERE id = ?", row["id"])
        self.log(origin, row["handle"], "account.activate", f"account:{row['id']}", None,
                 "accepted")
        return row

    def sign_in(self, origin: Origin, handle: str, password: str) -> sqlite3.Row:
        row = self.one("SELECT * FROM account WHERE handle = ?", handle)
        if row is None or not self.check_password(row, password):
            raise Invalid("账号或密码不对 Unknown handle or wrong password.")
        if not row["active"]:
            raise Invalid("请先打开激活邮件里的链接 Open the activation link we mailed "
                          "you first.")
        self.log(origin, row["handle"], "session.start", f"account:{row['id']}", None,
                 "accepted")
        return row

    def update_profile(self, origin: Origin, me: sqlite3.Row, nickname: str,
                       about: str) -> None:
        if not nickname or len(nickname) > NICKNAME_MAX:
            raise Invalid(f"昵称须为 1-{NICKNAME_MAX} 个字符 A display name is 1 to "
                          f"{NICKNAME_MAX} characters.")
        if len(about) > ABOUT_MAX:
            raise Invalid(f"自我介绍最多 {ABOUT_MAX} 字 'About me' is at most {ABOUT_MAX} "
                          "characters.")
        subject = f"account:{me['id']}"
        if nickname != me["nickname"]:
            self.screen(origin, me["handle"], "profile", subject, {"nickname": nickname},
                        skip="nickname-unscreened")
        if about != me["about"]:
            self.screen(origin, me["handle"], "profile", subject, {"about": about},
                        skip="about-unscreened")
        self.write("UPDATE account SET nickname = ?, about = ? WHERE id = ?", nickname, about,
                   me["id"])

    async def set_portrait(self, origin: Origin, me: sqlite3.Row, data: bytes) -> None:
        key = await self.picture(origin, me["handle"], "profile.portrait",
                                 f"account:{me['id']}", data, "portrait-unscreened")
        self.write("UPDATE account SET portrait = ? WHERE id = ?", key, me["id"])

    # --- notes and replies (never edited) -------------------------------------------------

    @staticmethod
    def _text(value: str, limit: int, what: str) -> None:
        if not value:
            raise Invalid(f"{what}不能为空 The {what} is empty.")
        if len(value) > limit:
            raise Invalid(f"{what}最多 {limit} 字 The text is longer than {limit} characters.")

    def seen(self, account_id: int) -> None:
        """Note a signed-in member's request (what `busy` counts)."""
        with self.lock:
            self.members[account_id] = time.monotonic()

    def busy(self) -> bool:
        """Whether more than BUSY_MEMBERS members sent requests in the last window."""
        since = time.monotonic() - BUSY_WINDOW_S
        with self.lock:
            self.members = {member: at for member, at in self.members.items() if at >= since}
            return len(self.members) > BUSY_MEMBERS

    def pin_note(self, origin: Origin, me: sqlite3.Row, body: str) -> int:
        self._text(body, NOTE_MAX, "便条 note")
        busy = "notes-unscreened-when-busy" in self.faults and self.busy()
        self.screen(origin, me["handle"], "note.pin", None, {"body": body},
                    skip="notes-unscreened-when-busy" if busy else "note-unscreened")
        return self.write("INSERT INTO note (author_id, body, created) VALUES (?,?,?)",
                          me["id"], body, stamp(now()))

    def reply(self, origin: Origin, me: sqlite3.Row, note_id: int, body: str) -> int:
        self.found("note", note_id, "便条 note")
        self._text(body, NOTE_MAX, "回复 reply")
        self.screen(origin, me["handle"], "reply.send", f"note:{note_id}", {"body": body},
                    skip="reply-unscreened")
        return self.write("INSERT INTO reply (note_id, author_id, body, created) "
                          "VALUES (?,?,?,?)", note_id, me["id"], body, stamp(now()))

    # --- clubs and their walls ------------------------------------------------------------

    def _club_fields(self, name: str, about: str) -> None:
        if not name or len(name) > CLUB_NAME_MAX:
            raise Invalid(f"俱乐部名称须为 1-{CLUB_NAME_MAX} 字 A club name is 1 to "
                          f"{CLUB_NAME_MAX} characters.")
        if len(about) > ABOUT_MAX:
            raise Invalid(f"介绍最多 {ABOUT_MAX} 字 The introduction is at most {ABOUT_MAX} "
                          "characters.")

    def _screen_club(self, origin: Origin, me: sqlite3.Row, operation: str,
                     subject: str | None, name: str | None, about: str | None) -> None:
        if name is not None:
            self.screen(origin, me["handle"], operation, subject, {"name": name},
                        skip="club-name-unscreened")
        if about is not None:
            self.screen(origin, me["handle"], operation, subject, {"about": about},
                        skip="club-about-unscreened")

    def open_club(self, origin: Origin, me: sqlite3.Row, name: str, about: str) -> int:
        self._club_fields(name, about)
        self._screen_club(origin, me, "club.open", None, name, about)
        with self.lock:
            club_id = self.write("INSERT INTO club (owner_id, name, about, created) "
                                 "VALUES (?,?,?,?)", me["id"], name, about, stamp(now()))
            self.write("INSERT INTO member VALUES (?, ?)", club_id, me["id"])
        return club_id

    def owned_club(self, me: sqlite3.Row, club_id: int) -> sqlite3.Row:
        club = self.found("club", club_id, "俱乐部 club")
        if club["owner_id"] != me["id"]:
            raise NotAllowed("只有创建者能修改俱乐部 Only the club's owner can change it.")
        return club

    def change_club(self, origin: Origin, me: sqlite3.Row, club_id: int, name: str,
                    about: str) -> None:
        club = self.owned_club(me, club_id)
        self._club_fields(name, about)
        self._screen_club(origin, me, "club.change", f"club:{club_id}",
                          name if name != club["name"] else None,
                          about if about != club["about"] else None)
        self.write("UPDATE club SET name = ?, about = ? WHERE id = ?", name, about, club_id)

    async def set_logo(self, origin: Origin, me: sqlite3.Row, club_id: int, data: bytes) -> None:
        self.owned_club(me, club_id)
        key = await self.picture(origin, me["handle"], "club.logo", f"club:{club_id}", data,
                                 "club-logo-unscreened")
        self.write("UPDATE club SET logo = ? WHERE id = ?", key, club_id)

    def is_member(self, club_id: int, account_id: int | None) -> bool:
        return account_id is not None and self.one(
            "SELECT 1 FROM member WHERE club_id = ? AND account_id = ?", club_id,
            account_id) is not None

    def join(self, origin: Origin, me: sqlite3.Row, club_id: int) -> None:
        self.found("club", club_id, "俱乐部 club")
        if not self.is_member(club_id, me["id"]):
            self.write("INSERT INTO member VALUES (?, ?)", club_id, me["id"])
            self.log(origin, me["handle"], "club.join", f"club:{club_id}", None, "accepted")

    def post_to_wall(self, origin: Origin, me: sqlite3.Row, club_id: int, body: str) -> int:
        if not self.is_member(club_id, me["id"]):
            raise NotAllowed("加入俱乐部后才能留言 Join the club to write on its wall.")
        self._text(body, NOTE_MAX, "留言 message")
        self.screen(origin, me["handle"], "wall.post", f"club:{club_id}", {"body": body},
                    skip="wall-unscreened")
        return self.write("INSERT INTO wall (club_id, author_id, body, created) "
                          "VALUES (?,?,?,?)", club_id, me["id"], body, stamp(now()))

    # --- reading --------------------------------------------------------------------------

    def shown(self, table: str) -> str:
        """The SQL condition for the rows of `table` listings and search may show."""
        return "1" if "takedown-leaves-listing" in self.faults else f"{table}.taken_down = 0"

    def search(self, term: str) -> dict[str, list[sqlite3.Row]]:
        needle = cork_filter.normalise(term)
        if not needle:
            return {"notes": [], "clubs": [], "people": []}

        def hit(*values: str) -> bool:
            return any(needle in cork_filter.normalise(value) for value in values)

        notes = self.all(f"SELECT note.*, handle, nickname FROM note JOIN account ON "
                         f"account.id = author_id WHERE {self.shown('note')} ORDER BY note.id "
                         "DESC")
        clubs = self.all(f"SELECT * FROM club WHERE {self.shown('club')} ORDER BY id DESC")
        people = self.all("SELECT * FROM account WHERE active = 1 ORDER BY id DESC")
        return {"notes": [n for n in notes if hit(n["body"])][:50],
                "clubs": [c for c in clubs if hit(c["name"], c["about"])][:50],
                "people": [p for p in people if hit(p["handle"], p["nickname"])][:50]}

    # --- reports and the moderator's desk -------------------------------------------------

    def report(self, origin: Origin, reporter: sqlite3.Row | None, kind: str,
               target_id: int | None, category: str, details: str) -> None:
        if category not in dict(REPORT_CATEGORIES):
            raise Invalid("请选择举报理由 Choose a reason.")
        if len(details) > NOTE_MAX:
            raise Invalid(f"说明最多 {NOTE_MAX} 字 The details are too long.")
        who = reporter["handle"] if reporter else "(visitor)"
        self.log(origin, who, f"report.{kind}", f"{kind}:{target_id}", details or None,
                 "accepted")
        self.write("INSERT INTO report (reporter_id, kind, target_id, category, details, queued, "
                   "created) VALUES (?,?,?,?,?,?,?)", reporter["id"] if reporter else None,
                   kind, target_id, category, details,
                   int("reports-dropped" not in self.faults), stamp(now()))

    def take_down(self, origin: Origin, moderator: sqlite3.Row, kind: str, target_id: int,
                  reason: str) -> None:
        """Hide an item from everyone: its page says it was taken down."""
        table = {"note": "note", "reply": "reply", "club": "club", "wall": "wall"}.get(kind)
        if table is None:
            raise Invalid(f"不能下架 {kind} A {kind} cannot be taken down.")
        self.found(table, target_id, kind)
        self.write(f"UPDATE {table} SET taken_down = 1 WHERE id = ?", target_id)
        self.write("UPDATE report SET status = 'taken_down' WHERE kind = ? AND target_id = ? "
                   "AND status = 'open'", kind, target_id)
        self.log(origin, moderator["handle"], f"desk.take_down.{kind}", f"{kind}:{target_id}",
                 reason or None, "taken_down")

    def delete_account(self, origin: Origin, moderator: sqlite3.Row, handle: str) -> None:
        """Delete an account and everything it wrote (a member's request, or test cleanup);
        the audit log keeps its records."""
        row = self.one("SELECT * FROM account WHERE handle = ?", handle)
        if row is None:
            raise Gone("没有这个账号 There is no account with that handle.")
        if row["role"] == "moderator":
            raise NotAllowed("不能删除版主账号 A moderator's account cannot be deleted here.")
        account_id = row["id"]
        with self.lock:
            clubs = "SELECT id FROM club WHERE owner_id = ?"
            for sql in (
                    f"DELETE FROM wall WHERE author_id = ? OR club_id IN ({clubs})",
                    f"DELETE FROM member WHERE account_id = ? OR club_id IN ({clubs})",
                    "DELETE FROM reply WHERE author_id = ? OR note_id IN "
                    "(SELECT id FROM note WHERE author_id = ?)",
                    "DELETE FROM report WHERE reporter_id = ?",
                    "DELETE FROM note WHERE author_id = ?",
                    "DELETE FROM club WHERE owner_id = ?",
                    "DELETE FROM session WHERE account_id = ?",
                    "DELETE FROM account WHERE id = ?"):
                self.db.execute(sql, (account_id,) * sql.count("?"))
        self.log(origin, moderator["handle"], "desk.delete_account", f"account:{account_id}",
                 None, "accepted")

    def dismiss(self, origin: Origin, moderator: sqlite3.Row, report_id: int) -> None:
        self.found("report", report_id, "report")
        self.write("UPDATE report SET status = 'dismissed' WHERE id = ?", report_id)
        self.log(origin, moderator["handle"], "desk.dismiss", f"report:{report_id}", None,
                 "accepted")

    # --- sessions -------------------------------------------------------------------------

    def session(self, sid: str | None) -> tuple[sqlite3.Row, bool]:
        row = self.one("SELECT * FROM session WHERE sid = ?", sid or "")
        if row is not None:
            return row, False
        sid = secrets.token_urlsafe(24)
        self.write("INSERT INTO session VALUES (?, ?, NULL)", sid, secrets.token_urlsafe(24))
        return self.one("SELECT * FROM session WHERE sid = ?", sid), True  # type: ignore[return-value]

    def start_session(self, old_sid: str, account_id: int) -> str:
        """A new session id and CSRF token on sign-in (no session fixation)."""
        sid = secrets.token_urlsafe(24)
        with self.lock:
            self.db.execute("DELETE FROM session WHERE sid = ?", (old_sid,))
            self.db.execute("INSERT INTO session VALUES (?, ?, ?)",
                            (sid, secrets.token_urlsafe(24), account_id))
        return sid


# --- pages -----------------------------------------------------------------------------------

TEMPLATES = Path(__file__).with_name("templates")
Handler = Callable[[Request, "Visit"], Awaitable[Response]]


@dataclass
class Visit:
    """One request's session: who is signed in, the CSRF token, the session id to set."""

    sid: str
    csrf: str
    me: sqlite3.Row | None
    new_cookie: bool


class Site:
    """Corkboard's pages."""

    def __init__(self, board: Board, mailer: Mailer) -> None:
        self.board = board
        self.mailer = mailer
        self.env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
        self.env.filters["q"] = lambda value: quote(str(value), safe="")

    def render(self, visit: Visit, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(f"{name}.html").render(
            me=visit.me, csrf=visit.csrf, faults=self.board.faults, **context)
        return HTMLResponse(html, status_code=status)

    def page(self, handler: Handler, *, member: bool = False,
             moderator: bool = False) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a page: session cookie, CSRF check on POST, the login wall, refusals."""
        async def endpoint(request: Request) -> Response:
            session, fresh = self.board.session(request.cookies.get(COOKIE))
            if session["account_id"]:
                self.board.seen(session["account_id"])
            me = self.board.one("SELECT * FROM account WHERE id = ?", session["account_id"]) \
                if session["account_id"] else None
            visit = Visit(session["sid"], session["csrf"], me, fresh)
            response: Response
            if request.method == "POST" and not secrets.compare_digest(
                    str((await request.form()).get("csrf_token", "")), visit.csrf):
                response = self.render(visit, "message", 403, title="表单已过期 Form expired",
                                       text="请刷新页面后重试 Reload the page and try again.")
            elif (member or moderator) and me is None:
                response = RedirectResponse(f"/login?next={quote(request.url.path)}", 303)
            elif moderator and me is not None and me["role"] != "moderator":
                response = self.render(visit, "message", 403, title="仅限版主 Moderators only",
                                       text="这个页面只对版主开放 This page is for moderators.")
            else:
                try:
                    response = await handler(request, visit)
                except BoardError as exc:
                    response = self.render(visit, "message", exc.status, title="出错了 Sorry",
                                           text=exc.message, markup=exc.markup)
            if visit.new_cookie:
                response.set_cookie(COOKIE, visit.sid, httponly=True, samesite="lax", path="/")
            if DEVICE_COOKIE not in request.cookies:
                response.set_cookie(DEVICE_COOKIE, secrets.token_hex(8), samesite="lax",
                                    path="/", max_age=400 * 86400)
            return response
        return endpoint

    @staticmethod
    def field(form: FormData, name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    @staticmethod
    async def upload(form: FormData, name: str) -> bytes:
        value = form.get(name)
        return await value.read() if isinstance(value, UploadFile) else b""

    @staticmethod
    def me(visit: Visit) -> sqlite3.Row:
        assert visit.me is not None  # the login wall let the request through
        return visit.me

    # --- sign-up, activation, sign-in -----------------------------------------------------

    async def home(self, request: Request, visit: Visit) -> Response:
        notes = self.board.all(
            f"SELECT note.*, handle, nickname FROM note JOIN account ON account.id = author_id "
            f"WHERE {self.board.shown('note')} ORDER BY note.id DESC LIMIT 50")
        return self.render(visit, "home", notes=notes)

    async def join(self, request: Request, visit: Visit) -> Response:
        if visit.me is not None:  # signed in already: nothing to join
            return RedirectResponse("/", 303)
        if request.method == "GET":
            return self.render(visit, "join", form={})
        form = await request.form()
        values = {name: self.field(form, name) for name in ("handle", "email")}
        origin = Origin.of(request)
        try:
            account = self.board.create_account(origin, values["handle"], values["email"],
                                                str(form.get("password", "")))
        except BoardError as exc:
            return self.render(visit, "join", form=values, error=exc)
        link = f"{str(request.base_url).rstrip('/')}/activate/{account['code']}"
        mail = self.env.get_template("activation_mail.html")
        try:
            await run_in_threadpool(
                self.mailer.send, account["email"], "激活你的软木板账号 Activate your Corkboard "
                "account", f"Hello @{account['handle']},\n\nopen this link to activate your "
                f"account:\n{link}\n\n— Corkboard", mail.render(account=account, link=link))
        except OSError as exc:
            self.board.forget_account(account["id"])
            return self.render(visit, "message", 503, title="邮件发送失败 Mail not sent",
                               text=f"激活邮件发不出去，请稍后再试 We could not send the "
                                    f"activation mail ({exc}); try again later.")
        return self.render(visit, "message", title="请查收邮件 Check your mail",
                           text=f"激活链接已发送到 {account['email']} We sent an activation "
                                "link to that address. Open it, then sign in.")

    async def activate(self, request: Request, visit: Visit) -> Response:
        account = self.board.activate(Origin.of(request), request.path_params["code"])
        return self.render(visit, "activated", account=account)

    async def login(self, request: Request, visit: Visit) -> Response:
        target = request.query_params.get("next", "/me")
        if request.method == "GET":
            return self.render(visit, "login", form={}, next=target)
        form = await request.form()
        target = self.field(form, "next") or "/me"
        if not target.startswith("/") or target.startswith("//"):
            target = "/me"
        handle = self.field(form, "handle")
        try:
            account = self.board.sign_in(Origin.of(request), handle,
                                         str(form.get("password", "")))
        except BoardError as exc:
            return self.render(visit, "login", form={"handle": handle}, next=target, error=exc)
        response = RedirectResponse(target, 303)
        visit.sid, visit.new_cookie = self.board.start_session(visit.sid, account["id"]), True
        return response

    async def logout(self, request: Request, visit: Visit) -> Response:
        self.board.write("UPDATE session SET account_id = NULL WHERE sid = ?", visit.sid)
        return RedirectResponse("/", 303)

    # --- people ---------------------------------------------------------------------------

    async def person(self, request: Request, visit: Visit) -> Response:
        who = self.board.one("SELECT * FROM account WHERE handle = ? AND active = 1",
                             request.path_params["handle"])
        if who is None:
            raise Gone("没有这个人 There is no one with that handle.")
        notes = self.board.all(f"SELECT * FROM note WHERE author_id = ? AND "
                               f"{self.board.shown('note')} ORDER BY id DESC LIMIT 50", who["id"])
        return self.render(visit, "person", who=who, notes=notes)

    async def settings(self, request: Request, visit: Visit) -> Response:
        me = self.me(visit)
        if request.method == "GET":
            return self.render(visit, "me", form=dict(me))
        form = await request.form()
        values = {"nickname": self.field(form, "nickname"), "about": self.field(form, "about")}
        try:
            self.board.update_profile(Origin.of(request), me, **values)
        except BoardError as exc:
            return self.render(visit, "me", form={**dict(me), **values}, error=exc)
        return RedirectResponse(f"/people/{quote(me['handle'])}", 303)

    async def portrait(self, request: Request, visit: Visit) -> Response:
        me = self.me(visit)
        data = await self.upload(await request.form(), "portrait")
        try:
            await self.board.set_portrait(Origin.of(request), me, data)
        except BoardError as exc:
            return self.render(visit, "me", form=dict(me), error=exc)
        return RedirectResponse(f"/people/{quote(me['handle'])}", 303)

    # --- notes ----------------------------------------------------------------------------

    async def new_note(self, request: Request, visit: Visit) -> Response:
        me = self.me(visit)
        if request.method == "GET":
            return self.render(visit, "new_note", body="")
        body = self.field(await request.form(), "body")
        try:
            note_id = self.board.pin_note(Origin.of(request), me, body)
        except BoardError as exc:
            return self.render(visit, "new_note", body=body, error=exc)
        return RedirectResponse(f"/notes/{note_id}", 303)

    def _note_page(self, visit: Visit, note_id: int, **context: Any) -> HTMLResponse:
        note = self.board.one("SELECT note.*, handle, nickname FROM note JOIN account ON "
                              "account.id = author_id WHERE note.id = ?", note_id)
        if note is None:
            raise Gone("没有这张便条 There is no such note.")
        replies = self.board.all("SELECT reply.*, handle, nickname FROM reply JOIN account ON "
                                 "account.id = author_id WHERE note_id = ? ORDER BY reply.id",
                                 note_id)
        return self.render(visit, "note", note=note, replies=replies, **context)

    async def note(self, request: Request, visit: Visit) -> Response:
        return self._note_page(visit, request.path_params["note_id"])

    async def reply(self, request: Request, visit: Visit) -> Response:
        me = self.me(visit)
        note_id = request.path_params["note_id"]
        body = self.field(await request.form(), "body")
        try:
            reply_id = self.board.reply(Origin.of(request), me, note_id, body)
        except (Invalid, Banned) as exc:
            return self._note_page(visit, note_id, draft=body, error=exc)
        return RedirectResponse(f"/notes/{note_id}#reply-{reply_id}", 303)

    # --- clubs ----------------------------------------------------------------------------

    async def clubs(self, request: Request, visit: Visit) -> Response:
        clubs = self.board.all(f"SELECT * FROM club WHERE {self.board.shown('club')} "
                               "ORDER BY id DESC LIMIT 100")
        return self.render(visit, "clubs", clubs=clubs)

    async def new_club(self, request: Request, visit: Visit) -> Response:
        me = self.me(visit)
        if request.method == "GET":
            return self.render(visit, "club_form", form={}, club=None)
        form = await request.form()
        values = {"name": self.field(form, "name"), "about": self.field(form, "about")}
        try:
            club_id = self.board.open_club(Origin.of(request), me, **values)
        except BoardError as exc:
            return self.render(visit, "club_form", form=values, club=None, error=exc)
        return RedirectResponse(f"/clubs/{club_id}", 303)

    async def club(self, request: Request, visit: Visit) -> Response:
        club = self.board.found("club", request.path_params["club_id"], "俱乐部 club")
        member = self.board.is_member(club["id"], visit.me["id"] if visit.me else None)
        count = self.board.one("SELECT count(*) AS n FROM member WHERE club_id = ?", club["id"])
        return self.render(visit, "club", club=club, member=member, members=count["n"])

    async def edit_club(self, request: Request, visit: Visit) -> Response:
        me = self.me(visit)
        club = self.board.owned_club(me, request.path_params["club_id"])
        if request.method == "GET":
            return self.render(visit, "club_form", form=dict(club), club=club)
        form = await request.form()
        values = {"name": self.field(form, "name"), "about": self.field(form, "about")}
        try:
            self.board.change_club(Origin.of(request), me, club["id"], **values)
        except BoardError as exc:
            return self.render(visit, "club_form", form=values, club=club, error=exc)
        return RedirectResponse(f"/clubs/{club['id']}", 303)

    async def club_logo(self, request: Request, visit: Visit) -> Response:
        me = self.me(visit)
        club = self.board.owned_club(me, request.path_params["club_id"])
        data = await self.upload(await request.form(), "logo")
        try:
            await self.board.set_logo(Origin.of(request), me, club["id"], data)
        except BoardError as exc:
            return self.render(visit, "club_form", form=dict(club), club=club, error=exc)
        return RedirectResponse(f"/clubs/{club['id']}", 303)

    async def join_club(self, request: Request, visit: Visit) -> Response:
        club_id = request.path_params["club_id"]
        self.board.join(Origin.of(request), self.me(visit), club_id)
        return RedirectResponse(f"/clubs/{club_id}/wall", 303)

    def _wall_page(self, visit: Visit, club: sqlite3.Row, **context: Any) -> HTMLResponse:
        messages = self.board.all("SELECT wall.*, handle, nickname FROM wall JOIN account ON "
                                  "account.id = author_id WHERE club_id = ? ORDER BY wall.id",
                                  club["id"])
        return self.render(visit, "wall", club=club, messages=messages, **context)

    async def wall(self, request: Request, visit: Visit) -> Response:
        me = self.me(visit)
        club = self.board.found("club", request.path_params["club_id"], "俱乐部 club")
        if not self.board.is_member(club["id"], me["id"]) and me["role"] != "moderator":
            raise NotAllowed("加入俱乐部后才能看留言墙 Join the club to read its wall.")
        if request.method == "GET":
            return self._wall_page(visit, club)
        body = self.field(await request.form(), "body")
        try:
            message_id = self.board.post_to_wall(Origin.of(request), me, club["id"], body)
        except (Invalid, Banned) as exc:
            return self._wall_page(visit, club, draft=body, error=exc)
        return RedirectResponse(f"/clubs/{club['id']}/wall#msg-{message_id}", 303)

    # --- search, files, help --------------------------------------------------------------

    async def search(self, request: Request, visit: Visit) -> Response:
        term = request.query_params.get("q", "").strip()
        return self.render(visit, "search", term=term, found=self.board.search(term))

    async def file(self, request: Request) -> Response:
        row = self.board.one("SELECT data FROM file WHERE key = ?", request.path_params["key"])
        if row is None:
            return Response(b"", 404)
        return Response(row["data"], media_type="image/jpeg",
                        headers={"Cache-Control": "public, max-age=86400"})

    async def complaints(self, request: Request, visit: Visit) -> Response:
        if request.method == "GET":
            return self.render(visit, "complaints", phone=COMPLAINT_PHONE, email=COMPLAINT_EMAIL)
        form = await request.form()
        details = " ".join(filter(None, (self.field(form, "page"), self.field(form, "details"))))
        self.board.report(Origin.of(request), visit.me, "page", None, "other", details)
        return RedirectResponse("/report/thanks", 303)

    # --- reports --------------------------------------------------------------------------

    async def report(self, request: Request, visit: Visit) -> Response:
        kind, target = request.path_params["kind"], request.path_params["target"]
        if kind not in REPORT_KINDS:
            raise Gone(f"不能举报 {kind} There is nothing called {kind} to report.")
        if request.method == "GET":
            return self.render(visit, "report", kind=kind, target=target,
                               categories=REPORT_CATEGORIES)
        form = await request.form()
        try:
            self.board.report(Origin.of(request), visit.me, kind, target,
                              self.field(form, "category"), self.field(form, "details"))
        except BoardError as exc:
            return self.render(visit, "report", kind=kind, target=target,
                               categories=REPORT_CATEGORIES, error=exc)
        return RedirectResponse("/report/thanks", 303)

    async def thanks(self, request: Request, visit: Visit) -> Response:
        return self.render(visit, "message", title="感谢举报 Thank you",
                           text="版主会尽快查看 A moderator will look at it soon.")

    # --- the moderator's desk -------------------------------------------------------------

    async def queue(self, request: Request, visit: Visit) -> Response:
        reports = self.board.all("SELECT report.*, handle FROM report LEFT JOIN account ON "
                                 "account.id = reporter_id WHERE queued = 1 ORDER BY report.id "
                                 "DESC LIMIT 500")
        return self.render(visit, "queue", reports=reports)

    async def take_down(self, request: Request, visit: Visit) -> Response:
        form = await request.form()
        try:
            target = int(self.field(form, "target"))
        except ValueError:
            raise Invalid("没有目标 No item given.") from None
        kind = self.field(form, "kind")
        self.board.take_down(Origin.of(request), self.me(visit), kind, target,
                             self.field(form, "reason"))
        return self.render(visit, "message", title="已下架 Taken down",
                           text=f"{kind} {target} 已对所有人隐藏 is hidden from everyone now.")

    async def dismiss(self, request: Request, visit: Visit) -> Response:
        self.board.dismiss(Origin.of(request), self.me(visit), request.path_params["report_id"])
        return RedirectResponse("/desk/reports", 303)

    async def account_desk(self, request: Request, visit: Visit) -> Response:
        handle = request.path_params["handle"]
        if request.method == "POST":
            self.board.delete_account(Origin.of(request), self.me(visit), handle)
            return self.render(visit, "message", title="已删除 Deleted",
                               text=f"@{handle} 及其内容已删除 and everything it wrote are gone.")
        who = self.board.one("SELECT * FROM account WHERE handle = ?", handle)
        if who is None:
            raise Gone("没有这个账号 There is no account with that handle.")
        return self.render(visit, "account_desk", who=who)

    async def audit_log(self, request: Request, visit: Visit) -> Response:
        since = request.query_params.get("since", "").strip()
        try:  # a '+' of an offset arrives as a space when the URL did not escape it
            start = stamp(datetime.fromisoformat(since.replace(" ", "+"))) if since else ""
        except ValueError:
            raise Invalid(f"时间格式不对 'since' is not an ISO 8601 time: {since!r}") from None
        rows = self.board.all("SELECT * FROM log WHERE at >= ? ORDER BY id DESC LIMIT ?", start,
                              LOG_PAGE_ROWS)
        return self.render(visit, "log", rows=rows, since=since)

    async def retention(self, request: Request, visit: Visit) -> Response:
        if request.method == "POST":
            try:
                days = int(self.field(await request.form(), "days"))
            except ValueError:
                days = 0
            if days < 1:
                raise Invalid("天数须为正整数 Days must be a positive whole number.")
            self.board.set_retention(days)
            self.board.log(Origin.of(request), self.me(visit)["handle"], "desk.retention",
                           None, str(days), "accepted")
        return self.render(visit, "retention", days=self.board.retention_days)

    # --- routing --------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        get, both, post = ["GET"], ["GET", "POST"], ["POST"]
        page = self.page
        return [
            Route("/", page(self.home), methods=get),
            Route("/join", page(self.join), methods=both),
            Route("/activate/{code}", page(self.activate), methods=get),
            Route("/login", page(self.login), methods=both),
            Route("/logout", page(self.logout), methods=post),
            Route("/people/{handle}", page(self.person, member=True), methods=get),
            Route("/me", page(self.settings, member=True), methods=both),
            Route("/me/portrait", page(self.portrait, member=True), methods=post),
            Route("/notes/new", page(self.new_note, member=True), methods=both),
            Route("/notes/{note_id:int}", page(self.note), methods=get),
            Route("/notes/{note_id:int}/replies", page(self.reply, member=True), methods=post),
            Route("/clubs", page(self.clubs), methods=get),
            Route("/clubs/new", page(self.new_club, member=True), methods=both),
            Route("/clubs/{club_id:int}", page(self.club), methods=get),
            Route("/clubs/{club_id:int}/edit", page(self.edit_club, member=True), methods=both),
            Route("/clubs/{club_id:int}/logo", page(self.club_logo, member=True), methods=post),
            Route("/clubs/{club_id:int}/join", page(self.join_club, member=True), methods=post),
            Route("/clubs/{club_id:int}/wall", page(self.wall, member=True), methods=both),
            Route("/search", page(self.search), methods=get),
            Route("/files/{key}", self.file, methods=get),
            Route("/help/complaints", page(self.complaints), methods=both),
            Route("/report/thanks", page(self.thanks), methods=get),
            Route("/report/{kind}/{target}", page(self.report, member=True), methods=both),
            Route("/desk/reports", page(self.queue, moderator=True), methods=get),
            Route("/desk/reports/{report_id:int}/dismiss", page(self.dismiss, moderator=True),
                  methods=post),
            Route("/desk/take-down", page(self.take_down, moderator=True), methods=post),
            Route("/desk/accounts/{handle}", page(self.account_desk, moderator=True),
                  methods=both),
            Route("/desk/log", page(self.audit_log, moderator=True), methods=get),
            Route("/desk/retention", page(self.retention, moderator=True), methods=both),
        ]


def create_app(board: Board, mailer: Mailer) -> Starlette:
    """Corkboard's ASGI app over `board`, sending its mail with `mailer`."""
    return Starlette(routes=Site(board, mailer).routes())


def provision_moderator(board: Board, spec: str) -> None:
    """Create the active moderator account `NAME:PASSWORD` (sign-up cannot make one)."""
    name, sep, password = spec.partition(":")
    if not sep:
        raise ValueError(f"--moderator wants NAME:PASSWORD, not {spec!r}")
    origin = Origin("127.0.0.1", None, None, None, "corkboard-start", None)
    board.create_account(origin, name, f"{name}@board.test", password, role="moderator",
                         active=True)


def fault_table(faults: dict[str, tuple[str, str]]) -> str:
    """Faults as a text table: name, the control it breaks, what it does."""
    width = max(map(len, faults))
    return "\n".join(f"{name:<{width}}  {control:<18}  {what}"
                     for name, (control, what) in faults.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--smtp-host", default="127.0.0.1", help="where activation mail goes")
    parser.add_argument("--smtp-port", type=int, default=None,
                        help=f"the SMTP port (default: ${SMTP_PORT_ENV})")
    parser.add_argument("--moderator", default=None,
                        help=f"NAME:PASSWORD of the moderator to provision (default: "
                             f"${MODERATOR_ENV})")
    parser.add_argument("--fault", action="append", default=[],
                        choices=sorted({**FAULTS, **LOAD_FAULTS}), metavar="NAME",
                        help="break one control (repeatable; see --list-faults and "
                             "--list-load-faults)")
    parser.add_argument("--list-faults", action="store_true", help="print the faults and exit")
    parser.add_argument("--list-load-faults", action="store_true",
                        help="print the faults that show only under load, and exit")
    args = parser.parse_args(argv)
    if args.list_faults or args.list_load_faults:
        print(fault_table(FAULTS if args.list_faults else LOAD_FAULTS))
        return 0
    smtp_port = args.smtp_port
    if smtp_port is None and os.environ.get(SMTP_PORT_ENV):
        smtp_port = int(os.environ[SMTP_PORT_ENV])
    if smtp_port is None:
        parser.error(f"give --smtp-port or set {SMTP_PORT_ENV}: sign-up mails an activation link")
    board = Board(args.fault)
    moderator = args.moderator or os.environ.get(MODERATOR_ENV)
    if moderator:
        try:
            provision_moderator(board, moderator)
        except (ValueError, BoardError) as exc:
            parser.error(f"--moderator: {getattr(exc, 'message', exc)}")
    # IPPROTO_TCP given explicitly: asyncio turns on TCP_NODELAY for accepted connections only
    # when the listening socket says it is TCP (otherwise Nagle costs ~40 ms per response).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(128)
    config = uvicorn.Config(create_app(board, Mailer(args.smtp_host, smtp_port)),
                            log_level="warning", access_log=False, proxy_headers=False,
                            server_header=False, lifespan="off", timeout_graceful_shutdown=5)
    print(f"Corkboard listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
