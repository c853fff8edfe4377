"""Booking rules, as plain functions over the models.

Every function that writes runs in one ``database.atomic()`` (BEGIN IMMEDIATE):
two phones booking the last seat are serialised by SQLite's write lock, the second
one reads the first one's seat and goes to the waiting list. Every booking,
cancellation, promotion and attendance change appends its outbox event in that
same transaction.

Seats. Before a session's release time (``release_min`` minutes before its start)
``reserved_women`` seats are held for women and ``reserved_youth`` for people under
35; the rest are open to all. A woman takes a women's seat first, then (if under 35)
a young people's seat, then an open one; so reserved seats fill before open ones.
From the release time on, every free seat is open to everyone, and the waiting list
is promoted in order. A waiting booking is promoted as soon as a seat it may take
frees; people ahead in line who may not take that seat keep their place.

Privacy. Names and phone numbers never enter the outbox unless the site sets
``sync.share_visitor_names``; central gets gender and age-group counts.

Times are naive UTC (``now`` is a parameter so that tests and the kiosk agree).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sync_contract import kinds

from .. import outbox
from ..db import database
from ..errors import EspaceError
from .models import AGE_GROUPS, GENDERS, KINDS, Booking, Series, Session
from .recurrence import MAX_WEEKS, to_utc, weekly


class ProgrammeError(EspaceError):
    """A booking or session change that cannot be done; ``code`` names the case."""

    code = "error"


class SessionCancelled(ProgrammeError):
    code = "cancelled"


class SessionStarted(ProgrammeError):
    code = "started"


class SessionFull(ProgrammeError):
    code = "full"


class BookingNotFound(ProgrammeError):
    code = "not_found"


class NotBooked(ProgrammeError):
    code = "not_booked"


class InvalidInput(ProgrammeError):
    """A bad form value; ``field`` (and ``lo``/``hi`` for numbers) let a page say it
    in the reader's language."""

    code = "invalid"

    def __init__(self, message: str, fix: str | None = None, *, field: str = "",
                 lo: int | None = None, hi: int | None = None) -> None:
        super().__init__(message, fix)
        self.field, self.lo, self.hi = field, lo, hi


class TooManyBookings(ProgrammeError):
    code = "too_many"


class NotStarted(ProgrammeError):
    code = "not_started"


def _per_phone() -> int:
    from flask import current_app, has_app_context

    return current_app.config["SITE"].programme.bookings_per_phone if has_app_context() else 4


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _share_names() -> bool:
    from flask import current_app, has_app_context

    return bool(has_app_context() and current_app.config["SITE"].sync.share_visitor_names)


# -- seats -----------------------------------------------------------------------


@dataclass(frozen=True)
class Seats:
    capacity: int
    taken: int  # booked and not a no-show
    waiting: int
    released: bool  # reserved seats are open to all
    free_women: int  # reserved seats still held for women (0 once released)
    free_youth: int
    free_open: int  # seats anyone may take now

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.taken)

    def pool_for(self, gender: str, age_group: str) -> str | None:
        """Which seats this person would take now, or None (waiting list)."""
        if gender == "f" and self.free_women > 0:
            return "women"
        if age_group == "under35" and self.free_youth > 0:
            return "youth"
        if self.free_open > 0:
            return "open"
        return None


_ROW = (Booking.session, Booking.status, Booking.pool, Booking.attendance, Booking.gender,
        Booking.age_group, Booking.walk_in)


def _rows(session_ids: list[int]) -> dict[int, list[tuple]]:
    """Bookings not cancelled, as plain tuples (the kiosk's pages read many sessions
    at once: one query, no model objects)."""
    out: dict[int, list[tuple]] = {i: [] for i in session_ids}
    if session_ids:
        for row in (Booking.select(*_ROW).where(Booking.session.in_(session_ids)
                                                & (Booking.status != "cancelled"))
                    .tuples()):
            out[row[0]].append(row)
    return out


