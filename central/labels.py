"""Spoken labels from the boxes (appliance/labels), shared with every box of the region.

A box sends ``label.recorded`` in its blob stream, so central already holds the clip
(``DATA_DIR/blobs``) when the record arrives. Central keeps the label once (by uuid),
publishes the clip as a file the boxes download in verified pieces, and sends
``label.shared`` down to the region: a clip recorded in Soninke at Nioro serves
Yélimané. The origin box gets its own label back and ignores it (same uuid).
"""

from __future__ import annotations

from pathlib import Path

import peewee
from flask import current_app, has_app_context

from sync_contract import kinds, protocol

from .models import BaseModel, DownEvent, Site

MAX_KEY = 300
MAX_TEXT = 200


class Label(BaseModel):
    uuid = peewee.CharField(unique=True)
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    key = peewee.TextField()
    lang = peewee.CharField()
    text = peewee.TextField()
    clip_sha256 = peewee.CharField()
    clip_mime = peewee.CharField()
    clip_seconds = peewee.FloatField(null=True)
    created_at = peewee.CharField()

    class Meta:
        table_name = "label"


def _data_dir() -> Path | None:
    return Path(current_app.config["DATA_DIR"]) if has_app_context() else None


def _publish_clip(data_dir: Path, sha: str) -> tuple[int, list[str]] | None:
    """The clip as a catalogue file (hard link to the uploaded blob): (size, pieces)."""
    from . import voice

    return voice.publish(data_dir, sha, f"label-{sha[:16]}")


def receive(site: Site, payload: dict) -> str:
    """Keep a box's label and share it with its region; "" or why it was refused."""
    key, lang = payload["key"], payload["lang"]
    text, sha = payload.get("text") or "", payload.get("clip_sha256") or ""
    if not key or len(key) > MAX_KEY or not lang or len(lang) > 16 or len(text) > MAX_TEXT:
        return "a label key, language or text out of bounds"
    if Label.select().where(Label.uuid == payload["uuid"]).exists():
        return ""  # the same record again
    shared = {k: v for k, v in payload.items() if k in kinds.LABEL_SHARED.fields}
    if sha:
        data_dir = _data_dir()
        clip = _publish_clip(data_dir, sha) if data_dir is not None else None
        if clip is None:
            return f"label {payload['uuid']}: its clip {sha[:12]} is not at central"
        shared["clip_size"], shared["pieces"] = clip
    Label.create(uuid=payload["uuid"], site=site, key=key, lang=lang, text=text,
                 clip_sha256=sha, clip_mime=payload.get("clip_mime") or "",
                 clip_seconds=payload.get("clip_seconds"), created_at=payload["created_at"])
    shared["origin"] = site.slug
    DownEvent.create(region=site.region_id, kind=kinds.LABEL_SHARED.name,
                     payload=protocol.canonical(shared).decode())
    return ""
