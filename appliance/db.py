"""The box's one SQLite database, opened with the pragmas that make power cuts safe.

Models bind to :data:`database`, a proxy the app factory (or a CLI command, or a
test) initialises with :func:`open_database`. Nothing is opened at import time.
"""

from __future__ import annotations

import collections
import sqlite3
import threading
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
    # A writer waits up to 10 s for another process's (the worker's, a CLI's) before
    # "database is locked"; this process's own writers queue first (WriteQueue).
    "busy_timeout": 10_000,
    # Pages of the web process's cache, bounded: about 8 MB per connection.
    "cache_size": -8000,
    "temp_store": "memory",
}

DB_NAME = "espace.sqlite3"


# How long a writer may wait behind this process's other writers before its write is
# refused ("database is locked", a 503 to send again). First come, first served, so
# that is 60 phones' writes at 150 ms each on a loaded Pi, not one unlucky phone.
WRITE_QUEUE_SECONDS = 10.0

# Statements that never write: outside a transaction they need no place in the queue.
_READS = ("SELECT", "PRAGMA", "EXPLAIN", "VALUES", "WITH")


class WriteQueue:
    """One writer of this process at a time, first come, first served.

    SQLite lets one connection write at a time and makes the others poll: its busy
    handler sleeps 1, 2, 5 ... then 100 ms between tries, and whoever tries while the
    lock is free gets it. With many writers the lock is almost never free when an old
    waiter wakes, and a newcomer (still on 1 ms naps) wins: 60 phones saving progress
    had a median wait of 0 ms and a few writers past the 10 s timeout. Queued here,
    each writer is handed the turn by the one before it, and reaches BEGIN IMMEDIATE
    with no other writer of this process ahead; SQLite's busy handler is then only
    between processes (the web and the worker), one writer each.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._owner: int | None = None
        self._waiting: collections.deque[threading.Lock] = collections.deque()

    def join(self, timeout: float) -> bool:
        """Wait for this thread's turn; False if it already had it. Raises
        ``peewee.OperationalError`` (database is locked) after ``timeout`` seconds."""
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                return False
            if self._owner is None:
                self._owner = me
                return True
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
            ahead = len(self._waiting)
        if not turn.acquire(timeout=timeout):
            with self._mutex:
                if turn in self._waiting:
                    self._waiting.remove(turn)
                    raise peewee.OperationalError(
                        f"database is locked: {ahead} writers ahead after {timeout:.0f} s"
                    )
            # handed over between the timeout and the mutex: the turn is ours
        self._owner = me
        return True

    def leave(self) -> None:
        """Hand the turn to the next writer (a no-op for a thread without it)."""
        with self._mutex:
            if self._owner != threading.get_ident():
                return
            # The next writer sets itself as owner when it wakes: until then no one
            # else can take the turn, since it is not None.
            self._owner = -1 if self._waiting else None
            if self._waiting:
                self._waiting.popleft().release()


class EspaceDatabase(peewee.SqliteDatabase):
    """SqliteDatabase whose writers queue: in this process first (:class:`WriteQueue`),
    then for the lock at BEGIN (IMMEDIATE).

    A deferred transaction that reads and then writes can fail with SQLITE_BUSY
    when another writer got in between; BEGIN IMMEDIATE queues writers instead.
    A transaction holds its place from BEGIN to COMMIT or ROLLBACK (however it was
    begun: ``atomic()``, ``transaction()`` or ``begin()``); a write outside any
    transaction holds it for its one statement.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.writers = WriteQueue()

    def atomic(self, lock_type: str | None = "IMMEDIATE", **kwargs):  # type: ignore[override]
        return super().atomic(lock_type=lock_type, **kwargs)

    def begin(self, lock_type: str | None = None) -> None:  # type: ignore[override]
        joined = self.writers.join(WRITE_QUEUE_SECONDS)
        try:
            super().begin(lock_type)
        except BaseException:
            if joined:
                self.writers.leave()
            raise

    def commit(self):
        try:
            return super().commit()
        finally:
            self._leave_if_done()

    def rollback(self):
        try:
            return super().rollback()
        finally:
            self._leave_if_done()

    def execute_sql(self, sql, params=None):
        if self._in_sqlite_transaction() or sql.lstrip()[:7].upper().startswith(_READS):
            return super().execute_sql(sql, params)
        joined = self.writers.join(WRITE_QUEUE_SECONDS)
        try:
            return super().execute_sql(sql, params)
        finally:
            if joined:
                self.writers.leave()

    def _close(self, conn) -> None:
        try:
            super()._close(conn)
        finally:
            self.writers.leave()  # closing rolled back whatever was open

    def _in_sqlite_transaction(self) -> bool:
        conn = self._state.conn
        return conn is not None and conn.in_transaction

    def _leave_if_done(self) -> None:
        # A COMMIT that failed leaves the transaction open: keep the turn until the
        # ROLLBACK that follows.
        if not self._in_sqlite_transaction():
            self.writers.leave()


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
