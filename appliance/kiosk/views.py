"""The kiosk's own pages: login, today, the week, check-in by code, health, clock."""

from __future__ import annotations

import datetime as dt
import functools
import gzip
from collections.abc import Callable
from zoneinfo import ZoneInfo

from flask import (
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext, lazy_gettext, ngettext

from .. import announcements, csrf, health, outbox
from ..db import database
from ..programme import rules
from ..programme.models import Session
from ..programme.recurrence import to_local, to_utc
from . import bp, clock
from .auth import LoginResult, attempt_login, facilitator_required, locked_for, logout

WEEKDAYS = (lazy_gettext("Mon"), lazy_gettext("Tue"), lazy_gettext("Wed"), lazy_gettext("Thu"),
            lazy_gettext("Fri"), lazy_gettext("Sat"), lazy_gettext("Sun"))


@bp.app_template_filter("kday")
def _kday(day: dt.date) -> str:
    """A short day in the facilitator's language: "Mon 30/11"."""
    return f"{WEEKDAYS[day.weekday()]} {day:%d/%m}"


@bp.app_template_filter("klocal")
def _klocal(utc: dt.datetime) -> dt.datetime:
    return to_local(utc, tz())


def tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["SITE"].site.timezone)


def build_date() -> dt.date:
    return dt.date.fromisoformat(str(current_app.config["BUILD_DATE"]))


def clock_state() -> dict:
    """What the header shows: the box's local time and what looks wrong with it
    (computed once per request)."""
    if "kiosk_clock" not in g:
        now = rules.utcnow()
        row = database.execute_sql("SELECT value FROM box_meta WHERE key = ?",
                                   ("sync:last_success_at",)).fetchone()
        last_sync = clock.parse_iso_utc(row[0] if row else None)
        g.kiosk_clock = {"local": to_local(now, tz()), "utc": now, "last_sync": last_sync,
                         "problems": clock.problems(now, build_date(), last_sync)}
    return g.kiosk_clock


CLOCK_MESSAGES = {
    "before_build": lazy_gettext("The box's clock is wrong: it is earlier than the date this "
                                 "software was built. Set the time."),
    "before_last_sync": lazy_gettext("The box's clock is wrong: it is earlier than the last "
                                     "sync with central. Set the time."),
    "long_after_sync": lazy_gettext("Check the time: it is months after the last sync with "
                                    "central."),
}


@bp.app_context_processor
def _clock_context() -> dict:
    if not request.path.startswith("/kiosk"):
        return {}
    return {"box_clock": clock_state, "clock_messages": CLOCK_MESSAGES,
            "idle_seconds": current_app.config["SITE"].kiosk.idle_logout_seconds}


_CACHE_ENTRIES = 64


