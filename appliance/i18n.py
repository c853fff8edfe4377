"""Languages on the wire: the visitor's choice (a cookie), Flask-Babel, right to left.

Catalogues live in ``appliance/translations/<code>/LC_MESSAGES/messages.po`` and are
compiled to ``.mo`` (``pybabel compile -d appliance/translations``); a test checks
that every ``.mo`` matches its ``.po``. A catalogue is found by our language code,
not by a CLDR locale, because Soninke and Hassaniya have none.
"""

from __future__ import annotations

from pathlib import Path

from babel import support
from flask import Flask, current_app, g, request
from flask_babel import Babel, Domain

from .languages import LANGUAGES, Language

COOKIE = "lang"
TRANSLATIONS = Path(__file__).parent / "translations"


class LanguageDomain(Domain):
    """A gettext domain keyed by the visitor's language code (``g.lang``)."""

    def get_translations(self):  # type: ignore[override]
        code = getattr(g, "lang", None) or "fr"
        cache = self.cache
        try:
            return cache[code]
        except KeyError:
            translations = support.Translations.load(str(TRANSLATIONS), [code], "messages")
            if code not in ("fr", "en"):
                # A string not yet translated shows in French, the reference, not in
                # the developers' English.
                translations.add_fallback(
                    support.Translations.load(str(TRANSLATIONS), ["fr"], "messages"))
            cache[code] = translations
            return translations


def offered(app: Flask | None = None) -> list[Language]:
    site = (app or current_app).config["SITE"]
    return [LANGUAGES[c] for c in site.site.languages]


def choose_language() -> Language:
    """The visitor's language: their cookie if offered, else the site's default."""
    site = current_app.config["SITE"]
    code = request.cookies.get(COOKIE, "")
    if code not in site.site.languages:
        code = site.site.default_language
    return LANGUAGES[code]


def init_app(app: Flask) -> None:
    babel = Babel()
    babel.init_app(app, locale_selector=lambda: g.language.formats,
                   timezone_selector=lambda: app.config["SITE"].site.timezone)
    # Flask-Babel's gettext, lazy_gettext and the templates' _() all go through this
    # domain, so views may use flask_babel.gettext as usual.
    babel.domain_instance = LanguageDomain()

    @app.before_request
    def _set_language() -> None:
        g.language = choose_language()
        g.lang = g.language.code

    @app.context_processor
    def _language_context() -> dict:
        return {"language": getattr(g, "language", LANGUAGES["fr"]),
                "languages": offered(app)}
