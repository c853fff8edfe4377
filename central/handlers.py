"""How central applies each kind a box sends: one handler registered per declared
up-kind (``sync_contract.kinds``), called in the transaction that stores the record.

Every record is stored (``Record``) before its handler runs; a handler only folds it
into the dashboard's tables. A box may only speak about its own site: a record naming
another site's post is refused (written to the audit log) and changes nothing. A kind
this central does not know (a newer box) or a payload that does not match its
declaration is kept, counted and reported in the audit log, never fatal: it must never
block the stream behind it.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sync_contract import kinds
from sync_contract.handlers import Registry

from .models import Answer, Audit, Box, Post, Site, Snapshot, UsageDay, utcnow

UP = Registry(kinds.UP)
register = UP.register

HIDDEN = {"pending", "hidden", "merged", "rejected", "removed"}
# The board's age groups (under18, 18-35, ...) and the programme's (under35, 35plus):
# the young people of the indicators are those up to 35.
YOUTH = frozenset({"under18", "18-35", "under35"})


@dataclass(frozen=True)
class Incoming:
    """A record as a box sent it (already stored)."""

    seq: int
    uuid: str
    kind: str
    created_at: str
    payload: dict


class Projector:
    """Folds newly stored records into the dashboard's tables, in the transaction that
    stores them, with a few bulk statements per batch rather than a few per record."""

    def __init__(self, site: Site, box: Box | None = None) -> None:
        self.site = site
        self.box = box
        self.replaced: Snapshot | None = None  # the snapshot the current one replaced
        self.recount: set[tuple[str, str]] = set()  # (metric, day) to derive again
        self.posts: list[dict] = []
        self.bumps: dict[tuple[str, str], list[int]] = {}
        self.unknown: Counter[str] = Counter()
        self.invalid: list[str] = []
        self.refused: list[str] = []

    def add(self, seq: int, ev_uuid: str, kind: str, created_at: str, payload: Any) -> None:
        declared, fn = kinds.UP_KINDS.get(kind), UP.get(kind)
        if declared is None or fn is None:
            self.unknown[kind] += 1
            return
        try:
            declared.validate(payload, strict=False)
        except kinds.ContractError as e:
            self.invalid.append(f"seq {seq}: {e}")
            return
        ev = Incoming(seq, ev_uuid, kind, created_at, payload)
        if isinstance(declared.semantics, kinds.Snapshot) and not self.keep_latest(declared, ev):
            return  # an older snapshot (replayed, reordered, another box's): nothing moves
        fn(self, ev)

    def keep_latest(self, declared: kinds.Kind, ev: Incoming) -> bool:
        """Store ``ev`` as the latest snapshot of its subject if it is newer, by (box,
        seq), than the one held; False when it is not."""
        assert isinstance(declared.semantics, kinds.Snapshot) and self.box is not None
        subject = declared.semantics.key_of(ev.payload)[:255]
        held = Snapshot.get_or_none((Snapshot.site == self.site) & (Snapshot.kind == ev.kind)
                                    & (Snapshot.subject == subject))
        if held is not None and (held.box_ref, held.seq) >= (self.box.id, ev.seq):
            return False
        day = day_of(str(ev.payload.get("day", "")), ev.created_at, 400)
        values = dict(box=self.box.id, seq=ev.seq, day=day, payload=json.dumps(
            ev.payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
        if held is None:
            Snapshot.create(site=self.site, kind=ev.kind, subject=subject, **values)
        else:
            Snapshot.update(**values).where(Snapshot.id == held.id).execute()
        self.replaced = held
        return True

    def refuse(self, ev: Incoming, reason: str) -> None:
        self.refused.append(f"seq {ev.seq} {ev.kind}: {reason}")

    def bump(self, day: str, metric: str, count: int, women: int = 0, youth: int = 0) -> None:
        acc = self.bumps.setdefault((day, metric), [0, 0, 0])
        acc[0] += count
        acc[1] += women
        acc[2] += youth

    def own_post(self, ev: Incoming, post_uuid: str) -> Post | None:
        """The site's own post ``post_uuid``; None (and the record refused) when it is
        another site's or unknown."""
        self.flush_posts()  # the post it names may be in this batch
        post = Post.get_or_none((Post.site == self.site) & (Post.uuid == post_uuid))
        if post is None:
            elsewhere = Post.select().where(Post.uuid == post_uuid).exists()
            self.refuse(ev, f"post {post_uuid} is another site's" if elsewhere
                        else f"post {post_uuid} is unknown")
        return post

    def flush_posts(self) -> None:
        for i in range(0, len(self.posts), 500):
            Post.insert_many(self.posts[i:i + 500]).on_conflict_ignore().execute()
        self.posts = []

    def flush(self) -> None:
        self.flush_posts()
        for (day, metric), (count, women, youth) in sorted(self.bumps.items()):
            _bump(self.site, day, metric, count, women, youth)
        self.bumps = {}
        for metric, day in sorted(self.recount):
            _DERIVED[metric](self.site, day)
        self.recount = set()
        slug = self.site.slug
        for kind, n in sorted(self.unknown.items()):
            Audit.create(action="sync.unknown_kind",
                         detail=f"{slug}: kept {n} record(s) of kind {kind[:64]!r}, which "
                                "this central has no handler for (a newer box?)")
        for text in self.invalid[:20]:
            Audit.create(action="sync.invalid", detail=f"{slug}: kept, not counted: {text}"
                         [:2000])
        for text in self.refused[:50]:
            Audit.create(action="sync.refused", detail=f"{slug}: refused {text}"[:2000])
        if len(self.refused) > 50:
            Audit.create(action="sync.refused",
                         detail=f"{slug}: {len(self.refused) - 50} more refused records")
        self.unknown.clear()
        self.invalid, self.refused = [], []


