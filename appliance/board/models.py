"""Board tables (schema in :mod:`appliance.migrations.m0002_board`)."""

from __future__ import annotations

import peewee

from ..models import BaseModel, Commune, Official

KINDS = ("question", "proposal")
STATUSES = ("pending", "published", "hidden", "merged")
AGE_GROUPS = ("under18", "18-35", "36-60", "over60")
GENDERS = ("f", "m")


class Post(BaseModel):
    uuid = peewee.CharField(unique=True)
    code = peewee.CharField(unique=True)  # short code a visitor writes down to find it again
    kind = peewee.CharField()
    commune = peewee.ForeignKeyField(Commune, on_delete="RESTRICT")
    official = peewee.ForeignKeyField(Official, null=True, on_delete="RESTRICT")  # None: council
    theme = peewee.CharField()
    body = peewee.TextField(default="")
    voice_sha256 = peewee.CharField(default="")
    voice_mime = peewee.CharField(default="")
    voice_seconds = peewee.FloatField(null=True)
    voice_bytes = peewee.IntegerField(default=0)
    alias = peewee.CharField(default="")
    age_group = peewee.CharField(default="")
    gender = peewee.CharField(default="")
    status = peewee.CharField()
    hidden_reason = peewee.CharField(default="")
    merged_into = peewee.ForeignKeyField("self", null=True, on_delete="RESTRICT")
    reviewed = peewee.BooleanField(default=False)  # a facilitator decided on it
    author_hash = peewee.CharField(default="")  # day-salted: rate limits only, never synced
    support_count = peewee.IntegerField(default=0)
    answer_count = peewee.IntegerField(default=0)
    flag_count = peewee.IntegerField(default=0)
    created_at = peewee.CharField()
    channel = peewee.CharField(default="web")  # "web" or "sms" (migration 0030)

    class Meta:
        table_name = "board_post"


class Support(BaseModel):
    uuid = peewee.CharField(unique=True)
    post = peewee.ForeignKeyField(Post, backref="supports", on_delete="CASCADE")
    client_hash = peewee.CharField()  # box-salted: one per phone, never leaves the box
    created_at = peewee.CharField()

    class Meta:
        table_name = "board_support"


class Answer(BaseModel):
    uuid = peewee.CharField(unique=True)
    post = peewee.ForeignKeyField(Post, backref="answers", on_delete="CASCADE")
    official = peewee.ForeignKeyField(Official, null=True, on_delete="RESTRICT")
    official_name = peewee.CharField(default="")
    body = peewee.TextField(default="")
    voice_sha256 = peewee.CharField(default="")
    voice_mime = peewee.CharField(default="")
    voice_seconds = peewee.FloatField(null=True)
    voice_bytes = peewee.IntegerField(default=0)
    source = peewee.CharField()  # kiosk or central
    recorded_by = peewee.CharField(default="")
    created_at = peewee.CharField()

    class Meta:
        table_name = "board_answer"


class Forward(BaseModel):
    """Whom central sent a post on to (migration 0046): shown to visitors."""

    uuid = peewee.CharField(unique=True)
    post = peewee.ForeignKeyField(Post, backref="forwards", on_delete="CASCADE")
    to_kind = peewee.CharField()  # official, service
    to_name = peewee.CharField()
    to_role = peewee.CharField(default="")
    note = peewee.TextField(default="")
    created_at = peewee.CharField()

    class Meta:
        table_name = "board_forward"


class Flag(BaseModel):
    post = peewee.ForeignKeyField(Post, backref="flags", on_delete="CASCADE")
    client_hash = peewee.CharField()
    reason = peewee.CharField(default="")
    created_at = peewee.CharField()

    class Meta:
        table_name = "board_flag"


class Decision(BaseModel):
    uuid = peewee.CharField(unique=True)
    post = peewee.ForeignKeyField(Post, backref="decisions", on_delete="CASCADE")
    action = peewee.CharField()
    reason = peewee.CharField(default="")
    into = peewee.ForeignKeyField(Post, null=True, column_name="into_id")
    facilitator = peewee.CharField(default="")
    created_at = peewee.CharField()

    class Meta:
        table_name = "board_decision"
