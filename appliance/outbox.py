"""The outbox: what this box tells central, in order, exactly once.

Domain functions call :func:`append` inside the transaction that writes the row the
event reports, so the row and its event are committed together or not at all.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from .db import database
from .errors import EspaceError
from .models import OutboxEvent

# Priority classes, most urgent first: when the day's budget is short, the sync
# sends civic records before voice notes, usage logs and content.
STREAMS = ("civic", "blob", "usage", "content")


class OutsideTransaction(EspaceError):
    """append() was called outside a transaction: the event could be lost or orphaned."""


def append(kind: str, payload: dict[str, Any], stream: str = "civic",
           event_uuid: str | None = None) -> OutboxEvent:
    """Add an event; must run inside ``database.atomic()`` with the row it reports.

    The sequence number is assigned by SQLite at insert; it never repeats or goes
    backwards, whatever the clock says."""
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}")
    if not database.in_transaction():
        raise OutsideTransaction(f"outbox.append({kind!r}) outside a transaction",
                                 "wrap the write and its event in database.atomic()")
    return OutboxEvent.create(
        uuid=event_uuid or str(uuid.uuid4()),
        kind=kind,
        stream=stream,
        payload=json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True),
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )


def pending_after(seq: int, limit: int = 500, streams: tuple[str, ...] = STREAMS):
    """Events after ``seq`` (the last one central acknowledged), oldest first."""
    return (OutboxEvent.select()
            .where((OutboxEvent.seq > seq) & (OutboxEvent.stream.in_(streams)))
            .order_by(OutboxEvent.seq).limit(limit))


def length(after_seq: int = 0) -> int:
    return OutboxEvent.select().where(OutboxEvent.seq > after_seq).count()


def last_seq() -> int:
    row = database.execute_sql("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
    return row[0] if row else 0
