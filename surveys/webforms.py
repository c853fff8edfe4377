"""Survey forms in the phone's browser (``/forms``), for those without ODK Collect: ODK
Web Forms (vendored, see ``web_assets``) renders the box's XForm, and the page posts an
OpenRosa multipart submission (``xml_submission_file`` and the files) that goes through
the very function Collect's submissions go through (``submissions.store``: atomic,
idempotent by instanceID, the same limits), answered in the visitor's language.

Who may submit from the browser: an enumerator who logs in with the account made at the
kiosk (the same name and password as in Collect; a signed session cookie, since a page
cannot do Digest without the browser's own password dialog), for every open form; and
anyone on the hotspot for a form the box opened to the public (``espace survey public
FORM yes``). Forms are for trained enumerators by default: a public form is the box's
choice (a consultation of the espace's visitors), never the form designer's alone.
"""

from __future__ import annotations

import json
import re

from babel.dates import get_day_names, get_month_names
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import BuildError

from appliance import blobs, csrf, i18n, throttle

from . import digest, forms, submissions, web_assets

bp = Blueprint("webforms", __name__, url_prefix="/forms", template_folder="templates")
KEY = "enumerator"  # the logged-in enumerator's name, in the signed session cookie
LOGIN_FAILURES_ALLOWED = 10  # per phone address in 10 minutes, then refused unchecked
# A public form takes this many submissions per phone address an hour (a person fills a
# consultation once or twice; a script filling it in a loop fills the SD card).
PUBLIC_SUBMISSIONS_PER_HOUR = 30
# Names a form's languages go by in XLSForms ("French (fr)", or a bare name).
LANGUAGE_NAMES = {
    "fr": ("french", "français", "francais"),
    "en": ("english",),
    "bm": ("bambara", "bamanankan"),
    "snk": ("soninke", "sooninkanxanne"),
    "ff": ("fula", "fulah", "pulaar", "fulfulde"),
}
_TRANSLATION = re.compile(r"<translation\b[^>]*>")


def _login_failures() -> throttle.Recent:
    return current_app.extensions.setdefault(
        "espace.webforms_logins", throttle.Recent(600.0, LOGIN_FAILURES_ALLOWED)
    )


def _public_sent() -> throttle.Recent:
    return current_app.extensions.setdefault(
        "espace.webforms_public", throttle.Recent(3600.0, PUBLIC_SUBMISSIONS_PER_HOUR)
    )


def enumerator() -> str:
    """The enumerator logged in on this phone (still active), or ''."""
    name = session.get(KEY)
    if not isinstance(name, str) or name not in digest.enumerators():
        return ""
    return name


def _open_form(form_id: str) -> dict:
    form = forms.current(form_id)
    if form is None or form["state"] != "open":
        abort(404)
    return form


def _may_fill(form: dict) -> bool:
    return bool(form["web_public"]) or bool(enumerator())


def form_language(xml: str, code: str) -> str | None:
    """The name of the form's translation in language ``code`` ("French (fr)"), or None."""
    names = LANGUAGE_NAMES.get(code, ())
    for tag in _TRANSLATION.findall(xml):
        m = re.search(r'\blang="([^"]*)"', tag)
        if not m:
            continue
        lang = m.group(1)
        low = lang.lower()
        if f"({code})" in low or low.split(" (")[0].strip() in names:
            return lang
    return None


def in_language(xml: str, lang: str | None) -> str:
    """The XForm with translation ``lang`` as its default (what Web Forms shows first)."""
    if not lang:
        return xml

    def mark(m: re.Match) -> str:
        tag = re.sub(r'\s+default="[^"]*"', "", m.group(0))
        if f'lang="{lang}"' in tag:
            tag = tag.replace("<translation", '<translation default="true()"', 1)
        return tag

    return _TRANSLATION.sub(mark, xml)


@bp.get("/")
def index():
    return render_template(
        "surveys/web_index.html", forms=forms.forms(open_only=True), enumerator=enumerator()
    )


@bp.route("/login", methods=["GET", "POST"])
def login():
    nxt = request.values.get("next", "")
    if not nxt.startswith("/forms/") or "//" in nxt:
        nxt = url_for(".index")
    error = ""
    if request.method == "POST":
        address = request.remote_addr or ""
        name = request.form.get("username", "").strip()[:64]
        password = request.form.get("password", "")[:200]
        if not csrf.valid():
            error = _("The page was too old. Please try again.")
        elif _login_failures().blocked(address):
            error = _("Too many wrong passwords. Wait ten minutes, then try again.")
        elif digest.password_ok(name, password):
            session[KEY] = name
            return redirect(nxt)
        else:
            _login_failures().note(address)
            error = _("This name and password do not match an enumerator of this box.")
    status = 400 if error else 200
    return render_template("surveys/web_login.html", error=error, next=nxt), status


