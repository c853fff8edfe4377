"""What an SMS costs: GSM-7 or UCS-2, how many parts, and texts cut to fit.

An SMS carries 140 bytes: 160 GSM-7 characters (the GSM 03.38 alphabet; the
extension characters ``^{}\\[~]|€`` take two), or 70 UCS-2 characters as soon as
one character is outside that alphabet. Bambara's ɛ ɔ ɲ ŋ are outside it, so one of
them halves a message. A concatenated message loses 7 septets (GSM-7) or 3
characters (UCS-2) per part to its header; we do not rely on concatenation for what
we send (basic phones reassemble it badly, and a lost part loses the whole): long
texts are cut at word boundaries into standalone messages numbered "1/2", "2/2".
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# GSM 03.38 default alphabet (basic table) and its extension table.
BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION = "\f^{}\\[~]|€"
_BASIC = frozenset(BASIC) - {"\x1b"}
_EXT = frozenset(EXTENSION)

SINGLE = {"gsm7": 160, "ucs2": 70}
CONCAT = {"gsm7": 153, "ucs2": 67}

# Letters a GSM-7 phone cannot show, by what a reader of Bambara, Soninke or French
# writes instead on a keyboard without them (ɲ is commonly typed "ny", ŋ "ng").
TRANSLIT = {
    "ɛ": "e",
    "Ɛ": "E",
    "ɔ": "o",
    "Ɔ": "O",
    "ɲ": "ny",
    "Ɲ": "Ny",
    "ŋ": "ng",
    "Ŋ": "Ng",
    "ç": "c",
    "â": "a",
    "ê": "e",
    "î": "i",
    "ô": "o",
    "û": "u",
    "ë": "e",
    "ï": "i",
    "ÿ": "y",
    "Â": "A",
    "Ê": "E",
    "Î": "I",
    "Ô": "O",
    "Û": "U",
    "È": "E",
    "Ë": "E",
    "Ï": "I",
    "À": "A",
    "Ù": "U",
    "œ": "oe",
    "Œ": "OE",
    "’": "'",
    "‘": "'",
    "“": '"',
    "”": '"',
    "«": '"',
    "»": '"',
    "–": "-",
    "—": "-",
    "…": "...",
    "\u00a0": " ",
    "\u202f": " ",
    "\t": " ",
}


def septets(text: str) -> int | None:
    """Length in GSM-7 septets, or None when ``text`` needs UCS-2."""
    n = 0
    for ch in text:
        if ch in _BASIC:
            n += 1
        elif ch in _EXT:
            n += 2
        else:
            return None
    return n


def ucs2_units(text: str) -> int:
    """UTF-16 code units: a character outside the BMP takes two."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Cost:
    encoding: str  # "gsm7" or "ucs2"
    units: int  # septets or UTF-16 code units
    parts: int  # as one (possibly concatenated) message

    @property
    def fits_one(self) -> bool:
        return self.parts == 1


def cost(text: str) -> Cost:
    """Encoding and parts of ``text`` sent as one message (concatenated if long)."""
    n = septets(text)
    encoding = "gsm7" if n is not None else "ucs2"
    units = n if n is not None else ucs2_units(text)
    if units <= SINGLE[encoding]:
        return Cost(encoding, units, 1)
    return Cost(encoding, units, -(-units // CONCAT[encoding]))


def transliterate(text: str) -> str:
    """``text`` in the GSM-7 alphabet as far as a reader would accept: Bambara's
    letters and French accents GSM-7 lacks replaced, other letters stripped of their
    accents; what still does not fit stays (the text then remains UCS-2)."""
    out = []
    for ch in text:
        if ch in _BASIC or ch in _EXT:
            out.append(ch)
        elif ch in TRANSLIT:
            out.append(TRANSLIT[ch])
        else:
            base = unicodedata.normalize("NFD", ch)[0]
            out.append(base if base in _BASIC else ch)
    return "".join(out)


def _width(text: str, encoding: str) -> int:
    return septets(text) if encoding == "gsm7" else ucs2_units(text)  # type: ignore[return-value]


def split(text: str, max_pieces: int = 8, more: str = "…") -> list[str]:
    """``text`` as standalone single-part SMS, cut at word boundaries, each piece
    prefixed "k/n " when there are several. A word longer than a piece is cut inside.
    Beyond ``max_pieces`` the last piece ends with ``more`` (the caller's pointer to the
    full text). Every piece fits one SMS in the encoding of the whole text."""
    text = " ".join(text.split(" ")).strip()
    encoding = cost(text).encoding
    if encoding == "gsm7" and septets(more) is None:
        more = transliterate(more)
    limit = SINGLE[encoding]
    if _width(text, encoding) <= limit:
        return [text]
    for n in range(2, max_pieces + 1):
        pieces = _fill(text, limit - _width(f"{n}/{n} ", encoding), encoding)
        if len(pieces) <= n:
            return [f"{i}/{len(pieces)} {p}" for i, p in enumerate(pieces, 1)]
    room = limit - _width(f"{max_pieces}/{max_pieces} ", encoding)
    pieces = _fill(text, room, encoding)[:max_pieces]
    last = pieces[-1]
    while last and _width(last + " " + more, encoding) > room:
        last = last.rsplit(" ", 1)[0] if " " in last else last[:-1]
    pieces[-1] = (last + " " + more).strip()
    return [f"{i}/{max_pieces} {p}" for i, p in enumerate(pieces, 1)]


def _fill(text: str, room: int, encoding: str) -> list[str]:
    pieces: list[str] = []
    line = ""
    for word in text.replace("\n", " \n ").split(" "):
        if not word:
            continue
        while _width(word, encoding) > room:  # a word longer than a piece
            head = word
            while _width(line + (" " if line else "") + head, encoding) > room:
                head = head[:-1]
            if not head:
                pieces.append(line)
                line = ""
                continue
            pieces.append((line + (" " if line else "") + head).strip())
            line, word = "", word[len(head) :]
        candidate = word if not line else line + (" " if word != "\n" else "") + word
        if _width(candidate, encoding) <= room:
            line = candidate
        else:
            pieces.append(line.strip())
            line = word if word != "\n" else ""
    if line.strip():
        pieces.append(line.strip())
    return pieces
