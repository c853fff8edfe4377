"""Remote coaching on the box (issue 20): a learner's recording of their reading or photo
of their writing, stored for a trainer at central, and the trainer's answer back.

Storing work survives a power cut whole or not at all. The bytes are checked by content
(:mod:`appliance.audio` for a recording, magic bytes for a photo), written fsynced and
locked under ``learning-incoming/`` (nothing names them yet); one transaction then writes
the ``learning_work`` row, its ``learning.work`` and ``learning.media`` events and the
learner's progress; only then are the bytes moved into the blob store. A kill -9 before
the commit leaves a staging file that :func:`recover_incoming` deletes (no row names it);
after the commit, one it promotes. So no partial row and no orphan file.

Central sees the learner's box-salted hash (``Learner.ref``) and the group's box-scoped id
(:func:`group_ref`), never a name or a code. The trainer's answer (``learning.feedback``)
names the work by uuid; its voice note downloads like a spoken label's clip.
"""

from __future__ import annotations

import json
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path

from appliance import audio, blobs, outbox, privacy
from appliance.db import database
from appliance.errors import EspaceError
from sync_contract import kinds

from . import rules
from .course import WORK_TYPES, Course
from .models import Feedback, Group, Learner, Member, Work

INCOMING = "learning-incoming"
MAX_RECORDING_BYTES = 3 * 1024 * 1024  # 3 min of Opus at 24 kbit/s is 540 kB: room to spare
MAX_RECORDING_SECONDS = 180.0
MAX_PHOTO_BYTES = 6 * 1024 * 1024  # a phone camera's JPEG is 1 to 5 MB
PHOTO_TYPES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
# Each attempt goes to the trainer and costs its bytes on the sync: a few a day is plenty
# for a learner, and a phone left recording in a loop cannot spend the site's budget.
MAX_TRIES_PER_DAY = 5
MARKS = (1, 2, 3)  # encore, bien, très bien: pictograms on both sides
CLIP_MIMES = ("audio/ogg", "audio/webm", "audio/mp4", "audio/mpeg", "audio/wav", "audio/amr")


class WorkRefused(EspaceError):
    """Work the box refuses; ``code`` names the reason the page translates."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


def _checkpoint(stage: str) -> None:
    """Where a test's process kills itself to show what a power cut leaves."""


def group_ref(group: Group) -> str:
    """The group's id for central: box-scoped (salted), stable for the box's life."""
    return privacy.identity_hash(f"learning-group:{group.id}", "box")


def photo_type(data: bytes) -> str | None:
    for magic, mime in PHOTO_TYPES:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def check(kind: str, data: bytes) -> tuple[str, float | None]:
    """(mime, seconds) of a recording or photo; :class:`WorkRefused` otherwise."""
    if not data:
        raise WorkRefused("empty")
    if kind == "read_aloud":
        if len(data) > MAX_RECORDING_BYTES:
            raise WorkRefused("too_large", f"more than {MAX_RECORDING_BYTES} bytes")
        try:
            info = audio.probe(data, max_seconds=MAX_RECORDING_SECONDS)
        except audio.AudioTooLong:
            raise WorkRefused("too_long") from None
        except audio.AudioError as e:
            raise WorkRefused("not_audio", str(e)) from None
        return info.mime, info.seconds
    if len(data) > MAX_PHOTO_BYTES:
        raise WorkRefused("too_large", f"more than {MAX_PHOTO_BYTES} bytes")
    mime = photo_type(data)
    if mime is None:
        raise WorkRefused("not_photo")
    return mime, None


def learner_group(learner: Learner, course_id: str) -> Group | None:
    """The newest group of ``learner`` that follows ``course_id``."""
    return (
        Group.select()
        .join(Member)
        .where((Member.learner == learner) & (Group.course == course_id))
        .order_by(Group.id.desc())
        .first()
    )


def submit(
    course: Course, learner: Learner, lesson_id: str, index: int, data: bytes, data_dir: Path
) -> Work:
    """Store a learner's recording or photo for exercise ``index`` of a lesson, with the
    events that carry it to the group's trainer; the exercise counts as done. Raises
    :class:`WorkRefused` (nothing stored) for bad bytes or an exercise that takes none."""
    lesson = course.lesson(lesson_id)
    if lesson is None or not 0 <= index < len(lesson.exercises):
        raise WorkRefused("no_exercise")
    kind = lesson.exercises[index].type
    if kind not in WORK_TYPES:
        raise WorkRefused("no_exercise")
    mime, seconds = check(kind, data)
    today = Work.select().where(
        (Work.learner == learner)
        & (Work.course == course.id)
        & (Work.lesson == lesson.id)
        & (Work.exercise == index)
        & (Work.created_at >= rules.now()[:10])
    )
    if today.count() >= MAX_TRIES_PER_DAY:
        raise WorkRefused("too_many")
    staged = blobs.stage(data_dir, INCOMING, data)
    _checkpoint("staged")
    try:
        with database.atomic():
            group = learner_group(learner, course.id)
            work = Work.create(
                uuid=str(uuidlib.uuid4()),
                learner=learner,
                course=course.id,
                lesson=lesson.id,
                exercise=index,
                type=kind,
                sha256=staged.sha256,
                mime=mime,
                size=staged.size,
                seconds=seconds,
                created_at=rules.now(),
            )
            outbox.append(
                kinds.LEARNING_WORK,
                {
                    "uuid": work.uuid,
                    "learner": learner.ref,
                    "course": course.id,
                    "lesson": lesson.id,
                    "exercise": index,
                    "type": kind,
                    "group": group_ref(group) if group is not None else "",
                    "media_sha256": staged.sha256,
                    "mime": mime,
                    "size": staged.size,
                    "seconds": seconds,
                    "created_at": work.created_at,
                },
            )
            outbox.append(
                kinds.LEARNING_MEDIA, {"sha256": staged.sha256, "size": staged.size, "mime": mime}
            )
            rules.record(course, learner, lesson.id, "recorded", {index: 1})
            if group is not None:
                # the group as it stands, with its work: central can always name the
                # group of a work (a group made before this version was never sent)
                send_group(group)
            _checkpoint("rows")
    except BaseException:
        blobs.discard(staged)
        raise
    _checkpoint("committed")
    blobs.promote(data_dir, staged)
    return work


