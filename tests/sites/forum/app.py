"""Lantern Forum (灯笼论坛): a second, small target site for the harness's own tests.

Built apart from the reference site on purpose: one module plus its filter, memory instead of a
database, handles in page URLs, topics/replies/reshares and circles with chat, CSRF-protected
forms that redirect after a post, flagging through a modal dialog, and a JSON API under /v2/
with its own names and a session header. Run it as a script:

    FORUM_ADMIN_TOKEN=secret python tests/sites/forum/app.py --port 0

It prints `Forum listening on http://127.0.0.1:PORT` once its socket listens (connections made
before uvicorn runs wait in the backlog) and serves until SIGTERM.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import json
import os
import re
import secrets
import socket
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import lantern_filter
import uvicorn
from jinja2 import DictLoader, Environment
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

ADMIN_TOKEN_ENV = "FORUM_ADMIN_TOKEN"
COOKIE = "lantern_sid"
RETENTION_DAYS = 365
MAX_IMAGE_BYTES = 2 * 1024 * 1024
HANDLE = re.compile(r"[\w.\-]{3,40}")
SLUG = re.compile(r"c-(\d+)")
FLAG_KINDS = ("topic", "reply", "account", "circle", "message")
FLAG_REASONS = (
    ("illegal", "违法信息 Illegal content"),
    ("harmful", "不良信息 Harmful content"),
    ("spam", "垃圾广告 Spam"),
    ("harassment", "人身攻击 Harassment"),
    ("privacy", "侵犯隐私 Privacy"),
    ("other", "其他 Other"),
)
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif",
               "WEBP": "image/webp"}


# --- errors the service raises; pages and the API each turn them into a response --------------

class ForumError(Exception):
    """A refused request: HTTP status, a code for the API, and a message for people."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field_name


class Invalid(ForumError):
    pass


class Refused(ForumError):
    """The content filter refused a field."""

    status = 422
    code = "content_refused"


class Conflict(ForumError):
    status = 409
    code = "conflict"


class NotFound(ForumError):
    status = 404
    code = "not_found"


class Forbidden(ForumError):
    status = 403
    code = "forbidden"


class Unauthenticated(ForumError):
    status = 401
    code = "unauthenticated"


# --- the model -------------------------------------------------------------------------------

def now() -> datetime:
    return datetime.now(timezone.utc)


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Account:
    id: int
    handle: str
    display_name: str
    password: bytes = field(repr=False)
    salt: bytes = field(repr=False)
    about: str = ""
    picture: str | None = None  # a media key
    joined: str = field(default_factory=lambda: stamp(now()))


@dataclass
class Topic:
    id: int
    author_id: int
    title: str
    body: str
    reshare_of: int | None = None
    created: str = field(default_factory=lambda: stamp(now()))
    edited: str | None = None


@dataclass
class Reply:
    id: int
    topic_id: int
    author_id: int
    body: str
    created: str = field(default_factory=lambda: stamp(now()))
    edited: str | None = None


@dataclass
class Circle:
    id: int
    owner_id: int
    name: str
    description: str
    members: set[int] = field(default_factory=set)
    created: str = field(default_factory=lambda: stamp(now()))

    @property
    def slug(self) -> str:
        return f"c-{self.id}"


@dataclass
class ChatMessage:
    id: int
    circle_id: int
    author_id: int
    text: str
    created: str = field(default_factory=lambda: stamp(now()))
    edited: str | None = None


@dataclass
class Flag:
    ticket: str
    reporter_id: int | None
    kind: str
    target_id: int
    reason: str
    note: str
    status: str = "open"
    created: str = field(default_factory=lambda: stamp(now()))


@dataclass
class WebSession:
    sid: str
    csrf: str
    account_id: int | None = None
    flashes: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Origin:
    """Where a write came from and where it arrived (Article 5(3) fields)."""

    peer_ip: str | None
    peer_port: int | None
    local_ip: str | None
    local_port: int | None
    ua: str | None
    device: str | None
    via: str

    @classmethod
    def of(cls, request: Request, via: str) -> Origin:
        peer = request.client
        local = request.scope.get("server") or (None, None)
        # X-Client-Device is this forum's header. X-Device-Id is accepted as well because the
        # harness's browser channel always sends that name (it does not take the profile's).
        device = request.headers.get("x-client-device") or request.headers.get("x-device-id")
        return cls(peer.host if peer else None, peer.port if peer else None, local[0], local[1],
                   request.headers.get("user-agent"), device, via)


