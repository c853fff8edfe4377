"""The outbox: what this box tells central, in order, exactly once.

Domain functions call :func:`append` inside the transaction that writes the row the
event reports, so the row and its event are committed together or not at all. Every
kind is declared in :mod:`sync_contract.kinds`: an undeclared kind, or a payload that
does not match its declaration, is refused here, before it could reach central.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from sync_contract import kinds
from sync_contract.streams import STREAMS

from .db import database
from .errors import EspaceError
from .models import OutboxEvent

__all__ = ["STREAMS", "append", "pending_after", "length", "last_seq"]


class OutsideTransaction(EspaceError):
    """append() was called outside a transaction: the event could be lost or orphaned."""


class NotInContract(EspaceError):
    """The kind is not declared in sync_contract, or its payload does not match."""


def append(kind: kinds.Kind | str, payload: dict[str, Any], stream: str | None = None,
           event_uuid: str | None = None) -> OutboxEvent:
    """Add an event of a declared kind; must run inside ``database.atomic()`` with the
    row it reports. Its stream is the kind's (``stream``, if given, must agree).

    The sequence number is assigned by SQLite at insert; it never repeats or goes
    backwards, whatever the clock says."""
    name = kind.name if isinstance(kind, kinds.Kind) else kind
    try:
        declared = kinds.up_kind(name)
        declared.validate(payload)
    except kinds.ContractError as e:
        raise NotInContract(f"outbox.append refused: {e}",
                            "declare the kind and its fields in sync_contract/kinds.py "
                            "(docs/sync.md, 'Adding a synced kind')") from None
    if stream is not None and stream != declared.stream:
        raise NotInContract(f"outbox.append refused: {name} travels on the "
                            f"{declared.stream!r} stream, not {stream!r}",
                            "leave stream out: the kind's declaration sets it")
    if not database.in_transaction():
        raise OutsideTransaction(f"outbox.append({name!r}) outside a transaction",
                                 "wrap the write and its event in database.atomic()")
    return OutboxEvent.create(
        uuid=event_uuid or str(uuid.uuid4()),
        kind=name,
        stream=declared.stream,
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
