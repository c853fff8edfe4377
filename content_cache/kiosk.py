"""The library's tab on the facilitator's kiosk: books on the box and downloads in
progress (refreshed every few seconds while one runs)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from appliance.kiosk import kiosk_context
from appliance.kiosk.auth import facilitator_required

from .fetch import progress
from .library import library_for

bp = Blueprint("kiosk_library", __name__, url_prefix="/kiosk/library",
               template_folder="templates")
bp.context_processor(kiosk_context)


@bp.get("/")
@facilitator_required
def index():
    books = library_for(current_app.config["SITE"].content_dir).books()
    return render_template("content/kiosk.html", books=books, downloads=progress())
