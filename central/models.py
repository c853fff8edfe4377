"""Central's models. The schema is created and upgraded by :mod:`central.migrations`."""

from __future__ import annotations

import datetime as dt

import peewee

from .db import database


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class BaseModel(peewee.Model):
    class Meta:
        database = database
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
    # Step 0051: the box's last sync error (since when, its clock), central's last
    # refusal of it ("replay: ..."), the box's clock minus central's at the last exchange.
    last_error = peewee.TextField(default="")
    last_error_since = peewee.CharField(max_length=40, default="")
    refusal = peewee.TextField(default="")
    refusal_at = peewee.DateTimeField(null=True)
    clock_offset = peewee.BigIntegerField(null=True)
    clock_at = peewee.DateTimeField(null=True)


class Box(BaseModel):
    """One box (one SD card's key) enrolled for a site; a site may have several over its
    life (cards die). Sequences and acknowledgements belong to a box, records to its
    site. Only the site's current box (``Site.box_id``, not revoked) may sync.
    Created by migration step 0002."""

    site = peewee.ForeignKeyField(Site, backref="boxes", on_delete="CASCADE")
    box_id = peewee.CharField(unique=True)
    public_key = peewee.CharField()
    code_hash = peewee.CharField(default="")
    enrolled_at = peewee.DateTimeField(default=utcnow)
    revoked = peewee.BooleanField(default=False)
    last_n = peewee.BigIntegerField(default=0)  # highest request number seen (replays)


class StreamMark(BaseModel):
    """Highest sequence of a box's stream stored, with everything before it."""

    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    box = peewee.ForeignKeyField(Box, null=True, column_name="box_ref", on_delete="CASCADE")
    stream = peewee.CharField()
    seq = peewee.BigIntegerField(default=0)

    class Meta:
        indexes = ((("box", "stream"), True),)


class Record(BaseModel):
    """An event from a box, stored once per (box, seq) whatever the link did."""

    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    box = peewee.ForeignKeyField(Box, null=True, column_name="box_ref", on_delete="CASCADE")
    seq = peewee.BigIntegerField()
    uuid = peewee.CharField()
    stream = peewee.CharField()
    kind = peewee.CharField()
    payload = peewee.TextField()
    created_at = peewee.CharField()
    received_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("box", "seq"), True), (("site", "kind"), False))


class Snapshot(BaseModel):
    """The latest snapshot a site's boxes sent of one thing (a session's attendance):
    per (site, kind, subject) the one with the highest (box, seq). Step 0003."""

    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    kind = peewee.CharField()
    subject = peewee.CharField()
    box = peewee.ForeignKeyField(Box, column_name="box_ref", on_delete="CASCADE")
    seq = peewee.BigIntegerField()
    day = peewee.CharField(default="")
    payload = peewee.TextField()

    class Meta:
        indexes = ((("site", "kind", "subject"), True),)


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
    channel = peewee.CharField(default="web")  # "sms": came from a basic phone (0030)


class Admin(BaseModel):
    username = peewee.CharField(unique=True)
    password_hash = peewee.CharField()
    role = peewee.CharField()  # regional, national
    region = peewee.ForeignKeyField(Region, null=True, on_delete="RESTRICT")
    active = peewee.BooleanField(default=True)
    # The language central's pages speak to this admin (central/i18n.py), step 0041.
    language = peewee.CharField(default="fr")


class Answer(BaseModel):
    post = peewee.ForeignKeyField(Post, backref="answers", on_delete="CASCADE")
    uuid = peewee.CharField(unique=True)
    official_name = peewee.CharField()
    body = peewee.TextField()
    source = peewee.CharField(default="central")  # central, box
    admin = peewee.ForeignKeyField(Admin, null=True, on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=utcnow)
    # A voice answer (step 0046): recorded at a box's kiosk or in central's browser.
    voice_sha256 = peewee.CharField(default="")
    voice_mime = peewee.CharField(default="")
    voice_seconds = peewee.FloatField(null=True)
    voice_bytes = peewee.BigIntegerField(default=0)


class PostForward(BaseModel):
    """A post sent on to an official of its site or to a service (step 0047)."""

    post = peewee.ForeignKeyField(Post, backref="forwards", on_delete="CASCADE")
    uuid = peewee.CharField(unique=True)
    to_kind = peewee.CharField()  # official, service
    to_name = peewee.CharField()
    to_role = peewee.CharField(default="")
    note = peewee.TextField(default="")
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


class AdminSession(BaseModel):
    """A logged-in browser: the cookie holds a random key, this row its hash. Logging
    out or changing the password deletes the rows, which ends the session everywhere
    the cookie was copied. Created by migration step 0014."""

    key = peewee.CharField(primary_key=True)
    admin = peewee.ForeignKeyField(Admin, on_delete="CASCADE")
    created_at = peewee.DateTimeField(default=utcnow)


class LoginFailure(BaseModel):
    """One refused login or enrolment, under each scope it counts against ("user:awa",
    "addr:192.0.2.1", "device:...", "enrol:..."): throttling counts these in a window.
    Created by migration step 0015."""

    scope = peewee.CharField(index=True)
    at = peewee.DateTimeField(default=utcnow)

    class Meta:
        primary_key = False


MODELS = [Region, Site, StreamMark, Record, Post, Admin, Answer, DownEvent, UsageDay,
          FileEntry, Audit]
# Tables made by later migration steps, not by step 0001.
LATER_MODELS = [AdminSession, LoginFailure, Box, Snapshot, PostForward]
