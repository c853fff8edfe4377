"""Numbered schema migrations, applied in order at start.

Each module ``mNNNN_name.py`` has ``up(db)`` written in plain SQL against the schema
as it was, never against today's models, so that a box in the field that skipped
versions upgrades through every step. Each runs in its own transaction (SQLite DDL
is transactional): a power cut mid-migration leaves the previous schema intact.
A number may be missing (work landed out of order); order is by number.
"""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
import re
from collections.abc import Callable
from types import ModuleType

import peewee

from ..errors import DatabaseError

_NAME = re.compile(r"m(\d{4})_\w+")


def available() -> list[tuple[str, ModuleType]]:
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if _NAME.fullmatch(m.name))
    return [(n, importlib.import_module(f"{__name__}.{n}")) for n in names]


def applied(db: peewee.Database) -> list[str]:
    db.execute_sql("CREATE TABLE IF NOT EXISTS schema_migrations "
                   "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    return [r[0] for r in db.execute_sql("SELECT name FROM schema_migrations ORDER BY name")]


def migrate(db: peewee.Database, upto: str | None = None,
            log: Callable[[str], None] = lambda _m: None) -> list[str]:
    """Apply every pending migration (up to and including ``upto``); return their names.

    Idempotent: running it again applies nothing."""
    done = set(applied(db))
    known = {name for name, _ in available()}
    unknown = done - known
    if unknown:
        raise DatabaseError(f"the database has migration {sorted(unknown)[-1]} that this "
                            "version of Espace does not know",
                            "install the newer Espace again, or restore a backup")
    ran = []
    for name, module in available():
        if name in done:
            continue
        if upto and name > upto:
            break
        try:
            with db.atomic("IMMEDIATE"):
                module.up(db)
                db.execute_sql("INSERT INTO schema_migrations VALUES (?, ?)",
                               (name, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
        except peewee.DatabaseError as e:
            raise DatabaseError(f"migration {name} failed: {e}",
                                "report this with `espace doctor` output") from e
        log(f"applied {name}")
        ran.append(name)
    return ran