def state_page(view: Callable[..., str]) -> Callable[..., Response]:
    """Cache a kiosk page (HTML and gzip bytes) until the programme changes.

    Every change a page shows (a session, a booking, an attendance) appends an
    outbox event, so the last sequence number is the page's version; the box's
    minute, its clock warnings and the announcements from central are in the key too.
    Pages with a pending flash message are never cached."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs) -> Response:
        if session.get("_flashes"):
            return view(*args, **kwargs)
        c = clock_state()
        # The CSRF token is in the key: the page's forms carry it, and it changes at
        # every login.
        key = (request.full_path, g.lang, session.get("facilitator"), csrf.token(),
               outbox.last_seq(),
               c["local"].strftime("%Y%m%d%H%M"), tuple(c["problems"]),
               announcements.version())
        cache = current_app.extensions.setdefault("espace.kioskcache", {})
        entry = cache.get(key)
        if entry is None:
            body = view(*args, **kwargs).encode()
            entry = (body, gzip.compress(body, 6, mtime=0))
            if len(cache) >= _CACHE_ENTRIES:
                cache.clear()
            cache[key] = entry
        body, zipped = entry
        accepts_gzip = "gzip" in request.headers.get("Accept-Encoding", "")
        response = Response(zipped if accepts_gzip else body, mimetype="text/html")
        if accepts_gzip:
            response.headers["Content-Encoding"] = "gzip"
        response.headers["Vary"] = "Accept-Encoding, Cookie"
        response.headers["Cache-Control"] = "no-store"
        return response

    return wrapped


def _safe_next(target: str | None) -> str:
    if (target and target.startswith("/kiosk") and "//" not in target and "\\" not in target
            and not any(ord(c) < 0x20 or c == "\x7f" for c in target)):
        return target
    return url_for("kiosk.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    site = current_app.config["SITE"]
    names = [f["name"] for f in site.kiosk.facilitators]
    error = None
    if request.method == "POST" and not csrf.valid():
        # Checked before the PIN, so a forged post cannot count towards the lockout.
        error = "expired"
    elif request.method == "POST":
        name = request.form.get("name", "")
        result = attempt_login(name, request.form.get("pin", ""))
        if result == LoginResult.OK:
            return redirect(_safe_next(request.args.get("next")), code=303)
        error = "locked" if result == LoginResult.LOCKED or locked_for() else "wrong"
    locked = locked_for()
    return render_template("kiosk/login.html", names=names, error=error,
                           locked_minutes=-(-locked // 60) if locked else 0,
                           chosen=request.form.get("name") or (names[0] if names else "")), \
        (400 if error == "expired" else 403 if error else 200)


@bp.post("/logout")
@csrf.protect
def logout_view():
    logout()
    return redirect(url_for("kiosk.login"), code=303)


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time())
    return to_utc(start, tz()), to_utc(start + dt.timedelta(days=1), tz())


def sessions_between(start: dt.datetime, end: dt.datetime):
    return list(Session.select().where((Session.starts_at >= start) & (Session.starts_at < end))
                .order_by(Session.starts_at))


def today_sessions() -> list[Session]:
    return sessions_between(*_day_bounds(to_local(rules.utcnow(), tz()).date()))


@bp.get("/")
@facilitator_required
@state_page
def index():
    now = rules.utcnow()
    rows = [(s, to_local(s.starts_at, tz()), seats, counts)
            for s, seats, counts in rules.overview(today_sessions(), now)]
    return render_template("kiosk/index.html", rows=rows, now=now,
                           announcements=announcements.current())


@bp.get("/week")
@facilitator_required
@state_page
def week():
    now = rules.utcnow()
    try:
        offset = max(-52, min(52, int(request.args.get("w", 0))))
    except ValueError:
        offset = 0
    first = to_local(now, tz()).date() + dt.timedelta(days=7 * offset)
    start, _ = _day_bounds(first)
    end, _ = _day_bounds(first + dt.timedelta(days=7))
    days: dict[dt.date, list] = {first + dt.timedelta(days=i): [] for i in range(7)}
    for s, seats, _counts in rules.overview(sessions_between(start, end), now):
        local = to_local(s.starts_at, tz())
        days.setdefault(local.date(), []).append((s, local, seats))
    return render_template("kiosk/week.html", days=days, offset=offset, now=now)


@bp.post("/checkin")
@facilitator_required
@csrf.protect
def checkin_code():
    """Check in by the code a visitor shows, among today's sessions."""
    code = request.form.get("code", "")
    back = _safe_next(request.form.get("back"))
    ids = [int(i) for i in request.form.getlist("session") if i.isdigit()] or \
        [s.id for s in today_sessions()]
    try:
        b = rules.check_in_code(ids, code)
    except rules.ProgrammeError as e:
        flash(gettext("Not checked in: %(why)s", why=_why(e)), "error")
        return redirect(back, code=303)
    flash(gettext("Welcome, %(name)s! Checked in for %(title)s.", name=b.name or "—",
                  title=b.session.title), "ok")
    return redirect(back, code=303)


def _why(e: rules.ProgrammeError) -> str:
    return {
        "not_found": gettext("no booking with this code today"),
        "not_booked": gettext("on the waiting list or cancelled, and no seat is free"),
        "full": gettext("the room is full"),
        "cancelled": gettext("the session is cancelled"),
        "started": gettext("the session is over"),
        "invalid": gettext("check what you typed"),
        "not_started": gettext("the session has not started yet: a no-show is marked "
                               "after the start"),
    }.get(e.code, str(e))


