"""The one migration runner of the box and of central.

Steps are ``(name, step(db))`` pairs named ``NNNN_what``, applied in name order, each in
its own transaction with its name recorded in ``table``: a power cut mid-step leaves
the schema of the step before (SQLite's and PostgreSQL's DDL are transactional). A step
is written against the schema as it was (SQL, or models frozen at that step), never
against today's models, so that a database that skipped versions upgrades through
every step and a fresh one ends up the same. A database that has a step this code does
not know (a newer version ran on it) is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

import peewee

Step = Callable[[peewee.Database], None]


class StepFailed(RuntimeError):
    """A step raised; its transaction was rolled back (the schema is the one before)."""

    def __init__(self, name: str, error: Exception) -> None:
        super().__init__(f"migration {name} failed: {error}")
        self.name, self.error = name, error


class UnknownStep(RuntimeError):
    """The database was migrated by a newer version (it has a step this one lacks)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"the database has migration {name} that this version does not know")
        self.name = name


def _sql(db: peewee.Database, sql: str) -> str:
    return sql.replace("?", "%s") if isinstance(db, peewee.PostgresqlDatabase) else sql


def applied(db: peewee.Database, table: str, stamped: bool = True) -> list[str]:
    db.execute_sql(f"CREATE TABLE IF NOT EXISTS {table} "  # noqa: S608 - a constant
                   "(name VARCHAR(100) PRIMARY KEY"
                   + (", applied_at VARCHAR(40) NOT NULL)" if stamped else ")"))
    return sorted(r[0] for r in db.execute_sql(f"SELECT name FROM {table}"))  # noqa: S608


def migrate(db: peewee.Database, steps: Iterable[tuple[str, Step]], table: str, *,
            upto: str | None = None, stamped: bool = True,
            transaction: Callable[[], AbstractContextManager] | None = None,
            log: Callable[[str], None] = lambda _m: None) -> list[str]:
    """Apply every pending step (up to and including ``upto``); return their names.
    Idempotent: running it again applies nothing. ``stamped``: the table records when
    (the box's does; central's, older, has only the names)."""
    steps = sorted(steps)
    done = set(applied(db, table, stamped))
    unknown = done - {name for name, _ in steps}
    if unknown:
        raise UnknownStep(sorted(unknown)[-1])
    ran = []
    for name, step in steps:
        if name in done:
            continue
        if upto and name > upto:
            break
        try:
            with (transaction or db.atomic)():
                step(db)
                if stamped:
                    db.execute_sql(_sql(db, f"INSERT INTO {table} "  # noqa: S608
                                            "(name, applied_at) VALUES (?, ?)"),
                                   (name, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
                else:
                    db.execute_sql(_sql(db, f"INSERT INTO {table} (name) "  # noqa: S608
                                            "VALUES (?)"), (name,))
        except Exception as e:
            raise StepFailed(name, e) from e
        log(f"applied {name}")
        ran.append(name)
    return ran