def _seats_from(session: Session, rows: list[tuple], now: dt.datetime) -> Seats:
    counts = {"women": 0, "youth": 0, "open": 0}
    waiting = 0
    for _sid, status, pool, attendance, *_rest in rows:
        if status == "booked" and attendance != "no_show":
            counts[pool] += 1
        elif status == "waiting":
            waiting += 1
    taken = sum(counts.values())
    free_total = max(0, session.capacity - taken)
    if now >= session.release_at:
        return Seats(session.capacity, taken, waiting, True, 0, 0, free_total)
    open_seats = max(0, session.capacity - session.reserved_women - session.reserved_youth)
    # Each pool is bounded on its own and together by the capacity (which may have
    # been lowered below the bookings already made).
    free_w = min(free_total, max(0, session.reserved_women - counts["women"]))
    free_y = min(free_total, max(0, session.reserved_youth - counts["youth"]))
    free_o = min(free_total, max(0, open_seats - counts["open"]))
    return Seats(session.capacity, taken, waiting, False, free_w, free_y, free_o)


def seats(session: Session, now: dt.datetime | None = None) -> Seats:
    return _seats_from(session, _rows([session.id])[session.id], now or utcnow())


def _counts_from(session: Session, rows: list[tuple]) -> dict[str, Any]:
    groups: dict[str, int] = {}
    present = no_show = walk_in = booked = 0
    for _sid, status, _pool, attendance, gender, age_group, is_walk_in in rows:
        if status != "booked":
            continue
        booked += 1
        if attendance == "present":
            present += 1
            walk_in += bool(is_walk_in)
            key = f"{gender or 'unknown'}:{age_group or 'unknown'}"
            groups[key] = groups.get(key, 0) + 1
        elif attendance == "no_show":
            no_show += 1
    women = sum(n for k, n in groups.items() if k.startswith("f:"))
    youth = sum(n for k, n in groups.items() if k.endswith(":under35"))
    return {"session": session.uuid, "booked": booked, "present": present,
            "no_show": no_show, "walk_in": walk_in, "by_group": groups,
            "women": women, "youth": youth,
            "women_share": round(women / present, 3) if present else None,
            "youth_share": round(youth / present, 3) if present else None}


def attendance_counts(session: Session) -> dict[str, Any]:
    """Who came, by gender and age group: what central gets (no names)."""
    return _counts_from(session, _rows([session.id])[session.id])


def overview(sessions: list[Session], now: dt.datetime | None = None
             ) -> list[tuple[Session, Seats, dict[str, Any]]]:
    """Seats and attendance of many sessions with one query (the kiosk's pages)."""
    now = now or utcnow()
    rows = _rows([s.id for s in sessions])
    return [(s, _seats_from(s, rows[s.id], now), _counts_from(s, rows[s.id]))
            for s in sessions]


# -- events ----------------------------------------------------------------------


def _booking_event(kind: kinds.Kind, b: Booking) -> None:
    payload: dict[str, Any] = {
        "booking": b.uuid, "session": b.session.uuid, "status": b.status, "pool": b.pool,
        "attendance": b.attendance, "gender": b.gender, "age_group": b.age_group,
        "walk_in": bool(b.walk_in), "channel": b.channel,
    }
    if _share_names():
        payload.update(name=b.name, phone=b.phone)
    outbox.append(kind, payload)


def _attendance_event(session: Session) -> None:
    counts = attendance_counts(session)
    counts.pop("women_share")
    counts.pop("youth_share")
    # A snapshot of the session, filed under its day: central keeps the latest.
    counts["day"] = session.starts_at.date().isoformat()
    outbox.append(kinds.ATTENDANCE, counts)


def _session_event(s: Session) -> None:
    outbox.append(kinds.SESSION_SAVED, {
        "session": s.uuid, "title": s.title, "kind": s.kind, "room": s.room,
        "starts_at": s.starts_at.isoformat() + "Z", "duration_min": s.duration_min,
        "capacity": s.capacity, "reserved_women": s.reserved_women,
        "reserved_youth": s.reserved_youth, "release_min": s.release_min,
        "cancelled": bool(s.cancelled), "series": s.series.uuid if s.series_id else None,
    })


