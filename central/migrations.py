"""Central's numbered migrations, applied at start, each in its own transaction and
recorded in ``central_schema``. Step 1 creates the tables from the models as they were
at version 1; later steps must use SQL or frozen models, never today's classes."""

from __future__ import annotations

from collections.abc import Callable

import peewee

from . import models


def _initial(db: peewee.Database) -> None:
    db.create_tables(models.MODELS)


def _admin_sessions(db: peewee.Database) -> None:
    # Plain SQL that SQLite and PostgreSQL both read (as the models were at this step).
    db.execute_sql("CREATE TABLE admin_session (key VARCHAR(255) NOT NULL PRIMARY KEY, "
                   "admin_id INTEGER NOT NULL REFERENCES admin (id) ON DELETE CASCADE, "
                   "created_at TIMESTAMP NOT NULL)")
    db.execute_sql("CREATE INDEX admin_session_admin_id ON admin_session (admin_id)")


def _login_failures(db: peewee.Database) -> None:
    db.execute_sql("CREATE TABLE login_failure (scope VARCHAR(255) NOT NULL, "
                   "at TIMESTAMP NOT NULL)")
    db.execute_sql("CREATE INDEX login_failure_scope ON login_failure (scope, at)")


STEPS: list[tuple[str, Callable[[peewee.Database], None]]] = [
    ("0001_initial", _initial),
    ("0014_admin_sessions", _admin_sessions),
    ("0015_login_throttle", _login_failures),
]


def migrate(db: peewee.Database) -> list[str]:
    db.execute_sql("CREATE TABLE IF NOT EXISTS central_schema (name VARCHAR(100) PRIMARY KEY)")
    done = {r[0] for r in db.execute_sql("SELECT name FROM central_schema").fetchall()}
    ran = []
    for name, step in STEPS:
        if name in done:
            continue
        with db.atomic():
            step(db)
            db.execute_sql("INSERT INTO central_schema (name) VALUES (%s)"
                           if isinstance(db, peewee.PostgresqlDatabase)
                           else "INSERT INTO central_schema (name) VALUES (?)", (name,))
        ran.append(name)
    return ran
