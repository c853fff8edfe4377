"""A label event: text and/or clip for one (key, language)."""

from __future__ import annotations

import peewee

from ..models import BaseModel


class Label(BaseModel):
    uuid = peewee.CharField(unique=True)
    key = peewee.CharField()
    lang = peewee.CharField()
    text = peewee.TextField(default="")
    clip_sha256 = peewee.CharField(default="")
    clip_mime = peewee.CharField(default="")
    clip_seconds = peewee.FloatField(null=True)
    origin = peewee.CharField(default="")
    created_at = peewee.CharField()

    class Meta:
        table_name = "label"
