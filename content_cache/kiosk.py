"""The library's tab on the facilitator's kiosk: books on the box and downloads in
progress (refreshed every few seconds while one runs)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_babel import lazy_gettext

from appliance.kiosk import NAV, nav_item
from appliance.kiosk.auth import current_facilitator, facilitator_required

from .fetch import progress
from .library import library_for

bp = Blueprint("kiosk_library", __name__, url_prefix="/kiosk/library",
               template_folder="templates")
nav_item(lazy_gettext("Library"), "content.kiosk_library.index", "learn")


@bp.context_processor
def _kiosk_context() -> dict:
    return {"kiosk_nav": NAV, "facilitator": current_facilitator()}


@bp.get("/")
@facilitator_required
def index():
    books = library_for(current_app.config["SITE"].content_dir).books()
    return render_template("content/kiosk.html", books=books, downloads=progress())