@bp.post("/logout")
@csrf.protect
def logout():
    session.pop(KEY, None)
    return redirect(url_for(".index"))


def _map_config() -> dict | None:
    """The commune's map for location questions, when the box has the map's pages."""
    site = current_app.config["SITE"]
    if not site.map.area:
        return None
    try:
        base = url_for("maps.static", filename="vendor/")
        tiles = url_for("maps.tiles")
    except BuildError:
        return None
    return {
        "area": list(site.map.area),
        "leafletCss": base + "leaflet-1.9.4/leaflet.css",
        "leafletJs": base + "leaflet-1.9.4/leaflet.js",
        "protomapsJs": base + "protomaps-leaflet-5.1.0/protomaps-leaflet.js",
        "tiles": tiles,
        "box": list(site.map.box_location) or None,
    }


def _strings() -> dict[str, str]:
    return {
        "sending": _("Sending…"),
        "sent": _("Sent. Thank you! You can fill the form again for someone else."),
        "offline": _(
            "The box could not be reached. Your answers are still on this page: "
            "come closer to the Wi-Fi and press Send again."
        ),
        "tooLarge": _(
            "The files are too large: at most %(mb)s MB in all. Choose a smaller photo "
            "or a shorter recording.",
            mb=_mb(),
        ),
        "where": _("Where is it?"),
        "noGps": _(
            "This phone cannot give its position here. Tap the place on the map, or type its name."
        ),
        "placeName": _("Name of the village or quarter"),
        "usePoint": _("Use this point"),
        "cancel": _("Cancel"),
        "sound": _("Record or choose a sound"),
        "remove": _("Remove"),
        "noPlace": _("No place of this name. Try another spelling, or tap the map."),
        "kept": _("Forms filled on this phone and not sent yet: %(n)s", n="{n}"),
        "sendKept": _("Send them now"),
    }


def _web_forms_words() -> dict[str, str]:
    """Web Forms 0.22's own words (English only in its bundle) in the visitor's language:
    the page replaces a text (or an aria-label, alt, placeholder or title) that is exactly
    one of these keys, a number standing for ``{n}`` (webform.js). The keys are the
    bundle's strings as rendered; tests/surveys/web_forms_english.py reads them from the
    bundle and a test fails when one has no entry here."""
    n = "{n}"  # filled in by the page with the number Web Forms shows
    return {
        "Send": _("Send"),
        "Get location": _("Get location"),
        "Choose image": _("Choose a photo"),
        "Take picture": _("Take a photo"),
        "Captured image preview": _("The photo taken"),
        "Finding your location": _("Finding the place"),
        "Save location": _("Save this place"),
        "Cancel": _("Cancel"),
        "Try again": _("Try again"),
        "Remove": _("Remove"),
        "Add": _("Add"),
        "Good accuracy": _("Good precision"),
        "Poor accuracy": _("Poor precision"),
        "Unknown accuracy": _("Precision unknown"),
        # The location: "Accuracy: 500 m," "Latitude: 14.54," "Longitude: -9.18." and,
        # in the dialog, "500 m - Poor accuracy".
        "Accuracy: {n} m,": _("Precision: %(n)s m,", n=n),
        "Latitude: {n},": _("Latitude: %(n)s,", n=n),
        "Longitude: {n}.": _("Longitude: %(n)s.", n=n),
        "{n} m - Good accuracy": _("%(n)s m: good precision", n=n),
        "{n} m - Poor accuracy": _("%(n)s m: poor precision", n=n),
        "{n} m - Unknown accuracy": _("%(n)s m: precision unknown", n=n),
        "Location will be saved at {n} m": _(
            "The place is saved once it is known to %(n)s m.", n=n
        ),
        "Previous saved location at {n} m": _("Place saved before: within %(n)s m.", n=n),
        "Time taken to capture location:": _("Time taken to find the place:"),
        "Condition not satisfied: required": _("This answer is required."),
        "Condition not satisfied: constraint": _("This answer is not accepted: check it."),
        "Cannot access location": _("No place chosen"),
        "Grant location permission in the browser settings and make sure location is turned on.": _(
            "Choose the place on the map or by its name."
        ),
        # The form's own start location (start-geopoint), which the page answers "denied".
        (
            "Location unavailable. Enable GPS and browser permissions, "
            "then restart the form to try again."
        ): _("This phone gives no position here: the form is sent without it."),
        "Okay": _("OK"),
        "Change language": _("Choose your language"),
        "change language": _("Choose your language"),
        "1 question with error.": _("Some answers are missing or wrong: see the questions in red."),
        "{n} questions with errors.": _(
            "Some answers are missing or wrong: see the questions in red."
        ),
        "An error occurred while loading this form": _(
            "This form could not be opened: tell the facilitator."
        ),
        "Technical error details": _("Details for the technician"),
        "Unable to load map": _("The map could not be shown."),
        "Rank items": _("Put them in order"),
        "Repeat Item": _("Item"),
        # Web Forms 0.22's placeholder for a sound or a file (the page puts an input there).
        "🚧 Support for non-image uploads is pending. 🚧": _(
            "This kind of file cannot be chosen here."
        ),
        # Map questions (placement-map, geotrace, geoshape: Web Forms' MapBlock).
        "Save": _("Save"),
        "Delete": _("Delete"),
        "Undo last change": _("Undo the last change"),
        "Full Screen": _("Full screen"),
        "Zoom to fit": _("Show it all"),
        "Zoom to current location": _("Show my position"),
        "Point saved": _("Saved"),
        "Trace saved": _("Saved"),
        "Shape saved": _("Saved"),
        "Feature saved": _("Saved"),
        "Graphics issue detected": _("This phone cannot draw the map."),
        "Enter as: Lat Long Alt Acc (e.g. 45.5 -122.6 15 2; 45.6 -122.7 12 3)": _(
            "Latitude, longitude, altitude, precision (e.g. 14.54 -9.18 0 5)"
        ),
        # The footer under the form ("Powered by" and ODK's logo, linked to getodk.org).
        "Powered by": _("Made with"),
    }


