"""What an incoming SMS asks for: a keyword (in French, Bambara or Soninke, see
``keywords.toml``), a number answering a list of sessions, or free text (a question).

Pure functions of the text and the site: no database, so the rules and the tests read
the same decisions.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

ACTIONS = ("question", "proposal", "programme", "cancel", "support", "stop", "help")
KEYWORDS_FILE = Path(__file__).with_name("keywords.toml")
BAMBARA_LETTERS = frozenset("ɛɔɲŋƐƆƝŊ")
_SPELLING = {"ɛ": "E", "Ɛ": "E", "ɔ": "O", "Ɔ": "O", "ɲ": "NY", "Ɲ": "NY", "ŋ": "NG", "Ŋ": "NG"}
_BOOK = re.compile(r"(?:R\s*)?(\d{1,2})\s*(FJ|JF|F|J|X)?")
_POST_CODE = re.compile(r"[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}")
UNKNOWN_WORD_MAX = 15  # one word longer than this is read as a (short) question


def norm(text: str) -> str:
    """Capitals without accents, Bambara letters as typed on a plain keyboard, single
    spaces: what keywords are compared in."""
    out = []
    for ch in text:
        ch = _SPELLING.get(ch, ch)
        out.append(
            "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
        )
    return " ".join("".join(out).upper().split())


@functools.cache
def keywords() -> dict:
    data = tomllib.loads(KEYWORDS_FILE.read_text(encoding="utf-8"))
    return {
        lang: {
            action: sorted({norm(w) for w in words}, key=len, reverse=True)
            for action, words in table.items()
        }
        for lang, table in data.items()
    }


@dataclass
class Command:
    action: str  # one of ACTIONS, or "book", "unknown", "empty"
    lang: str = ""  # language of the keyword (or of the letters) when known
    rest: str = ""  # the text after the keyword, as written
    number: int = 0  # the session's number in the list ("book")
    group: str = ""  # "F", "J", "FJ" or "X" for a reserved seat ("book")
    words: list[str] = field(default_factory=list)


def _strip_keyword(text: str, word: str) -> str | None:
    """The text after ``word`` when the message starts with it as a whole word."""
    n = len(word.split(" "))
    tokens = text.split()
    if len(tokens) < n or norm(" ".join(tokens[:n])) != word:
        # "Q:" or "Q," count as "Q".
        first = re.split(r"[\s:,.;!]+", text.strip(), maxsplit=n)
        if len(first) < n or norm(" ".join(first[:n])) != word:
            return None
        return " ".join(first[n:]).strip() if len(first) > n else ""
    return " ".join(tokens[n:]).strip(" :,.;")


def parse(text: str, languages: list[str]) -> Command:
    """Read a message. ``languages`` are the site's SMS languages, in order."""
    text = " ".join((text or "").split())
    if not text:
        return Command("empty")
    n = norm(text)
    if n in ("STOP", "STOP ALL", "STOPALL"):
        return Command("stop")
    m = _BOOK.fullmatch(n)
    if m:
        return Command("book", number=int(m.group(1)), group=m.group(2) or "")
    table = keywords()
    best: tuple[int, str, str, str] | None = None
    for lang in languages:
        for action in ACTIONS:
            for word in table.get(lang, {}).get(action, []):
                rest = _strip_keyword(text, word)
                if rest is not None and (best is None or len(word) > best[0]):
                    best = (len(word), lang, action, rest)
    if best is not None:
        _len, lang, action, rest = best
        if action in ("stop", "help", "programme") and len(rest.split()) > 3:
            best = None  # "Stop the noise at the market..." is a question
        else:
            return Command(action, lang=lang, rest=rest)
    lang = "bm" if BAMBARA_LETTERS & set(text) and "bm" in languages else ""
    if " " not in text and len(text) <= UNKNOWN_WORD_MAX:
        return Command("unknown", lang=lang, rest=text)
    return Command("question", lang=lang, rest=text)


def post_code(rest: str) -> str:
    for token in norm(rest).split():
        if _POST_CODE.fullmatch(token):
            return token
    return ""


def booking_code(rest: str) -> str:
    digits = re.sub(r"\D", "", rest)
    return digits if len(digits) == 6 else ""


@dataclass
class Target:
    commune: str = ""  # a commune's name as the site writes it
    theme: str = ""
    official: str = ""  # the word after "@"
    body: str = ""


def target(rest: str, communes: list[str], themes: list[str]) -> Target:
    """Optional words at the start of a question: a commune, a theme, "@name" of an
    official, in any order. They choose where the post goes and stay in its text
    ("ji tɛ yen" is about water and says so): nothing the sender wrote is dropped."""
    theme_words = {
        norm(w): t
        for t, words in keywords().get("themes", {}).items()
        for w in words
        if t in themes
    }
    theme_words.update({norm(t): t for t in themes})
    by_name = {norm(c): c for c in communes}
    out = Target()
    tokens = rest.split()
    while tokens:
        word = norm(tokens[0]).strip(":,.;")
        if not out.commune and word in by_name:
            out.commune = by_name[word]
        elif not out.theme and word in theme_words:
            out.theme = theme_words[word]
        elif not out.official and tokens[0].startswith("@") and len(tokens[0]) > 1:
            out.official = tokens[0][1:].strip(":,.;")
        else:
            break
        tokens.pop(0)
    out.body = rest.strip()
    return out