# -- visitors --------------------------------------------------------------------

_PHONE = re.compile(r"\+?[0-9 ]{0,20}")


def _clean(name: str, phone: str, gender: str, age_group: str, *,
           name_required: bool) -> tuple[str, str, str, str]:
    name = " ".join((name or "").split())[:60]
    phone = (phone or "").strip()
    if name_required and not name:
        raise InvalidInput("a name or an alias is needed", "write a name or a nickname")
    if not _PHONE.fullmatch(phone) or len(phone.replace(" ", "")) > 16:
        raise InvalidInput("the phone number is not valid", "write digits only, or nothing")
    if gender not in GENDERS or age_group not in AGE_GROUPS:
        raise InvalidInput("unknown gender or age group", "choose one of the buttons")
    return name, phone, gender, age_group


def _new_code(session: Session) -> str:
    while True:
        code = f"{secrets.randbelow(10**6):06d}"
        if not Booking.select().where((Booking.session == session)
                                      & (Booking.code == code)).exists():
            return code


def _session_for_update(session_id: int) -> Session:
    s = Session.get_or_none(Session.id == session_id)
    if s is None:
        raise BookingNotFound("this session does not exist", "go back to the programme")
    return s


def book(session_id: int, name: str, phone: str = "", gender: str = "",
         age_group: str = "", *, now: dt.datetime | None = None,
         walk_in: bool = False, client: str = "", channel: str = "web") -> Booking:
    """Book a seat, or a place on the waiting list when no seat is free for this
    person. A walk-in (at the door, from the kiosk) is checked in at once, may come
    until the session ends, and is refused when the room is full. ``client`` (the
    phone's box-salted hash) holds at most ``programme.bookings_per_phone`` bookings
    of one session. The name is optional: a visitor who does not write books by
    voice alone, and the code on the ticket is what the door checks. ``channel`` says how it
    was made ("web" or "sms"), for central's figures."""
    now = now or utcnow()
    name, phone, gender, age_group = _clean(name, phone, gender, age_group,
                                            name_required=False)
    with database.atomic():
        s = _session_for_update(session_id)
        if s.cancelled:
            raise SessionCancelled("this session is cancelled", "choose another session")
        if now >= (s.ends_at if walk_in else s.starts_at):
            raise SessionStarted("this session has already started",
                                 "come to the room and ask the facilitator")
        if client and Booking.select().where(
                (Booking.session == s) & (Booking.client == client)
                & (Booking.status != "cancelled")).count() >= _per_phone():
            raise TooManyBookings("this phone already holds enough bookings here",
                                  "cancel one, or ask the facilitator")
        _promote(s, now)
        pool = seats(s, now).pool_for(gender, age_group)
        if walk_in and pool is None:
            raise SessionFull("the room is full", "mark no-shows first, or raise the capacity")
        b = Booking.create(uuid=str(uuid.uuid4()), session=s, code=_new_code(s), name=name,
                           phone=phone, gender=gender, age_group=age_group,
                           status="booked" if pool else "waiting", pool=pool or "open",
                           attendance="present" if walk_in else "", walk_in=walk_in,
                           client=client, channel=channel, created_at=now,
                           updated_at=now)
        _booking_event(kinds.BOOKING_CREATED, b)
        # The session's snapshot (booked, present...) after every change of who holds
        # a seat: central's per-session figures (issue 15) come from it, not from sums.
        _attendance_event(s)
        return b


def find(session_id: int, code: str) -> Booking:
    code = re.sub(r"\D", "", code or "")
    b = (Booking.select().where((Booking.session == session_id) & (Booking.code == code))
         .first())
    if b is None:
        raise BookingNotFound("no booking with this code", "check the code on your ticket")
    return b


