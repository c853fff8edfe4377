"""Visits of the espace: how many phones came in each day, for the regional figures.

A phone that taps Enter on the welcome page is recorded once per day as a day-salted
hash (``appliance.privacy.client_hash(scope="day")``: the salt is forgotten the next
day, so the rows cannot be linked to a phone or across days). The worker's roll-up
turns each finished day into one ``usage.visits`` outbox event carrying only the
count, in the transaction that deletes the day's rows: no hash ever leaves the box.
"""

from __future__ import annotations

import datetime as dt
import logging

from appliance import outbox
from appliance.db import database
from appliance.privacy import client_hash
from sync_contract import kinds

log = logging.getLogger("espace.portal")


def record(ip: str, proc: str = "/proc") -> bool:
    """Count this phone once today. Never raises: a busy database must not keep a
    visitor out (returns False then)."""
    day = dt.datetime.now(dt.UTC).date().isoformat()
    try:
        who = client_hash(ip, "day", proc)
        with database.atomic():
            database.execute_sql("INSERT OR IGNORE INTO portal_visit (day, who) VALUES (?, ?)",
                                 (day, who))
        return True
    except Exception:
        log.warning("visit not counted", exc_info=True)
        return False


def rollup(now: dt.datetime | None = None) -> int:
    """One ``usage.visits`` event per finished day (``{"day", "visits"}``); returns how
    many. Idempotent: a rolled-up day is gone from the table."""
    today = (now or dt.datetime.now(dt.UTC)).date().isoformat()
    with database.atomic():
        days = database.execute_sql(
            "SELECT day, COUNT(*) FROM portal_visit WHERE day < ? GROUP BY day ORDER BY day",
            (today,)).fetchall()
        for day, count in days:
            outbox.append(kinds.VISITS, {"day": day, "visits": count})
        database.execute_sql("DELETE FROM portal_visit WHERE day < ?", (today,))
    return len(days)
