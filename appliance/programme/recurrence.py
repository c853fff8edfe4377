"""Weekly recurrence in the site's local time, stored in UTC.

A weekly session keeps its wall-clock time in the site's zone (Africa/Bamako has no
daylight saving, but a box configured for another zone keeps "every Tuesday 10:00"
at 10:00 local across a change); the database holds the UTC instant of each one.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

MAX_WEEKS = 104


def to_utc(local: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """Naive local wall time -> naive UTC."""
    return local.replace(tzinfo=tz).astimezone(dt.UTC).replace(tzinfo=None)


def to_local(utc: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """Naive UTC -> naive local wall time."""
    return utc.replace(tzinfo=dt.UTC).astimezone(tz).replace(tzinfo=None)


def weekly(first_local: dt.datetime, weeks: int,
           exceptions: set[dt.date] = frozenset()) -> list[dt.datetime]:
    """Local start of each occurrence: ``weeks`` weeks from ``first_local`` (the first
    included), skipping the local dates in ``exceptions``."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks must be 1-{MAX_WEEKS}")
    out = []
    for i in range(weeks):
        # Adding days to the naive local time keeps the wall-clock time whatever the
        # month length or the zone's offset that day.
        when = first_local + dt.timedelta(days=7 * i)
        if when.date() not in exceptions:
            out.append(when)
    return out
