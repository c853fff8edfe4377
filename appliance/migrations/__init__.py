"""Numbered schema migrations, applied in order at start.

Each module ``mNNNN_name.py`` has ``up(db)`` written in plain SQL against the schema
as it was, never against today's models, so that a box in the field that skipped
versions upgrades through every step. Each runs in its own transaction (SQLite DDL
is transactional): a power cut mid-migration leaves the previous schema intact.
A number may be missing (work landed out of order); order is by number.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
from collections.abc import Callable
from types import ModuleType

import peewee

from sync_contract import migrate as runner

from ..errors import DatabaseError

TABLE = "schema_migrations"

_NAME = re.compile(r"m(\d{4})_\w+")


@functools.cache
def _names() -> tuple[str, ...]:
    # os.listdir, not pkgutil.iter_modules, which yields nothing from a folder it cannot
    # read: "no migrations" would leave a database without its tables. Listed once per
    # process (a command that then gives up root keeps the list it read).
    return tuple(sorted(f[:-3] for f in os.listdir(__path__[0])
                        if f.endswith(".py") and _NAME.fullmatch(f[:-3])))


def available() -> list[tuple[str, ModuleType]]:
    return [(n, importlib.import_module(f"{__name__}.{n}")) for n in _names()]


def applied(db: peewee.Database) -> list[str]:
    return runner.applied(db, TABLE)


def migrate(db: peewee.Database, upto: str | None = None,
            log: Callable[[str], None] = lambda _m: None) -> list[str]:
    """Apply every pending migration (up to and including ``upto``); return their names,
    with the runner central uses too (:mod:`sync_contract.migrate`).

    Idempotent: running it again applies nothing."""
    steps = [(name, module.up) for name, module in available()]
    try:
        return runner.migrate(db, steps, TABLE, upto=upto, log=log,
                              transaction=lambda: db.atomic("IMMEDIATE"))
    except runner.UnknownStep as e:
        raise DatabaseError(f"the database has migration {e.name} that this version of "
                            "Espace does not know",
                            "install the newer Espace again, or restore a backup") from None
    except runner.StepFailed as e:
        raise DatabaseError(str(e), "report this with `espace doctor` output") from e