def waiting_position(b: Booking) -> int:
    """1 for the first in line."""
    return Booking.select().where((Booking.session == b.session_id)
                                  & (Booking.status == "waiting")
                                  & (Booking.id <= b.id)).count()


def cancel(session_id: int, code: str, *, now: dt.datetime | None = None) -> Booking:
    """Cancel by code (a seat or a place in line); the freed seat goes to the first
    person waiting who may take it. Cancelling twice changes nothing."""
    now = now or utcnow()
    with database.atomic():
        b = find(session_id, code)
        if b.status == "cancelled":
            return b
        s = b.session
        if now >= s.starts_at:
            raise SessionStarted("this session has already started",
                                 "tell the facilitator you cannot come")
        b.status, b.updated_at = "cancelled", now
        b.save()
        _booking_event(kinds.BOOKING_CANCELLED, b)
        _promote(s, now)
        _attendance_event(s)  # one seat fewer booked (or a walk-in, a no-show gone)
        return b


def _promote(s: Session, now: dt.datetime) -> list[Booking]:
    if s.cancelled or now >= s.ends_at:
        return []
    promoted = []
    for b in (Booking.select().where((Booking.session == s) & (Booking.status == "waiting"))
              .order_by(Booking.id)):
        st = seats(s, now)
        if st.free == 0:
            break
        pool = st.pool_for(b.gender, b.age_group)
        if pool is None:
            continue
        b.status, b.pool, b.updated_at = "booked", pool, now
        b.save()
        _booking_event(kinds.BOOKING_PROMOTED, b)
        promoted.append(b)
    return promoted


def promote(session_id: int, *, now: dt.datetime | None = None) -> list[Booking]:
    """Give free seats to the waiting list, in order (after a release time has passed,
    a capacity was raised, a no-show was marked). Idempotent."""
    now = now or utcnow()
    with database.atomic():
        s = _session_for_update(session_id)
        promoted = _promote(s, now)
        if promoted:
            _attendance_event(s)  # more seats booked
        return promoted


def release_due(*, now: dt.datetime | None = None) -> int:
    """Promote waiting lists of sessions whose reserved seats were released (the
    worker calls it every few minutes; the pages call :func:`promote` too)."""
    now = now or utcnow()
    ids = {b.session_id for b in Booking.select(Booking.session).join(Session)
           .where((Booking.status == "waiting") & (Session.cancelled == False)  # noqa: E712
                  & (Session.starts_at > now - dt.timedelta(days=1)))}
    return sum(len(promote(i, now=now)) for i in ids)


# -- the door ----------------------------------------------------------------------


def _set_attendance(b: Booking, value: str, now: dt.datetime) -> Booking:
    b.attendance, b.updated_at = value, now
    b.save()
    _booking_event(kinds.BOOKING_ATTENDANCE, b)
    _attendance_event(b.session)
    return b


def check_in(booking_id: int, *, now: dt.datetime | None = None) -> Booking:
    """Mark a booked visitor present (also undoes a no-show). Idempotent."""
    now = now or utcnow()
    with database.atomic():
        b = Booking.get_or_none(Booking.id == booking_id)
        if b is None:
            raise BookingNotFound("no such booking", "check the code")
        if b.status == "waiting":
            if b.session.cancelled:
                raise SessionCancelled("this session is cancelled", "")
            # Someone in line came anyway: they get a seat if one is free.
            pool = seats(b.session, now).pool_for(b.gender, b.age_group) or (
                "open" if seats(b.session, now).free else None)
            if pool is None:
                raise NotBooked("this person is on the waiting list and the room is full",
                                "mark no-shows first, or raise the capacity")
            b.status, b.pool = "booked", pool
        elif b.status != "booked":
            raise NotBooked("this booking was cancelled", "add the person as a walk-in")
        if b.attendance == "present":
            return b
        if b.attendance == "no_show" and seats(b.session, now).free == 0:
            raise SessionFull("the room is full", "raise the capacity to let them in")
        return _set_attendance(b, "present", now)