def _bump(site: Site, day: str, metric: str, count: int, women: int = 0,
          youth: int = 0) -> None:
    row = UsageDay.get_or_none((UsageDay.site == site) & (UsageDay.day == day)
                               & (UsageDay.metric == metric))
    if row is None:
        UsageDay.create(site=site, day=day, metric=metric, count=count, women=women,
                        youth=youth)
    else:
        UsageDay.update(count=UsageDay.count + count, women=UsageDay.women + women,
                        youth=UsageDay.youth + youth).where(UsageDay.id == row.id).execute()


def person(payload: dict) -> tuple[int, int]:
    """(is a woman, is young) of a post's or a booking's author."""
    return int(payload.get("gender") == "f"), int(payload.get("age_group") in YOUTH)


PLAUSIBLE_FROM = "2025-01-01"  # before: a box clock that went back (no RTC, a cut)


def day_of(value: str, fallback: str, ahead_days: int = 1) -> str:
    """The day a record counts for: ``value``'s, unless it is not a date this box can
    have lived (a clock 20 years behind, or ahead of central), then the day central
    got it. A session's day may be ahead (``ahead_days``)."""
    now = utcnow()
    today = now.date().isoformat()
    latest = (now + dt.timedelta(days=ahead_days)).date().isoformat()
    for day in (value, fallback):
        if isinstance(day, str) and len(day) >= 10 and PLAUSIBLE_FROM <= day[:10] <= latest:
            return day[:10]
    return today


# --- the board ------------------------------------------------------------------------------


@register(kinds.POST_CREATED)
def post_created(p: Projector, ev: Incoming) -> None:
    payload = ev.payload
    if Post.select().where((Post.uuid == payload["uuid"]) & (Post.site != p.site)).exists():
        p.refuse(ev, f"post {payload['uuid']} is another site's")
        return
    p.posts.append(dict(
        site=p.site.id, uuid=payload["uuid"][:64], code=str(payload.get("code", ""))[:20],
        kind=payload["kind"], theme=payload["theme"][:40], commune=payload["commune"][:80],
        body=payload["body"], voice_sha256=payload.get("voice_sha256") or "",
        gender=payload["gender"], age_group=payload["age_group"],
        # Not yet moderated (board.moderation = "before"), hidden or merged: not on
        # the admins' list of questions to answer until the box publishes it.
        status="hidden" if payload.get("status") in HIDDEN else "open",
        created_at=payload["created_at"],
        channel="sms" if payload.get("channel") == "sms" else "web"))
    p.bump(day_of(payload["created_at"], ev.created_at), "posts", 1, *person(payload))
    if payload.get("channel") == "sms":  # basic phones' reach, counted apart (issue 16)
        p.bump(day_of(payload["created_at"], ev.created_at), "sms_posts", 1, *person(payload))


@register(kinds.POST_MODERATED)
def post_moderated(p: Projector, ev: Incoming) -> None:
    post = p.own_post(ev, ev.payload["post_uuid"])
    if post is None:
        return
    if ev.payload["status"] in HIDDEN:
        status = "hidden"
    else:
        status = "answered" if post.answers.count() else "open"
    Post.update(status=status).where(Post.id == post.id).execute()


@register(kinds.ANSWER_RECORDED)
def answer_recorded(p: Projector, ev: Incoming) -> None:
    post = p.own_post(ev, ev.payload["post_uuid"])
    if post is None:
        return
    # When it was answered is the kiosk's time (the time to answer is a donor's
    # indicator), unless the box's clock was implausible: then when it arrived.
    at = _plausible_time(ev.payload.get("created_at")) or utcnow()
    payload = ev.payload
    seconds = payload.get("voice_seconds")
    Answer.insert(post=post, uuid=payload.get("uuid", str(uuid.uuid4()))[:64],
                  official_name=payload["official_name"][:120], body=payload["body"],
                  source="box", created_at=at,
                  # Its voice (issue 15: it arrived as an empty text). The bytes came
                  # first, in the blob stream; central/voice.py decides how to serve them.
                  voice_sha256=payload.get("voice_sha256") or "",
                  voice_mime=str(payload.get("voice_mime") or "")[:64],
                  voice_seconds=float(seconds) if isinstance(seconds, int | float) else None,
                  voice_bytes=max(0, int(payload.get("voice_bytes") or 0)),
                  ).on_conflict_ignore().execute()
    Post.update(status="answered", answered_at=at).where(Post.id == post.id).execute()


