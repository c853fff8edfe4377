"""Languages a visitor can choose, with their own names and writing direction.

Soninke and Hassaniya have no CLDR locale, so each language names the Babel locale
used to format its dates and numbers (``formats``), while its gettext catalogue is
found under its own code.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str  # gettext catalogue and cookie value
    own_name: str  # the language's name in itself, as shown on the chooser
    formats: str  # Babel locale for dates and numbers
    rtl: bool = False
    icon: str = "lang"  # id of the icon in the sprite


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("fr", "Français", "fr"),
        Language("en", "English", "en"),
        Language("bm", "Bamanankan", "bm"),
        Language("snk", "Sooninkanxanne", "fr"),
        Language("ff", "Pulaar", "ff"),
        # Hassaniya is written in Arabic script, right to left; no catalogue yet.
        Language("mey", "الحسانية", "ar", rtl=True),
    )
}