def undo_check_in(booking_id: int, *, now: dt.datetime | None = None) -> Booking:
    """Undo "present" (a tap on the wrong line): the visitor is booked again, not yet
    seen at the door. Idempotent."""
    now = now or utcnow()
    with database.atomic():
        b = Booking.get_or_none(Booking.id == booking_id)
        if b is None:
            raise BookingNotFound("no such booking", "check the code")
        if b.attendance == "present":
            _set_attendance(b, "", now)
        return b


def check_in_code(session_ids: list[int], code: str, *,
                  now: dt.datetime | None = None) -> Booking:
    """Check in by the code a visitor shows, among the given sessions (today's)."""
    code = re.sub(r"\D", "", code or "")
    b = (Booking.select().where(Booking.session.in_(session_ids) & (Booking.code == code)
                                & (Booking.status != "cancelled"))
         .order_by(Booking.id.desc()).first())
    if b is None:
        raise BookingNotFound("no booking with this code today", "check the code")
    return check_in(b.id, now=now)


def mark_no_show(booking_id: int, *, now: dt.datetime | None = None) -> Booking:
    """A booked visitor did not come: their seat frees for the waiting list."""
    now = now or utcnow()
    with database.atomic():
        b = Booking.get_or_none(Booking.id == booking_id)
        if b is None:
            raise BookingNotFound("no such booking", "check the code")
        if b.status != "booked":
            raise NotBooked("only a booked seat can be a no-show", "")
        if now < b.session.starts_at:
            # Before the start a late visitor may still come: giving their seat away
            # hours early (issue 15) was a loss nobody could undo.
            raise NotStarted("the session has not started yet", "wait for the start")
        if b.attendance != "no_show":
            _set_attendance(b, "no_show", now)
            if _promote(b.session, now):
                _attendance_event(b.session)  # the freed seat was taken
        return b


def mark_all_no_shows(session_id: int, *, now: dt.datetime | None = None) -> int:
    """Every booked visitor not checked in is a no-show (once the session started)."""
    now = now or utcnow()
    with database.atomic():
        s = _session_for_update(session_id)
        if now < s.starts_at:
            raise InvalidInput("the session has not started yet", "wait for the start")
        rows = list(Booking.select().where((Booking.session == s)
                                           & (Booking.status == "booked")
                                           & (Booking.attendance == "")))
        for b in rows:
            b.attendance, b.updated_at = "no_show", now
            b.save()
            _booking_event(kinds.BOOKING_ATTENDANCE, b)
        if rows:
            _attendance_event(s)
        return len(rows)


# -- sessions (the kiosk) ----------------------------------------------------------


FIELDS = ("title", "kind", "description", "facilitator", "room", "duration_min", "capacity",
          "reserved_women", "reserved_youth", "release_min")


def validate_session(data: dict[str, Any]) -> dict[str, Any]:
    """Clean a session form; raises InvalidInput naming the first problem."""
    out: dict[str, Any] = {}
    out["title"] = " ".join(str(data.get("title", "")).split())[:120]
    if not out["title"]:
        raise InvalidInput("a title is needed", "write the session's title", field="title")
    out["kind"] = data.get("kind") or "other"
    if out["kind"] not in KINDS:
        raise InvalidInput("unknown kind of session", "choose one of the kinds", field="kind")
    for key in ("description", "facilitator", "room"):
        out[key] = str(data.get(key, "")).strip()[:2000 if key == "description" else 80]
    limits = {"duration_min": (15, 600), "capacity": (1, 500), "reserved_women": (0, 500),
              "reserved_youth": (0, 500), "release_min": (0, 7 * 24 * 60)}
    for key, (lo, hi) in limits.items():
        try:
            out[key] = int(data.get(key, 120 if key == "release_min" else 0))
        except (TypeError, ValueError):
            raise InvalidInput(f"{key} must be a number", f"choose {lo}-{hi}", field=key,
                                   lo=lo, hi=hi) from None
        if not lo <= out[key] <= hi:
            raise InvalidInput(f"{key} must be {lo}-{hi}", f"choose {lo}-{hi}", field=key,
                               lo=lo, hi=hi)
    if out["reserved_women"] + out["reserved_youth"] > out["capacity"]:
        raise InvalidInput("more reserved seats than seats",
                           "lower the reserved seats or raise the capacity", field="reserved")
    return out


