"""Submissions: a filled form's XML and its attachments, stored atomically.

A power cut (or kill -9) at any point leaves either the whole submission (its row, its
attachments' rows, its outbox events and every blob) or nothing. The order that makes
this true:

1. each file is hashed first and its SHA-256 written to a journal (fsynced), held
   locked (``flock``) by this process, in ``DATA/surveys/staging/``;
2. the files go to the blob store (atomic renames);
3. one transaction writes the rows and the outbox events;
4. the journal is removed.

:func:`sweep` (at start and daily) reads every journal no live process holds and removes
the blobs it names that no row refers to: the files of a submission that was never
committed. A repeated ``instanceID`` (Collect sends again when it lost our answer, or
splits a large submission into several POSTs) adds only attachments not yet held.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import re
import uuid
import xml.etree.ElementTree as ET  # noqa: S405  (DOCTYPE refused before parsing)
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from appliance import blobs, outbox
from appliance.db import database
from sync_contract import kinds

MAX_XML_BYTES = 2_000_000
NAME = re.compile(r"[\w][\w.() -]{0,200}")
# What a form's questions produce (image, audio, video, file questions); the XML part.
MEDIA_TYPES = ("image/", "audio/", "video/")
OTHER_TYPES = {
    "application/octet-stream",
    "application/pdf",
    "text/csv",
    "text/plain",
    "application/zip",
}
XML_TYPES = {"text/xml", "application/xml"}
# Files whose bytes say what they are: a declared image/audio must be one.
MAGIC = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "audio/mpeg": (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"),
    "audio/ogg": (b"OggS",),
    "audio/wav": (b"RIFF",),
    "audio/x-wav": (b"RIFF",),
    "audio/webm": (b"\x1aE\xdf\xa3",),
}


class Refused(Exception):
    """A submission refused with an HTTP status and a message for the enumerator."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Attachment:
    name: str
    mime: str
    stream: BinaryIO


@dataclass(frozen=True)
class Result:
    status: int  # 201 stored, 202 already held (nothing new)
    instance_id: str
    form_id: str
    added: int


def _checkpoint(stage: str) -> None:
    """Where a test's process kills itself to show what a power cut leaves."""


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def parse(xml: bytes) -> tuple[str, str, str]:
    """(form_id, version, instance_id) of a submission's XML, or :class:`Refused`."""
    if len(xml) > MAX_XML_BYTES:
        raise Refused(413, "the submission's XML is too large")
    head = xml[:4096].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in xml.upper():
        raise Refused(400, "the submission's XML has a DOCTYPE; it is not accepted")
    try:
        root = ET.fromstring(xml)  # noqa: S314
    except ET.ParseError as e:
        raise Refused(400, f"the submission's XML is malformed: {e}") from None
    form_id = root.get("id", "")
    instance = ""
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] == "instanceID":
            instance = (el.text or "").strip()
            break
    if not form_id:
        raise Refused(400, "the submission names no form (no id on its root element)")
    if not instance or len(instance) > 100:
        raise Refused(400, "the submission has no meta/instanceID")
    return form_id, root.get("version", ""), instance


def check_type(att: Attachment, head: bytes) -> str:
    """The attachment's media type, or :class:`Refused` (415)."""
    mime = (att.mime or "").split(";")[0].strip().lower()
    if not mime or mime == "application/octet-stream":
        import mimetypes

        mime = mimetypes.guess_type(att.name)[0] or "application/octet-stream"
    if not (mime.startswith(MEDIA_TYPES) or mime in OTHER_TYPES):
        raise Refused(415, f"{att.name}: files of type {mime} are not accepted")
    magic = MAGIC.get(mime)
    if magic and not head.startswith(magic):
        raise Refused(415, f"{att.name}: the file is not the {mime} it says it is")
    return mime


def staging_dir(data_dir: str | Path) -> Path:
    return Path(data_dir) / "surveys" / "staging"


class _Journal:
    """The SHA-256 values this submission may add to the blob store, written (and
    fsynced) before each blob, held locked until the rows are committed."""

    def __init__(self, data_dir: str | Path) -> None:
        folder = staging_dir(data_dir)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{uuid.uuid4().hex}.journal"
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        blobs.fsync_dir(folder)

    def note(self, sha: str) -> None:
        os.write(self.fd, (sha + "\n").encode())
        os.fsync(self.fd)

    def close(self) -> None:
        self.path.unlink(missing_ok=True)
        os.close(self.fd)


def _hash(stream: BinaryIO, limit: int) -> tuple[str, int, bytes]:
    digest, size, head = hashlib.sha256(), 0, b""
    stream.seek(0)
    while chunk := stream.read(blobs.CHUNK):
        if not head:
            head = chunk[:16]
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"a file is larger than {limit // 1_000_000} MB")
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest(), size, head


