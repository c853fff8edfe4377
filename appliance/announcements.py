"""Announcements from central (``central announce``), shown on the portal's home and
the kiosk until they expire.

The sync keeps every pulled ``announcement.created`` record in ``sync_inbox`` (the
pull cursor moves in the same transaction, so a power cut never loses or doubles one);
this module only reads them. A payload has ``uuid`` and ``body``, and optionally
``lang`` (the language ``body`` is written in), ``bodies`` (the same message in other
languages, by language code) and ``expires_at`` (ISO 8601, UTC when no offset is
given). Without ``expires_at`` an announcement is shown for :data:`DEFAULT_DAYS` days
after it arrived.

The landing page is cached per language (:mod:`appliance.pagecache`); :func:`version`
is part of its key: it changes when an announcement arrives (the inbox's highest id)
or one expires (the ids still shown), and costs one indexed query per request.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

from flask import current_app

from .db import database

KIND = "announcement.created"
DEFAULT_DAYS = 14
MAX_SHOWN = 3  # the newest; the landing page stays small (<= 30 KB)
MAX_CHARS = 500  # a longer body is cut at a word, with an ellipsis
_CACHE = "espace.announcements"
# A language code as central may write it (BCP 47-like: "fr", "bm", "mey", "ff-Adlm").
_LANG = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*")


@dataclass(frozen=True)
class Announcement:
    id: int
    body: str
    lang: str
    expires_at: dt.datetime  # UTC, naive
    bodies: dict[str, str] = field(default_factory=dict)

    def text_for(self, lang: str) -> tuple[str, str]:
        """(text, its language) for a visitor reading ``lang``: their language when
        the announcement has it, else the body as written."""
        if lang in self.bodies:
            return self.bodies[lang], lang
        return self.body, self.lang


def _utc(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when


def _clip(text: object) -> str:
    text = " ".join(str(text or "").split())
    if len(text) <= MAX_CHARS:
        return text
    cut = text[:MAX_CHARS].rsplit(" ", 1)[0] or text[:MAX_CHARS]
    return cut + "…"


def parse(row_id: int, payload: str, received_at: str) -> Announcement | None:
    """One inbox row as an announcement; None for a payload it cannot show."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    bodies = data.get("bodies") if isinstance(data.get("bodies"), dict) else {}
    bodies = {
        str(k): _clip(v)
        for k, v in bodies.items()
        if _LANG.fullmatch(str(k)) and isinstance(v, str) and v.strip()
    }
    body = _clip(data.get("body"))
    lang = str(data.get("lang") or "")
    lang = lang if _LANG.fullmatch(lang) else ""
    if not body and bodies:
        lang, body = next(iter(bodies.items()))
    if not body:
        return None
    expires = _utc(data.get("expires_at"))
    if expires is None:
        arrived = _utc(received_at) or dt.datetime.now(dt.UTC).replace(tzinfo=None)
        expires = arrived + dt.timedelta(days=DEFAULT_DAYS)
    return Announcement(row_id, body, lang, expires, bodies)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _newest_id() -> int:
    row = database.execute_sql("SELECT max(id) FROM sync_inbox WHERE kind = ?", (KIND,)).fetchone()
    return int(row[0] or 0)


def _load(now: dt.datetime) -> list[Announcement]:
    """Every announcement still current, newest first (all of them: one that expires
    lets an older one show)."""
    rows = database.execute_sql(
        "SELECT id, payload, received_at FROM sync_inbox WHERE kind = ? ORDER BY id DESC", (KIND,)
    )
    found = (parse(*row) for row in rows)
    return [a for a in found if a is not None and a.expires_at > now]


def _state(now: dt.datetime) -> tuple[int, list[Announcement]]:
    """(newest inbox id, announcements current at the last load), reloaded when a new
    one arrived; kept per app, so the home page costs one indexed query."""
    newest = _newest_id()
    cached = current_app.extensions.get(_CACHE)
    if cached is None or cached[0] != newest:
        cached = current_app.extensions[_CACHE] = (newest, _load(now))
    return cached


def current(now: dt.datetime | None = None) -> list[Announcement]:
    """The announcements to show now, newest first, at most :data:`MAX_SHOWN`."""
    now = now or _now()
    _newest, loaded = _state(now)
    return [a for a in loaded if a.expires_at > now][:MAX_SHOWN]


def version(now: dt.datetime | None = None) -> tuple:
    """Changes when what :func:`current` returns changes: part of the cache key of
    every page that shows announcements."""
    now = now or _now()
    newest, loaded = _state(now)
    return newest, tuple(a.id for a in loaded if a.expires_at > now)[:MAX_SHOWN]
