"""Languages on the wire: the visitor's choice (a cookie), Flask-Babel, right to left.

Catalogues live in ``appliance/translations/<code>/LC_MESSAGES/messages.po`` and are
compiled to ``.mo`` (``pybabel compile -d appliance/translations``); a test checks
that every ``.mo`` matches its ``.po``. A catalogue is found by our language code,
not by a CLDR locale, because Soninke and Hassaniya have none.
"""

from __future__ import annotations

import re
from pathlib import Path

from babel import support
from babel.dates import format_date
from flask import Flask, Response, current_app, g, has_request_context, request
from flask_babel import Babel, Domain, lazy_gettext

from .languages import LANGUAGES, Language

COOKIE = "lang"
TRANSLATIONS = Path(__file__).parent / "translations"


# A string a draft catalogue lacks shows in French between these two private-use
# characters; before the page leaves, text gets <span lang="fr">…</span> around it (screen
# readers then read it as French, and tests find it), attributes lose the marks.
OPEN, CLOSE = "\ue000", "\ue001"
_TAGS = re.compile(r"(<[^>]*>)")
# Elements whose text is not markup: a span inside would show as text or be dropped.
_RAW = ("title", "textarea", "option", "script", "style")


class _MarkedFrench(support.NullTranslations):
    """French as the fallback of a draft: each string it gives is marked (in a request;
    the CLI, the worker and SMS get it plain)."""

    def __init__(self, french: support.Translations) -> None:
        super().__init__()
        self.french = french

    @staticmethod
    def _mark(text: str) -> str:
        return OPEN + text + CLOSE if text and has_request_context() else text

    def gettext(self, message: str) -> str:
        return self._mark(self.french.gettext(message))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._mark(self.french.ngettext(singular, plural, n))

    def pgettext(self, context: str, message: str) -> str:
        return self._mark(self.french.pgettext(context, message))

    def npgettext(self, context: str, singular: str, plural: str, n: int) -> str:
        return self._mark(self.french.npgettext(context, singular, plural, n))

    ugettext = gettext
    ungettext = ngettext


def mark_fallbacks(html: str) -> str:
    """``<span lang="fr">`` around the French fallbacks in text; marks dropped elsewhere."""
    if OPEN not in html:
        return html
    out = []
    raw = ""
    for part in _TAGS.split(html):
        if part.startswith("<"):
            name = part[1:].split(None, 1)[0].rstrip(">/").lower() if len(part) > 2 else ""
            if name in _RAW:
                raw = name
            elif name == "/" + raw:
                raw = ""
            out.append(unmark(part))
        elif raw:
            out.append(unmark(part))
        else:
            out.append(part.replace(OPEN, '<span lang="fr">').replace(CLOSE, "</span>"))
    return "".join(out)


def unmark(text: str) -> str:
    return text.replace(OPEN, "").replace(CLOSE, "")


class _Corrected(support.NullTranslations):
    """A catalogue with the corrections facilitators made at the kiosk on top."""

    def __init__(self, fixes: dict[str, str], base: support.NullTranslations) -> None:
        super().__init__()
        self.fixes = fixes
        self.add_fallback(base)

    def gettext(self, message: str) -> str:
        return self.fixes.get(message) or self._fallback.gettext(message)

    ugettext = gettext


def _labels_version() -> int:
    from .labels.web import labels_version

    return labels_version()


class LanguageDomain(Domain):
    """A gettext domain keyed by the visitor's language code (``g.lang``), with the
    labels corrected at the kiosk (:mod:`appliance.labels`) over the catalogue."""

    def get_translations(self):  # type: ignore[override]
        code = getattr(g, "lang", None) or "fr"
        version = _labels_version() if has_request_context() else 0
        key = (code, version)
        found = self.cache.get(key)
        if found is None:
            base = self._catalogue(code)
            fixes = {}
            if version:
                from .labels.rules import corrections

                fixes = corrections(code)
            found = _Corrected(fixes, base) if fixes else base
            if len(self.cache) > 64:  # old versions of the corrections
                self.cache.clear()
            self.cache[key] = found
        return found

    def _catalogue(self, code: str):
        catalogues = self.__dict__.setdefault("catalogues", {})
        found = catalogues.get(code)
        if found is None:
            found = support.Translations.load(str(TRANSLATIONS), [code], "messages")
            if code not in ("fr", "en"):
                # A string not yet translated shows in French, the reference, not in
                # the developers' English.
                found.add_fallback(_MarkedFrench(
                    support.Translations.load(str(TRANSLATIONS), ["fr"], "messages")))
            catalogues[code] = found
        return found


WEEKDAYS = (lazy_gettext("Monday"), lazy_gettext("Tuesday"), lazy_gettext("Wednesday"),
            lazy_gettext("Thursday"), lazy_gettext("Friday"), lazy_gettext("Saturday"),
            lazy_gettext("Sunday"))


def day_label(day) -> str:
    """A date as the visitor's language writes it: from CLDR where it has the language
    (fr, en, bm, ff: "Ntɛnɛ 30 nowanburu"), else the catalogue's weekday and the day
    as digits (Soninke: "Tenen 30/11"), never another language's month names."""
    language = getattr(g, "language", None) or LANGUAGES["fr"]
    if language.formats.split("_")[0] == language.code:
        text = format_date(day, "EEEE d MMMM", locale=language.formats)
        return text[:1].upper() + text[1:]
    return f"{WEEKDAYS[day.weekday()]} {day:%d/%m}"


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

    app.add_template_filter(day_label, "day")
    from .labels import web as labels_web

    labels_web.init_app(app)

    @app.after_request
    def _mark_french_fallbacks(response: Response) -> Response:
        # Registered after Flask-Compress, so it runs before it: the body is still text.
        if (response.direct_passthrough or response.is_streamed
                or "Content-Encoding" in response.headers
                or not (response.mimetype or "").startswith(("text/", "application/json"))):
            return response
        body = response.get_data(as_text=True)
        if OPEN in body:
            html = response.mimetype == "text/html"
            response.set_data(mark_fallbacks(body) if html else unmark(body))
        return response

    @app.context_processor
    def _language_context() -> dict:
        return {"language": getattr(g, "language", LANGUAGES["fr"]),
                "languages": offered(app)}
