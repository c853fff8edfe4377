"""Displaying text people typed without letting it turn the page around it.

A post, a name or an answer may carry Unicode direction controls: U+202E
(right-to-left override) in a name reverses everything after it on the line, on the
box's pages and on central's. :func:`contain` closes every embedding, override and
isolate a text opens and wraps it in a first-strong isolate (FSI ... PDI): the text
keeps its own direction, the page around it keeps its order. Both apps apply it to
every value their templates print (:func:`init_jinja`); the templates also put user
text in ``<bdi>``/``dir="auto"`` where Arabic-script or N'Ko text sits among French.
Shared by box and central because both show the same synced texts.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

_EMBEDDINGS = "\u202a\u202b\u202d\u202e"  # LRE RLE LRO RLO, closed by PDF
_PDF = "\u202c"
_ISOLATES = "\u2066\u2067\u2068"  # LRI RLI FSI, closed by PDI
_PDI = "\u2069"
CONTROLS = frozenset(_EMBEDDINGS + _PDF + _ISOLATES + _PDI)


def contain(text: str) -> str:
    """``text`` unchanged if it has no direction controls; else with what it opens
    closed at its end, the whole in an isolate of its own."""
    if not CONTROLS.intersection(text):
        return text
    embeddings = isolates = 0
    for c in text:
        if c in _EMBEDDINGS:
            embeddings += 1
        elif c == _PDF:
            embeddings = max(0, embeddings - 1)
        elif c in _ISOLATES:
            isolates += 1
        elif c == _PDI:
            isolates = max(0, isolates - 1)
    return "\u2068" + text + _PDF * embeddings + _PDI * isolates + _PDI


def _finalize(value: Any) -> Any:
    if isinstance(value, str) and not isinstance(value, Markup):
        return contain(value)
    return value


def init_jinja(app) -> None:
    """Contain every string a template of ``app`` prints (before escaping)."""
    app.jinja_env.finalize = _finalize
