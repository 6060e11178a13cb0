"""SQLite storage: schema, per-thread connections, and write transactions.

Request handlers run in a thread pool, so each thread keeps its own connection (WAL mode lets
readers and one writer work at once). Writes go through `transaction()`, which takes the write
lock up front (BEGIN IMMEDIATE) so two writers never deadlock upgrading a read lock.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reference_site.errors import NotFound

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    account_name TEXT NOT NULL,
    account_key TEXT NOT NULL UNIQUE,          -- case-folded account name
    password_hash TEXT NOT NULL,
    nickname TEXT NOT NULL,
    bio TEXT NOT NULL DEFAULT '',
    avatar_sha256 TEXT,
    banned INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS credentials (      -- API tokens and web sessions, stored hashed
    token_sha256 TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('api', 'web')),
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS media (
    sha256 TEXT PRIMARY KEY,
    mime TEXT NOT NULL,
    ext TEXT NOT NULL,
    data BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS remarks (
    owner_id INTEGER NOT NULL REFERENCES users(id),
    target_id INTEGER NOT NULL REFERENCES users(id),
    text TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (owner_id, target_id)
);
CREATE TABLE IF NOT EXISTS chat_groups (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    intro TEXT NOT NULL DEFAULT '',
    logo_sha256 TEXT,
    owner_id INTEGER NOT NULL REFERENCES users(id),
    removed INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS memberships (
    group_id INTEGER NOT NULL REFERENCES chat_groups(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    joined_at TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE TABLE IF NOT EXISTS group_messages (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL REFERENCES chat_groups(id),
    sender_id INTEGER NOT NULL REFERENCES users(id),
    text TEXT NOT NULL,
    removed INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS posts (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL REFERENCES users(id),
    text TEXT NOT NULL,
    forward_of INTEGER REFERENCES posts(id),
    removed INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS comments (
    id INTEGER PRIMARY KEY,
    post_id INTEGER NOT NULL REFERENCES posts(id),
    author_id INTEGER NOT NULL REFERENCES users(id),
    text TEXT NOT NULL,
    removed INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
    ticket_id TEXT PRIMARY KEY,
    reporter_id INTEGER NOT NULL REFERENCES users(id),
    target_type TEXT NOT NULL,
    target_id INTEGER NOT NULL,
    category TEXT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT,
    note TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    acknowledged_at TEXT,
    handled_at TEXT
);
CREATE TABLE IF NOT EXISTS appeals (
    appeal_id TEXT PRIMARY KEY,
    author_id INTEGER NOT NULL REFERENCES users(id),
    target_type TEXT NOT NULL,
    target_id INTEGER NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    account TEXT,
    time TEXT NOT NULL,
    operation TEXT NOT NULL,
    surface TEXT,
    object_id TEXT,
    source_ip TEXT,
    source_port INTEGER,
    dest_ip TEXT,
    dest_port INTEGER,
    user_agent TEXT,
    device_id TEXT,
    content_sha256 TEXT,
    decision TEXT NOT NULL,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS audit_time ON audit (time, id);
CREATE INDEX IF NOT EXISTS posts_author ON posts (author_id, id);
CREATE INDEX IF NOT EXISTS comments_post ON comments (post_id, id);
CREATE INDEX IF NOT EXISTS messages_group ON group_messages (group_id, id);
CREATE INDEX IF NOT EXISTS reports_reporter ON reports (reporter_id, created_at);
CREATE INDEX IF NOT EXISTS reports_status ON reports (status, created_at);
-- Every column that references another row is indexed: deleting an account (and what it made)
-- checks each reference, and without these every check reads the whole table.
CREATE INDEX IF NOT EXISTS credentials_user ON credentials (user_id);
CREATE INDEX IF NOT EXISTS remarks_target ON remarks (target_id);
CREATE INDEX IF NOT EXISTS groups_owner ON chat_groups (owner_id);
CREATE INDEX IF NOT EXISTS groups_logo ON chat_groups (logo_sha256);
CREATE INDEX IF NOT EXISTS users_avatar ON users (avatar_sha256);
CREATE INDEX IF NOT EXISTS memberships_user ON memberships (user_id);
CREATE INDEX IF NOT EXISTS messages_sender ON group_messages (sender_id);
CREATE INDEX IF NOT EXISTS posts_forward ON posts (forward_of);
CREATE INDEX IF NOT EXISTS comments_author ON comments (author_id);
CREATE INDEX IF NOT EXISTS appeals_author ON appeals (author_id);
"""

# Columns added since the first schema: (table, column, declaration), for older database files.
ADDED_COLUMNS = (
    ("reports", "acknowledged_at", "TEXT"),
    ("reports", "handled_at", "TEXT"),
)

Row = sqlite3.Row


def _casefold(value: str | None) -> str | None:
    return value.casefold() if isinstance(value, str) else value


def insert_row(
    conn: sqlite3.Connection, table: str, values: Mapping[str, Any], *, or_ignore: bool = False
) -> int:
    """INSERT one row (column -> value) inside an open transaction; return its rowid.

    `or_ignore` leaves an existing row with the same key as it is.
    """
    verb = "INSERT OR IGNORE" if or_ignore else "INSERT"
    columns, marks = ", ".join(values), ", ".join("?" for _ in values)
    return conn.execute(
        f"{verb} INTO {table} ({columns}) VALUES ({marks})", list(values.values())
    ).lastrowid


def update_row(
    conn: sqlite3.Connection, table: str, row_id: int, values: Mapping[str, Any]
) -> None:
    """UPDATE the columns in `values` of the row with this id, inside an open transaction."""
    assignments = ", ".join(f"{column} = ?" for column in values)
    conn.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", [*values.values(), row_id])


class Database:
    """A SQLite file shared by the request threads."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        conn = self._connection()
        for table, column, declaration in ADDED_COLUMNS:
            known = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
            if known and column not in known:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
        conn.executescript(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.create_function("casefold", 1, _casefold, deterministic=True)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Every row of a read."""
        return self._connection().execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """The first row of a read, or None."""
        return self._connection().execute(sql, params).fetchone()

    def found(self, sql: str, params: Sequence[Any], missing: str) -> Row:
        """The first row of a read; NotFound with the message `missing` when there is none."""
        row = self.one(sql, params)
        if row is None:
            raise NotFound(missing)
        return row

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None."""
        row = self.one(sql, params)
        return None if row is None else row[0]

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed on success, rolled back on any exception."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        committed = False
        try:
            yield conn
            conn.execute("COMMIT")
            committed = True
        finally:  # whatever stopped the block, its writes are undone
            if not committed:
                conn.execute("ROLLBACK")

    def insert(self, table: str, values: Mapping[str, Any], *, or_ignore: bool = False) -> int:
        """INSERT one row in a transaction of its own; return its rowid (see insert_row)."""
        with self.transaction() as conn:
            return insert_row(conn, table, values, or_ignore=or_ignore)

    def update(self, table: str, row_id: int, values: Mapping[str, Any]) -> None:
        """UPDATE one row by id in a transaction of its own (see update_row)."""
        with self.transaction() as conn:
            update_row(conn, table, row_id, values)

    def close(self) -> None:
        """Close every thread's connection (at shutdown)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()
