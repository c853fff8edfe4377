"""The Surveys tab of the facilitator's kiosk: forms with their submission counts, an
XLSForm upload (with its media files), open/close, who fills it in the phone's browser,
enumerator accounts."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.utils import secure_filename

from appliance import csrf
from appliance.errors import EspaceError
from appliance.kiosk import kiosk_context
from appliance.kiosk.auth import facilitator_required
from sync_contract.xlsform import FormRefused

from . import digest, forms

bp = Blueprint("kiosk_surveys", __name__, url_prefix="/kiosk/surveys", template_folder="templates")
bp.context_processor(kiosk_context)


@bp.get("/")
@facilitator_required
def index():
    return render_template(
        "surveys/kiosk.html",
        forms=forms.forms(),
        enumerators=digest.enumerators(),
        # What phones type into Collect: the hotspot's address (this page is served on
        # the kiosk's own loopback listener, whose address no phone can reach).
        server=f"http://{current_app.config['SITE'].hotspot.address}/odk",
        browser=f"http://{current_app.config['SITE'].hotspot.address}/forms",
    )


@bp.post("/import")
@facilitator_required
@csrf.protect
def upload():
    sheet = request.files.get("xlsform")
    if sheet is None or not sheet.filename:
        flash(_("Choose an XLSForm file (.xlsx)."), "error")
        return redirect(url_for(".index"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / (secure_filename(sheet.filename) or "form.xlsx")
        sheet.save(path)
        media = folder / "media"
        media.mkdir()
        for f in request.files.getlist("media"):
            name = Path(f.filename or "").name
            if name and forms.MEDIA_NAME.fullmatch(name):
                f.save(media / name)
        try:
            form = forms.import_xlsform(current_app.config["SITE"].data_dir, path, media)
        except FormRefused as e:
            flash(_("Form refused: %(error)s", error=str(e)), "error")
        except EspaceError as e:
            flash(str(e), "error")
        else:
            flash(
                _("%(title)s (%(id)s) is offered to phones.", title=form.title, id=form.form_id),
                "ok",
            )
    return redirect(url_for(".index"))


@bp.post("/<form_id>/state")
@facilitator_required
@csrf.protect
def state(form_id: str):
    try:
        forms.set_state(form_id, request.form.get("state", ""))
    except EspaceError as e:
        flash(str(e), "error")
    return redirect(url_for(".index"))


@bp.post("/<form_id>/public")
@facilitator_required
@csrf.protect
def public(form_id: str):
    """Who fills the form in the phone's browser: anyone, or enumerators who log in."""
    try:
        forms.set_public(form_id, request.form.get("public") == "1")
    except EspaceError as e:
        flash(str(e), "error")
    return redirect(url_for(".index"))


@bp.post("/enumerators")
@facilitator_required
@csrf.protect
def enumerator():
    try:
        digest.add_enumerator(
            request.form.get("username", "").strip(), request.form.get("password", "")
        )
    except EspaceError as e:
        flash(str(e), "error")
    else:
        flash(_("Enumerator saved."), "ok")
    return redirect(url_for(".index"))