class Forum:
    """All state, in memory, behind one lock; every write goes through here and is logged."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.ids = itertools.count(1)
        self.accounts: dict[int, Account] = {}
        self.by_handle: dict[str, int] = {}
        self.old_handles: dict[str, int] = {}
        self.topics: dict[int, Topic] = {}
        self.replies: dict[int, Reply] = {}
        self.circles: dict[int, Circle] = {}
        self.messages: dict[int, ChatMessage] = {}
        self.flags: dict[str, Flag] = {}
        self.media: dict[str, tuple[bytes, str]] = {}
        self.tokens: dict[str, int] = {}
        self.sessions: dict[str, WebSession] = {}
        self.log: list[dict[str, Any]] = []

    # --- audit ----------------------------------------------------------------------------

    def record(self, origin: Origin, who: str, action: str, subject: str | None,
               contents: dict[str, str | bytes], refused: str | None) -> None:
        """One log entry per content field (one without content for a write that has none)."""
        at = now()
        items: list[tuple[str | None, str | bytes | None]] = list(contents.items()) or [
            (None, None)]
        with self.lock:
            for name, value in items:
                data = value.encode("utf-8") if isinstance(value, str) else value
                outcome = "ok" if refused is None else (
                    "blocked" if name == refused else "not_saved")
                self.log.append({
                    "seq": len(self.log) + 1, "at": stamp(at), "who": who, "action": action,
                    "subject": subject, "field": name,
                    "digest": hashlib.sha256(data).hexdigest() if data is not None else None,
                    "outcome": outcome, "via": origin.via,
                    "peer_ip": origin.peer_ip, "peer_port": origin.peer_port,
                    "local_ip": origin.local_ip, "local_port": origin.local_port,
                    "ua": origin.ua, "device": origin.device, "_at": at,
                })

    def screened(self, origin: Origin, who: str, action: str, subject: str | None,
                 contents: dict[str, str]) -> None:
        """Filter every non-empty field, log the write, raise Refused on the first hit."""
        contents = {name: value for name, value in contents.items() if value}
        refused = next((name for name, value in contents.items()
                        if lantern_filter.check_text(value).blocked), None)
        self.record(origin, who, action, subject, contents, refused)
        if refused is not None:
            raise Refused(f"{refused.replace('_', ' ')} contains words that are not allowed "
                          "here / 内容含有不允许发布的词语", refused)

    def log_after(self, after: datetime | None) -> list[dict[str, Any]]:
        with self.lock:
            return [{k: v for k, v in entry.items() if k != "_at"} for entry in self.log
                    if after is None or entry["_at"] >= after]

    # --- accounts -------------------------------------------------------------------------

    def account(self, account_id: int | None) -> Account | None:
        return self.accounts.get(account_id) if account_id is not None else None

    def find_handle(self, handle: str) -> tuple[Account | None, Account | None]:
        """(the account with this handle, the account that used to have it)."""
        key = handle.casefold()
        current = self.account(self.by_handle.get(key))
        return current, (None if current else self.account(self.old_handles.get(key)))

    @staticmethod
    def _hash(password: str, salt: bytes) -> bytes:
        return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 20_000)

    @staticmethod
    def _check_handle(handle: str) -> None:
        if not HANDLE.fullmatch(handle):
            raise Invalid("handle: 3-40 letters, digits, '_', '-' or '.'", "handle")

    @staticmethod
    def _check_name(value: str, limit: int, name: str, required: bool = True) -> None:
        if required and not value:
            raise Invalid(f"{name.replace('_', ' ')} is required", name)
        if len(value) > limit:
            raise Invalid(f"{name.replace('_', ' ')}: at most {limit} characters", name)

    def sign_up(self, origin: Origin, handle: str, display_name: str,
                password: str) -> Account:
        self._check_handle(handle)
        self._check_name(display_name, 40, "display_name")
        if len(password) < 8:
            raise Invalid("password: at least 8 characters", "password")
        with self.lock:
            if handle.casefold() in self.by_handle or handle.casefold() in self.old_handles:
                raise Conflict("that handle is taken", "handle")
            self.screened(origin, handle, "account.signup", None,
                          {"handle": handle, "display_name": display_name})
            salt = secrets.token_bytes(16)
            account = Account(next(self.ids), handle, display_name, self._hash(password, salt),
                              salt)
            self.accounts[account.id] = account
            self.by_handle[handle.casefold()] = account.id
            return account

    def sign_in(self, handle: str, password: str) -> Account:
        account, _ = self.find_handle(handle)
        if account is None or not secrets.compare_digest(
                account.password, self._hash(password, account.salt)):
            raise Unauthenticated("unknown handle or wrong password")
        return account

    def update_profile(self, origin: Origin, account: Account, *, handle: str | None = None,
                       display_name: str | None = None, about: str | None = None) -> Account:
        """Change the fields that differ; each changed field is filtered and logged."""
        changes = {name: value for name, value in (
            ("handle", handle), ("display_name", display_name), ("about", about))
            if value is not None and value != getattr(account, name)}
        if "handle" in changes:
            self._check_handle(changes["handle"])
        if "display_name" in changes:
            self._check_name(changes["display_name"], 40, "display_name")
        if "about" in changes:
            self._check_name(changes["about"], 500, "about", required=False)
        with self.lock:
            new = changes.get("handle")
            if new is not None and new.casefold() != account.handle.casefold():
                holder = self.by_handle.get(new.casefold(), self.old_handles.get(new.casefold()))
                if holder not in (None, account.id):
                    raise Conflict("that handle is taken", "handle")
            self.screened(origin, account.handle, "profile.update", f"account:{account.id}",
                          changes)
            if new is not None:
                del self.by_handle[account.handle.casefold()]
                self.old_handles[account.handle.casefold()] = account.id
                self.old_handles.pop(new.casefold(), None)
                self.by_handle[new.casefold()] = account.id
            for name, value in changes.items():
                setattr(account, name, value)
        return account

    async def set_picture(self, origin: Origin, account: Account, data: bytes) -> Account:
        """Check an image (QR codes, OCR) off the event loop, log it, then use it."""
        if not data:
            raise Invalid("choose an image file", "picture")
        if len(data) > MAX_IMAGE_BYTES:
            raise Invalid("the image is larger than 2 MB", "picture")
        try:
            verdict = await run_in_threadpool(lantern_filter.check_image, data)
        except lantern_filter.BadImage as exc:
            raise Invalid(str(exc), "picture") from None
        refused = "picture" if verdict.blocked else None
        self.record(origin, account.handle, "picture.update", f"account:{account.id}",
                    {"picture": data}, refused)
        if refused:
            raise Refused("the picture shows words that are not allowed here / "
                          "图片含有不允许发布的内容", "picture")
        from PIL import Image

        kind = Image.open(io.BytesIO(data)).format or "PNG"
        key = f"{hashlib.sha256(data).hexdigest()}.{kind.lower()}"
        with self.lock:
            self.media[key] = (data, IMAGE_TYPES.get(kind, "application/octet-stream"))
            account.picture = key
        return account

    def new_token(self, account: Account) -> str:
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = account.id
        return token

    # --- topics, replies, reshares --------------------------------------------------------

    def topic(self, topic_id: int) -> Topic:
        found = self.topics.get(topic_id)
        if found is None:
            raise NotFound(f"no topic {topic_id}")
        return found

    def post_topic(self, origin: Origin, author: Account, title: str, body: str,
                   reshare_of: int | None = None) -> Topic:
        self._check_name(title, 120, "title", required=False)
        self._check_name(body, 5000, "body", required=reshare_of is None)
        with self.lock:
            if reshare_of is not None:
                self.topic(reshare_of)
            action = "topic.reshare" if reshare_of is not None else "topic.create"
            self.screened(origin, author.handle, action, None, {"title": title, "body": body})
            topic = Topic(next(self.ids), author.id, title, body, reshare_of)
            self.topics[topic.id] = topic
            return topic

    def edit_topic(self, origin: Origin, author: Account, topic_id: int, *,
                   title: str | None = None, body: str | None = None) -> Topic:
        topic = self.topic(topic_id)
        if topic.author_id != author.id:
            raise Forbidden("only the author can edit a topic")
        changes = {name: value for name, value in (("title", title), ("body", body))
                   if value is not None and value != getattr(topic, name)}
        self._check_name(changes.get("title", ""), 120, "title", required=False)
        if "body" in changes:
            self._check_name(changes["body"], 5000, "body", required=topic.reshare_of is None)
        with self.lock:
            self.screened(origin, author.handle, "topic.update", f"topic:{topic.id}", changes)
            for name, value in changes.items():
                setattr(topic, name, value)
            if changes:
                topic.edited = stamp(now())
        return topic

    def reply(self, origin: Origin, author: Account, topic_id: int, body: str) -> Reply:
        self._check_name(body, 2000, "body")
        with self.lock:
            self.topic(topic_id)
            self.screened(origin, author.handle, "reply.create", f"topic:{topic_id}",
                          {"body": body})
            reply = Reply(next(self.ids), topic_id, author.id, body)
            self.replies[reply.id] = reply
            return reply

    def edit_reply(self, origin: Origin, author: Account, reply_id: int, body: str) -> Reply:
        reply = self.replies.get(reply_id)
        if reply is None:
            raise NotFound(f"no reply {reply_id}")
        if reply.author_id != author.id:
            raise Forbidden("only the author can edit a reply")
        self._check_name(body, 2000, "body")
        with self.lock:
            if body != reply.body:
                self.screened(origin, author.handle, "reply.update", f"reply:{reply.id}",
                              {"body": body})
                reply.body, reply.edited = body, stamp(now())
        return reply

    def replies_of(self, topic_id: int) -> list[Reply]:
        return [r for r in self.replies.values() if r.topic_id == topic_id]

    # --- circles and their chat -----------------------------------------------------------

    def circle(self, circle_id: int) -> Circle:
        found = self.circles.get(circle_id)
        if found is None:
            raise NotFound(f"no circle {circle_id}")
        return found

    def circle_by_slug(self, slug: str) -> Circle:
        match = SLUG.fullmatch(slug)
        if match is None:
            raise NotFound(f"no circle {slug}")
        return self.circle(int(match.group(1)))

    def start_circle(self, origin: Origin, owner: Account, name: str,
                     description: str) -> Circle:
        self._check_name(name, 60, "name")
        self._check_name(description, 500, "description", required=False)
        with self.lock:
            self.screened(origin, owner.handle, "circle.create", None,
                          {"name": name, "description": description})
            circle = Circle(next(self.ids), owner.id, name, description, {owner.id})
            self.circles[circle.id] = circle
            return circle

    def edit_circle(self, origin: Origin, owner: Account, circle_id: int, *,
                    name: str | None = None, description: str | None = None) -> Circle:
        circle = self.circle(circle_id)
        if circle.owner_id != owner.id:
            raise Forbidden("only the owner can change a circle")
        changes = {key: value for key, value in (("name", name), ("description", description))
                   if value is not None and value != getattr(circle, key)}
        if "name" in changes:
            self._check_name(changes["name"], 60, "name")
        self._check_name(changes.get("description", ""), 500, "description", required=False)
        with self.lock:
            self.screened(origin, owner.handle, "circle.update", f"circle:{circle.id}", changes)
            for key, value in changes.items():
                setattr(circle, key, value)
        return circle

    def join(self, origin: Origin, account: Account, circle_id: int) -> Circle:
        with self.lock:
            circle = self.circle(circle_id)
            if account.id not in circle.members:
                self.record(origin, account.handle, "circle.join", f"circle:{circle.id}", {},
                            None)
                circle.members.add(account.id)
            return circle

    def member_circle(self, account: Account | None, circle_id: int) -> Circle:
        circle = self.circle(circle_id)
        if account is None or account.id not in circle.members:
            raise Forbidden("only members of the circle can read and write its chat")
        return circle

    def send(self, origin: Origin, author: Account, circle_id: int, text: str) -> ChatMessage:
        self._check_name(text, 2000, "text")
        with self.lock:
            circle = self.member_circle(author, circle_id)
            self.screened(origin, author.handle, "chat.send", f"circle:{circle.id}",
                          {"text": text})
            message = ChatMessage(next(self.ids), circle.id, author.id, text)
            self.messages[message.id] = message
            return message

    def edit_message(self, origin: Origin, author: Account, circle_id: int, message_id: int,
                     text: str) -> ChatMessage:
        message = self.messages.get(message_id)
        if message is None or message.circle_id != circle_id:
            raise NotFound(f"no message {message_id} in this circle")
        if message.author_id != author.id:
            raise Forbidden("only the sender can edit a message")
        self._check_name(text, 2000, "text")
        with self.lock:
            if text != message.text:
                self.screened(origin, author.handle, "chat.update", f"message:{message.id}",
                              {"text": text})
                message.text, message.edited = text, stamp(now())
        return message

    def chat(self, circle_id: int) -> list[ChatMessage]:
        return [m for m in self.messages.values() if m.circle_id == circle_id]

    # --- flags ----------------------------------------------------------------------------

    def delete_account(self, origin: Origin, account_id: int) -> bool:
        """Delete an account and all it made (topics and their reshares, replies, circles and
        their chats, messages, flags, sessions); False when it is gone already. The log keeps
        its entries: deleting is logged like any write."""
        with self.lock:
            account = self.accounts.pop(account_id, None)
            if account is None:
                return False
            self.record(origin, "admin", "account.delete", f"account:{account_id}", {}, None)
            for names in (self.by_handle, self.old_handles):
                for name in [n for n, owner in names.items() if owner == account_id]:
                    del names[name]
            doomed = {t.id for t in self.topics.values() if t.author_id == account_id}
            while more := {t.id for t in self.topics.values()
                           if t.reshare_of in doomed and t.id not in doomed}:
                doomed |= more
            circles = {c.id for c in self.circles.values() if c.owner_id == account_id}
            for table, gone in (
                    (self.topics, lambda t: t.id in doomed),
                    (self.replies, lambda r: r.author_id == account_id or r.topic_id in doomed),
                    (self.circles, lambda c: c.id in circles),
                    (self.messages, lambda m: m.author_id == account_id
                     or m.circle_id in circles),
                    (self.flags, lambda f: f.reporter_id == account_id),
                    (self.tokens, lambda owner: owner == account_id),
                    (self.sessions, lambda w: w.account_id == account_id)):
                for key in [k for k, v in table.items() if gone(v)]:
                    del table[key]
            for circle in self.circles.values():
                circle.members.discard(account_id)
            if account.picture and not any(a.picture == account.picture
                                           for a in self.accounts.values()):
                self.media.pop(account.picture, None)
            return True

    def flag(self, origin: Origin, reporter: Account | None, kind: str, target_id: int,
             reason: str, note: str) -> Flag:
        if kind not in FLAG_KINDS:
            raise Invalid(f"kind: one of {', '.join(FLAG_KINDS)}", "kind")
        if reason not in dict(FLAG_REASONS):
            raise Invalid("choose a reason", "reason")
        self._check_name(note, 1000, "note", required=False)
        store = {"topic": self.topics, "reply": self.replies, "account": self.accounts,
                 "circle": self.circles, "message": self.messages}[kind]
        if target_id not in store:
            raise NotFound(f"no {kind} {target_id}")
        with self.lock:
            ticket = f"LF-{secrets.token_hex(3).upper()}"
            self.record(origin, reporter.handle if reporter else "(anonymous)", "flag.create",
                        f"{kind}:{target_id}", {"note": note} if note else {}, None)
            flag = Flag(ticket, reporter.id if reporter else None, kind, target_id, reason, note)
            self.flags[ticket] = flag
            return flag

    # --- reading --------------------------------------------------------------------------

    def find(self, term: str) -> dict[str, list[Any]]:
        needle = lantern_filter.normalise(term)
        if not needle:
            return {"accounts": [], "circles": [], "topics": []}

        def hit(*values: str) -> bool:
            return any(needle in lantern_filter.normalise(v) for v in values)

        with self.lock:
            return {
                "accounts": [a for a in self.accounts.values() if hit(a.handle, a.display_name)],
                "circles": [c for c in self.circles.values() if hit(c.name, c.description)],
                "topics": [t for t in reversed(self.topics.values()) if hit(t.title, t.body)],
            }

    def web_session(self, sid: str | None) -> tuple[WebSession, bool]:
        with self.lock:
            found = self.sessions.get(sid or "")
            if found is not None:
                return found, False
            fresh = WebSession(secrets.token_urlsafe(24), secrets.token_urlsafe(24))
            self.sessions[fresh.sid] = fresh
            return fresh, True

    def sign_in_session(self, session: WebSession, account: Account) -> None:
        """A new session id and CSRF token on sign-in (no session fixation)."""
        with self.lock:
            self.sessions.pop(session.sid, None)
            session.sid, session.csrf = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
            session.account_id = account.id
            self.sessions[session.sid] = session


# --- JSON views (the API's shapes; pages render the same dicts) ----------------------------

def person(forum: Forum, account_id: int) -> dict[str, Any]:
    account = forum.accounts[account_id]
    return {"id": account.id, "handle": account.handle, "display_name": account.display_name}


def profile_form(account: Account) -> dict[str, str]:
    """The settings form's values (never the password hash)."""
    return {"handle": account.handle, "display_name": account.display_name,
            "about": account.about}


