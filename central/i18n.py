"""Central's languages: French by default, English too, each admin's own choice.

Central has its own catalogues, apart from the box's (central imports nothing of the
box): ``central/translations/<code>/LC_MESSAGES/messages.po``, extracted with
``central/babel.cfg`` and compiled to ``.mo`` by ``scripts/central-i18n-update``; a test
checks that every ``.mo`` matches its ``.po`` and that French translates every string.
The msgids are English, so English needs no catalogue.

Views and flash messages use :func:`_` (``gettext``) or, for text built at import time or
raised in :class:`central.service.CentralError`, :func:`_l` (``lazy_gettext``: translated
when shown, in the reader's language; outside a request, such as the CLI, it stays
English). Templates have ``_()`` and ``ngettext()``, and Flask-Babel's filters
``dateformat``, ``datetimeformat`` and ``decimalformat`` for dates and numbers as French
writes them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import Flask, g, has_request_context, render_template, request
from flask_babel import (
    Babel,
    format_date,
    format_datetime,
    format_decimal,
    format_percent,
    gettext,
    lazy_gettext,
    ngettext,
)
from werkzeug.exceptions import HTTPException

TRANSLATIONS = Path(__file__).parent / "translations"
DEFAULT = "fr"
# Code -> the language's own name (what the switch in the header shows). Adding a
# language: a catalogue under TRANSLATIONS and a line here (docs/central.md says how).
LANGUAGES: dict[str, str] = {"fr": "Français", "en": "English"}
# Mali's time is UTC all year: dates shown are the day in Kayes.
TIMEZONE = "Africa/Bamako"

_ = gettext
_l = lazy_gettext
__all__ = [
    "DEFAULT",
    "LANGUAGES",
    "_",
    "_l",
    "current",
    "day",
    "init_app",
    "label",
    "ngettext",
    "number",
    "percent",
    "when",
]

# Codes stored in the database or synced (never translated there) and what a page
# shows for them; a code not listed shows as it is. The ids boxes send with a French
# name for the exports too (themes, statuses...) are in central/vocabulary.py.
LABELS: dict[str, dict[str, object]] = {
    "source": {"central": _l("typed on central"), "box": _l("typed at the box")},
    "role": {"regional": _l("regional admin"), "national": _l("national viewer")},
    "learning_state": {
        "started": _l("started"),
        "progressed": _l("progressed"),
        "completed": _l("completed"),
    },
    "place_kind": {
        "women_association": _l("Women's association"),
        "youth_group": _l("Youth group"),
        "cooperative": _l("Cooperative"),
        "health_centre": _l("Health centre"),
        "school": _l("School"),
        "town_hall": _l("Town hall"),
        "espace_connecte": _l("Espace connecté"),
        "association": _l("Association"),
        "public_service": _l("Public service"),
    },
    "audit": {
        "admin.create": _l("admin created"),
        "admin.password": _l("password changed"),
        "announcement.create": _l("announcement sent"),
        "answer.create": _l("answer recorded"),
        "file.publish": _l("file published"),
        "login": _l("logged in"),
        "login.failed": _l("login refused"),
        "site.create": _l("site created"),
        "site.enrolled": _l("box enrolled"),
        "site.new_code": _l("new enrolment code"),
        "site.revoke": _l("box revoked"),
    },
}


def label(group: str, code: str | None) -> str:
    """What a page shows for a stored code (``label("audit", "login")``: "connexion";
    ``label("status", "open")`` from :mod:`central.vocabulary`)."""
    from . import vocabulary

    shared = {
        "status": vocabulary.STATUSES,
        "post_kind": vocabulary.POST_KINDS,
        "theme": vocabulary.THEMES,
        "session_kind": vocabulary.SESSION_KINDS,
    }
    if group in shared:
        return vocabulary.english(shared[group], code or "")
    found = LABELS.get(group, {}).get(code or "")
    return str(found) if found is not None else (code or "")


def _instant(value) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    try:
        return dt.datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None


def when(value) -> str:
    """A moment as the reader's language writes it ("25 nov. 2026 10:00"); an ISO
    string as the boxes send is read too; what is not a date shows as it is."""
    moment = _instant(value)
    if moment is None:
        return "" if value is None else str(value)
    return format_datetime(moment, "d MMM y HH:mm")


def day(value, pattern: str = "d MMM y") -> str:
    """A day ("25 nov. 2026"), from a date, a datetime or an ISO string."""
    moment = _instant(value)
    if moment is None:
        return "" if value is None else str(value)
    return format_date(moment.date(), pattern)


def number(value) -> str:
    """1234.5 as "1 234,5" in French; None as a dash."""
    return "—" if value is None else format_decimal(value)


def percent(value) -> str:
    """A share in percent (45 -> "45 %"); None as a dash."""
    return "—" if value is None else format_percent(value / 100)


def current() -> str:
    """The language of this request: the logged-in admin's choice, else French.
    Outside a request (the CLI) messages stay in English, the msgids."""
    if not has_request_context():
        return "en"
    admin = g.get("admin")
    code = getattr(admin, "language", None) or DEFAULT
    return code if code in LANGUAGES else DEFAULT


# What an error page says for each status (Werkzeug's own pages are in English).
ERRORS: dict[int, object] = {
    400: _l("The request could not be read: go back, reload the page and try again."),
    403: _l("You may not do this."),
    404: _l("This page does not exist, or is not in your region."),
    405: _l("This page is not used that way: go back and use its buttons."),
    413: _l("This is too large to send."),
    429: _l("Too many tries: wait a few minutes and try again."),
}


def error_page(e: HTTPException):
    """A page's error in the reader's language; the sync API's (boxes read them, not
    people) stays as it is."""
    if e.code not in ERRORS or request.blueprint == "sync" or request.path.startswith("/sync/"):
        return e
    message = e.description if e.description != type(e).description else ERRORS[e.code]
    return render_template("central/error.html", code=e.code, message=message), e.code


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", TIMEZONE)
    Babel(app, locale_selector=current, default_translation_directories=str(TRANSLATIONS))

    app.register_error_handler(HTTPException, error_page)
    app.add_template_global(label)
    app.add_template_filter(when)
    app.add_template_filter(day)
    app.add_template_filter(number)
    app.add_template_filter(percent)

    @app.context_processor
    def _languages() -> dict:
        return {"lang": current(), "languages": LANGUAGES}
