"""Blobs no row names, and temporary files a killed write left, removed once they are
older than a grace period (``central sweep-blobs``, daily from
``systemd/central-blob-sweep.timer``).

Central keeps a blob's bytes durably (written beside, fsynced, renamed) before the row
naming it commits, so a power cut between the two leaves a whole blob no row names: an
admin's voice answer is sent again (same SHA-256, same file), a trainer's note that
was being kept when central died is never named. A blob is kept while any of these
names it (every blob column central has, plus what boxes sent and central still holds):

- ``post.voice_sha256``, ``answer.voice_sha256`` (voice notes and answers);
- ``label.clip_sha256`` (spoken labels), ``survey_attachment.sha256``;
- ``learning_work.media_sha256`` (learners' recordings and photos, which may arrive a
  sync before their row), ``learning_feedback.clip_sha256`` (trainers' notes);
- ``file_entry.sha256``: the catalogue, whose ``files/<sha>`` is a hard link to the
  blob (boxes still to fetch an answer's voice fetch that file);
- every stored record (``record.payload``) of a kind that declares blob fields in
  ``sync_contract/kinds.py``, and a ``survey.submission``'s attachments: a box's record
  naming a blob that is still to come, or one its handler refused.

Never swept: ``blobs/partial/`` (a box's upload arriving in pieces, its lease), and
anything whose name is neither a SHA-256 nor a temporary file. A box uploads a
``label.recorded``'s clip before it sends the record naming it; the grace (a week by
default) is the time a box may stay cut off between the two.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sync_contract import kinds

from .models import Answer, FileEntry, Post, Record

GRACE_DAYS = 7.0
# What a killed write leaves: atomic_open's ".<name>.<random>.tmp", publish_file's
# "<name>.importing" (a ZIM being copied into files/).
TEMPORARY = (".tmp", ".importing")


@dataclass(frozen=True)
class Garbage:
    path: Path
    size: int
    why: str  # "unreferenced blob", "unreferenced file", "temporary file"


def referenced() -> set[str]:
    """Every SHA-256 a row of central's database names (see the module's list)."""
    from .coaching import Feedback, Work
    from .labels import Label
    from .surveys import SurveyAttachment

    names: set[str] = set()
    for column in (
        Post.voice_sha256,
        Answer.voice_sha256,
        Label.clip_sha256,
        Work.media_sha256,
        Feedback.clip_sha256,
        SurveyAttachment.sha256,
        FileEntry.sha256,
    ):
        query = column.model.select(column).where(column != "").distinct()
        names.update(sha for (sha,) in query.tuples().iterator())
    names.update(_record_refs())
    return names


def _record_refs() -> Iterator[str]:
    with_blobs = {name: kind for name, kind in kinds.UP_KINDS.items() if kind.blobs}
    wanted = [*with_blobs, kinds.SURVEY_SUBMISSION.name]
    query = Record.select(Record.kind, Record.payload).where(Record.kind.in_(wanted))
    for kind, payload in query.tuples().iterator():
        try:
            data = json.loads(payload)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        if kind in with_blobs:
            yield from with_blobs[kind].blob_refs(data)
        attachments = data.get("attachments")
        for item in attachments if isinstance(attachments, list) else ():
            if isinstance(item, dict) and isinstance(item.get("sha256"), str):
                yield item["sha256"]


def find(data_dir: str | Path, grace_seconds: float, now: float | None = None) -> list[Garbage]:
    """What a sweep would remove: unreferenced blobs and catalogue files, and temporary
    files, each last written more than ``grace_seconds`` ago (so a write in flight is
    never taken). Reads the database first, then the files: a blob renamed in after the
    read is younger than the grace."""
    keep = referenced()
    limit = (time.time() if now is None else now) - grace_seconds
    data_dir = Path(data_dir)
    found = []
    blobs = data_dir / "blobs"
    for shard in sorted(blobs.iterdir()) if blobs.is_dir() else ():
        if shard.name != "partial" and shard.is_dir():
            found.extend(_old(shard, keep, limit, "unreferenced blob"))
    files = data_dir / "files"
    if files.is_dir():
        found.extend(_old(files, keep, limit, "unreferenced file"))
    return found


def _old(folder: Path, keep: set[str], limit: float, why: str) -> Iterator[Garbage]:
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.endswith(TEMPORARY):
                reason = "temporary file"
            elif kinds.HEX64.fullmatch(entry.name) and entry.name not in keep:
                reason = why
            else:
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if st.st_mtime < limit and stat.S_ISREG(st.st_mode):
                yield Garbage(Path(entry.path), st.st_size, reason)


def remove(garbage: Garbage, grace_seconds: float) -> bool:
    """Unlink ``garbage`` unless it was written again since :func:`find` saw it (a
    writer reusing a blob renews its time: :func:`central.service.reuse_blob`)."""
    with contextlib.suppress(FileNotFoundError):
        if garbage.path.stat().st_mtime >= time.time() - grace_seconds:
            return False
        garbage.path.unlink()
        return True
    return False
