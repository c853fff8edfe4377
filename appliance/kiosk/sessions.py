"""Sessions on the kiosk: create (once or weekly, with exceptions), edit, cancel,
and the door: check-in, walk-ins, no-shows, attendance, the printable sheet."""

from __future__ import annotations

import datetime as dt

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.exceptions import NotFound

from .. import csrf
from ..programme import rules
from ..programme.models import Booking, Session
from ..programme.recurrence import MAX_WEEKS, to_local, to_utc, weekly
from . import bp
from .auth import facilitator_required
from .views import _why, tz

DURATIONS = (30, 60, 90, 120, 150, 180, 240)
MINUTES = (0, 15, 30, 45)
RELEASES = (0, 60, 120, 24 * 60)  # minutes before the start


def _session(session_id: int) -> Session:
    s = Session.get_or_none(Session.id == session_id)
    if s is None:
        raise NotFound()
    return s


def _form_defaults(s: Session | None) -> dict:
    if s is None:
        local = to_local(rules.utcnow(), tz()) + dt.timedelta(days=1)
        return {"title": "", "kind": "training", "description": "", "facilitator": "",
                "room": "", "date": local.date().isoformat(), "hour": 10, "minute": 0,
                "duration_min": 120, "capacity": 20, "reserved_women": 0,
                "reserved_youth": 0, "release_min": 120, "repeat": "", "weeks": 4}
    local = to_local(s.starts_at, tz())
    out = {k: getattr(s, k) for k in rules.FIELDS}
    out.update(date=local.date().isoformat(), hour=local.hour, minute=local.minute,
               repeat="", weeks=1)
    return out


def form_error(e: rules.ProgrammeError) -> str:
    """The session form's problem in the facilitator's language, naming the field."""
    field = getattr(e, "field", "")
    labels = {"duration_min": gettext("Duration"), "capacity": gettext("Seats"),
              "reserved_women": gettext("Kept for women"),
              "reserved_youth": gettext("Kept for under 35"),
              "release_min": gettext("Kept seats open to all"), "weeks": gettext("weeks")}
    if field == "title":
        return gettext("A title is needed: write the session's title.")
    if field == "kind":
        return gettext("Choose one of the kinds of session.")
    if field == "start":
        return gettext("Choose a date and a time: tap a day, an hour and minutes.")
    if field == "capacity_below":
        return gettext("%(n)d seats are already booked: the number of seats cannot be "
                       "lower. Cancel bookings first, or keep %(n)d seats or more.", n=e.lo)
    if field == "reserved":
        return gettext("More kept seats than seats: lower the kept seats or raise the "
                       "number of seats.")
    if field in labels and e.lo is not None:
        return gettext("%(field)s: choose a number from %(lo)d to %(hi)d.",
                       field=labels[field], lo=e.lo, hi=e.hi)
    return str(e)


def _parse_start(form) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(form.get("date", ""))
        hour, minute = int(form.get("hour", "")), int(form.get("minute", ""))
        return dt.datetime.combine(day, dt.time(hour, minute))
    except ValueError:
        raise rules.InvalidInput("choose a date and a time", "tap a day, an hour and minutes",
                                 field="start") from None


def _date_choices(selected: str) -> list[dt.date]:
    today = to_local(rules.utcnow(), tz()).date()
    days = [today + dt.timedelta(days=i) for i in range(21)]
    try:
        chosen = dt.date.fromisoformat(selected)
    except ValueError:
        chosen = None
    if chosen and chosen not in days:
        days.insert(0, chosen)
    return days


def _render_form(s: Session | None, form: dict, error: str | None = None,
                 preview: list | None = None):
    return render_template("kiosk/session_form.html", s=s, form=form, error=error,
                           preview=preview, days=_date_choices(str(form.get("date", ""))),
                           durations=DURATIONS, minutes=MINUTES, releases=RELEASES,
                           max_weeks=MAX_WEEKS), 400 if error else 200


@bp.route("/sessions/new", methods=["GET", "POST"], endpoint="session_new")
@bp.route("/sessions/<int:session_id>/edit", methods=["GET", "POST"], endpoint="session_edit")
@facilitator_required
@csrf.protect
def session_form(session_id: int | None = None):
    s = _session(session_id) if session_id else None
    if request.method == "GET":
        return _render_form(s, _form_defaults(s))
    form = request.form.to_dict()
    try:
        start_local = _parse_start(form)
        rules.validate_session(form)
        weeks = int(form.get("weeks") or 1) if form.get("repeat") and not s else 1
        if not 1 <= weeks <= MAX_WEEKS:
            raise rules.InvalidInput(f"weeks must be 1-{MAX_WEEKS}", "", field="weeks",
                                     lo=1, hi=MAX_WEEKS)
    except rules.ProgrammeError as e:
        # Shown again with what was sent over the defaults: a field left out of a
        # forged form must not break the page.
        return _render_form(s, {**_form_defaults(s), **form}, error=form_error(e))
    except ValueError:
        return _render_form(s, {**_form_defaults(s), **form},
                            error=gettext("Check the numbers: digits only."))
    if weeks > 1 and form.get("action") == "preview":
        # Every date of the series, ticked: untick one to skip it (an exception).
        return _render_form(s, form, preview=weekly(start_local, weeks))
    if s is not None:
        try:
            s = rules.update_session(s.id, form, to_utc(start_local, tz()))
        except rules.ProgrammeError as e:
            return _render_form(s, {**_form_defaults(s), **form}, error=form_error(e))
        flash(gettext("Session saved."), "ok")
        return redirect(url_for("kiosk.session_view", session_id=s.id), code=303)
    if weeks > 1:
        dates = {d.date() for d in weekly(start_local, weeks)}
        kept = set(request.form.getlist("occurrence"))
        skipped = {d for d in dates if d.isoformat() not in kept} \
            if form.get("previewed") else set()
        made = rules.create_weekly(form, start_local, weeks, tz(), skipped)
        flash(gettext("%(n)d sessions created, every week.", n=len(made)), "ok")
        return redirect(url_for("kiosk.session_view", session_id=made[0].id), code=303)
    s = rules.create_session(form, to_utc(start_local, tz()))
    flash(gettext("Session created."), "ok")
    return redirect(url_for("kiosk.session_view", session_id=s.id), code=303)


