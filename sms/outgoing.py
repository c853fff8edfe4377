"""The queue of SMS to send, their cost and the daily budget.

:func:`queue` runs inside the caller's transaction (a reply is queued with the post it
confirms, an answer's messages with the answer): both commit or neither. Each queued
row is one single-part SMS (long texts are cut into "1/2", "2/2"), so the budget
counts rows. :func:`flush` hands queued rows to gammu-smsd, oldest first, while the
day's budget lasts; the rest waits for the next day, never dropped.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from appliance.db import database

from . import gsm
from .models import Contact, Outgoing

MAX_PIECES = 6  # beyond, the last piece points to the full text at the espace


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def local_day(site, now: dt.datetime | None = None) -> str:
    now = now or utcnow()
    return now.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(site.site.timezone)).date().isoformat()


def prepare(text: str, site, more: str = "") -> list[tuple[str, gsm.Cost]]:
    """The pieces ``text`` is sent as, each with its cost. Transliterated to GSM-7
    where the site allows it and it saves parts."""
    pieces = gsm.split(text, MAX_PIECES, more or "…")
    if site.sms.transliterate and gsm.cost(text).encoding == "ucs2":
        plain = gsm.split(gsm.transliterate(text), MAX_PIECES, gsm.transliterate(more or "…"))
        if len(plain) < len(pieces) and all(gsm.septets(p) is not None for p in plain):
            pieces = plain
    return [(p, gsm.cost(p)) for p in pieces]


def queue(
    contact: Contact | None,
    text: str,
    purpose: str,
    site,
    *,
    ref: str = "",
    more: str = "",
    number: str = "",
    number_hash: str = "",
    now: dt.datetime | None = None,
) -> list[Outgoing]:
    """Queue ``text`` for ``contact`` (or a bare ``number``, as the goodbye after STOP).
    Must run inside a transaction with what it reports."""
    assert database.in_transaction(), "queue() belongs in the caller's transaction"
    now_s = iso(now or utcnow())
    rows = []
    for piece, cost in prepare(text, site, more):
        rows.append(
            Outgoing.create(
                contact=contact,
                number=contact.number if contact else number,
                number_hash=contact.number_hash if contact else number_hash,
                text=piece,
                encoding=cost.encoding,
                parts=cost.parts,
                purpose=purpose,
                ref=ref,
                created_at=now_s,
            )
        )
    return rows


def spent_today(site, now: dt.datetime | None = None) -> int:
    day = local_day(site, now)
    return sum(r.parts for r in Outgoing.select(Outgoing.parts).where(Outgoing.handed_day == day))


def queued_count() -> int:
    return Outgoing.select().where(Outgoing.status == "queued").count()


def flush(spool, site, *, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Hand queued messages to gammu-smsd within today's budget; returns how many.

    Each message goes out under a file name made from its id: when a crash falls
    between writing the file and recording it, the next flush finds the file
    (outbox, sent or error folder) and records it instead of writing it again."""
    spool.make()
    with spool.lock():
        return _flush(spool, site, now or utcnow(), limit)


def _flush(spool, site, now: dt.datetime, limit: int) -> int:
    from .crash import crash_point

    day = local_day(site, now)
    left = site.sms.daily_budget_parts - spent_today(site, now)
    handed = 0
    for row in (
        Outgoing.select().where(Outgoing.status == "queued").order_by(Outgoing.id).limit(limit)
    ):
        if row.parts > left:
            break  # oldest first: a later, shorter message does not jump the queue
        stamp = row.created_at.replace("-", "").replace(":", "").replace("T", "_")[:15]
        name = spool.find(row.id) or spool.hand_over(row.id, row.number, row.text, stamp)
        crash_point("sms:handed")
        with database.atomic():
            Outgoing.update(
                status="handed",
                file_name=name,
                handed_day=day,
                handed_at=iso(now),
                attempts=Outgoing.attempts + 1,
            ).where((Outgoing.id == row.id) & (Outgoing.status == "queued")).execute()
        left -= row.parts
        handed += 1
    return handed


def reconcile(spool, *, now: dt.datetime | None = None) -> tuple[int, int, int]:
    """Record what gammu-smsd did with handed messages: sent, or failed. A failed
    message (the modem was unplugged mid-send) is queued again once; failing twice it
    stays failed, for the facilitator to see. Sent and failed files are deleted and
    the number blanked: they no longer need it. Returns (sent, requeued, failed)."""
    with spool.lock():
        return _reconcile(spool, iso(now or utcnow()))


def _reconcile(spool, now_s: str) -> tuple[int, int, int]:
    sent = requeued = failed = 0
    done = spool.done()
    for ident, outcome in done.items():
        row = Outgoing.get_or_none(Outgoing.id == ident)
        with database.atomic():
            if row is None or row.status in ("sent", "failed"):
                pass
            elif outcome == "sent":
                Outgoing.update(status="sent", number="", file_name="", done_at=now_s).where(
                    Outgoing.id == ident
                ).execute()
                sent += 1
            elif row.attempts < 2:
                # Queued again, once. Handed again the same day it counts once in the
                # budget; another day, on that day's budget.
                Outgoing.update(status="queued", file_name="").where(Outgoing.id == ident).execute()
                requeued += 1
            else:
                Outgoing.update(status="failed", number="", file_name="", done_at=now_s).where(
                    Outgoing.id == ident
                ).execute()
                failed += 1
        spool.forget(ident)
    return sent, requeued, failed