def account_view(account: Account) -> dict[str, Any]:
    picture = None
    if account.picture:
        picture = {"url": f"/media/{account.picture}", "sha256": account.picture.split(".")[0]}
    return {"id": account.id, "handle": account.handle, "display_name": account.display_name,
            "about": account.about, "picture": picture, "joined_at": account.joined,
            "page": f"/u/{quote(account.handle, safe='')}"}


def topic_view(forum: Forum, topic: Topic) -> dict[str, Any]:
    source = forum.topics.get(topic.reshare_of) if topic.reshare_of else None
    return {
        "id": topic.id, "title": topic.title, "body": topic.body,
        "author": person(forum, topic.author_id),
        "reshare_of": None if source is None else {
            "id": source.id, "body": source.body, "author": person(forum, source.author_id)},
        "reply_count": len(forum.replies_of(topic.id)),
        "created_at": topic.created, "edited_at": topic.edited, "page": f"/t/{topic.id}",
    }


def reply_view(forum: Forum, reply: Reply) -> dict[str, Any]:
    return {"id": reply.id, "topic_id": reply.topic_id, "body": reply.body,
            "author": person(forum, reply.author_id), "created_at": reply.created,
            "edited_at": reply.edited}


def circle_view(forum: Forum, circle: Circle) -> dict[str, Any]:
    return {"id": circle.id, "slug": circle.slug, "name": circle.name,
            "description": circle.description, "owner": person(forum, circle.owner_id),
            "member_count": len(circle.members), "created_at": circle.created,
            "page": f"/c/{circle.slug}"}


