"""Resumable downloads of ZIM files, within the box's daily data budget.

Each download is a row of ``content_download`` and a partial file
``<content>/.downloads/<name>.part``. The partial file is what is trusted: after a
cut connection, a crash or a reboot the next attempt asks for ``Range: bytes=<size
of the partial file>-`` (with ``If-Range`` so a changed file restarts from zero)
and appends. Every MiB it fsyncs, then records progress and the bytes spent. At
the end the file's SHA-256 is checked (given, or from ``<url>.sha256``), then
libzim's integrity check, then it is renamed into the library atomically.

The budget is ``sync.daily_budget_mb``, shared with the sync: when the sync's
ledger (:mod:`appliance.sync.state`) is there, content downloads are counted in
it; otherwise in ``content_budget`` (our migration m0004).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from appliance.db import database

from .store import CHUNK, ContentError, book_name_for, check_space, install

READ = 64 * 1024
TIMEOUT = 30


class BudgetSpent(ContentError):
    pass


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# --- the day's budget --------------------------------------------------------------


def _sync_ledger():
    try:
        from appliance.sync import budget, state
    except ImportError:
        return None
    if all(hasattr(state, a) for a in ("add_usage", "spent")) and hasattr(budget, "local_day"):
        return budget, state
    return None


def _day(site) -> str:
    ledger = _sync_ledger()
    if ledger:
        return ledger[0].local_day(dt.datetime.now(dt.UTC), site.site.timezone)
    return dt.datetime.now(dt.UTC).date().isoformat()


def spent_today(site) -> int:
    ledger = _sync_ledger()
    if ledger:
        return ledger[1].spent(_day(site))
    row = database.execute_sql("SELECT bytes FROM content_budget WHERE day = ?",
                               (_day(site),)).fetchone()
    return row[0] if row else 0


def budget_left(site) -> int:
    return max(0, site.sync.daily_budget_mb * 1024 * 1024 - spent_today(site))


def spend(site, nbytes: int) -> None:
    ledger = _sync_ledger()
    if ledger:
        ledger[1].add_usage(_day(site), 0, nbytes, 0)
        return
    with database.atomic():
        database.execute_sql(
            "INSERT INTO content_budget (day, bytes) VALUES (?, ?) ON CONFLICT (day) "
            "DO UPDATE SET bytes = bytes + excluded.bytes", (_day(site), nbytes))


# --- downloads -------------------------------------------------------------------------


def name_from_url(url: str) -> str:
    return book_name_for(unquote(Path(urlsplit(url).path).name) or "download.zim")


def part_path(content_dir: Path, name: str) -> Path:
    return content_dir / ".downloads" / f"{name}.part"


def queue(url: str, name: str | None = None, sha256: str = "", size: int = 0) -> dict:
    """Add a download (idempotent by URL); returns its row."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ContentError(f"{url!r} is not an http:// or https:// URL",
                           "give the full address of the .zim file")
    name = name or name_from_url(url)
    with database.atomic():
        database.execute_sql(
            "INSERT INTO content_download (url, name, sha256, size, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET "
            "sha256 = CASE WHEN excluded.sha256 != '' THEN excluded.sha256 ELSE sha256 END, "
            "state = CASE WHEN state IN ('failed', 'done') THEN 'queued' ELSE state END",
            (url, name, sha256.lower(), size, _now(), _now()))
    return _row(url)


_COLS = ("id", "url", "name", "sha256", "size", "received", "validator", "state", "error")


def _row(url: str) -> dict:
    r = database.execute_sql(f"SELECT {', '.join(_COLS)} FROM content_download "  # noqa: S608
                             "WHERE url = ?", (url,)).fetchone()
    return dict(zip(_COLS, r, strict=True))


def _update(url: str, **values) -> None:
    sets = ", ".join(f"{k} = ?" for k in values)
    with database.atomic():
        database.execute_sql(f"UPDATE content_download SET {sets}, updated_at = ? "  # noqa: S608
                             "WHERE url = ?", (*values.values(), _now(), url))


def progress() -> list[dict]:
    """Current downloads for the kiosk: name, state, received, size, percent."""
    rows = database.execute_sql(
        f"SELECT {', '.join(_COLS)} FROM content_download WHERE state != 'done' "  # noqa: S608
        "ORDER BY id").fetchall()
    out = []
    for r in rows:
        d = dict(zip(_COLS, r, strict=True))
        d["percent"] = int(100 * d["received"] / d["size"]) if d["size"] else None
        out.append(d)
    return out