@bp.get("/sessions/<int:session_id>", endpoint="session_view")
@facilitator_required
def session_view(session_id: int):
    s = _session(session_id)
    now = rules.utcnow()
    rules.promote(s.id, now=now)  # reserved seats released since the last look
    bookings = list(Booking.select().where(Booking.session == s).order_by(Booking.id))
    series = []
    if s.series_id:
        series = list(Session.select().where(Session.series == s.series_id)
                      .order_by(Session.starts_at))
    return render_template("kiosk/session.html", s=s, local=to_local(s.starts_at, tz()),
                           seats=rules.seats(s, now), counts=rules.attendance_counts(s),
                           booked=[b for b in bookings if b.status == "booked"],
                           waiting=[b for b in bookings if b.status == "waiting"],
                           cancelled=[b for b in bookings if b.status == "cancelled"],
                           series=series, now=now, tz=tz())


def _door(session_id: int, action):
    try:
        action()
    except rules.ProgrammeError as e:
        flash(gettext("Not done: %(why)s", why=_why(e)), "error")
    return redirect(url_for("kiosk.session_view", session_id=session_id) + "#door", code=303)


@bp.post("/sessions/<int:session_id>/checkin/<int:booking_id>", endpoint="session_checkin")
@facilitator_required
@csrf.protect
def session_checkin(session_id: int, booking_id: int):
    return _door(session_id, lambda: rules.check_in(booking_id))


@bp.post("/sessions/<int:session_id>/uncheck/<int:booking_id>", endpoint="session_uncheck")
@facilitator_required
@csrf.protect
def session_uncheck(session_id: int, booking_id: int):
    """Undo "present" (a tap on the wrong line)."""
    return _door(session_id, lambda: rules.undo_check_in(booking_id))


@bp.post("/sessions/<int:session_id>/noshow/<int:booking_id>", endpoint="session_noshow")
@facilitator_required
@csrf.protect
def session_noshow(session_id: int, booking_id: int):
    return _door(session_id, lambda: rules.mark_no_show(booking_id))


@bp.post("/sessions/<int:session_id>/noshows", endpoint="session_noshows")
@facilitator_required
@csrf.protect
def session_noshows(session_id: int):
    def run():
        n = rules.mark_all_no_shows(session_id)
        flash(gettext("%(n)d marked as no-shows.", n=n), "ok")
    return _door(session_id, run)


@bp.post("/sessions/<int:session_id>/walkin", endpoint="session_walkin")
@facilitator_required
@csrf.protect
def session_walkin(session_id: int):
    f = request.form

    def run():
        b = rules.book(session_id, f.get("name", ""), "", f.get("gender", ""),
                       f.get("age_group", ""), walk_in=True)
        flash(gettext("Walk-in added: %(name)s", name=b.name or "—"), "ok")
    return _door(session_id, run)


@bp.post("/sessions/<int:session_id>/cancel", endpoint="session_cancel")
@facilitator_required
@csrf.protect
def session_cancel(session_id: int):
    _session(session_id)  # 404 for a session that does not exist
    if not request.form.get("restore") and request.form.get("confirm") != "yes":
        # Cancelling is asked twice (the page's confirm box sends confirm=yes).
        flash(gettext("Not cancelled: confirm first."), "error")
    elif request.form.get("restore"):
        rules.restore_session(session_id, tz=tz())
        flash(gettext("Session restored."), "ok")
    else:
        rules.cancel_session(session_id, tz=tz())
        flash(gettext("Session cancelled. Visitors who booked see it on their page."), "ok")
    return redirect(url_for("kiosk.session_view", session_id=session_id), code=303)


@bp.get("/sessions/<int:session_id>/sheet", endpoint="session_sheet")
@facilitator_required
def session_sheet(session_id: int):
    s = _session(session_id)
    bookings = list(Booking.select().where((Booking.session == s)
                                           & (Booking.status == "booked"))
                    .order_by(Booking.name, Booking.id))
    return render_template("kiosk/sheet.html", s=s, local=to_local(s.starts_at, tz()),
                           bookings=bookings, counts=rules.attendance_counts(s),
                           blank=max(0, s.capacity - len(bookings)))