def store(
    data_dir: str | Path,
    xml: bytes,
    attachments: list[Attachment],
    enumerator: str = "",
    max_bytes: int = 10_000_000,
) -> Result:
    """Store a submission; :class:`Refused` says why not (nothing is kept then)."""
    form_id, version, instance_id = parse(xml)
    form = database.execute_sql(
        "SELECT version, state FROM survey_form WHERE form_id = ?", (form_id,)
    ).fetchone()
    if form is None:
        raise Refused(404, f"no form {form_id!r} on this box")
    if form[1] != "open":
        raise Refused(403, f"the form {form_id!r} is closed: it takes no more submissions")
    known = database.execute_sql(
        "SELECT 1 FROM survey_form_version WHERE form_id = ? AND version = ?", (form_id, version)
    ).fetchone()
    if not known:
        raise Refused(
            409,
            f"version {version!r} of form {form_id!r} is not on this box "
            f"(it has {form[0]!r}): download the form again",
        )
    files = []
    for att in attachments:
        name = att.name or ""
        if "/" in name or "\\" in name or not NAME.fullmatch(name) or ".." in name:
            raise Refused(400, f"attachment name {att.name!r} is not allowed")
        sha, size, head = _hash(att.stream, max_bytes)
        files.append((name, check_type(att, head), sha, size, att.stream))
    xml_sha = hashlib.sha256(xml).hexdigest()
    journal = _Journal(data_dir)
    try:
        held = database.execute_sql(
            "SELECT id, xml_sha256 FROM survey_submission WHERE instance_id = ?", (instance_id,)
        ).fetchone()
        if held and held[1] != xml_sha:
            raise Refused(409, f"another submission with instanceID {instance_id} is already here")
        have = set()
        if held:
            have = {
                r[0]
                for r in database.execute_sql(
                    "SELECT name FROM survey_attachment WHERE submission_id = ?", (held[0],)
                )
            }
        new = [f for f in files if f[0] not in have]
        if held and not new:
            return Result(202, instance_id, form_id, 0)
        for sha in ([] if held else [xml_sha]) + [f[2] for f in new]:
            journal.note(sha)
        _checkpoint("journal")
        if not held:
            import io

            blobs.put(data_dir, io.BytesIO(xml))
        for _name, _mime, _sha, _size, stream in new:
            stream.seek(0)
            blobs.put(data_dir, stream)
        _checkpoint("blobs")
        with database.atomic():
            if held:
                sub_id = held[0]
            else:
                sub_id = database.execute_sql(
                    "INSERT INTO survey_submission (instance_id, form_id, version, "
                    "xml_sha256, enumerator, received_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (instance_id, form_id, version, xml_sha, enumerator, now()),
                ).lastrowid
            for name, mime, sha, size, _stream in new:
                database.execute_sql(
                    "INSERT INTO survey_attachment (submission_id, name, sha256, mime, size) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (sub_id, name, sha, mime, size),
                )
                outbox.append(
                    kinds.SURVEY_ATTACHMENT,
                    {
                        "instance_id": instance_id,
                        "name": name,
                        "sha256": sha,
                        "mime": mime,
                        "size": size,
                    },
                )
            if not held:
                outbox.append(
                    kinds.SURVEY_SUBMISSION,
                    {
                        "instance_id": instance_id,
                        "form_id": form_id,
                        "version": version,
                        "xml": xml.decode("utf-8", "replace"),
                        "enumerator": enumerator,
                        "attachments": [
                            {"name": n, "sha256": s, "mime": m, "size": z} for n, m, s, z, _ in new
                        ],
                        "received_at": now(),
                    },
                )
            _checkpoint("rows")
        return Result(201, instance_id, form_id, len(new))
    finally:
        journal.close()


def _referenced(sha: str) -> bool:
    return (
        database.execute_sql(
            "SELECT 1 FROM survey_attachment WHERE sha256 = ? UNION ALL "
            "SELECT 1 FROM survey_submission WHERE xml_sha256 = ? UNION ALL "
            "SELECT 1 FROM survey_media WHERE sha256 = ? LIMIT 1",
            (sha, sha, sha),
        ).fetchone()
        is not None
    )


def sweep(data_dir: str | Path) -> int:
    """Remove the blobs of submissions a power cut left uncommitted; return how many."""
    folder = staging_dir(data_dir)
    if not folder.is_dir():
        return 0
    removed = 0
    for journal in sorted(folder.glob("*.journal")):
        try:
            fd = os.open(journal, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live writer's
            for line in journal.read_text().split():
                if blobs.HEX64.fullmatch(line) and not _referenced(line):
                    path = blobs.path_for(data_dir, line)
                    if path.exists():
                        path.unlink()
                        removed += 1
            journal.unlink(missing_ok=True)
        finally:
            os.close(fd)
    blobs.sweep_temporary(data_dir)
    return removed


def sweep_site(site) -> str:
    """The registry's sweep (``func(site)``)."""
    n = sweep(site.data_dir)
    return f"removed {n} blob(s) of cut submissions" if n else ""


def counts() -> dict[str, int]:
    return {
        r[0]: r[1]
        for r in database.execute_sql(
            "SELECT form_id, COUNT(*) FROM survey_submission GROUP BY form_id"
        )
    }


def instance(instance_id: str) -> dict | None:
    row = database.execute_sql(
        "SELECT id, form_id, version, xml_sha256 FROM survey_submission WHERE instance_id = ?",
        (instance_id,),
    ).fetchone()
    if not row:
        return None
    atts = [
        dict(zip(("name", "sha256", "mime", "size"), r, strict=True))
        for r in database.execute_sql(
            "SELECT name, sha256, mime, size FROM "
            "survey_attachment WHERE submission_id = ? "
            "ORDER BY name",
            (row[0],),
        )
    ]
    return {"form_id": row[1], "version": row[2], "xml_sha256": row[3], "attachments": atts}
