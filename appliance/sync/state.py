"""The box's sync state, in the box database (tables from migration m0005).

Acknowledged sequences and the pull cursor are rows, so they are written in the same
transaction as what they describe: a power cut never loses an acknowledgement that was
applied, nor applies a pulled record twice."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import peewee

from sync_contract.atomic import create_once

from ..db import database
from ..models import BaseModel, Meta


class SyncStream(BaseModel):
    stream = peewee.CharField(primary_key=True)
    acked_seq = peewee.IntegerField(default=0)

    class Meta:
        table_name = "sync_stream"


class SyncCursor(BaseModel):
    feed = peewee.CharField(primary_key=True)
    cursor = peewee.IntegerField(default=0)

    class Meta:
        table_name = "sync_cursor"


class SyncInbox(BaseModel):
    id = peewee.IntegerField(primary_key=True)  # central's down-event id
    kind = peewee.CharField()
    payload = peewee.TextField()
    received_at = peewee.CharField()
    applied = peewee.CharField(default="")  # who applied it ("board", ...) or ""

    class Meta:
        table_name = "sync_inbox"


class SyncUsage(BaseModel):
    day = peewee.CharField(primary_key=True)
    bytes_up = peewee.IntegerField(default=0)
    bytes_down = peewee.IntegerField(default=0)
    requests = peewee.IntegerField(default=0)

    class Meta:
        table_name = "sync_usage"


class SyncBlobTodo(BaseModel):
    sha256 = peewee.CharField(primary_key=True)
    tried = peewee.IntegerField(default=0)
    done = peewee.IntegerField(default=0)

    class Meta:
        table_name = "sync_blob_todo"


class SyncDownload(BaseModel):
    sha256 = peewee.CharField(primary_key=True)
    name = peewee.CharField()
    size = peewee.IntegerField()
    pieces = peewee.TextField()  # JSON list of base64 piece hashes
    dest = peewee.CharField()
    have = peewee.IntegerField(default=0)
    done = peewee.IntegerField(default=0)

    class Meta:
        table_name = "sync_download"


class SyncRun(BaseModel):
    started_at = peewee.CharField()
    finished_at = peewee.CharField(default="")
    result = peewee.CharField(default="")
    bytes = peewee.IntegerField(default=0)
    pushed = peewee.IntegerField(default=0)
    pulled = peewee.IntegerField(default=0)
    rtt_ms = peewee.IntegerField(default=0)

    class Meta:
        table_name = "sync_run"


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def acked() -> dict[str, int]:
    return {r.stream: r.acked_seq for r in SyncStream.select()}


def set_acked(stream: str, seq: int) -> None:
    """Raise (never lower, except on central's explicit rewind) a stream's ack."""
    SyncStream.insert(stream=stream, acked_seq=seq).on_conflict(
        conflict_target=[SyncStream.stream],
        update={SyncStream.acked_seq: seq}).execute()


def cursor(feed: str = "down") -> int:
    row = SyncCursor.get_or_none(SyncCursor.feed == feed)
    return row.cursor if row else 0


def set_cursor(value: int, feed: str = "down") -> None:
    SyncCursor.insert(feed=feed, cursor=value).on_conflict_replace().execute()


def add_usage(day: str, up: int, down: int, requests: int = 1) -> None:
    with database.atomic("IMMEDIATE"):
        SyncUsage.insert(day=day, bytes_up=up, bytes_down=down, requests=requests).on_conflict(
            conflict_target=[SyncUsage.day],
            update={SyncUsage.bytes_up: SyncUsage.bytes_up + up,
                    SyncUsage.bytes_down: SyncUsage.bytes_down + down,
                    SyncUsage.requests: SyncUsage.requests + requests}).execute()


def spent(day: str) -> int:
    row = SyncUsage.get_or_none(SyncUsage.day == day)
    return (row.bytes_up + row.bytes_down) if row else 0


# --- identity --------------------------------------------------------------------------


def key_path(data_dir: Path) -> Path:
    return Path(data_dir) / "sync" / "box.key"


def box_id() -> str:
    value = Meta.get_value("box_id")
    assert value, "box_meta has no box_id (migration m0001 writes it)"
    return value


def load_key(data_dir: Path):
    # Imported here: the web process imports this module (the sync handlers) but never
    # signs; the protocol loads zstandard and cryptography (about 14 MB of RSS).
    from sync_contract import protocol

    path = key_path(data_dir)
    try:
        return protocol.load_private(path.read_bytes())
    except FileNotFoundError:
        return None


def ensure_key(data_dir: Path):
    """The box's Ed25519 key, created once (0600, fsynced); the private half never
    leaves the data directory."""
    key = load_key(data_dir)
    if key is not None:
        return key
    path = key_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    from sync_contract import protocol

    raw = create_once(path, protocol.private_bytes(protocol.new_private_key()), 0o600)
    return protocol.load_private(raw)


def enrolment() -> dict | None:
    """What enrolment stored: central's URL and key, the site id; None if not enrolled."""
    url = Meta.get_value("sync:central_url")
    key = Meta.get_value("sync:central_key")
    if not (url and key):
        return None
    return {"url": url, "central_key": key, "site_id": Meta.get_value("sync:site_id", "")}


def inbox_kinds() -> dict[str, int]:
    """How many pulled records of each kind ``sync_inbox`` holds."""
    return {k: n for k, n in SyncInbox.select(SyncInbox.kind, peewee.fn.COUNT(SyncInbox.id))
            .group_by(SyncInbox.kind).tuples()}


def next_request() -> int:
    """The next exchange number (never reused, committed before the request is sent)."""
    with database.atomic("IMMEDIATE"):
        n = cursor("request") + 1
        set_cursor(n, "request")
    return n


def skip_requests_to(n: int) -> None:
    with database.atomic("IMMEDIATE"):
        if cursor("request") < n:
            set_cursor(n, "request")


# A clock before this is wrong (the box has no battery-backed clock; a cut may bring it
# back to 1970, or an operator's SIM to 2006): trust central's time instead.
PLAUSIBLE_FROM = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def learn_time(central_unix: int, local: dt.datetime) -> None:
    """Keep how far central's clock (signed in its answer) is from this box's."""
    offset = central_unix - int(local.timestamp())
    Meta.set_value("sync:clock_offset", str(offset))


def trusted_now(local: dt.datetime) -> dt.datetime:
    """The time for budgets and dates: the box's clock when it is plausible, else the
    box's clock corrected by central's last answer, else the last day the sync spent
    bytes on (a wrong clock must not open a fresh day's budget)."""
    if local >= PLAUSIBLE_FROM:
        return local
    offset = Meta.get_value("sync:clock_offset", "")
    if offset.lstrip("-").isdigit():
        corrected = local + dt.timedelta(seconds=int(offset))
        if corrected >= PLAUSIBLE_FROM:
            return corrected
    last = SyncUsage.select(SyncUsage.day).order_by(SyncUsage.day.desc()).scalar()
    if last:
        return dt.datetime.fromisoformat(last).replace(hour=12, tzinfo=dt.UTC)
    return local
