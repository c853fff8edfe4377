"""Central's schema as step 0001 created it: the models as they were at version 1,
frozen here so that a later step's ALTER TABLE never meets a column step 0001 already
made from today's models. Never change this file; add a step instead."""

from __future__ import annotations

import datetime as dt

import peewee

_frozen = peewee.DatabaseProxy()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class BaseModel(peewee.Model):
    class Meta:
        database = _frozen
        legacy_table_names = False


class Region(BaseModel):
    name = peewee.CharField(unique=True)


class Site(BaseModel):
    """A box. ``box_id``/``public_key`` are set by enrolment; a revoked site's requests
    are refused."""

    slug = peewee.CharField(unique=True)
    name = peewee.CharField()
    region = peewee.ForeignKeyField(Region, backref="sites", on_delete="RESTRICT")
    communes = peewee.TextField(default="")  # comma-separated
    box_id = peewee.CharField(null=True, unique=True)
    public_key = peewee.CharField(default="")
    enrol_code_hash = peewee.CharField(default="")
    enrol_expires = peewee.DateTimeField(null=True)
    enrolled_at = peewee.DateTimeField(null=True)
    revoked = peewee.BooleanField(default=False)
    last_contact = peewee.DateTimeField(null=True)
    pending = peewee.IntegerField(default=0)  # outbox events the box still holds
    last_seq = peewee.IntegerField(default=0)
    version = peewee.CharField(default="")
    disk_free_mb = peewee.IntegerField(null=True)
    content_mb = peewee.IntegerField(null=True)
    records = peewee.IntegerField(default=0)
    cursor = peewee.BigIntegerField(default=0)  # last down-event id the box applied
    bytes_in = peewee.BigIntegerField(default=0)


class StreamMark(BaseModel):
    """Highest sequence of a stream stored for a site, with everything before it."""

    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    stream = peewee.CharField()
    seq = peewee.BigIntegerField(default=0)

    class Meta:
        indexes = ((("site", "stream"), True),)


class Record(BaseModel):
    """An event from a box, stored once per (site, seq) whatever the link did."""

    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    seq = peewee.BigIntegerField()
    uuid = peewee.CharField()
    stream = peewee.CharField()
    kind = peewee.CharField()
    payload = peewee.TextField()
    created_at = peewee.CharField()
    received_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("site", "seq"), True), (("site", "kind"), False))


class Post(BaseModel):
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    uuid = peewee.CharField(unique=True)
    code = peewee.CharField(default="")
    kind = peewee.CharField(default="")
    theme = peewee.CharField(default="")
    commune = peewee.CharField(default="")
    body = peewee.TextField(default="")
    voice_sha256 = peewee.CharField(default="")
    gender = peewee.CharField(default="")
    age_group = peewee.CharField(default="")
    status = peewee.CharField(default="open")  # open, answered, hidden
    created_at = peewee.CharField(default="")
    answered_at = peewee.DateTimeField(null=True)


class Admin(BaseModel):
    username = peewee.CharField(unique=True)
    password_hash = peewee.CharField()
    role = peewee.CharField()  # regional, national
    region = peewee.ForeignKeyField(Region, null=True, on_delete="RESTRICT")
    active = peewee.BooleanField(default=True)


class Answer(BaseModel):
    post = peewee.ForeignKeyField(Post, backref="answers", on_delete="CASCADE")
    uuid = peewee.CharField(unique=True)
    official_name = peewee.CharField()
    body = peewee.TextField()
    source = peewee.CharField(default="central")  # central, box
    admin = peewee.ForeignKeyField(Admin, null=True, on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=utcnow)


class DownEvent(BaseModel):
    """What central sends down; ``site`` null means every site (``region`` narrows)."""

    site = peewee.ForeignKeyField(Site, null=True, on_delete="CASCADE")
    region = peewee.ForeignKeyField(Region, null=True, on_delete="CASCADE")
    kind = peewee.CharField()
    payload = peewee.TextField()
    created_at = peewee.DateTimeField(default=utcnow)


class UsageDay(BaseModel):
    """Daily figures per site and metric, folded in as records arrive."""

    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    day = peewee.CharField()
    metric = peewee.CharField()  # visits, views, bookings, attendance, posts
    count = peewee.IntegerField(default=0)
    women = peewee.IntegerField(default=0)
    youth = peewee.IntegerField(default=0)

    class Meta:
        indexes = ((("site", "day", "metric"), True),)


class FileEntry(BaseModel):
    """A file of the catalogue (a ZIM), served to boxes in verified pieces."""

    sha256 = peewee.CharField(unique=True)
    name = peewee.CharField()
    size = peewee.BigIntegerField()
    pieces = peewee.TextField()
    created_at = peewee.DateTimeField(default=utcnow)


class Audit(BaseModel):
    admin = peewee.ForeignKeyField(Admin, null=True, on_delete="SET NULL")
    action = peewee.CharField()
    detail = peewee.TextField(default="")
    at = peewee.DateTimeField(default=utcnow)


MODELS = [Region, Site, StreamMark, Record, Post, Admin, Answer, DownEvent, UsageDay,
          FileEntry, Audit]


def create(db: peewee.Database) -> None:
    _frozen.initialize(db)
    try:
        db.create_tables(MODELS)
    finally:
        _frozen.initialize(None)
