"""The kiosk's Map tab: citizens' proposals for the directory, decided by touch
(publish, reject, or merge into the entry it duplicates), as the board's queue is."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext

from appliance import csrf
from appliance.kiosk.auth import current_facilitator, facilitator_required

from . import directory
from .directory import KINDS, DirectoryError, Place, Proposal

bp = Blueprint("maps_kiosk", __name__, url_prefix="/kiosk/map", template_folder="templates")


@bp.context_processor
def _kiosk_context() -> dict:
    from appliance import kiosk

    return kiosk.kiosk_context()


def _rows() -> list[tuple[Proposal, Place | None, list[Place]]]:
    rows = []
    for p in directory.queue():
        target = Place.get_or_none(Place.uuid == p.place_uuid) if p.place_uuid else None
        fields = {"name": p.name, "lat": p.lat, "lon": p.lon}
        similar = [] if target else directory.duplicates(fields)[:3]
        rows.append((p, target, similar))
    return rows


@bp.get("/")
@facilitator_required
def index():
    return _page(request.args.get("error", ""))


def _page(error: str = "", status: int = 200):
    return render_template(
        "maps/kiosk.html",
        rows=_rows(),
        kinds=KINDS,
        csrf_token=csrf.token,
        message=request.args.get("message", ""),
        error=error,
        published=Place.select().where(~Place.removed).count(),
    ), status


def _back(message: str = "", error: str = ""):
    args = {"message": message} if message else {"error": error} if error else {}
    return redirect(url_for("maps_kiosk.index", **args), code=303)


@bp.post("/<int:proposal_id>/<action>")
@facilitator_required
def decide(proposal_id: int, action: str):
    if not csrf.valid():
        # Refused like every kiosk form without its token: 400, the queue shown again.
        return _page(gettext("The page expired; try again."), 400)
    proposal = Proposal.get_or_none(Proposal.id == proposal_id) or abort(404)
    who = current_facilitator() or ""
    try:
        if action == "publish":
            place = directory.publish(proposal, who)
            return _back(gettext("%(name)s is in the directory.", name=place.name))
        if action == "reject":
            directory.reject(proposal, who)
            return _back(gettext("Proposal rejected."))
        if action == "merge":
            into = Place.get_or_none(Place.uuid == request.form.get("into", "")) or abort(404)
            directory.merge(proposal, into, who)
            return _back(gettext("Merged into %(name)s.", name=into.name))
    except DirectoryError:
        return _back(error=gettext("This proposal was already decided."))
    abort(404)
