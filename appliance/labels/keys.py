"""What a facilitator can correct and record: the labels of the visitor paths."""

from __future__ import annotations

from flask_babel import gettext

# The strings a visitor meets on the paths that need no reading: home, asking by voice,
# booking a seat (tiles, buttons, headings), in the order of the paths.
SCREEN_MSGIDS = (
    "Welcome", "Enter", "Choose your language", "Home",
    "Learn", "Ask your officials", "Programme", "About this space",
    "Library", "Search",
    "Ask a question", "Make a proposal", "Record", "Stop", "Record again",
    "A question", "A proposal", "For", "Theme", "Send",
    "Thank you, your message is saved.", "Its code, to find it again:", "See my message",
    "Back to the board",
    "Today", "Book my seat", "Join the waiting list",
    "Your seat is booked. Show this code at the door.",
    "Your code", "Cancel my booking",
)
SIGNS = "0123456789ABCDEFGHJKMNPQRSTUVWXYZ"  # digits, and the letters of board codes


def theme_key(theme: dict) -> str:
    """A theme named by the catalogue shares its string's label; one the site names
    itself has its own."""
    from ..board.messages import THEME_LABELS

    if not theme.get("label") and theme["id"] in THEME_LABELS:
        return "msg:" + THEME_LABELS[theme["id"]]._args[0]
    return "theme:" + theme["id"]


def groups() -> dict[str, str]:
    return {"screens": gettext("Screens"), "officials": gettext("Officials"),
            "themes": gettext("Themes"), "sessions": gettext("Sessions"),
            "signs": gettext("Digits and letters"), "all": gettext("Every text")}


def every_msgid() -> list[str]:
    """Every string of the catalogues' template, in its order (read once)."""
    global _EVERY
    if _EVERY is None:
        from babel.messages.pofile import read_po

        from ..i18n import TRANSLATIONS

        with open(TRANSLATIONS / "messages.pot", "rb") as f:
            _EVERY = [m.id for m in read_po(f) if m.id and isinstance(m.id, str)]
    return _EVERY


_EVERY: list[str] | None = None


def labels_of(group: str, site, lang: str = "") -> list[tuple[str, str]]:
    """(key, what the facilitator reads) of every label of ``group``; ``lang``'s own
    name heads the screens (it is spoken in that language on the chooser)."""
    from ..board.messages import theme_label
    from ..models import Official
    from ..programme.models import Session

    if group == "screens":
        from ..languages import LANGUAGES

        own = [(f"lang:{lang}", LANGUAGES[lang].own_name)] if lang in LANGUAGES else []
        return own + [("msg:" + m, gettext(m)) for m in SCREEN_MSGIDS]
    if group == "officials":
        from ..models import Commune

        councils = [(f"council:{c.name}", gettext("Council of %(commune)s", commune=c.name))
                    for c in Commune.select().order_by(Commune.name)]
        return councils + [(f"official:{o.name}", o.name + (f" – {o.role}" if o.role else ""))
                           for o in Official.select().order_by(Official.name)]
    if group == "themes":
        return [(theme_key(t), theme_label(t)) for t in site.board.themes]
    if group == "sessions":
        titles = sorted({s.title for s in Session.select(Session.title).limit(500)})
        return [(f"session:{t}", t) for t in titles]
    if group == "signs":
        return [(f"char:{c}", c) for c in SIGNS]
    if group == "all":
        return [("msg:" + m, gettext(m)) for m in every_msgid()]
    return []
