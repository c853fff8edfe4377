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

from pathlib import Path

from flask import Flask, g, has_request_context
from flask_babel import Babel, gettext, lazy_gettext, ngettext

TRANSLATIONS = Path(__file__).parent / "translations"
DEFAULT = "fr"
# Code -> the language's own name (what the switch in the header shows). Adding a
# language: a catalogue under TRANSLATIONS and a line here (docs/central.md says how).
LANGUAGES: dict[str, str] = {"fr": "Français", "en": "English"}
# Mali's time is UTC all year: dates shown are the day in Kayes.
TIMEZONE = "Africa/Bamako"

_ = gettext
_l = lazy_gettext
__all__ = ["DEFAULT", "LANGUAGES", "_", "_l", "current", "init_app", "ngettext"]


def current() -> str:
    """The language of this request: the logged-in admin's choice, else French.
    Outside a request (the CLI) messages stay in English, the msgids."""
    if not has_request_context():
        return "en"
    admin = g.get("admin")
    code = getattr(admin, "language", None) or DEFAULT
    return code if code in LANGUAGES else DEFAULT


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", TIMEZONE)
    Babel(app, locale_selector=current, default_translation_directories=str(TRANSLATIONS))

    @app.context_processor
    def _languages() -> dict:
        return {"lang": current(), "languages": LANGUAGES}
