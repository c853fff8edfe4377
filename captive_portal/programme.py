"""The programme of sessions, and booking a seat. Booking is built by the sessions issue."""

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, render_template

from appliance.models import Session

bp = Blueprint("programme", __name__, url_prefix="/programme", template_folder="templates")


@bp.get("/")
def index():
    tz = ZoneInfo(current_app.config["SITE"].site.timezone)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    sessions = (Session.select().where((Session.starts_at >= now - dt.timedelta(hours=3))
                                       & (Session.cancelled == False))  # noqa: E712
                .order_by(Session.starts_at).limit(50))
    rows = [(s, s.starts_at.replace(tzinfo=dt.UTC).astimezone(tz)) for s in sessions]
    return render_template("programme/index.html", rows=rows)
