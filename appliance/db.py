"""The box's one SQLite database, opened with the pragmas that make power cuts safe.

Models bind to :data:`database`, a proxy the app factory (or a CLI command, or a
test) initialises with :func:`open_database`. Nothing is opened at import time.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import peewee


class _Proxy(peewee.DatabaseProxy):
    """peewee's proxy builds its own ``_atomic(proxy)``, which calls
    ``transaction()`` without a lock type: the database's IMMEDIATE default below was
    bypassed and two writers could both BEGIN DEFERRED, read, and then fail at once
    with "database is locked" on their first write (SQLite cannot wait there).
    Delegating keeps ``database.atomic()`` an IMMEDIATE transaction."""

    def atomic(self, *args, **kwargs):
        return self.obj.atomic(*args, **kwargs)


database = _Proxy()

PRAGMAS = {
    # WAL lets visitors read while one writer commits, and a crash mid-write leaves
    # the main file untouched: the next open replays or discards the WAL tail.
    "journal_mode": "wal",
    # FULL (not NORMAL): in WAL mode NORMAL skips the fsync of the WAL at each commit,
    # so a power cut can roll back transactions the visitor already saw acknowledged.
    # FULL fsyncs the WAL before COMMIT returns; the cost is one fsync per write
    # transaction, which an SD card absorbs for the few writes per second a box sees.
    "synchronous": "full",
    "foreign_keys": 1,
    # Writers queue for up to 10 s instead of failing with "database is locked".
    "busy_timeout": 10_000,
    # Pages of the web process's cache, bounded: about 8 MB per connection.
    "cache_size": -8000,
    "temp_store": "memory",
}

DB_NAME = "espace.sqlite3"


class EspaceDatabase(peewee.SqliteDatabase):
    """SqliteDatabase whose write transactions take the lock at BEGIN.

    A deferred transaction that reads and then writes can fail with SQLITE_BUSY
    when another writer got in between; BEGIN IMMEDIATE queues writers instead.
    """

    def atomic(self, lock_type: str | None = "IMMEDIATE", **kwargs):  # type: ignore[override]
        return super().atomic(lock_type=lock_type, **kwargs)


def open_database(data_dir: str | Path, *, as_root: bool = False) -> EspaceDatabase:
    """Bind the models to ``data_dir/espace.sqlite3`` (created if missing).

    Run as root, it refuses a data directory that is another user's (the box's, whose
    services run as ``espace``; see :mod:`appliance.service_user`) unless ``as_root``:
    the boot step, which hands the files back afterwards, and read-only checks of an
    existing database (SQLite keeps its ``-wal``/``-shm`` files the database owner's)."""
    from .service_user import refuse_root

    if not as_root:
        refuse_root(data_dir)
    path = Path(data_dir) / DB_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    db = EspaceDatabase(str(path), pragmas=PRAGMAS, check_same_thread=False)
    database.initialize(db)
    return db


def integrity_check(db: peewee.Database) -> str:
    """``ok`` or the first problem SQLite reports."""
    try:
        rows = db.execute_sql("PRAGMA integrity_check").fetchall()
    except (sqlite3.DatabaseError, peewee.DatabaseError) as e:
        return str(e)
    return "; ".join(r[0] for r in rows[:5])


