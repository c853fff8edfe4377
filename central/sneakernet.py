"""USB sneakernet at central: import boxes' signed batches from a directory, write back
signed answers, announcements and catalogue files. The same idempotent functions as
the online sync: a stick imported twice changes nothing the second time.

Layout on the stick: ``espace-sync/<box_id>/up-*.esync`` and ``blob-*.esync`` (from
``espace sync export``), ``espace-sync/<box_id>/down-*.esync`` (written here: the
32-byte request digest, then a signed response frame), ``espace-sync/files/<sha256>``.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

from appliance.sync import protocol

from . import service
from .db import database
from .models import FileEntry, Site

ROOT = "espace-sync"
NO_REQUEST = b"\x00" * 32  # digest of an unsolicited response (central export)


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def import_dir(directory: Path, data_dir: Path, key) -> dict:
    """Apply every batch on the stick; answer each with a signed response file."""
    stats = {"boxes": 0, "batches": 0, "records": 0, "blobs": 0, "refused": 0}
    root = Path(directory) / ROOT
    for box_dir in sorted(p for p in root.glob("*") if p.is_dir() and p.name != "files"):
        stats["boxes"] += 1
        for path in sorted(box_dir.glob("blob-*.esync")):
            frame = path.read_bytes()
            try:
                site, req = service.verify(frame[:protocol.head_length(frame[:88])],
                                           protocol.PATH_BLOB)
            except (service.CentralError, protocol.ProtocolError):
                stats["refused"] += 1
                continue
            tail = frame[protocol.head_length(frame[:88]):]
            result = service.receive_blob(data_dir, req.message, io.BytesIO(tail).read, len(tail))
            stats["blobs"] += int(result.get("done", False))
        for path in sorted(box_dir.glob("up-*.esync")):
            frame = path.read_bytes()
            try:
                site, req = service.verify(frame, protocol.PATH_EXCHANGE)
            except (service.CentralError, protocol.ProtocolError):
                stats["refused"] += 1
                continue
            before = Site.get_by_id(site.id).records
            message = service.exchange(site, req.message, len(frame))
            stats["records"] += Site.get_by_id(site.id).records - before
            stats["batches"] += 1
            response = protocol.encode_response(key, req.digest, message)
            _write(box_dir / ("down-" + path.name[3:]), req.digest + response)
    return stats


def export_dir(directory: Path, data_dir: Path, key, with_files: bool = False) -> dict:
    """Write, for every enrolled box, what central has for it after its last cursor."""
    stats = {"boxes": 0, "events": 0, "files": 0}
    root = Path(directory) / ROOT
    with database.atomic():
        sites = list(Site.select().where(Site.box_id.is_null(False) & (Site.revoked == False)))  # noqa: E712
    for site in sites:
        down, _more = service.pull(site, site.cursor, 64 * 2**20)
        if not down:
            continue
        box_dir = root / site.box_id
        box_dir.mkdir(parents=True, exist_ok=True)
        message = {"t": "exchange", "acks": {}, "down": down, "more": False}
        _write(box_dir / f"down-central-{down[-1][0]:09d}.esync",
               NO_REQUEST + protocol.encode_response(key, NO_REQUEST, message))
        stats["boxes"] += 1
        stats["events"] += len(down)
    if with_files:
        files = root / "files"
        files.mkdir(parents=True, exist_ok=True)
        for entry in FileEntry.select():
            target = files / entry.sha256
            if not target.exists():
                shutil.copyfile(Path(data_dir) / "files" / entry.sha256, target)
                stats["files"] += 1
    return stats
