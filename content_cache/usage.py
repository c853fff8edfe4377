"""Usage of the library: page views and media plays, counted without personal data.

A page view must not cost an fsync, so views are counted in memory (ZIM name, path,
our language code, kind, hour) and folded at most once a minute into the small
``content_usage`` table with one transaction. The worker's ``usage_rollup_job``
turns each finished hour into ONE outbox event (``usage.content``, stream
``usage``). A crash loses at most a minute of counts, never a record.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import Counter

from appliance import outbox
from appliance.db import database
from sync_contract import kinds

log = logging.getLogger("espace.content")

FLUSH_SECONDS = 60.0
FLUSH_MAX_KEYS = 2000  # flush sooner when this many distinct keys wait
TOP_PATHS = 50  # paths reported per book and hour


class UsageCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter = Counter()
        self._flushed = time.monotonic()

    def record(self, book: str, path: str, lang: str, kind: str = "view") -> None:
        hour = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H")
        with self._lock:
            self._counts[(hour, book, path[:300], lang, kind)] += 1
            due = (time.monotonic() - self._flushed >= FLUSH_SECONDS
                   or len(self._counts) >= FLUSH_MAX_KEYS)
        if due:
            try:
                self.flush()
            except Exception:  # a busy database must not cost the visitor their page
                log.warning("library usage counts not written yet; kept for the next try",
                            exc_info=True)

    def pending(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def flush(self) -> int:
        """Write the counts to ``content_usage``; returns how many events it wrote."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
            self._flushed = time.monotonic()
        if not counts:
            return 0
        try:
            database.connect(reuse_if_open=True)
            with database.atomic():
                for (hour, book, path, lang, kind), n in counts.items():
                    database.execute_sql(
                        "INSERT INTO content_usage (hour, book, path, lang, kind, count) "
                        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (hour, book, path, lang, kind) "
                        "DO UPDATE SET count = count + excluded.count",
                        (hour, book, path, lang, kind, n))
        except Exception:
            with self._lock:  # keep them for the next try
                self._counts.update(counts)
            raise
        return sum(counts.values())


COUNTER = UsageCounter()


def rollup(now: dt.datetime | None = None) -> int:
    """Fold every finished hour of ``content_usage`` into one ``usage.content``
    outbox event per hour, in the transaction that deletes the rows. Returns the
    number of events appended. Idempotent: a rolled-up hour is gone from the table."""
    now = now or dt.datetime.now(dt.UTC)
    current = now.strftime("%Y-%m-%dT%H")
    events = 0
    with database.atomic():
        hours = [r[0] for r in database.execute_sql(
            "SELECT DISTINCT hour FROM content_usage WHERE hour < ? ORDER BY hour", (current,))]
        for hour in hours:
            rows = database.execute_sql(
                "SELECT book, path, lang, kind, count FROM content_usage WHERE hour = ? "
                "ORDER BY book, count DESC, path", (hour,)).fetchall()
            books: dict[tuple[str, str], dict] = {}
            for book, path, lang, kind, count in rows:
                b = books.setdefault((book, lang), {"zim": book, "lang": lang, "views": 0,
                                                    "plays": 0, "paths": {}})
                b["views" if kind == "view" else "plays"] += count
                if len(b["paths"]) < TOP_PATHS or path in b["paths"]:
                    b["paths"][path] = b["paths"].get(path, 0) + count
            payload = {"hour": hour + ":00Z", "books": [
                {**b, "paths": [{"path": p, "count": c} for p, c in b["paths"].items()]}
                for b in books.values()]}
            outbox.append(kinds.CONTENT_USAGE, payload)
            database.execute_sql("DELETE FROM content_usage WHERE hour = ?", (hour,))
            events += 1
    return events
