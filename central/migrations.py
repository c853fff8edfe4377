"""Central's numbered migrations, applied at start, each in its own transaction and
recorded in ``central_schema``. Step 1 creates the tables from the models as they were
at version 1; later steps must use SQL or frozen models, never today's classes."""

from __future__ import annotations

from collections.abc import Callable

import peewee

from . import models


def _initial(db: peewee.Database) -> None:
    db.create_tables(models.MODELS)


STEPS: list[tuple[str, Callable[[peewee.Database], None]]] = [
    ("0001_initial", _initial),
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
