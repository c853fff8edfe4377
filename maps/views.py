"""The map's visitor pages: the offline tiles, the map, the directory by village (plain
HTML forms: phones without JavaScript and KaiOS get every entry and can propose), an
entry, and the proposal form (a point tapped on the map, or a village chosen)."""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext

from appliance import csrf, privacy

from . import directory, tiles_view
from .directory import KINDS, LANGUAGES, DirectoryError, Place

bp = Blueprint(
    "maps",
    __name__,
    url_prefix="/map",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


@bp.route("/area.pmtiles", methods=["GET", "HEAD"])
def tiles():
    return tiles_view.serve_tiles()


def _site():
    return current_app.config["SITE"]


def _origin() -> tuple[str, float, float] | None:
    """Where distances are measured from: the village the visitor chose, else the box."""
    site = _site()
    chosen = request.args.get("from", "")
    for v in site.map.villages:
        if v["name"] == chosen:
            return v["name"], v["lat"], v["lon"]
    if site.map.box_location:
        lat, lon = site.map.box_location
        return "", lat, lon
    return None


def _km(d_m: float) -> str:
    return f"{d_m / 1000:.1f} km" if d_m >= 1000 else f"{round(d_m / 10) * 10:.0f} m"


def _by_village(places: list[Place], origin) -> list[tuple[str, list[tuple[Place, str]]]]:
    groups: dict[str, list[tuple[float, Place, str]]] = {}
    for p in places:
        d = directory.distance_m(origin[1], origin[2], p.lat, p.lon) if origin else 0.0
        groups.setdefault(p.village or "", []).append((d, p, _km(d) if origin else ""))
    out = []
    for village in sorted(groups, key=lambda v: (v == "", min(d for d, _, _ in groups[v]))):
        rows = sorted(groups[village], key=lambda t: t[0])
        out.append((village, [(p, dist) for _, p, dist in rows]))
    return out


def _kind_options() -> list[tuple[str, str, str]]:
    return [(k, str(label), icon) for k, (label, icon) in KINDS.items()]


@bp.get("/directory")
def directory_page():
    q = (request.args.get("q") or "")[:100]
    kind = request.args.get("kind", "")
    places = directory.listing(q, kind)
    origin = _origin()
    return render_template(
        "maps/directory.html",
        groups=_by_village(places, origin),
        origin=origin,
        q=q,
        kind=kind,
        kinds=_kind_options(),
        villages=_site().map.villages,
        count=len(places),
    )


@bp.get("/place/<uuid>")
def place(uuid: str):
    p = Place.get_or_none((Place.uuid == uuid[:64]) & ~Place.removed) or abort(404)
    return render_template("maps/place.html", p=p, kinds=KINDS, posts=directory.posts_naming(p))


def _client() -> str:
    return privacy.client_hash(request.remote_addr or "0.0.0.0", scope="day")  # noqa: S104


@bp.route("/propose", methods=["GET", "POST"])
def propose():
    site = _site()
    correction_of = (request.values.get("correction_of") or "")[:64]
    target = Place.get_or_none(Place.uuid == correction_of) if correction_of else None
    form: dict = {}
    if target is not None and request.method == "GET":
        form = {f: getattr(target, f) for f in directory.FIELDS}
        form["languages"] = target.language_list
    elif request.method == "GET":
        form = {k: request.args.get(k, "") for k in ("lat", "lon", "village")}
    error = field = ""
    similar: list[Place] = []
    if request.method == "POST":
        form = request.form.to_dict()
        form["languages"] = request.form.getlist("languages")
        if not csrf.valid():
            error, field = gettext("The form expired; send it again."), "name"
        else:
            try:
                done = directory.propose(
                    request.form,
                    site,
                    _client(),
                    correction_of=target.uuid if target else "",
                    confirm_new=request.form.get("confirm_new") == "1",
                )
            except DirectoryError as e:
                error, field = _error_text(e), e.field
            else:
                if done.proposal is not None:
                    return redirect(url_for("maps.sent"), code=303)
                similar = done.similar
    return render_template(
        "maps/propose.html",
        form=form,
        error=error,
        field=field,
        similar=similar,
        target=target,
        kinds=_kind_options(),
        languages=LANGUAGES,
        villages=site.map.villages,
        csrf_token=csrf.token,
    ), 400 if error else 200


def _error_text(e: DirectoryError) -> str:
    labels = {
        "name": gettext("Name"),
        "kind": gettext("Kind"),
        "village": gettext("Village"),
        "lat": gettext("Place on the map"),
        "lon": gettext("Place on the map"),
        "contact": gettext("Contact"),
        "activities": gettext("Activities"),
        "languages": gettext("Languages"),
        "place": gettext("Entry"),
        "proposal": gettext("Proposal"),
    }
    messages = {
        "is required": gettext("is required"),
        "this point is outside the area of this box's map": gettext(
            "this point is outside the area of this box's map"
        ),
        "tap the map or choose a village": gettext("tap the map or choose a village"),
        "looks like code or markup (< >, javascript:); write plain words": gettext(
            "looks like code; write plain words"
        ),
        "choose a kind from the list": gettext("choose a kind from the list"),
    }
    text = str(e.args[0])
    if text.startswith("is ") and "characters; at most" in text:
        return gettext("%(field)s is too long", field=labels.get(e.field, e.field))
    return f"{labels.get(e.field, e.field)}: {messages.get(text, text)}"


@bp.get("/sent")
def sent():
    return render_template("maps/sent.html")


@bp.app_context_processor
def _kind_helpers() -> dict:
    return {
        "kinds_icon": lambda k: KINDS.get(k, ("", "●"))[1],
        "kind_label": lambda k: str(KINDS.get(k, (k, ""))[0]),
    }


@bp.get("/")
def map_page():
    site = _site()
    summary, _why = tiles_view.map_status()
    places = directory.listing()
    data = {
        "area": list(site.map.area) or [-180, -85, 180, 85],
        "box": list(site.map.box_location) or None,
        "boxName": site.site.name,
        "tiles": url_for("maps.tiles") if summary is not None else "",
        "maxZoom": summary.max_zoom if summary is not None else 15,
        "lang": getattr(getattr(g, "language", None), "code", "fr"),
        "places": json.loads(directory.as_json(places)),
        "focus": (request.args.get("place") or "")[:64],
        "placeUrl": url_for("maps.place", uuid="UUID"),
        "proposeUrl": url_for("maps.propose"),
        "proposeText": gettext("Add an organisation here"),
        "sessions": _next_sessions(),
    }
    return render_template("maps/map.html", map_data=data, area=list(site.map.area))


def _next_sessions(limit: int = 5) -> list[dict]:
    """The programme's next sessions, shown on the espace's marker (they take place
    there)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from appliance.programme.models import Session

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    tz = ZoneInfo(_site().site.timezone)
    rows = (
        Session.select()
        .where((Session.starts_at >= now) & ~Session.cancelled)
        .order_by(Session.starts_at)
        .limit(limit)
    )
    return [
        {
            "title": s.title,
            "when": s.starts_at.replace(tzinfo=dt.UTC).astimezone(tz).strftime("%d/%m %H:%M"),
            "url": url_for("programme.session", session_id=s.id),
        }
        for s in rows
    ]