def message_view(forum: Forum, message: ChatMessage) -> dict[str, Any]:
    return {"id": message.id, "circle_id": message.circle_id, "text": message.text,
            "author": person(forum, message.author_id), "created_at": message.created,
            "edited_at": message.edited}


def flag_view(flag: Flag) -> dict[str, Any]:
    return {"ticket": flag.ticket, "status": flag.status, "reason": flag.reason,
            "target": {"kind": flag.kind, "id": flag.target_id}, "created_at": flag.created}


# --- pages -----------------------------------------------------------------------------------

PAGES = Path(__file__).with_name("pages.jinja")
_PAGE_MARK = re.compile(r"^\{#- page: (\w+) -#\}\n", re.M)


def load_pages() -> dict[str, str]:
    """The templates in pages.jinja, by name (each section starts with a `page:` comment)."""
    parts = _PAGE_MARK.split(PAGES.read_text(encoding="utf-8"))
    return {name: text.rstrip("\n") for name, text in zip(parts[1::2], parts[2::2], strict=True)}


class Site:
    """Pages and API of one forum."""

    def __init__(self, forum: Forum, admin_token: str | None) -> None:
        self.forum = forum
        self.admin_token = admin_token
        self.env = Environment(loader=DictLoader(load_pages()), autoescape=True)
        self.env.filters["q"] = lambda value: quote(str(value), safe="")

    # --- page plumbing --------------------------------------------------------------------

    def render(self, session: WebSession, name: str, status: int = 200,
               **context: Any) -> HTMLResponse:
        flashes, session.flashes = session.flashes, []
        html = self.env.get_template(name).render(
            me=self.forum.account(session.account_id), csrf=session.csrf, flashes=flashes,
            reasons=FLAG_REASONS, **context)
        return HTMLResponse(html, status_code=status)

    def form_error(self, session: WebSession, error: ForumError, name: str,
                   **context: Any) -> HTMLResponse:
        """Show the form again with the message; a filter refusal is a danger flash."""
        kind = "danger" if isinstance(error, Refused) else "warning"
        if isinstance(error, NotFound | Forbidden):
            return self.render(session, "error", error.status, code=error.status,
                               message=error.message)
        return self.render(session, name, error.status, **{kind: error.message}, **context)

    def page(self, handler: Callable[[Request, WebSession], Awaitable[Response]],
             *, signed_in: bool = False) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a page handler: session cookie, CSRF check on POST, sign-in gate, errors."""
        async def endpoint(request: Request) -> Response:
            session, fresh = self.forum.web_session(request.cookies.get(COOKIE))
            sid = session.sid
            if request.method == "POST":
                form = await request.form()
                if not secrets.compare_digest(str(form.get("_csrf", "")), session.csrf):
                    response: Response = self.render(
                        session, "error", 403, code=403,
                        message="表单已过期，请刷新后重试 The form expired; reload and retry.")
                    return self._cookie(response, session, fresh)
            if signed_in and self.forum.account(session.account_id) is None:
                response = RedirectResponse(f"/signin?next={quote(request.url.path)}", 303)
            else:
                try:
                    response = await handler(request, session)
                except ForumError as exc:
                    response = self.render(session, "error", exc.status, code=exc.status,
                                           message=exc.message)
            return self._cookie(response, session, fresh or session.sid != sid)
        return endpoint

    @staticmethod
    def _cookie(response: Response, session: WebSession, changed: bool) -> Response:
        if changed:
            response.set_cookie(COOKIE, session.sid, httponly=True, samesite="lax", path="/")
        return response

    def me(self, session: WebSession) -> Account:
        account = self.forum.account(session.account_id)
        if account is None:
            raise Unauthenticated("sign in first")
        return account

    @staticmethod
    def text(form: FormData, name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    # --- account pages --------------------------------------------------------------------

    async def home(self, request: Request, session: WebSession) -> Response:
        topics = list(self.forum.topics.values())[-30:][::-1]
        return self.render(session, "home", topics=[topic_view(self.forum, t) for t in topics])

    async def signup(self, request: Request, session: WebSession) -> Response:
        if request.method == "GET":
            return self.render(session, "signup", form={})
        form = await request.form()
        values = {k: self.text(form, k) for k in ("handle", "display_name")}
        try:
            account = self.forum.sign_up(Origin.of(request, "web"), values["handle"],
                                         values["display_name"], str(form.get("password", "")))
        except ForumError as exc:
            return self.form_error(session, exc, "signup", form=values)
        self.forum.sign_in_session(session, account)
        session.flashes.append(("ok", "欢迎加入 Welcome to Lantern Forum!"))
        return RedirectResponse(f"/u/{quote(account.handle, safe='')}", 303)

    async def signin(self, request: Request, session: WebSession) -> Response:
        if request.method == "GET":
            return self.render(session, "signin", form={}, next=request.query_params.get("next"))
        form = await request.form()
        target = self.text(form, "next")
        target = target if target.startswith("/") and not target.startswith("//") else "/"
        try:
            account = self.forum.sign_in(self.text(form, "handle"),
                                         str(form.get("password", "")))
        except ForumError as exc:
            return self.render(session, "signin", 401, warning=exc.message,
                               form={"handle": self.text(form, "handle")}, next=target)
        self.forum.sign_in_session(session, account)
        return RedirectResponse(target, 303)

    async def signout(self, request: Request, session: WebSession) -> Response:
        session.account_id = None
        return RedirectResponse("/", 303)

    async def person_page(self, request: Request, session: WebSession) -> Response:
        handle = request.path_params["handle"]
        account, renamed = self.forum.find_handle(handle)
        if renamed is not None:  # an old handle: links keep working after a rename
            return RedirectResponse(f"/u/{quote(renamed.handle, safe='')}", 301)
        if account is None:
            raise NotFound(f"no one is called @{handle}")
        topics = [topic_view(self.forum, t) for t in reversed(self.forum.topics.values())
                  if t.author_id == account.id][:50]
        return self.render(session, "profile", who=account_view(account), topics=topics)

    async def settings(self, request: Request, session: WebSession) -> Response:
        me = self.me(session)
        if request.method == "GET":
            return self.render(session, "settings", form=profile_form(me))
        form = await request.form()
        values = {"handle": self.text(form, "handle"),
                  "display_name": self.text(form, "display_name"),
                  "about": self.text(form, "about")}
        try:
            self.forum.update_profile(Origin.of(request, "web"), me, **values)
        except ForumError as exc:
            return self.form_error(session, exc, "settings", form=values)
        session.flashes.append(("ok", "资料已存储 Profile saved."))
        return RedirectResponse(f"/u/{quote(me.handle, safe='')}", 303)

    async def picture(self, request: Request, session: WebSession) -> Response:
        me = self.me(session)
        form = await request.form()
        upload = form.get("picture")
        data = await upload.read() if isinstance(upload, UploadFile) else b""
        try:
            await self.forum.set_picture(Origin.of(request, "web"), me, data)
        except ForumError as exc:
            return self.form_error(session, exc, "settings", form=profile_form(me))
        session.flashes.append(("ok", "形象照已更新 Picture updated."))
        return RedirectResponse(f"/u/{quote(me.handle, safe='')}", 303)

    # --- topic pages ----------------------------------------------------------------------

    def _topic_page(self, session: WebSession, topic: Topic, status: int = 200,
                    **context: Any) -> HTMLResponse:
        replies = [reply_view(self.forum, r) for r in self.forum.replies_of(topic.id)]
        return self.render(session, "topic", status, t=topic_view(self.forum, topic),
                           replies=replies, **context)

    async def new_topic(self, request: Request, session: WebSession) -> Response:
        me = self.me(session)
        if request.method == "GET":
            return self.render(session, "new_topic", form={})
        form = await request.form()
        values = {"title": self.text(form, "title"), "body": self.text(form, "body")}
        try:
            topic = self.forum.post_topic(Origin.of(request, "web"), me, **values)
        except ForumError as exc:
            return self.form_error(session, exc, "new_topic", form=values)
        return RedirectResponse(f"/t/{topic.id}", 303)

    async def topic_page(self, request: Request, session: WebSession) -> Response:
        return self._topic_page(session, self.forum.topic(request.path_params["topic_id"]))

    async def edit_topic(self, request: Request, session: WebSession) -> Response:
        me = self.me(session)
        topic = self.forum.topic(request.path_params["topic_id"])
        if topic.author_id != me.id:
            raise Forbidden("only the author can edit a topic")
        if request.method == "GET":
            return self.render(session, "edit_topic", topic=topic, form=vars(topic))
        form = await request.form()
        values = {"title": self.text(form, "title"), "body": self.text(form, "body")}
        try:
            self.forum.edit_topic(Origin.of(request, "web"), me, topic.id, **values)
        except ForumError as exc:
            return self.form_error(session, exc, "edit_topic", topic=topic, form=values)
        session.flashes.append(("ok", "修改已存储 Changes saved."))
        return RedirectResponse(f"/t/{topic.id}", 303)

    async def post_reply(self, request: Request, session: WebSession) -> Response:
        me = self.me(session)
        topic = self.forum.topic(request.path_params["topic_id"])
        body = self.text(await request.form(), "body")
        try:
            reply = self.forum.reply(Origin.of(request, "web"), me, topic.id, body)
        except Refused as exc:
            return self._topic_page(session, topic, exc.status, danger=exc.message,
                                    reply_draft=body)
        except Invalid as exc:
            return self._topic_page(session, topic, exc.status, warning=exc.message,
                                    reply_draft=body)
        return RedirectResponse(f"/t/{topic.id}#r-{reply.id}", 303)

    async def edit_reply(self, request: Request, session: WebSession) -> Response:
        me = self.me(session)
        reply = self.forum.replies.get(request.path_params["reply_id"])
        if reply is None or reply.topic_id != request.path_params["topic_id"]:
            raise NotFound("no such reply")
        if reply.author_id != me.id:
            raise Forbidden("only the author can edit a reply")
        if request.method == "GET":
            return self.render(session, "edit_reply", reply=reply, form=vars(reply))
        body = self.text(await request.form(), "body")
        try:
            self.forum.edit_reply(Origin.of(request, "web"), me, reply.id, body)
        except ForumError as exc:
            return self.form_error(session, exc, "edit_reply", reply=reply, form={"body": body})
        return RedirectResponse(f"/t/{reply.topic_id}#r-{reply.id}", 303)

    async def reshare(self, request: Request, session: WebSession) -> Response:
        me = self.me(session)
        source = self.forum.topic(request.path_params["topic_id"])
        note = self.text(await request.form(), "note")
        try:
            topic = self.forum.post_topic(Origin.of(request, "web"), me, "", note, source.id)
        except Refused as exc:
            return self._topic_page(session, source, exc.status, danger=exc.message,
                                    reshare_draft=note)
        except Invalid as exc:
            return self._topic_page(session, source, exc.status, warning=exc.message,
                                    reshare_draft=note)
        return RedirectResponse(f"/t/{topic.id}", 303)

    # --- circle pages ---------------------------------------------------------------------

    async def circles(self, request: Request, session: WebSession) -> Response:
        circles = [circle_view(self.forum, c) for c in reversed(self.forum.circles.values())]
        return self.render(session, "circles", circles=circles[:100])

    async def new_circle(self, request: Request, session: WebSession) -> Response:
        me = self.me(session)
        context = {"heading": "建立圈子 Start a circle", "action": "/new-circle",
                   "button": "建立圈子 Start circle"}
        if request.method == "GET":
            return self.render(session, "circle_form", form={}, **context)
        form = await request.form()
        values = {"name": self.text(form, "name"), "description": self.text(form, "description")}
        try:
            circle = self.forum.start_circle(Origin.of(request, "web"), me, **values)
        except ForumError as exc:
            return self.form_error(session, exc, "circle_form", form=values, **context)
        return RedirectResponse(f"/c/{circle.slug}", 303)

    async def circle_page(self, request: Request, session: WebSession) -> Response:
        circle = self.forum.circle_by_slug(request.path_params["slug"])
        member = session.account_id in circle.members
        return self.render(session, "circle", c=circle_view(self.forum, circle), member=member)

    async def circle_settings(self, request: Request, session: WebSession) -> Response:
        me = self.me(session)
        circle = self.forum.circle_by_slug(request.path_params["slug"])
        if circle.owner_id != me.id:
            raise Forbidden("only the owner can change a circle")
        context = {"heading": f"修改圈子 Edit circle {circle.slug}",
                   "action": f"/c/{circle.slug}/settings", "button": "存储修改 Save changes"}
        if request.method == "GET":
            return self.render(session, "circle_form", form=vars(circle), **context)
        form = await request.form()
        values = {"name": self.text(form, "name"), "description": self.text(form, "description")}
        try:
            self.forum.edit_circle(Origin.of(request, "web"), me, circle.id, **values)
        except ForumError as exc:
            return self.form_error(session, exc, "circle_form", form=values, **context)
        session.flashes.append(("ok", "修改已存储 Changes saved."))
        return RedirectResponse(f"/c/{circle.slug}", 303)

    async def join(self, request: Request, session: WebSession) -> Response:
        me = self.me(session)
        circle = self.forum.circle_by_slug(request.path_params["slug"])
        self.forum.join(Origin.of(request, "web"), me, circle.id)
        session.flashes.append(("ok", "已入圈 You joined the circle."))
        return RedirectResponse(f"/c/{circle.slug}/chat", 303)

    def _chat_page(self, session: WebSession, circle: Circle, status: int = 200,
                   **context: Any) -> HTMLResponse:
        messages = [message_view(self.forum, m) for m in self.forum.chat(circle.id)][-200:]
        return self.render(session, "chat", status, c=circle_view(self.forum, circle),
                           messages=messages, **context)

    async def chat(self, request: Request, session: WebSession) -> Response:
        me = self.me(session)
        circle = self.forum.member_circle(
            me, self.forum.circle_by_slug(request.path_params["slug"]).id)
        if request.method == "GET":
            return self._chat_page(session, circle)
        text = self.text(await request.form(), "text")
        try:
            message = self.forum.send(Origin.of(request, "web"), me, circle.id, text)
        except Refused as exc:
            return self._chat_page(session, circle, exc.status, danger=exc.message, draft=text)
        except Invalid as exc:
            return self._chat_page(session, circle, exc.status, warning=exc.message, draft=text)
        return RedirectResponse(f"/c/{circle.slug}/chat#m-{message.id}", 303)

    async def edit_message(self, request: Request, session: WebSession) -> Response:
        me = self.me(session)
        circle = self.forum.circle_by_slug(request.path_params["slug"])
        message = self.forum.messages.get(request.path_params["message_id"])
        if message is None or message.circle_id != circle.id:
            raise NotFound("no such message")
        if message.author_id != me.id:
            raise Forbidden("only the sender can edit a message")
        context = {"slug": circle.slug, "message": message}
        if request.method == "GET":
            return self.render(session, "edit_message", form=vars(message), **context)
        text = self.text(await request.form(), "text")
        try:
            self.forum.edit_message(Origin.of(request, "web"), me, circle.id, message.id, text)
        except ForumError as exc:
            return self.form_error(session, exc, "edit_message", form={"text": text}, **context)
        return RedirectResponse(f"/c/{circle.slug}/chat#m-{message.id}", 303)

    # --- finding and flagging -------------------------------------------------------------

    async def find_page(self, request: Request, session: WebSession) -> Response:
        term = request.query_params.get("term", "").strip()
        found = self.forum.find(term)
        view = {"accounts": [account_view(a) for a in found["accounts"][:50]],
                "circles": [circle_view(self.forum, c) for c in found["circles"][:50]],
                "topics": [topic_view(self.forum, t) for t in found["topics"][:50]]}
        return self.render(session, "find", term=term, found=view)

    async def flag_page(self, request: Request, session: WebSession) -> Response:
        form = await request.form()
        try:
            target = int(self.text(form, "target"))
        except ValueError:
            target = -1
        flag = self.forum.flag(Origin.of(request, "web"), self.forum.account(session.account_id),
                               self.text(form, "kind"), target, self.text(form, "reason"),
                               self.text(form, "note"))
        return RedirectResponse(f"/flags/{flag.ticket}", 303)

    async def flag_receipt(self, request: Request, session: WebSession) -> Response:
        flag = self.forum.flags.get(request.path_params["ticket"])
        if flag is None:
            raise NotFound("no such ticket")
        return self.render(session, "flag_receipt", f=flag, reason=dict(FLAG_REASONS)[flag.reason])

    async def help_page(self, request: Request, session: WebSession) -> Response:
        return self.render(session, "help")

    async def media(self, request: Request) -> Response:
        found = self.forum.media.get(request.path_params["name"])
        if found is None:
            return Response("not found", 404)
        return Response(found[0], media_type=found[1],
                        headers={"Cache-Control": "public, max-age=31536000, immutable"})

    # --- the JSON API ---------------------------------------------------------------------

    def api(self, handler: Callable[[Request], Awaitable[Any]], status: int = 200,
            ) -> Callable[[Request], Awaitable[Response]]:
        """Wrap an API handler: JSON out, errors as {"error": {code, message, field}}."""
        async def endpoint(request: Request) -> Response:
            try:
                return JSONResponse(await handler(request), status_code=status)
            except ForumError as exc:
                return JSONResponse({"error": {"code": exc.code, "message": exc.message,
                                               "field": exc.field}}, status_code=exc.status)
        return endpoint

    def caller(self, request: Request, *, required: bool = True) -> Account | None:
        account = self.forum.account(self.forum.tokens.get(request.headers.get("x-session", "")))
        if account is None and required:
            raise Unauthenticated("send the session token in the X-Session header")
        return account

    @staticmethod
    async def body(request: Request) -> dict[str, Any]:
        try:
            data = json.loads(await request.body() or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise Invalid("the body is not JSON") from None
        if not isinstance(data, dict):
            raise Invalid("the body must be a JSON object")
        return data

    @staticmethod
    def string(data: dict[str, Any], name: str, default: str | None = "") -> str | None:
        value = data.get(name, default)
        if value is not None and not isinstance(value, str):
            raise Invalid(f"{name} must be a string", name)
        return value.strip() if isinstance(value, str) else value

    async def api_signup(self, request: Request) -> Any:
        data = await self.body(request)
        account = self.forum.sign_up(
            Origin.of(request, "api"), self.string(data, "handle") or "",
            self.string(data, "display_name") or "", self.string(data, "password") or "")
        return {"account": account_view(account), "session_token": self.forum.new_token(account)}

    async def api_signin(self, request: Request) -> Any:
        data = await self.body(request)
        account = self.forum.sign_in(self.string(data, "handle") or "",
                                     self.string(data, "password") or "")
        return {"account": account_view(account), "session_token": self.forum.new_token(account)}

    async def api_account(self, request: Request) -> Any:
        account = self.forum.account(request.path_params["account_id"])
        if account is None:
            raise NotFound("no such account")
        return {"data": account_view(account)}

    async def api_account_topics(self, request: Request) -> Any:
        account_id = request.path_params["account_id"]
        if self.forum.account(account_id) is None:
            raise NotFound("no such account")
        topics = [topic_view(self.forum, t) for t in reversed(self.forum.topics.values())
                  if t.author_id == account_id][:50]
        return {"data": {"topics": topics}}

    async def api_me(self, request: Request) -> Any:
        return {"data": account_view(self.caller(request))}

    async def api_profile(self, request: Request) -> Any:
        me = self.caller(request)
        data = await self.body(request)
        self.forum.update_profile(
            Origin.of(request, "api"), me, handle=self.string(data, "handle", None),
            display_name=self.string(data, "display_name", None),
            about=self.string(data, "about", None))
        return {"data": account_view(me)}

    async def api_picture(self, request: Request) -> Any:
        me = self.caller(request)
        form = await request.form()
        upload = form.get("picture")
        if not isinstance(upload, UploadFile):
            raise Invalid("send the image as the multipart field 'picture'", "picture")
        await self.forum.set_picture(Origin.of(request, "api"), me, await upload.read())
        return {"data": account_view(me)}

    async def api_new_topic(self, request: Request) -> Any:
        data = await self.body(request)
        topic = self.forum.post_topic(Origin.of(request, "api"), self.caller(request),
                                      self.string(data, "title") or "",
                                      self.string(data, "body") or "")
        return {"data": topic_view(self.forum, topic)}

    async def api_topic(self, request: Request) -> Any:
        topic = self.forum.topic(request.path_params["topic_id"])
        if request.method == "PATCH":
            data = await self.body(request)
            self.forum.edit_topic(Origin.of(request, "api"), self.caller(request), topic.id,
                                  title=self.string(data, "title", None),
                                  body=self.string(data, "body", None))
        return {"data": topic_view(self.forum, topic)}

    async def api_replies(self, request: Request) -> Any:
        topic = self.forum.topic(request.path_params["topic_id"])
        return {"data": {"replies": [reply_view(self.forum, r)
                                     for r in self.forum.replies_of(topic.id)]}}

    async def api_new_reply(self, request: Request) -> Any:
        data = await self.body(request)
        reply = self.forum.reply(Origin.of(request, "api"), self.caller(request),
                                 request.path_params["topic_id"], self.string(data, "body") or "")
        return {"data": reply_view(self.forum, reply)}

    async def api_edit_reply(self, request: Request) -> Any:
        data = await self.body(request)
        reply = self.forum.edit_reply(Origin.of(request, "api"), self.caller(request),
                                      request.path_params["reply_id"],
                                      self.string(data, "body") or "")
        return {"data": reply_view(self.forum, reply)}

    async def api_reshare(self, request: Request) -> Any:
        data = await self.body(request)
        topic = self.forum.post_topic(Origin.of(request, "api"), self.caller(request), "",
                                      self.string(data, "comment") or "",
                                      request.path_params["topic_id"])
        return {"data": topic_view(self.forum, topic)}

    async def api_new_circle(self, request: Request) -> Any:
        data = await self.body(request)
        circle = self.forum.start_circle(Origin.of(request, "api"), self.caller(request),
                                         self.string(data, "name") or "",
                                         self.string(data, "description") or "")
        return {"data": circle_view(self.forum, circle)}

    async def api_circle(self, request: Request) -> Any:
        circle = self.forum.circle(request.path_params["circle_id"])
        if request.method == "PATCH":
            data = await self.body(request)
            self.forum.edit_circle(Origin.of(request, "api"), self.caller(request), circle.id,
                                   name=self.string(data, "name", None),
                                   description=self.string(data, "description", None))
        return {"data": circle_view(self.forum, circle)}

    async def api_join(self, request: Request) -> Any:
        circle = self.forum.join(Origin.of(request, "api"), self.caller(request),
                                 request.path_params["circle_id"])
        return {"data": {"circle": circle_view(self.forum, circle), "member": True}}

    async def api_messages(self, request: Request) -> Any:
        circle = self.forum.member_circle(self.caller(request), request.path_params["circle_id"])
        return {"data": {"messages": [message_view(self.forum, m)
                                      for m in self.forum.chat(circle.id)][-200:]}}

    async def api_send(self, request: Request) -> Any:
        data = await self.body(request)
        message = self.forum.send(Origin.of(request, "api"), self.caller(request),
                                  request.path_params["circle_id"], self.string(data, "text") or "")
        return {"data": message_view(self.forum, message)}

    async def api_edit_message(self, request: Request) -> Any:
        data = await self.body(request)
        message = self.forum.edit_message(
            Origin.of(request, "api"), self.caller(request), request.path_params["circle_id"],
            request.path_params["message_id"], self.string(data, "text") or "")
        return {"data": message_view(self.forum, message)}

    async def api_find(self, request: Request) -> Any:
        found = self.forum.find(request.query_params.get("term", ""))
        return {"data": {
            "accounts": [account_view(a) for a in found["accounts"][:50]],
            "circles": [circle_view(self.forum, c) for c in found["circles"][:50]],
            "topics": [topic_view(self.forum, t) for t in found["topics"][:50]]}}

    async def api_flag(self, request: Request) -> Any:
        data = await self.body(request)
        target = data.get("target")
        target_id = target.get("id") if isinstance(target, dict) else None
        if isinstance(target_id, str) and target_id.isdigit():
            target_id = int(target_id)
        if not isinstance(target_id, int) or isinstance(target_id, bool):
            raise Invalid("target: {kind, id}", "target")
        flag = self.forum.flag(Origin.of(request, "api"), self.caller(request, required=False),
                               str(target.get("kind")), target_id,
                               self.string(data, "reason") or "", self.string(data, "note") or "")
        return {"data": flag_view(flag)}

    async def api_flag_status(self, request: Request) -> Any:
        flag = self.forum.flags.get(request.path_params["ticket"])
        if flag is None:
            raise NotFound("no such ticket")
        return {"data": flag_view(flag)}

    async def api_flag_queue(self, request: Request) -> Any:
        """The moderators' view: every flag with its target and note, oldest first."""
        self.admin(request)
        return {"queue": [{"ticket": f.ticket, "status": f.status, "kind": f.kind,
                           "target_id": f.target_id, "reason": f.reason, "note": f.note,
                           "reporter_id": f.reporter_id} for f in self.forum.flags.values()]}

    async def api_flag_reasons(self, request: Request) -> Any:
        return {"data": {"reasons": [{"code": c, "label": label} for c, label in FLAG_REASONS]}}

    def admin(self, request: Request) -> None:
        if not self.admin_token:
            raise Forbidden(f"the admin API is off: start the forum with ${ADMIN_TOKEN_ENV}")
        if not secrets.compare_digest(request.headers.get("x-forum-admin", ""),
                                      self.admin_token):
            raise Forbidden("send the admin token in the X-Forum-Admin header")

    async def api_log(self, request: Request) -> Any:
        self.admin(request)
        after = request.query_params.get("after")
        moment = None
        if after:
            try:
                moment = datetime.fromisoformat(after.replace("Z", "+00:00"))
            except ValueError:
                raise Invalid("after: an ISO 8601 time", "after") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
        entries = self.forum.log_after(moment)
        return {"log": {"entries": entries, "count": len(entries)}}

    async def api_retention(self, request: Request) -> Any:
        self.admin(request)
        return {"days": RETENTION_DAYS}

    async def api_delete_account(self, request: Request) -> Any:
        """Delete an account with all it made (how the harness cleans up after a run)."""
        self.admin(request)
        deleted = self.forum.delete_account(Origin.of(request, "api"),
                                            int(request.path_params["account_id"]))
        return {"data": {"deleted": deleted}}

    # --- routing --------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        get, both, post = ["GET"], ["GET", "POST"], ["POST"]
        page, api = self.page, self.api
        return [
            Route("/", page(self.home), methods=get),
            Route("/signup", page(self.signup), methods=both),
            Route("/signin", page(self.signin), methods=both),
            Route("/signout", page(self.signout), methods=post),
            Route("/u/{handle}", page(self.person_page), methods=get),
            Route("/settings/profile", page(self.settings, signed_in=True), methods=both),
            Route("/settings/picture", page(self.picture, signed_in=True), methods=post),
            Route("/new-topic", page(self.new_topic, signed_in=True), methods=both),
            Route("/t/{topic_id:int}", page(self.topic_page), methods=get),
            Route("/t/{topic_id:int}/edit", page(self.edit_topic, signed_in=True),
                  methods=both),
            Route("/t/{topic_id:int}/replies", page(self.post_reply, signed_in=True),
                  methods=post),
            Route("/t/{topic_id:int}/replies/{reply_id:int}/edit",
                  page(self.edit_reply, signed_in=True), methods=both),
            Route("/t/{topic_id:int}/reshare", page(self.reshare, signed_in=True),
                  methods=post),
            Route("/circles", page(self.circles), methods=get),
            Route("/new-circle", page(self.new_circle, signed_in=True), methods=both),
            Route("/c/{slug}", page(self.circle_page), methods=get),
            Route("/c/{slug}/settings", page(self.circle_settings, signed_in=True),
                  methods=both),
            Route("/c/{slug}/join", page(self.join, signed_in=True), methods=post),
            Route("/c/{slug}/chat", page(self.chat, signed_in=True), methods=both),
            Route("/c/{slug}/chat/{message_id:int}/edit",
                  page(self.edit_message, signed_in=True), methods=both),
            Route("/find", page(self.find_page), methods=get),
            Route("/flags", page(self.flag_page), methods=post),
            Route("/flags/{ticket}", page(self.flag_receipt), methods=get),
            Route("/help/flagging", page(self.help_page), methods=get),
            Route("/media/{name}", self.media, methods=get),
            Route("/v2/accounts", api(self.api_signup, 201), methods=post),
            Route("/v2/sessions", api(self.api_signin, 201), methods=post),
            Route("/v2/accounts/{account_id:int}", api(self.api_account), methods=get),
            Route("/v2/accounts/{account_id:int}/topics", api(self.api_account_topics),
                  methods=get),
            Route("/v2/me", api(self.api_me), methods=get),
            Route("/v2/me/profile", api(self.api_profile), methods=["PUT"]),
            Route("/v2/me/picture", api(self.api_picture), methods=["PUT"]),
            Route("/v2/topics", api(self.api_new_topic, 201), methods=post),
            Route("/v2/topics/{topic_id:int}", api(self.api_topic), methods=["GET", "PATCH"]),
            Route("/v2/topics/{topic_id:int}/replies", api(self.api_replies), methods=get),
            Route("/v2/topics/{topic_id:int}/replies", api(self.api_new_reply, 201),
                  methods=post),
            Route("/v2/topics/{topic_id:int}/reshares", api(self.api_reshare, 201),
                  methods=post),
            Route("/v2/replies/{reply_id:int}", api(self.api_edit_reply), methods=["PATCH"]),
            Route("/v2/circles", api(self.api_new_circle, 201), methods=post),
            Route("/v2/circles/{circle_id:int}", api(self.api_circle),
                  methods=["GET", "PATCH"]),
            Route("/v2/circles/{circle_id:int}/members", api(self.api_join), methods=post),
            Route("/v2/circles/{circle_id:int}/messages", api(self.api_messages), methods=get),
            Route("/v2/circles/{circle_id:int}/messages", api(self.api_send, 201),
                  methods=post),
            Route("/v2/circles/{circle_id:int}/messages/{message_id:int}",
                  api(self.api_edit_message), methods=["PATCH"]),
            Route("/v2/find", api(self.api_find), methods=get),
            Route("/v2/flags", api(self.api_flag, 201), methods=post),
            Route("/v2/flags/{ticket}", api(self.api_flag_status), methods=get),
            Route("/v2/flag-reasons", api(self.api_flag_reasons), methods=get),
            Route("/v2/admin/log", api(self.api_log), methods=get),
            Route("/v2/admin/flags", api(self.api_flag_queue), methods=get),
            Route("/v2/admin/retention", api(self.api_retention), methods=get),
            Route("/v2/admin/accounts/{account_id:int}", api(self.api_delete_account),
                  methods=["DELETE"]),
        ]


def create_app(admin_token: str | None) -> Starlette:
    """The forum's ASGI app with fresh, empty state."""
    return Starlette(routes=Site(Forum(), admin_token).routes())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    args = parser.parse_args(argv)
    # IPPROTO_TCP given explicitly: asyncio turns on TCP_NODELAY for accepted connections only
    # when the listening socket says it is TCP (otherwise Nagle costs ~40 ms per response).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    config = uvicorn.Config(create_app(os.environ.get(ADMIN_TOKEN_ENV)), log_level="warning",
                            access_log=False, proxy_headers=False, server_header=False,
                            lifespan="off", timeout_graceful_shutdown=5)
    print(f"Forum listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
