"""Core models of the box. Domain packages (board, programme, ...) add their own
models beside their rules; all bind to :data:`appliance.db.database`.

The schema itself is written by the numbered migrations in
:mod:`appliance.migrations`; these classes only map it.
"""

from __future__ import annotations

import peewee

from .db import database


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


class Meta(BaseModel):
    """Small key/value facts about this box: its identity, salts, clock hints."""

    key = peewee.CharField(primary_key=True)
    value = peewee.TextField()

    class Meta:
        table_name = "box_meta"

    @classmethod
    def get_value(cls, key: str, default: str | None = None) -> str | None:
        row = cls.get_or_none(cls.key == key)
        return row.value if row else default

    @classmethod
    def set_value(cls, key: str, value: str) -> None:
        cls.insert(key=key, value=value).on_conflict_replace().execute()


class OutboxEvent(BaseModel):
    """An immutable event for central. ``seq`` is SQLite's AUTOINCREMENT rowid: it is
    assigned inside the writing transaction, never reused even after rows are pruned,
    never goes backwards, and does not depend on the clock. A rolled-back transaction
    takes its number back with it, so acknowledged numbers have no gaps."""

    seq = peewee.AutoField()
    uuid = peewee.CharField(unique=True)
    kind = peewee.CharField()  # e.g. "post.created", "booking.created", "usage.rollup"
    stream = peewee.CharField()  # priority class, see appliance.outbox.STREAMS
    payload = peewee.TextField()  # JSON
    created_at = peewee.CharField()  # box clock, ISO 8601 UTC: informational only

    class Meta:
        table_name = "outbox"


class Commune(BaseModel):
    name = peewee.CharField(unique=True)


class Official(BaseModel):
    name = peewee.CharField()
    role = peewee.CharField(default="")
    commune = peewee.ForeignKeyField(Commune, backref="officials", on_delete="RESTRICT")
    gender = peewee.CharField(default="")  # "f", "m" or "" (the share of women officials)
    photo_sha256 = peewee.CharField(default="")