def create_session(data: dict[str, Any], starts_at: dt.datetime, *,
                   series: Series | None = None) -> Session:
    fields = validate_session(data)
    with database.atomic():
        s = Session.create(uuid=str(uuid.uuid4()), starts_at=starts_at, series=series,
                           **fields)
        _session_event(s)
        return s


def create_weekly(data: dict[str, Any], first_local: dt.datetime, weeks: int, tz,
                  exceptions: set[dt.date] = frozenset()) -> list[Session]:
    """A weekly series: one session per week at the same local time, skipping the
    exception dates. Each is a normal session (edit or cancel one alone)."""
    fields = validate_session(data)
    if not 1 <= weeks <= MAX_WEEKS:
        raise InvalidInput(f"weeks must be 1-{MAX_WEEKS}", f"choose 1-{MAX_WEEKS}",
                           field="weeks", lo=1, hi=MAX_WEEKS)
    with database.atomic():
        series = Series.create(uuid=str(uuid.uuid4()), first_local=first_local.isoformat(),
                               weeks=weeks,
                               exceptions=",".join(sorted(d.isoformat() for d in exceptions)))
        out = []
        for local in weekly(first_local, weeks, set(exceptions)):
            s = Session.create(uuid=str(uuid.uuid4()), starts_at=to_utc(local, tz),
                               series=series, **fields)
            _session_event(s)
            out.append(s)
        return out


def update_session(session_id: int, data: dict[str, Any],
                   starts_at: dt.datetime, *, now: dt.datetime | None = None) -> Session:
    """Edit one session (not the rest of its series). The capacity cannot go below the
    seats already booked (refused, naming how many); raising it promotes the waiting
    list. A new start time is kept beside the old one (``moved_from``) so the visitors'
    tickets and the programme say the session moved."""
    fields = validate_session(data)
    with database.atomic():
        s = _session_for_update(session_id)
        booked = (Booking.select().where((Booking.session == s)
                                         & (Booking.status == "booked")).count())
        if fields["capacity"] < booked:
            raise InvalidInput(f"{booked} seats are booked: capacity cannot be lower",
                               "cancel bookings first, or keep the capacity",
                               field="capacity_below", lo=booked, hi=booked)
        for key, value in fields.items():
            setattr(s, key, value)
        if starts_at != s.starts_at and booked:
            # The first time it had when people booked stays the one to compare with.
            s.moved_from = s.moved_from or s.starts_at
        if starts_at == s.moved_from:
            s.moved_from = None
        s.starts_at = starts_at
        s.save()
        _session_event(s)
        _promote(s, now or utcnow())
        return s


def cancel_session(session_id: int, *, skip_in_series: bool = True, tz=None) -> Session:
    """Cancel a session; bookings stay (visitors see "cancelled" with their code). In a
    series, its date becomes an exception."""
    with database.atomic():
        s = _session_for_update(session_id)
        s.cancelled = True
        s.save()
        if skip_in_series and s.series_id and tz is not None:
            from .recurrence import to_local

            series = s.series
            dates = series.exception_dates() | {to_local(s.starts_at, tz).date()}
            series.exceptions = ",".join(sorted(d.isoformat() for d in dates))
            series.save()
        _session_event(s)
        return s


def restore_session(session_id: int, *, tz=None) -> Session:
    with database.atomic():
        s = _session_for_update(session_id)
        s.cancelled = False
        s.save()
        if s.series_id and tz is not None:
            from .recurrence import to_local

            series = s.series
            dates = series.exception_dates() - {to_local(s.starts_at, tz).date()}
            series.exceptions = ",".join(sorted(d.isoformat() for d in dates))
            series.save()
        _session_event(s)
        return s