def _primevue_locale() -> dict:
    """PrimeVue's words (Web Forms' date picker, its lists) in the visitor's language, for
    ``$primevue.config.locale``: day and month names from CLDR where it has the language
    (fr, en, bm, ff), else the catalogue's weekdays and months as numbers (Soninke; never
    another language's month names, as ``i18n.day_label``); weeks start on Monday, dates
    are day/month/year as in Mali."""
    language = g.language
    sunday_first = [6, 0, 1, 2, 3, 4, 5]
    if language.formats.split("_")[0] == language.code:
        wide = get_day_names("wide", locale=language.formats)
        short = get_day_names("abbreviated", locale=language.formats)
        tiny = get_day_names("short", locale=language.formats)
        days = [wide[d] for d in sunday_first]
        days_short = [short[d] for d in sunday_first]
        days_min = [tiny[d] for d in sunday_first]
        months = list(get_month_names("wide", "stand-alone", language.formats).values())
        months_short = list(
            get_month_names("abbreviated", "stand-alone", language.formats).values()
        )
    else:
        days = [str(i18n.WEEKDAYS[d]) for d in sunday_first]
        days_short = [d[:3] for d in days]
        days_min = [d[:2] for d in days]
        months = months_short = [str(m) for m in range(1, 13)]

    def capital(names: list[str]) -> list[str]:
        return [n[:1].upper() + n[1:] for n in names]

    nothing = _("Nothing found.")
    return {
        "dayNames": capital(days),
        "dayNamesShort": capital(days_short),
        "dayNamesMin": capital(days_min),
        "monthNames": capital(months),
        "monthNamesShort": capital(months_short),
        "firstDayOfWeek": 1,
        "dateFormat": "dd/mm/yy",
        "today": _("Today"),
        "clear": _("Clear"),
        "chooseYear": _("Choose the year"),
        "chooseMonth": _("Choose the month"),
        "chooseDate": _("Choose the day"),
        "prevMonth": _("Previous month"),
        "nextMonth": _("Next month"),
        "prevYear": _("Previous year"),
        "nextYear": _("Next year"),
        "prevDecade": _("Previous ten years"),
        "nextDecade": _("Next ten years"),
        "emptyMessage": nothing,
        "emptySearchMessage": nothing,
        "emptyFilterMessage": nothing,
        "emptySelectionMessage": nothing,
        "aria": {"close": _("Close")},
    }


