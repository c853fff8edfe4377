"""Web Forms' own English, read from the vendored bundle (not listed by hand), so that a
test covers strings nobody saw on a screen and a newer Web Forms' new words show up.

Web Forms 0.22 has no message catalogue: its words are literals in its compiled Vue
components (a text child, a concatenation around ``toDisplayString``, a ``label``
prop, a message assigned to a ref), in the XForms engine's validation messages, and in
PrimeVue's default locale. Each is found by the position it is rendered from; for a
concatenation ("Accuracy: " + value + " m,") each literal piece is a string of its own.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from surveys import web_assets

ROOT = Path(__file__).resolve().parents[2]
_LIT = r'"((?:[^"\\\n]|\\.)*)"'
# A call's argument: a literal, toDisplayString(...) (two levels of parentheses inside).
_DISPLAY = r"toDisplayString\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)"
_PIECES = rf'(?:"(?:[^"\\\n]|\\.)*"|{_DISPLAY}|\s*\+\s*)+'
_RENDERED = [
    # createElementVNode("span", props, "Text" [+ toDisplayString(...) + " more"])
    re.compile(
        r'create(?:ElementVNode|ElementBlock)\("[\w-]+", (?:null|[\w$]+|\{[^{}]*\}), '
        rf"({_PIECES})"
    ),
    re.compile(rf"createTextVNode\(({_PIECES})"),
    re.compile(rf"{_DISPLAY}((?:\s*\+\s*(?:{_LIT}|{_DISPLAY}))+)"),
    # a component's or an element's prop shown to people
    re.compile(
        rf'(?:\blabel|placeholder|\btitle|\balt|\bheader|"aria-label"|ariaLabel|literal): {_LIT}'
    ),
    # constants of a component's texts (DIALOG_TITLE: "...", DETAILS_SUMMARY_LABEL: ...)
    re.compile(rf"\b[A-Z_]*(?:TITLE|LABEL|MESSAGE)\w*: {_LIT}"),
    # a message put in a ref, or chosen by a computed: x.value = "..."; n === 1 ? "..." : `${n} ...`
    re.compile(rf"\.value = {_LIT}"),
    re.compile(rf"\? {_LIT} : (?:`\$\{{\w+\}}([^`]*)`|{_LIT})?"),
    # the engine's validation messages, and the labels tables (GEOPOINT_ACCURACY_QUALITY_LABEL)
    re.compile(r'"(Condition not satisfied: \w+)"'),
    re.compile(r"_LABEL = \{([^{}]*)\}"),
]
# Prose: starts as a sentence does (or with an emoji), no markup or code punctuation;
# a single word only when capitalised and not an identifier (CheckIcon, GET, POST);
# a phrase may start in lower case ("questions with errors.", the tail of "3 questions").
_PROSE = re.compile(r"^(?:[A-Z0-9\U0001F300-\U0001FAFF][^{}<>$=]*|[a-z]+(?: [a-z]+)+[.:]?)$")
_IDENTIFIER = re.compile(r"^(?:[A-Z][a-z]+){2,}$|^[A-Z_]+$")
BRANDS = {"ODK"}


def _strings_in(text: str) -> set[str]:
    found: set[str] = set()
    for pattern in _RENDERED:
        for m in pattern.finditer(text):
            for group in m.groups():
                if not group:
                    continue
                # a concatenation or a table: its quoted literals; else the literal itself
                is_list = group.lstrip().startswith(('"', "toDisplayString", "+", "["))
                found.update(re.findall(_LIT, group) if is_list else [group])
    return found


def _primevue_locale(text: str) -> set[str]:
    """Values of PrimeVue's default locale (dates, empty lists, aria labels)."""
    m = re.search(r"\n  locale: \{\n(.*?)\n  \},\n", text, re.S)
    return set(re.findall(_LIT, m.group(1))) if m else set()


@cache
def english() -> frozenset[str]:
    """Every English string Web Forms (and its PrimeVue) may show, stripped."""
    folder = ROOT / "surveys" / "static" / "vendor" / web_assets.folder("@getodk/web-forms")
    found: set[str] = set()
    for path in folder.glob("*.js"):
        text = path.read_text(encoding="utf-8")
        found |= _strings_in(text) | _primevue_locale(text)
    words = {s.strip(" {}") for s in found}
    return frozenset(
        s
        for s in words
        if _PROSE.match(s)
        and re.search(r"[a-z]{2}", s)
        and not _IDENTIFIER.match(s)
        and s not in BRANDS
    )


def web_forms_own() -> frozenset[str]:
    """The strings of Web Forms' components and engine, PrimeVue's locale apart."""
    folder = ROOT / "surveys" / "static" / "vendor" / web_assets.folder("@getodk/web-forms")
    locale: set[str] = set()
    for path in folder.glob("*.js"):
        locale |= {s.strip() for s in _primevue_locale(path.read_text(encoding="utf-8"))}
    own: set[str] = set()
    for path in folder.glob("*.js"):
        own |= {s.strip() for s in _strings_in(path.read_text(encoding="utf-8"))}
    return frozenset(s for s in english() if s in own or s not in locale)


def english_in(text: str) -> list[str]:
    """The English strings of Web Forms that ``text`` (one text node) shows: a phrase or
    the head of a concatenation ("Accuracy:" of "Accuracy: 500 m,") anywhere in it, a
    single word only as the whole text."""
    text = " ".join(text.split())
    hits = []
    for s in english():
        if " " in s or s.endswith(":"):
            if re.search(rf"(?<!\w){re.escape(s)}(?!\w)", text):
                hits.append(s)
        elif text == s or text.rstrip(".:,") == s:
            hits.append(s)
    return sorted(hits)


# Words of English sentences that are words of none of French, Bambara, Soninke, Pulaar:
# a text with two of them is English, whatever made it (an engine's error message).
_ENGLISH_WORDS = frozenset(
    [
        "the",
        "to",
        "for",
        "of",
        "is",
        "are",
        "was",
        "be",
        "your",
        "with",
        "this",
        "that",
        "and",
        "not",
        "could",
        "cannot",
        "failed",
        "unable",
        "error",
        "please",
    ]
)


def looks_english(text: str) -> bool:
    return len(set(re.findall(r"[a-z]+", text.lower())) & _ENGLISH_WORDS) >= 2