def _expected_sha256(url: str, given: str) -> str:
    if given:
        return given.lower()
    try:
        with urllib.request.urlopen(url + ".sha256", timeout=TIMEOUT) as r:  # noqa: S310
            text = r.read(4096).decode("ascii", "replace")
    except (urllib.error.URLError, OSError, ValueError):
        return ""
    m = re.match(r"\s*([0-9a-fA-F]{64})\b", text)
    return m.group(1).lower() if m else ""


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def fetch(site, url: str, sha256: str = "", name: str | None = None,
          on_progress: Callable[[int, int], None] | None = None,
          respect_budget: bool = True) -> Path:
    """Download (or continue downloading) ``url`` into the library.

    Returns the installed path. Raises :class:`BudgetSpent` when the day's budget
    runs out (the partial file stays and the next call continues), and
    :class:`ContentError` for other failures. ``on_progress(received, total)``."""
    row = queue(url, name, sha256)
    content_dir: Path = site.content_dir
    part = part_path(content_dir, row["name"])
    part.parent.mkdir(parents=True, exist_ok=True)
    if (content_dir / f"{row['name']}.zim").exists():
        _update(url, state="done", error="")
        raise ContentError(f"a book named {row['name']} is already installed",
                           f"remove it first (`espace content remove {row['name']}`)")
    try:
        received = part.stat().st_size
    except FileNotFoundError:
        received = 0
    total = row["size"]
    _update(url, state="running", error="", received=received)
    if not (total and received >= total):
        received, total = _download(site, url, row, part, received, on_progress,
                                    respect_budget)
    try:
        expected = _expected_sha256(url, row["sha256"])
        if expected and _sha256_file(part) != expected:
            part.unlink(missing_ok=True)
            raise ContentError(f"{row['name']}: the downloaded file does not match its "
                               "SHA-256 checksum; it was deleted",
                               "run the download again; if it fails again, the server's "
                               "file or checksum is wrong")
        path = install(part, content_dir, row["name"])
    except ContentError as e:
        part.unlink(missing_ok=True)
        _update(url, state="failed", error=str(e)[:500], received=0)
        raise
    _update(url, state="done", error="", received=total, size=total)
    return path


def _download(site, url, row, part, received, on_progress, respect_budget):
    headers = {"User-Agent": "espace-box"}
    if received:
        headers["Range"] = f"bytes={received}-"
        if row["validator"]:
            headers["If-Range"] = row["validator"]
    req = urllib.request.Request(url, headers=headers)  # noqa: S310
    try:
        resp = urllib.request.urlopen(req, timeout=TIMEOUT)  # noqa: S310
    except urllib.error.HTTPError as e:
        e.close()
        if e.code == 416 and received:  # we already have everything
            return received, received
        _update(url, state="failed", error=f"HTTP {e.code}")
        raise ContentError(f"{url}: the server answered HTTP {e.code}",
                           "check the address; try again later") from None
    except (urllib.error.URLError, OSError) as e:
        _update(url, state="waiting", error=str(e)[:200])
        raise ContentError(f"{url}: cannot connect ({e})",
                           "check the uplink; the download continues at the next "
                           "attempt") from None
    with resp:
        if resp.status == 206:
            m = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", resp.headers.get("Content-Range", ""))
            if not m or int(m.group(1)) != received:
                raise ContentError(f"{url}: the server sent the wrong part of the file",
                                   "try again later")
            total = int(m.group(3)) if m.group(3) != "*" else 0
            mode = "ab"
        else:  # 200: the server ignored our Range, or the file changed: start over
            received = 0
            total = int(resp.headers.get("Content-Length") or 0)
            mode = "wb"
        validator = resp.headers.get("ETag") or resp.headers.get("Last-Modified") or ""
        _update(url, size=total, validator=validator, received=received)
        if total:
            check_space(site.content_dir, total - received, site.storage.reserve_mb)
        unsynced = 0
        with open(part, mode) as f:
            try:
                while True:
                    if respect_budget and budget_left(site) < READ:
                        raise BudgetSpent(
                            f"the day's data budget ({site.sync.daily_budget_mb} MB) is "
                            f"spent; {row['name']} is at {received * 100 // max(total, 1)}%",
                            "it continues tomorrow, or raise sync.daily_budget_mb")
                    chunk = resp.read(READ)
                    if not chunk:
                        break
                    f.write(chunk)
                    received += len(chunk)
                    unsynced += len(chunk)
                    if unsynced >= CHUNK:
                        _checkpoint(site, url, f, received, unsynced)
                        unsynced = 0
                    if on_progress:
                        on_progress(received, total)
            except BudgetSpent:
                _checkpoint(site, url, f, received, unsynced, state="waiting")
                raise
            except (OSError, urllib.error.URLError) as e:
                _checkpoint(site, url, f, received, unsynced, state="waiting")
                raise ContentError(f"{row['name']}: the connection was cut at "
                                   f"{received} bytes ({e})",
                                   "run the same command again: it continues where it "
                                   "stopped") from None
            _checkpoint(site, url, f, received, unsynced)
    if total and received < total:
        _update(url, state="waiting", error="connection closed early")
        raise ContentError(f"{row['name']}: the connection was cut at {received} of "
                           f"{total} bytes", "run the same command again: it continues "
                           "where it stopped")
    return received, total or received


def _checkpoint(site, url: str, f, received: int, spent: int, state: str = "running") -> None:
    f.flush()
    os.fsync(f.fileno())
    if spent:
        spend(site, spent)
    _update(url, received=received, state=state)


def resume_all(site) -> str:
    """The worker's job: continue every queued or interrupted download in turn."""
    rows = database.execute_sql("SELECT url, sha256 FROM content_download WHERE state IN "
                                "('queued', 'running', 'waiting') ORDER BY id").fetchall()
    if not rows:
        return "no downloads queued"
    done = 0
    for url, sha in rows:
        try:
            fetch(site, url, sha)
            done += 1
        except BudgetSpent:
            return f"{done} download(s) finished; data budget spent for today"
        except ContentError:
            continue
    return f"{done} of {len(rows)} download(s) finished"