@bp.get("/<form_id>/")
def fill(form_id: str):
    form = _open_form(form_id)
    if not _may_fill(form):
        return redirect(url_for(".login", next=request.path))
    lang = form_language(form["xml"], g.lang)
    site = current_app.config["SITE"]
    data = {
        "formXml": url_for(".form_xml", form_id=form_id),
        "media": url_for(".media", form_id=form_id, name="NAME"),
        "submit": url_for(".submit", form_id=form_id),
        "csrf": csrf.token(),
        "maxBytes": _limit(),
        "username": enumerator(),
        "strings": _strings(),
        "words": _web_forms_words(),
        "primevue": _primevue_locale(),
        "places": [
            {"name": v["name"], "lat": v["lat"], "lon": v["lon"]} for v in site.map.villages
        ],
        "map": _map_config(),
    }
    wf = web_assets.folder("@getodk/web-forms")
    imports = {
        "vue": web_assets.url(f"{web_assets.folder('vue')}/vue.runtime.esm-browser.prod.js"),
        "@getodk/web-forms": web_assets.url(f"{wf}/index.js"),
    }
    return render_template(
        "surveys/web_fill.html",
        form=form,
        has_language=lang is not None,
        data=data,
        importmap=json.dumps({"imports": imports}),
        assets=web_assets,
    )


@bp.get("/<form_id>/form.xml")
def form_xml(form_id: str):
    form = _open_form(form_id)
    if not _may_fill(form):
        abort(403)
    xml = in_language(form["xml"], form_language(form["xml"], g.lang))
    resp = Response(xml, 200, content_type="text/xml; charset=utf-8")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.get("/<form_id>/media/<name>")
def media(form_id: str, name: str):
    from flask import send_file

    form = _open_form(form_id)
    if not _may_fill(form):
        abort(403)
    for m in forms.media_of(form_id):
        if m["name"] == name:
            path = blobs.path_for(current_app.config["SITE"].data_dir, m["sha256"])
            return send_file(path, mimetype=m["mime"], conditional=True, etag=m["sha256"])
    abort(404)


@bp.get("/assets/<path:name>")
def asset(name: str):
    return web_assets.serve(name)


def _limit() -> int:
    return int(current_app.config.get("MAX_CONTENT_LENGTH") or 10_000_000)


def _mb() -> str:
    return f"{_limit() / 1_000_000:.1f}".removesuffix(".0")


def _answer(status: int, message: str, ok: bool = False) -> Response:
    resp = jsonify({"ok": ok, "message": message})
    resp.status_code = status
    return resp


def refusal_text(status: int) -> str:
    """What the visitor reads for a refused submission (the technical reason is logged)."""
    mb = _mb()
    return {
        403: _("This form is closed: it takes no more answers."),
        404: _("This form is no longer on this box."),
        409: _("This form changed while you were filling it. Reload the page and fill it again."),
        413: _(
            "The files are too large: at most %(mb)s MB in all. Choose a smaller photo "
            "or a shorter recording.",
            mb=mb,
        ),
        415: _("A file is not a photo, a sound or a video this form accepts."),
    }.get(status, _("The answers could not be read. Reload the page and try again."))


@bp.post("/<form_id>/submission")
def submit(form_id: str):
    form = forms.current(form_id)
    if form is None:
        return _answer(404, refusal_text(404))
    if not _may_fill(form):
        return _answer(403, _("Log in as an enumerator to send this form."))
    who = enumerator()
    address = request.remote_addr or ""
    if not who and _public_sent().blocked(address):
        return _answer(
            429, _("Many forms were sent from this phone in the last hour. Try again later.")
        )
    limit = _limit()
    if request.content_length is not None and request.content_length > limit:
        return _answer(413, refusal_text(413))
    try:
        files = request.files
        valid = csrf.valid()
    except RequestEntityTooLarge:
        return _answer(413, refusal_text(413))
    if not valid:
        return _answer(400, _("The page was too old. Reload it and try again."))
    xml_part = files.get("xml_submission_file")
    if xml_part is None:
        return _answer(400, refusal_text(400))
    xml = xml_part.stream.read(submissions.MAX_XML_BYTES + 1)
    attachments = [
        submissions.Attachment(f.filename or key, f.mimetype, f.stream)
        for key, f in files.items(multi=True)
        if key != "xml_submission_file"
    ]
    try:
        if submissions.parse(xml)[0] != form_id:
            raise submissions.Refused(400, "the XML names another form")
        result = submissions.store(
            current_app.config["SITE"].data_dir, xml, attachments, who, limit
        )
    except submissions.Refused as e:
        current_app.logger.info("browser submission for %s refused: %s", form_id, e.message)
        return _answer(e.status, refusal_text(e.status))
    if not who and result.status == 201:
        _public_sent().note(address)  # memory only: nothing of the phone is stored
    return _answer(result.status, _("Sent. Thank you!"), ok=True)