@bp.app_template_global("in_words")
def in_words(when: dt.datetime | str | None, now: dt.datetime | None = None) -> str:
    """How long ago, in words and in the facilitator's language ("3 hours ago"), for
    a naive-UTC datetime or an ISO UTC string; "never" for None."""
    if isinstance(when, str):
        when = clock.parse_iso_utc(when)
    if when is None:
        return gettext("never")
    seconds = ((now or rules.utcnow()) - when).total_seconds()
    if seconds < 0:
        return gettext("in the future (check the clock)")
    if seconds < 120:
        return gettext("just now")
    if seconds < 3600:
        return ngettext("%(num)d minute ago", "%(num)d minutes ago", int(seconds // 60))
    if seconds < 2 * 86400:
        return ngettext("%(num)d hour ago", "%(num)d hours ago", int(seconds // 3600))
    return ngettext("%(num)d day ago", "%(num)d days ago", int(seconds // 86400))


@bp.app_template_global("duration_words")
def duration_words(seconds: int) -> str:
    """An uptime in words: "2 days", "5 hours", "12 minutes"."""
    if seconds >= 2 * 86400:
        return ngettext("%(num)d day", "%(num)d days", seconds // 86400)
    if seconds >= 3600:
        return ngettext("%(num)d hour", "%(num)d hours", seconds // 3600)
    return ngettext("%(num)d minute", "%(num)d minutes", seconds // 60)


@bp.app_template_global("health_verdict")
def health_verdict(snap: dict) -> dict:
    return health.judge(snap)


@bp.get("/health", endpoint="health")
@facilitator_required
def health_view():
    site = current_app.config["SITE"]
    snap = health.snapshot(site.data_dir, site.content_dir)
    from .. import box_notices

    return render_template("kiosk/health.html", snap=snap,
                           site_problem=box_notices.site_problem(site.data_dir),
                           lan_twins=box_notices.lan_twins(site.data_dir),
                           fingerprints=box_notices.fingerprints(site.data_dir))



@bp.route("/clock", methods=["GET", "POST"])
@facilitator_required
@csrf.protect
def clock_view():
    error = None
    if request.method == "POST":
        f = request.form
        try:
            local = dt.datetime(int(f["year"]), int(f["month"]), int(f["day"]),
                                int(f["hour"]), int(f["minute"]))
        except (KeyError, ValueError):
            error = gettext("This is not a valid date and time.")
        else:
            try:
                clock.set_clock(to_utc(local, tz()), build_date(),
                                command=current_app.config.get("CLOCK_COMMAND",
                                                               clock.TIMEDATECTL))
            except clock.ClockError as e:
                current_app.logger.warning("kiosk: %s", e)
                error = str(e)
            else:
                current_app.logger.info("kiosk: clock set to %s (local) by %s", local,
                                        request.remote_addr)
                flash(gettext("The clock is set."), "ok")
                return redirect(url_for("kiosk.clock_view"), code=303)
    return render_template("kiosk/clock.html", error=error)


@bp.route("/shutdown", methods=["GET", "POST"])
@facilitator_required
@csrf.protect
def shutdown_view():
    """Shut the box down, after a confirmation (a separate page: a stray tap on the
    Health tab never powers off)."""
    from . import power

    error = None
    if request.method == "POST" and request.form.get("confirm") == "yes":
        current_app.logger.warning("kiosk: shutdown asked by %s",
                                   session.get("facilitator") or "?")
        try:
            power.power_off(current_app.config.get("POWEROFF_COMMAND", power.POWEROFF))
        except power.PowerError as e:
            current_app.logger.warning("kiosk: %s", e)
            error = str(e)
        else:
            return render_template("kiosk/shutdown.html", done=True, error=None)
    return render_template("kiosk/shutdown.html", done=False, error=error), \
        (500 if error else 200)
