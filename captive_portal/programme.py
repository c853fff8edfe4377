"""The week's programme and booking a seat from a phone, with no account.

Thin views over :mod:`appliance.programme.rules`. Every flow works without
JavaScript: a form posts, the answer redirects to the booking's page (its code in
the address, so a visitor can bookmark it or come back to cancel).
"""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from werkzeug.exceptions import NotFound, TooManyRequests

from appliance import csrf, privacy
from appliance.programme import rules
from appliance.programme.models import Booking, Session
from appliance.programme.recurrence import to_local

bp = Blueprint("programme", __name__, url_prefix="/programme", template_folder="templates")

KIND_LABELS = {
    "training": lazy_gettext("Training"),
    "mooc_group": lazy_gettext("MOOC group"),
    "debate": lazy_gettext("Debate"),
    "officials_meeting": lazy_gettext("Meeting with officials"),
    "other": lazy_gettext("Session"),
}
WEEKDAYS = (lazy_gettext("Monday"), lazy_gettext("Tuesday"), lazy_gettext("Wednesday"),
            lazy_gettext("Thursday"), lazy_gettext("Friday"), lazy_gettext("Saturday"),
            lazy_gettext("Sunday"))


# Codes are 6 digits: a phone that keeps guessing wrong codes (to find or cancel other
# people's bookings) is stopped for a while. Kept in memory: one web process per box.
MISSES_ALLOWED = 20
MISS_WINDOW_S = 600.0


def _misses() -> dict[str, list[float]]:
    return current_app.extensions.setdefault("espace.programme_misses", {})


def _guessing() -> bool:
    now = time.monotonic()
    recent = [t for t in _misses().get(request.remote_addr or "", [])
              if now - t < MISS_WINDOW_S]
    return len(recent) >= MISSES_ALLOWED


def _missed() -> None:
    misses = _misses()
    if len(misses) > 10_000:  # bounded memory whatever happens
        misses.clear()
    now = time.monotonic()
    key = request.remote_addr or ""
    misses[key] = [t for t in misses.get(key, []) if now - t < MISS_WINDOW_S] + [now]


def _tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["SITE"].site.timezone)


def messages() -> dict[str, str]:
    return {
        "full": gettext("This session is full. You are on the waiting list: if a seat "
                        "frees, it is yours, and this page will say so."),
        "started": gettext("This session has already started: booking is closed. Come to "
                           "the room and ask the facilitator."),
        "cancelled": gettext("This session is cancelled."),
        "not_found": gettext("No booking with this code. Check the code on your ticket."),
        "invalid": gettext("Please write a name or a nickname, and a phone number with "
                           "digits only (or none)."),
        "too_many": gettext("This phone has already booked several seats for this "
                            "session. Cancel one first, or ask the facilitator."),
        "booked": gettext("Your seat is booked. Show this code at the door."),
        "cancelled_booking": gettext("Your booking is cancelled. Thank you for freeing the "
                                     "seat."),
    }


@bp.app_template_filter("local")
def _local_filter(utc: dt.datetime) -> dt.datetime:
    return to_local(utc, _tz())


@bp.get("/")
def index():
    tz = _tz()
    now = rules.utcnow()
    today = to_local(now, tz).date()
    start = dt.datetime.combine(today, dt.time())
    horizon = start + dt.timedelta(days=8)
    sessions = (Session.select()
                .where((Session.starts_at >= now - dt.timedelta(hours=3))
                       & (Session.starts_at < horizon + dt.timedelta(days=1)))
                .order_by(Session.starts_at).limit(60))
    days: dict[dt.date, list] = {}
    for s, seats, _counts in rules.overview(list(sessions), now):
        local = to_local(s.starts_at, tz)
        if local >= horizon:
            continue
        days.setdefault(local.date(), []).append((s, local, seats))
    return render_template("programme/index.html", days=days, today=today,
                           weekdays=WEEKDAYS, kinds=KIND_LABELS, now=now)


def _session_or_404(session_id: int) -> Session:
    s = Session.get_or_none(Session.id == session_id)
    if s is None:
        raise NotFound()
    return s


@bp.get("/<int:session_id>")
def session(session_id: int, error: str | None = None, form: dict | None = None):
    s = _session_or_404(session_id)
    now = rules.utcnow()
    state = "cancelled" if s.cancelled else "started" if now >= s.starts_at else "open"
    local = to_local(s.starts_at, _tz())
    return render_template("programme/session.html", s=s, local=local,
                           seats=rules.seats(s, now), state=state, error=error,
                           form=form or {}, kinds=KIND_LABELS, weekdays=WEEKDAYS,
                           messages=messages()), 400 if error else 200


@bp.post("/<int:session_id>/book")
@csrf.protect
def book(session_id: int):
    _session_or_404(session_id)
    f = request.form
    try:
        b = rules.book(session_id, f.get("name", ""), f.get("phone", ""),
                       f.get("gender", ""), f.get("age_group", ""),
                       client=privacy.client_hash(request.remote_addr or "0.0.0.0",  # noqa: S104
                                                  scope="box"))
    except rules.ProgrammeError as e:
        return session(session_id, error=e.code, form=f.to_dict())
    return redirect(url_for(".ticket", session_id=session_id, code=b.code,
                            m="booked" if b.status == "booked" else "full"), code=303)


@bp.get("/<int:session_id>/b/<code>")
def ticket(session_id: int, code: str):
    if _guessing():
        raise TooManyRequests()
    try:
        b = rules.find(session_id, code)
    except rules.BookingNotFound:
        _missed()
        raise NotFound() from None
    if b.status == "waiting":
        # Reserved seats may have opened since: the visitor sees where they stand now.
        rules.promote(session_id)
        b = Booking.get_by_id(b.id)
    s = b.session
    now = rules.utcnow()
    return render_template("programme/ticket.html", b=b, s=s, local=to_local(s.starts_at, _tz()),
                           position=rules.waiting_position(b) if b.status == "waiting" else 0,
                           started=now >= s.starts_at, m=request.args.get("m"),
                           messages=messages(), kinds=KIND_LABELS, weekdays=WEEKDAYS)


@bp.post("/<int:session_id>/b/<code>/cancel")
@csrf.protect
def cancel(session_id: int, code: str):
    if _guessing():
        raise TooManyRequests()
    try:
        b = rules.cancel(session_id, code)
    except rules.BookingNotFound:
        _missed()
        raise NotFound() from None
    except rules.SessionStarted:
        return redirect(url_for(".ticket", session_id=session_id, code=code, m="started"),
                        code=303)
    return redirect(url_for(".ticket", session_id=session_id, code=b.code,
                            m="cancelled_booking"), code=303)


@bp.get("/find")
def find():
    """A visitor who lost the page types their code: upcoming bookings with it."""
    if _guessing():
        raise TooManyRequests()
    code = "".join(c for c in request.args.get("code", "") if c.isdigit())
    rows = []
    if len(code) == 6:
        rows = list(Booking.select().join(Session)
                    .where((Booking.code == code)
                           & (Session.starts_at > rules.utcnow() - dt.timedelta(hours=6)))
                    .order_by(Session.starts_at).limit(5))
    if code and not rows:
        _missed()
    if len(rows) == 1:
        return redirect(url_for(".ticket", session_id=rows[0].session_id, code=code), code=303)
    return render_template("programme/find.html", rows=rows, code=code,
                           messages=messages()), 200 if rows or not code else 404
