"""``espace sync export DIR`` / ``import DIR``: the same signed frames as the online
sync, carried on a USB stick. Export never marks anything sent: only central's signed
acknowledgements, imported back, advance the box's acknowledged sequences."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from sync_contract import protocol, usb
from sync_contract.atomic import atomic_open, write_atomic

from .. import blobs, outbox
from ..db import database
from . import state
from .client import MAX_BATCH_RAW, Options, RunResult, SyncClient, blob_refs

WANT = 64 * 2**20


def _client(options: Options) -> SyncClient:
    client = SyncClient(options)
    client.key, client.central_key, _enr = client._identity()
    client.box_id = state.box_id()
    client.res = RunResult()
    return client


def export(directory: Path, options: Options) -> dict:
    client = _client(options)
    client.export_mode = True
    box_dir = usb.box_dir(directory, client.box_id)
    box_dir.mkdir(parents=True, exist_ok=True)
    acks = state.acked()
    stats = {"batches": 0, "events": 0, "blobs": 0}
    # Blobs first, so that central holds them when it stores the events naming them.
    shas: set[str] = set()
    for e in outbox.pending_after(acks.get("blob", 0), 100_000, ("blob",)):
        shas.update(blob_refs(e.kind, json.loads(e.payload)))
    shas.update(r.sha256 for r in state.SyncBlobTodo.select().where(state.SyncBlobTodo.done == 0))
    for e in outbox.pending_after(acks.get("civic", 0), 100_000, ("civic",)):
        shas.update(blob_refs(e.kind, json.loads(e.payload)))
    for sha in sorted(shas):
        path = blobs.path_for(options.data_dir, sha)
        if not path.exists():
            continue
        size = path.stat().st_size
        with open(path, "rb") as f:
            frame = client.blob_frame(sha, f, size, 0, size)
        write_atomic(box_dir / usb.blob_name(sha), frame)
        stats["blobs"] += 1
    # Events, stream by stream in priority order, in batches of at most MAX_BATCH_RAW.
    n = 0
    for stream in protocol.STREAMS:
        while True:
            push = client._collect((stream,), MAX_BATCH_RAW, acks)
            if not push:
                break
            frame = client.build_exchange(push, WANT)
            n += 1
            write_atomic(box_dir / usb.up_name(n, stream), frame)
            stats["batches"] += 1
            stats["events"] += len(push[0][2])
            acks[stream] = push[0][2][-1][0]
    if n == 0:  # nothing to send: still ask for answers
        write_atomic(box_dir / usb.up_name(1, "idle"), client.build_exchange([], WANT))
        stats["batches"] += 1
    return stats


def import_(directory: Path, options: Options) -> dict:
    """Apply central's signed responses (acks, answers, catalogue) and any catalogue
    files on the stick; idempotent."""
    client = _client(options)
    box_dir = usb.box_dir(directory, client.box_id)
    stats = {"responses": 0, "pulled": 0, "files": 0, "refused": 0}
    for path in sorted(box_dir.glob(usb.DOWN_GLOB)) if box_dir.is_dir() else []:
        data = path.read_bytes()
        try:
            msg, _tail = protocol.decode_response(data[32:], data[:32], client.central_key)
        except protocol.ProtocolError:
            stats["refused"] += 1
            continue
        if msg.get("box") != client.box_id:
            # Signed by central, but for another box (a stick copied between sites):
            # its acknowledgements would make this box skip its own records.
            stats["refused"] += 1
            continue
        msg.pop("rewind", None)  # a stale stick never rewinds acknowledgements
        client._apply([], msg)
        stats["responses"] += 1
    stats["pulled"] = client.res.pulled
    files = usb.files_dir(directory)
    for dl in state.SyncDownload.select().where(state.SyncDownload.done == 0):
        source = files / dl.sha256
        if not source.is_file():
            continue
        h = hashlib.sha256()
        with open(source, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        if h.hexdigest() != dl.sha256:
            stats["refused"] += 1
            continue
        with open(source, "rb") as src, atomic_open(dl.dest) as out:
            shutil.copyfileobj(src, out, 1 << 20)
        with database.atomic("IMMEDIATE"):
            state.SyncDownload.update(have=dl.size, done=1).where(
                state.SyncDownload.sha256 == dl.sha256).execute()
        stats["files"] += 1
    return stats
