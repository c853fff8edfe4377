"""What an announcement for the boxes may hold, checked before it is queued: the text
(at most :data:`MAX_CHARS`), its language codes and when it expires. The boxes show it
on the portal's home and the kiosk until then (see appliance/announcements.py)."""

from __future__ import annotations

import datetime as dt
import re

MAX_CHARS = 2000  # the boxes show the first 500 of each language
LANG = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*")


def check_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise ValueError("the announcement is empty")
    if len(text) > MAX_CHARS:
        raise ValueError(
            f"{len(text)} characters: at most {MAX_CHARS} (the boxes show the "
            "first 500); say it shorter"
        )
    return text


def check_lang(code: str) -> str:
    if code and not LANG.fullmatch(code):
        raise ValueError(f"{code!r} is not a language code (examples: fr, bm, snk, ff, mey)")
    return code


def expiry(value: str, now: dt.datetime | None = None) -> str:
    """``value`` as an ISO UTC time ("...Z"): a date means the end of that day (UTC);
    a time without offset is UTC. Refuses the past; "" stays "" (the boxes then show
    it for 14 days)."""
    if not value:
        return ""
    now = now or dt.datetime.now(dt.UTC)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            when = dt.datetime.fromisoformat(value).replace(
                hour=23, minute=59, second=59, tzinfo=dt.UTC
            )
        else:
            when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when
    except ValueError:
        raise ValueError(
            f"{value!r} is not a date or time (examples: 2026-12-24, 2026-12-24T18:00Z)"
        ) from None
    if when <= now:
        raise ValueError(f"{value} is in the past")
    return when.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