def _plausible_time(value: object) -> dt.datetime | None:
    from .reports import parse_time

    t = parse_time(value)
    if t is None or t.isoformat() < PLAUSIBLE_FROM or t > utcnow() + dt.timedelta(days=1):
        return None
    return t


@register(kinds.SUPPORT_CREATED)
def support_created(p: Projector, ev: Incoming) -> None:
    p.own_post(ev, ev.payload["post_uuid"])  # kept as a record; refused if not its own


def keep(p: Projector, ev: Incoming) -> None:
    """Kept as a record (exports read it); no dashboard figure derives from it yet."""


for _kind in (kinds.OFFICIAL_SAVED, kinds.VOICE_NOTE, kinds.BOOKING_CANCELLED,
              kinds.BOOKING_PROMOTED, kinds.BOOKING_ATTENDANCE, kinds.SESSION_SAVED):
    UP.add(_kind, keep)


@register(kinds.TLS_CSR)
def tls_csr(p: Projector, ev: Incoming) -> None:
    from . import certificates  # its errors derive from central.service's, which imports us

    certificates.receive_csr(p.site, ev.payload)


@register(kinds.LABEL_RECORDED)
def label_recorded(p: Projector, ev: Incoming) -> None:
    from . import labels

    why = labels.receive(p.site, ev.payload)
    if why:
        p.refuse(ev, why)


@register(kinds.LEARNING_PROGRESS)
def learning_progress(p: Projector, ev: Incoming) -> None:
    """Kept as the latest snapshot per (learner hash, course) by ``keep_latest``;
    central/learning.py counts learners from those snapshots, never from events."""


@register(kinds.PLACE_SAVED)
def place_saved(p: Projector, ev: Incoming) -> None:
    from . import directory

    why = directory.receive(p.site, ev.payload)
    if why:
        p.refuse(ev, why)


# --- the programme ------------------------------------------------------------------------


@register(kinds.BOOKING_CREATED)
def booking_created(p: Projector, ev: Incoming) -> None:
    p.bump(day_of(ev.created_at, ev.created_at), "bookings", 1, *person(ev.payload))
    if ev.payload.get("channel") == "sms":
        p.bump(ev.created_at[:10], "sms_bookings", 1, *person(ev.payload))


@register(kinds.ATTENDANCE)
def attendance(p: Projector, ev: Incoming) -> None:
    """A session's attendance is a snapshot: the day's figures are derived again from
    the latest snapshot of each of its sessions (never added up)."""
    p.recount.add(("attendance", day_of(ev.payload["day"], ev.created_at, 400)))
    if p.replaced is not None and p.replaced.day:
        p.recount.add(("attendance", p.replaced.day))  # the session moved to another day


def recount_attendance(site: Site, day: str) -> None:
    count = women = youth = 0
    for (payload,) in Snapshot.select(Snapshot.payload).where(
            (Snapshot.site == site) & (Snapshot.kind == kinds.ATTENDANCE.name)
            & (Snapshot.day == day)).tuples():
        data = json.loads(payload)
        count += int(data.get("present", 0))
        women += int(data.get("women", 0))
        youth += int(data.get("youth", 0))
    updated = UsageDay.update(count=count, women=women, youth=youth).where(
        (UsageDay.site == site) & (UsageDay.day == day)
        & (UsageDay.metric == "attendance")).execute()
    if not updated:
        UsageDay.create(site=site, day=day, metric="attendance", count=count, women=women,
                        youth=youth)


_DERIVED = {"attendance": recount_attendance}


# --- usage --------------------------------------------------------------------------------


@register(kinds.VISITS)
def visits(p: Projector, ev: Incoming) -> None:
    p.bump(day_of(ev.payload["day"], ev.created_at), "visits", ev.payload["visits"])


@register(kinds.CONTENT_USAGE)
def content_usage(p: Projector, ev: Incoming) -> None:
    views = sum(int(b.get("views", 0)) + int(b.get("plays", 0))
                for b in ev.payload["books"] if isinstance(b, dict))
    p.bump(day_of(ev.payload["hour"], ev.created_at), "views", views)


# Packages of central that register handlers of their own kinds (imported for it).
from . import coaching as _coaching  # noqa: E402,F401
from . import surveys as _surveys  # noqa: E402,F401
