"""Central's database: SQLite by default, PostgreSQL for a region's production.

Models bind to :data:`database`, initialised by the app factory (or the CLI, or a test)
with :func:`open_database`. Nothing connects at import time."""

from __future__ import annotations

from pathlib import Path

import peewee
from playhouse.db_url import connect

database = peewee.DatabaseProxy()


class CentralSqlite(peewee.SqliteDatabase):
    """Write transactions take the lock at BEGIN, so two box requests queue rather than
    fail with SQLITE_BUSY when both read, then write."""

    def atomic(self, lock_type: str | None = "IMMEDIATE", **kwargs):  # type: ignore[override]
        return super().atomic(lock_type=lock_type, **kwargs)

    # Models reach the database through a DatabaseProxy, whose atomic() builds the
    # transaction itself and calls begin() without a lock type: default it here.
    def begin(self, lock_type: str | None = None):  # type: ignore[override]
        return super().begin(lock_type=lock_type or "IMMEDIATE")


SQLITE_PRAGMAS = {"journal_mode": "wal", "synchronous": "full", "foreign_keys": 1,
                  "busy_timeout": 15_000}


def open_database(url: str, data_dir: Path | None = None) -> peewee.Database:
    """``sqlite:///path`` (default: DATA_DIR/central.sqlite3) or ``postgresql://...``."""
    if not url:
        assert data_dir is not None
        url = f"sqlite:///{Path(data_dir) / 'central.sqlite3'}"
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = CentralSqlite(path, pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    else:
        db = connect(url)
    database.initialize(db)
    return db


def is_postgres() -> bool:
    return isinstance(database.obj, peewee.PostgresqlDatabase)
