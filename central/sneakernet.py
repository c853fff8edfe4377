"""USB sneakernet at central: import boxes' signed batches from a directory, write back
signed answers, announcements and catalogue files. The same idempotent functions as
the online sync: a stick imported twice changes nothing the second time.

The layout of the stick is :mod:`sync_contract.usb`.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from sync_contract import protocol, usb
from sync_contract.atomic import atomic_open, write_atomic

from . import service
from .db import database
from .models import FileEntry, Site


def import_dir(directory: Path, data_dir: Path, key) -> dict:
    """Apply every batch on the stick; answer each with a signed response file.

    ``refused`` lists each file that was not applied, with why (``refused`` in the
    counts is its length); the CLI prints them and exits non-zero."""
    stats: dict = {"boxes": 0, "batches": 0, "records": 0, "blobs": 0, "refused": []}
    for box_dir in usb.box_dirs(directory):
        stats["boxes"] += 1
        for path in sorted(box_dir.glob(usb.BLOB_GLOB)):
            frame = path.read_bytes()
            try:
                head = protocol.head_length(frame[:88])
                site, req = service.verify(frame[:head], protocol.PATH_BLOB)
                tail = frame[head:]
                result = service.receive_blob(data_dir, req.message, io.BytesIO(tail).read,
                                              len(tail))
            except (service.CentralError, protocol.ProtocolError) as e:
                stats["refused"].append((str(path), str(e)))
                continue
            if result.get("done"):
                stats["blobs"] += 1
            elif "bad" in result:
                stats["refused"].append((str(path), f"the piece at byte {result['bad']} does "
                                         "not match its hash: a damaged copy, export it again"))
            else:
                stats["refused"].append((str(path), f"incomplete: central holds "
                                         f"{result['have']} bytes, the file ends before"))
        for path in sorted(box_dir.glob(usb.UP_GLOB)):
            frame = path.read_bytes()
            try:
                site, req = service.verify(frame, protocol.PATH_EXCHANGE)
                before = Site.get_by_id(site.id).records
                message = service.exchange(site, req.message, len(frame), carried=True)
            except (service.CentralError, protocol.ProtocolError) as e:
                stats["refused"].append((str(path), str(e)))
                continue
            stats["records"] += Site.get_by_id(site.id).records - before
            stats["batches"] += 1
            # Addressed to this box: a copy on another box's stick is refused there.
            message["box"] = site.box_id
            response = protocol.encode_response(key, req.digest, message)
            write_atomic(box_dir / usb.down_name_for(path.name), req.digest + response)
    return stats


def export_dir(directory: Path, data_dir: Path, key, with_files: bool = False) -> dict:
    """Write, for every enrolled box, what central has for it after its last cursor."""
    stats = {"boxes": 0, "events": 0, "files": 0}
    with database.atomic():
        sites = list(Site.select().where(Site.box_id.is_null(False) & (Site.revoked == False)))  # noqa: E712
    for site in sites:
        down, _more = service.pull(site, site.cursor, 64 * 2**20)
        if not down:
            continue
        message = {"t": "exchange", "acks": {}, "down": down, "more": False,
                   "box": site.box_id}
        write_atomic(usb.box_dir(directory, site.box_id) / usb.down_name_central(down[-1][0]),
                     usb.NO_REQUEST + protocol.encode_response(key, usb.NO_REQUEST, message))
        stats["boxes"] += 1
        stats["events"] += len(down)
    if with_files:
        files = usb.files_dir(directory)
        for entry in FileEntry.select():
            target = files / entry.sha256
            if not target.exists():
                with open(Path(data_dir) / "files" / entry.sha256, "rb") as src, \
                        atomic_open(target) as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                stats["files"] += 1
    return stats
