"""The portal home, the language chooser and the About page."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
)
from werkzeug.exceptions import NotFound

from appliance import announcements, i18n
from appliance.languages import LANGUAGES
from appliance.pagecache import language_page

bp = Blueprint("portal", __name__, template_folder="templates")

ONE_YEAR = 365 * 24 * 3600
STATIC = Path(__file__).parent / "static"


def safe_next(target: str | None) -> str:
    """Only a path on this box: never an open redirect to another host."""
    if not target:
        return "/"
    # Browsers drop tabs and line breaks inside a URL and read "\\" as "/"; a line
    # break would also end the Location header (a 500 before).
    if any(ord(c) < 0x20 or c in "\\\x7f" for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@bp.get("/")
@language_page(version=announcements.version)
def home():
    site = current_app.config["SITE"]
    if i18n.COOKIE not in request.cookies and len(site.site.languages) > 1:
        # First visit: the language comes first, in each language's own name.
        return render_template("portal/languages.html", next="/", first=True)
    return render_template("portal/home.html", home_tiles=home_tiles(),
                           announcements=announcements.current())


# The app extension holding the registry the app was made from (espace.app.EXTENSION).
REGISTRY = "espace.registry"


def home_tiles() -> list:
    """The home page's tiles, as every package contributed them (espace.registry)."""
    registry = current_app.extensions.get(REGISTRY)
    return list(registry.tiles) if registry is not None else []


@bp.get("/languages")
@language_page
def languages():
    return render_template("portal/languages.html", next=safe_next(request.args.get("next")),
                           first=False)


@bp.get("/lang/<code>")
def set_language(code: str):
    if code not in current_app.config["SITE"].site.languages or code not in LANGUAGES:
        raise NotFound()
    response = make_response(redirect(safe_next(request.args.get("next")), code=303))
    response.set_cookie(i18n.COOKIE, code, max_age=ONE_YEAR, samesite="Lax", httponly=True)
    return response


@bp.get("/about")
@language_page
def about():
    return render_template("portal/about.html")


@bp.get("/favicon.ico")
def favicon():
    """Every browser asks for it on a first visit: 174 bytes, cached for a month,
    instead of a 4.7 KB error page each time."""
    icon = current_app.extensions.get("espace_favicon")
    if icon is None:
        icon = current_app.extensions["espace_favicon"] = (STATIC / "favicon.ico").read_bytes()
    response = make_response(icon)
    response.mimetype = "image/x-icon"
    response.cache_control.public = True
    response.cache_control.max_age = 30 * 24 * 3600
    return response
