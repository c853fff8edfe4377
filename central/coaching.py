"""Remote coaching (issue 20): learners' recordings and photos reach a trainer, whose
voice answer and mark go back down to the learner's box.

Boxes send ``learning.group`` (a group's box-scoped id, name, course: a snapshot kept in
``Snapshot``), ``learning.work`` (a learner's work: the learner's box-salted hash, the
group's id, the media's SHA-256) and ``learning.media`` (its bytes are here). A regional
admin assigns trainers (admins with role ``trainer``) to groups of their region's sites;
a trainer sees the work of their groups only, plays it, and answers with a mark (1 encore,
2 bien, 3 très bien) and a voice note recorded in the browser (or a file). The answer goes
down as ``learning.feedback`` to the work's site only, its voice note as a file the box
downloads in verified pieces (as a spoken label's clip). Central never holds a learner's
name or code. Step 0055.
"""

from __future__ import annotations

import hashlib
import json
import uuid as uuidlib
from pathlib import Path

import peewee

from sync_contract import kinds, protocol
from sync_contract.atomic import write_atomic

from .db import database
from .handlers import Incoming, Projector, register
from .models import Admin, BaseModel, DownEvent, Site, Snapshot, utcnow

MARKS = {1: "encore", 2: "bien", 3: "très bien"}
MAX_VOICE_BYTES = 2 * 1024 * 1024
PHOTO_MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))


class Work(BaseModel):
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    uuid = peewee.CharField(unique=True)
    learner = peewee.CharField()  # the box-salted hash
    course = peewee.CharField()
    lesson = peewee.CharField()
    exercise = peewee.IntegerField()
    type = peewee.CharField()
    group_ref = peewee.CharField()
    media_sha256 = peewee.CharField()
    mime = peewee.CharField()
    size = peewee.BigIntegerField()
    seconds = peewee.FloatField(null=True)
    created_at = peewee.CharField()

    class Meta:
        table_name = "learning_work"


class TrainerGroup(BaseModel):
    admin = peewee.ForeignKeyField(Admin, on_delete="CASCADE")
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    group_ref = peewee.CharField()

    class Meta:
        table_name = "trainer_group"


class Feedback(BaseModel):
    uuid = peewee.CharField(unique=True)
    work = peewee.ForeignKeyField(Work, on_delete="CASCADE")
    admin = peewee.ForeignKeyField(Admin, null=True, on_delete="SET NULL")
    mark = peewee.IntegerField()
    clip_sha256 = peewee.CharField(default="")
    clip_mime = peewee.CharField(default="")
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "learning_feedback"


def create_tables(db: peewee.Database) -> None:
    """Step 0055 (plain SQL both databases read)."""
    from .migrations import _sql

    _sql(
        db,
        "CREATE TABLE learning_work (id SERIAL PRIMARY KEY, "
        "site_id INTEGER NOT NULL REFERENCES site (id) ON DELETE CASCADE, "
        "uuid VARCHAR(64) NOT NULL UNIQUE, learner VARCHAR(64) NOT NULL, "
        "course VARCHAR(255) NOT NULL, lesson VARCHAR(255) NOT NULL, "
        "exercise INTEGER NOT NULL, type VARCHAR(32) NOT NULL, "
        "group_ref VARCHAR(64) NOT NULL, media_sha256 VARCHAR(64) NOT NULL, "
        "mime VARCHAR(64) NOT NULL, size BIGINT NOT NULL, seconds REAL, "
        "created_at VARCHAR(40) NOT NULL)",
    )
    _sql(db, "CREATE INDEX learning_work_site_group ON learning_work (site_id, group_ref)")
    _sql(
        db,
        "CREATE TABLE trainer_group (id SERIAL PRIMARY KEY, "
        "admin_id INTEGER NOT NULL REFERENCES admin (id) ON DELETE CASCADE, "
        "site_id INTEGER NOT NULL REFERENCES site (id) ON DELETE CASCADE, "
        "group_ref VARCHAR(64) NOT NULL)",
    )
    _sql(
        db,
        "CREATE UNIQUE INDEX trainer_group_admin_site_group "
        "ON trainer_group (admin_id, site_id, group_ref)",
    )
    _sql(
        db,
        "CREATE TABLE learning_feedback (id SERIAL PRIMARY KEY, "
        "uuid VARCHAR(64) NOT NULL UNIQUE, "
        "work_id INTEGER NOT NULL REFERENCES learning_work (id) ON DELETE CASCADE, "
        "admin_id INTEGER REFERENCES admin (id) ON DELETE SET NULL, "
        "mark INTEGER NOT NULL, clip_sha256 VARCHAR(64) NOT NULL DEFAULT '', "
        "clip_mime VARCHAR(64) NOT NULL DEFAULT '', created_at TIMESTAMP NOT NULL)",
    )
    _sql(db, "CREATE INDEX learning_feedback_work ON learning_feedback (work_id)")


# --- what boxes send ----------------------------------------------------------------------