def referenced() -> set[str]:
    return {r[0] for r in database.execute_sql("SELECT DISTINCT sha256 FROM learning_work")}


def recover_incoming(data_dir: str | Path) -> tuple[int, int]:
    """After a crash: promote staged work whose row committed, delete the rest. Returns
    (promoted, deleted); a file a live upload holds locked is left alone."""
    promoted, deleted = blobs.recover_incoming(data_dir, INCOMING, referenced())
    if deleted or promoted:
        blobs.fsync_dir(Path(data_dir) / INCOMING)
    return promoted, deleted


def sweep(site) -> object:
    promoted, deleted = recover_incoming(site.data_dir)
    return (
        f"learners' work: {promoted} kept, {deleted} cut upload(s) removed"
        if (promoted or deleted)
        else ""
    )


# --- groups for central --------------------------------------------------------------------


def send_group(group: Group) -> None:
    """The group as it now stands, for central's trainers (in the caller's transaction)."""
    outbox.append(
        kinds.LEARNING_GROUP,
        {
            "group": group_ref(group),
            "name": group.name,
            "course": group.course,
            "members": Member.select().where(Member.group == group).count(),
            "updated_at": rules.now(),
        },
    )


# --- the trainer's answers -----------------------------------------------------------------


def receive_feedback(payload: dict, data_dir: str | Path) -> str:
    """A trainer's answer from central: kept once by uuid; its voice note joins the
    sync's downloads (verified pieces, resumed after a cut). Runs in the pull's
    transaction; returns who applied it ("" keeps it unapplied in sync_inbox)."""
    from appliance.sync import state

    if Feedback.select().where(Feedback.uuid == payload["uuid"]).exists():
        return "learning"
    sha = payload.get("clip_sha256") or ""
    if payload.get("mark") not in MARKS or (
        sha and (not blobs.HEX64.fullmatch(sha) or payload.get("clip_mime") not in CLIP_MIMES)
    ):
        return ""
    Feedback.create(
        uuid=payload["uuid"],
        work_uuid=payload["work"],
        mark=payload["mark"],
        clip_sha256=sha,
        clip_mime=payload.get("clip_mime") or "",
        created_at=payload.get("created_at") or rules.now(),
    )
    if sha and not blobs.path_for(data_dir, sha).exists():
        state.SyncDownload.insert(
            sha256=sha,
            name=f"feedback-{sha[:16]}",
            size=int(payload.get("clip_size") or 0),
            pieces=json.dumps(payload.get("pieces") or []),
            dest=str(blobs.path_for(data_dir, sha)),
        ).on_conflict_ignore().execute()
    return "learning"


@dataclass
class Answered:
    work: Work
    feedback: Feedback | None
    playable: bool  # the voice note is here (downloaded)


def latest_work(
    learner: Learner, course_id: str, data_dir: Path
) -> dict[tuple[str, int], Answered]:
    """Per (lesson, exercise): the learner's newest work and the trainer's newest answer."""
    out: dict[tuple[str, int], Answered] = {}
    rows = Work.select().where((Work.learner == learner) & (Work.course == course_id))
    for w in rows.order_by(Work.id):
        out[(w.lesson, w.exercise)] = Answered(w, None, False)
    uuids = [a.work.uuid for a in out.values()]
    if uuids:
        for f in Feedback.select().where(Feedback.work_uuid.in_(uuids)).order_by(Feedback.id):
            for a in out.values():
                if a.work.uuid == f.work_uuid:
                    a.feedback = f
                    a.playable = (
                        bool(f.clip_sha256) and blobs.path_for(data_dir, f.clip_sha256).exists()
                    )
    return out


def lesson_states(learner: Learner, course_id: str) -> dict[str, str]:
    """Per lesson with work: "answered" when every newest work has a trainer's answer,
    else "waiting"."""
    works: dict[tuple[str, int], str] = {}
    for w in (
        Work.select(Work.lesson, Work.exercise, Work.uuid)
        .where((Work.learner == learner) & (Work.course == course_id))
        .order_by(Work.id)
    ):
        works[(w.lesson, w.exercise)] = w.uuid
    answered = {
        f.work_uuid
        for f in Feedback.select(Feedback.work_uuid).where(
            Feedback.work_uuid.in_(list(works.values()) or [""])
        )
    }
    out: dict[str, str] = {}
    for (lesson, _i), u in works.items():
        if u not in answered:
            out[lesson] = "waiting"
        else:
            out.setdefault(lesson, "answered")
    return out


def counts(learners: list[Learner], course_id: str) -> dict[int, dict[str, int]]:
    """Per learner id: how many lessons have answered and waiting work (the kiosk)."""
    out = {}
    for learner in learners:
        states = lesson_states(learner, course_id)
        out[learner.id] = {
            "answered": sum(1 for s in states.values() if s == "answered"),
            "waiting": sum(1 for s in states.values() if s == "waiting"),
        }
    return out