@register(kinds.LEARNING_WORK)
def work_received(p: Projector, ev: Incoming) -> None:
    pl = ev.payload
    if pl["type"] not in ("read_aloud", "photo"):
        p.refuse(ev, f"work type {pl['type'][:20]!r} is not read_aloud or photo")
        return
    Work.insert(
        site=p.site,
        uuid=pl["uuid"][:64],
        learner=pl["learner"][:64],
        course=pl["course"][:255],
        lesson=pl["lesson"][:255],
        exercise=pl["exercise"],
        type=pl["type"],
        group_ref=(pl.get("group") or "")[:64],
        media_sha256=pl["media_sha256"],
        mime=pl["mime"][:64],
        size=pl["size"],
        seconds=pl.get("seconds"),
        created_at=pl["created_at"][:40],
    ).on_conflict_ignore().execute()


@register(kinds.LEARNING_MEDIA)
def media_received(p: Projector, ev: Incoming) -> None:
    """The bytes are in the blob store (the blob stream moves on only once they are):
    the trainer's page plays them from there."""


@register(kinds.LEARNING_GROUP)
def group_received(p: Projector, ev: Incoming) -> None:
    """Kept as the latest snapshot per group by ``keep_latest``."""


# --- who sees what ------------------------------------------------------------------------


def groups(sites) -> list[dict]:
    """The learning groups of ``sites`` from their latest snapshots."""
    by_site = {s.id: s for s in sites}
    if not by_site:
        return []
    out = []
    query = Snapshot.select(Snapshot.site, Snapshot.subject, Snapshot.payload).where(
        (Snapshot.kind == kinds.LEARNING_GROUP.name) & Snapshot.site.in_(list(by_site))
    )
    for site_id, subject, payload in query.tuples():
        try:
            p = json.loads(payload)
        except ValueError:
            continue
        out.append(
            {
                "site": by_site[site_id],
                "ref": subject,
                "name": str(p.get("name", "")),
                "course": str(p.get("course", "")),
                "members": p.get("members", 0),
            }
        )
    return sorted(out, key=lambda r: (r["site"].slug, r["name"].casefold(), r["ref"]))


def trainer_works(admin: Admin):
    """The work of the groups ``admin`` is assigned to, newest first."""
    return (
        Work.select(Work, Site)
        .join(Site)
        .switch(Work)
        .join(
            TrainerGroup,
            on=(TrainerGroup.site == Work.site) & (TrainerGroup.group_ref == Work.group_ref),
        )
        .where(TrainerGroup.admin == admin)
        .order_by(Work.created_at.desc(), Work.id.desc())
    )


def kind_of(head: bytes, table) -> str | None:
    return next((m for magic, m in table if head.startswith(magic)), None)


def audio_type(head: bytes) -> str | None:
    """A recording's type by its first bytes (16 are enough): what MediaRecorder makes
    (Ogg, WebM, MP4 on Safari) and what phones' own recorders make when the page has no
    microphone (M4A/3GP, AMR, MP3, WAV). None: not served as audio."""
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "audio/webm"
    if head[4:8] == b"ftyp":
        return "audio/mp4"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] >= 0xE0):
        return "audio/mpeg"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    return None


def answer(admin: Admin, work: Work, mark: int, voice: bytes, data_dir: Path) -> Feedback:
    """Keep a trainer's answer and send it down to the work's site: the voice note is
    written durably before its catalogue file, the row and the event commit together."""
    from . import service
    from .i18n import _l
    from .labels import _publish_clip

    if mark not in MARKS:
        raise service.CentralError(_l("mark: choose encore, bien or très bien"))
    sha = mime = ""
    payload: dict = {}
    if voice:
        if len(voice) > MAX_VOICE_BYTES:
            raise service.CentralError(
                _l("voice: the note is larger than %(mb)s MB", mb=MAX_VOICE_BYTES // 1024 // 1024)
            )
        mime = audio_type(voice[:16]) or ""
        if not mime:
            raise service.CentralError(
                _l("voice: not a recording (Ogg, WebM, MP4, MP3, WAV or AMR); record again")
            )
        sha = hashlib.sha256(voice).hexdigest()
        path = service.blob_path(data_dir, sha)
        if not service.reuse_blob(path):
            write_atomic(path, voice)
        # Kept, no row yet: a cut here leaves a blob no row names (blob_sweep.py).
        service.crash_point("central:coaching:blob")
    with database.atomic():
        if sha:
            # Published in the answer's transaction: its catalogue entry never outlives
            # a cut before the answer commits.
            size, pieces = _publish_clip(data_dir, sha)
            payload = {"clip_sha256": sha, "clip_mime": mime, "clip_size": size, "pieces": pieces}
        feedback = Feedback.create(
            uuid=str(uuidlib.uuid4()),
            work=work,
            admin=admin,
            mark=mark,
            clip_sha256=sha,
            clip_mime=mime,
        )
        payload.update(
            uuid=feedback.uuid,
            work=work.uuid,
            mark=mark,
            created_at=utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        kinds.LEARNING_FEEDBACK.validate(payload)
        DownEvent.create(
            site=work.site,
            kind=kinds.LEARNING_FEEDBACK.name,
            payload=protocol.canonical(payload).decode(),
        )
        service.audit(admin, "coaching.answer", f"{work.site.slug} {work.uuid} mark {mark}")
    return feedback
