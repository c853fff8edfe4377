"""Text compressed once, served many times: a per-ZIM store of deflated entries.

A ZIM keeps its text in zstd or xz clusters of 1-2 MB. Serving one random article
means decompressing (on average) half a cluster, then compressing the page again
for the wire: milliseconds of CPU per page view, ten times more on a Pi. A ZIM never
changes for a given UUID, so every text entry (HTML, CSS, JS, SVG, JSON...) is
deflated once, at the best level, into a small SQLite file beside the library
(``.precompressed/<book>-<uuid>.sqlite``), and a page view becomes one indexed read.

Our bar goes after ``<body>`` and depends on the visitor's language and the page,
so an HTML entry is stored as two raw deflate pieces: the head up to ``<body ...>``
ended by a full flush (nothing after it refers back), then the rest. A response is
the gzip header, the head, the bar deflated on the spot (sync flush: no final
block), the rest, and the trailer. The trailer's CRC-32 of head + bar + rest is
computed from the stored CRCs with zlib's CRC combination (one GF(2) polynomial
product per request, with x^(8*len(rest)) mod P stored per entry). Clients that do
not take gzip get the stored pieces inflated (a fraction of a millisecond).

Building walks the ZIM's entries in cluster order so each cluster is decompressed
once, commits every few hundred entries and resumes where it stopped after a cut
(``.part`` file). It stops at a byte budget or when the data partition's reserve is
near; a partial store is still used (the rest is served from the ZIM as before).
Only a finished file is renamed into place, and readers open it immutable.
"""

from __future__ import annotations

import fcntl
import os
import queue
import re
import shutil
import sqlite3
import struct
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from appliance.blobs import fsync_dir
from appliance.zimfile import DirectAccess

DIR = ".precompressed"
LEVEL = 9  # compressed once, sent thousands of times
MAX_ENTRY = 4 * 1024 * 1024  # the view serves larger HTML without our bar
COMMIT_EVERY = 400
FREE_MARGIN = 64 * 1024 * 1024  # stop this far above the storage reserve
TEXT_TYPES = ("text/", "application/javascript", "application/json", "image/svg+xml",
              "application/xml", "application/xhtml+xml", "application/x-javascript")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entry (
    path TEXT PRIMARY KEY,
    mime TEXT NOT NULL,
    body BLOB NOT NULL,        -- raw deflate: head (full flush) then rest (final)
    split INTEGER NOT NULL,    -- where the head ends in body; -1: no bar (not HTML)
    head_len INTEGER NOT NULL, head_crc INTEGER NOT NULL,
    rest_len INTEGER NOT NULL, rest_crc INTEGER NOT NULL,
    rest_shift INTEGER NOT NULL  -- x^(8*rest_len) mod P, for the CRC combination
);
"""

GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03"  # no name, mtime 0, unix


# --- CRC-32 combination (the algorithm of zlib's crc32_combine) -----------------------

_POLY = 0xEDB88320  # CRC-32, reflected


def _multmodp(a: int, b: int) -> int:
    """a(x) * b(x) modulo the CRC-32 polynomial (reflected bit order)."""
    m = 1 << 31
    p = 0
    while True:
        if a & m:
            p ^= b
            if not a & (m - 1):
                return p
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


def _x2n_table() -> list[int]:
    p = 1 << 30  # x^1
    table = [p]
    for _ in range(31):
        p = _multmodp(p, p)
        table.append(p)
    return table


_X2N = _x2n_table()


def shift_for(length: int) -> int:
    """x^(8*length) modulo P: what multiplies a CRC to skip ``length`` bytes."""
    p = 1 << 31  # x^0
    k = 3
    n = length
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return p


def crc_combine(crc1: int, crc2: int, shift2: int) -> int:
    """CRC-32 of A + B from crc(A), crc(B) and shift_for(len(B))."""
    return _multmodp(shift2, crc1) ^ crc2


# --- one entry --------------------------------------------------------------------------


def body_split(page: bytes) -> int:
    """Where our bar goes in an HTML page: after ``<body ...>``, else at the start."""
    low = page[:65536].lower()
    i = low.find(b"<body")
    if i >= 0:
        j = low.find(b">", i)
        if j >= 0:
            return j + 1
    return 0


VIEWPORT = b'<meta name="viewport" content="width=device-width,initial-scale=1">'
_HAS_VIEWPORT = re.compile(rb"<meta[^>]*name\s*=\s*[\"']?viewport", re.IGNORECASE)


def with_viewport(page: bytes) -> bytes:
    """The page with a viewport tag at the start of its head if it has none: phones lay
    out a page without one 980 px wide at 0.37 zoom (16 px text shows at about 6 px),
    and scraped MOOCs often lack it."""
    head = page[:65536]
    if _HAS_VIEWPORT.search(head):
        return page
    low = head.lower()
    i = low.find(b"<head")
    j = low.find(b">", i) if i >= 0 else -1
    if j < 0:  # no head: before <body>, or first of all
        i = low.find(b"<body")
        return page[:i] + VIEWPORT + page[i:] if i >= 0 else VIEWPORT + page
    return page[:j + 1] + VIEWPORT + page[j + 1:]


def pack(data: bytes, html: bool, level: int = LEVEL) -> tuple:
    """(body, split, head_len, head_crc, rest_len, rest_crc, rest_shift) for one entry;
    an HTML page gets its viewport tag here if it lacks one."""
    if html:
        data = with_viewport(data)
    at = body_split(data) if html else len(data)
    head, rest = data[:at], data[at:]
    c = zlib.compressobj(level, zlib.DEFLATED, -15, 9)
    a = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH) if head else b""
    b = c.compress(rest) + c.flush(zlib.Z_FINISH)
    return (a + b, len(a) if html else -1, len(head), zlib.crc32(head), len(rest),
            zlib.crc32(rest), shift_for(len(rest)))


class Packed:
    """One stored entry, ready to be sent with or without a bar."""

    __slots__ = ("mime", "body", "split", "head_len", "head_crc", "rest_len", "rest_crc",
                 "rest_shift")

    def __init__(self, row: tuple) -> None:
        (self.mime, self.body, self.split, self.head_len, self.head_crc, self.rest_len,
         self.rest_crc, self.rest_shift) = row

    @property
    def is_html(self) -> bool:
        return self.split >= 0

    def gzip_parts(self, bar: bytes = b"") -> list[bytes]:
        """The gzip member: header, head, bar, rest, trailer (``bar`` only for HTML)."""
        body = self.body
        if not self.is_html:
            crc = crc_combine(self.head_crc, self.rest_crc, self.rest_shift)
            return [GZIP_HEADER, body, struct.pack("<II", crc, self.head_len + self.rest_len)]
        # A small window and memory level: the bar is a few KB, and the state stays
        # under malloc's mmap threshold (no mmap/munmap per request).
        c = zlib.compressobj(6, zlib.DEFLATED, -12, 4)
        bar_z = c.compress(bar) + c.flush(zlib.Z_SYNC_FLUSH)
        crc = crc_combine(zlib.crc32(bar, self.head_crc), self.rest_crc, self.rest_shift)
        size = (self.head_len + len(bar) + self.rest_len) & 0xFFFFFFFF
        return [GZIP_HEADER, body[:self.split], bar_z, body[self.split:],
                struct.pack("<II", crc, size)]

    def identity_parts(self, bar: bytes = b"") -> list[bytes]:
        """The entry inflated, as chunks: head, bar, rest (each inflated straight to
        its final size: no regrowing buffers, no copies to splice the bar in)."""
        body = memoryview(self.body)
        if not self.is_html:
            return [zlib.decompress(body, -15, self.head_len + self.rest_len or 1)]
        d = zlib.decompressobj(-15)
        head = d.decompress(body[:self.split]) if self.split else b""
        rest = d.decompress(body[self.split:], self.rest_len or 1)
        return [head, bar, rest]

    def identity(self, bar: bytes = b"") -> bytes:
        return b"".join(self.identity_parts(bar))


# --- reading ------------------------------------------------------------------------------


def store_path(content_dir: Path, name: str, uuid: str) -> Path:
    return Path(content_dir) / DIR / f"{name}-{uuid}.sqlite"


class Store:
    """A finished store, read by many threads through a few read-only connections
    (bounded memory however many books and threads: each has a 256 KB page cache)."""

    CONNECTIONS = 2  # lookups are short and mostly hold the GIL: two are plenty

    def __init__(self, path: Path) -> None:
        self.path = path
        self._uri = f"file:{path}?mode=ro&immutable=1"
        self._free: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._made = 0
        self._lock = threading.Lock()
        con = self._acquire()
        try:
            meta = dict(con.execute("SELECT key, value FROM meta"))
        finally:
            self._free.put(con)
        self.complete = meta.get("state") == "complete"
        self.entries = int(meta.get("entries", "0"))

    def _acquire(self) -> sqlite3.Connection:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._made < self.CONNECTIONS:
                # immutable: the file never changes once renamed into place (no locks)
                con = sqlite3.connect(self._uri, uri=True, check_same_thread=False)
                con.execute("PRAGMA cache_size=-256")  # KB: the index's upper pages
                self._made += 1
                return con
        return self._free.get()

    def get(self, path: str) -> Packed | None:
        con = self._acquire()
        try:
            row = con.execute(
                "SELECT mime, body, split, head_len, head_crc, rest_len, rest_crc, "
                "rest_shift FROM entry WHERE path = ?", (path,)).fetchone()
        finally:
            self._free.put(con)
        return Packed(row) if row is not None else None


def open_store(content_dir: Path, name: str, uuid: str) -> Store | None:
    path = store_path(content_dir, name, uuid)
    if not path.is_file():
        return None
    try:
        return Store(path)
    except sqlite3.Error:
        path.unlink(missing_ok=True)  # damaged (a bad card?): the worker builds it again
        return None


# --- building --------------------------------------------------------------------------------


def is_text(mime: str) -> bool:
    return mime.startswith(TEXT_TYPES)


def _cluster_order(zim: Path, new_scheme: bool) -> list[str]:
    """Paths of the ZIM's content entries (no redirects), in cluster order, so each
    cluster is decompressed once while building."""
    fd = os.open(zim, os.O_RDONLY)
    try:
        d = DirectAccess(fd)
        rows = []
        for i in range(d.entry_count):
            _mime, ns, path, cluster, blob = d._dirent(i)
            if cluster < 0:
                continue
            if new_scheme:
                if ns != "C":
                    continue
                rows.append((cluster, blob, path))
            elif ns in ("A", "-", "I", "J"):
                rows.append((cluster, blob, f"{ns}/{path}"))
        rows.sort()
        return [p for _c, _b, p in rows]
    finally:
        os.close(fd)


class BuildResult:
    def __init__(self, path: Path, state: str, entries: int, size: int, seconds: float,
                 reason: str = "") -> None:
        self.path, self.state, self.entries, self.size = path, state, entries, size
        self.seconds, self.reason = seconds, reason

    def __str__(self) -> str:
        return (f"{self.path.name}: {self.state}, {self.entries} entries, "
                f"{self.size / 2**20:.1f} MB in {self.seconds:.0f} s"
                + (f" ({self.reason})" if self.reason else ""))


def build(zim: Path, content_dir: Path, name: str, *, reserve_mb: int = 200,
          budget_bytes: int | None = None, progress: Callable[[int, int], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> BuildResult:
    """Build (or finish) the store of one ZIM. Resumes a cut build; returns at once
    when the store exists. ``progress(done, total)`` is called every commit."""
    from libzim.reader import Archive, get_cluster_cache_max_size, set_cluster_cache_max_size

    started = time.monotonic()
    archive = Archive(zim)
    uuid = str(archive.uuid).replace("-", "")
    final = store_path(content_dir, name, uuid)
    if final.is_file():
        return BuildResult(final, "exists", 0, final.stat().st_size, 0.0)
    final.parent.mkdir(parents=True, exist_ok=True)
    part = final.with_suffix(".part")
    con = sqlite3.connect(part, isolation_level=None)
    try:
        # A cache, rebuilt if lost: WAL + NORMAL never corrupts, at worst it forgets
        # the last commits, which the resume does again.
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.executescript(SCHEMA)
        meta = dict(con.execute("SELECT key, value FROM meta"))
        done = int(meta.get("next", "0"))
        size = int(meta.get("bytes", "0"))
        entries = int(meta.get("entries", "0"))
        order = _cluster_order(zim, bool(archive.has_new_namespace_scheme))
        reserve = reserve_mb * 1024 * 1024 + FREE_MARGIN
        state, reason = "complete", ""
        old_cache = get_cluster_cache_max_size()
        set_cluster_cache_max_size(8 * 1024 * 1024)  # a cluster or two: we read in order
        try:
            i = done
            con.execute("BEGIN")
            while i < len(order):
                path = order[i]
                i += 1
                try:
                    item = archive.get_entry_by_path(path).get_item()
                except (KeyError, RuntimeError):
                    continue
                mime = item.mimetype
                if is_text(mime) and item.size <= MAX_ENTRY:
                    packed = pack(bytes(item.content), mime.startswith("text/html"))
                    con.execute("INSERT OR REPLACE INTO entry VALUES (?,?,?,?,?,?,?,?,?)",
                                (path, mime, *packed))
                    size += len(packed[0]) + len(path) + 40
                    entries += 1
                if i % COMMIT_EVERY == 0 or i == len(order):
                    _save(con, next=i, bytes=size, entries=entries)
                    con.execute("COMMIT")
                    if progress:
                        progress(i, len(order))
                    if budget_bytes is not None and size >= budget_bytes:
                        state, reason = "partial", "budget reached"
                        break
                    if shutil.disk_usage(final.parent).free < reserve:
                        state, reason = "partial", "storage reserve reached"
                        break
                    if should_stop and should_stop():
                        return BuildResult(part, "stopped", entries, size,
                                           time.monotonic() - started)
                    con.execute("BEGIN")
            if con.in_transaction:
                _save(con, next=i, bytes=size, entries=entries)
                con.execute("COMMIT")
        finally:
            set_cluster_cache_max_size(old_cache)
        _save(con, state=state, uuid=uuid, reason=reason, entries=entries, bytes=size)
        con.execute("PRAGMA journal_mode=DELETE")  # one self-contained file for readers
    finally:
        con.close()
    with open(part, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(part, final)
    fsync_dir(final.parent)
    return BuildResult(final, state, entries, final.stat().st_size,
                       time.monotonic() - started, reason)


def _save(con: sqlite3.Connection, **values) -> None:
    con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                    [(k, str(v)) for k, v in values.items()])


_STORE_FILE = re.compile(r"\.(sqlite|part)(-wal|-shm|-journal)?$")


def stale(content_dir: Path, books: dict[str, str]) -> list[Path]:
    """Stores (finished or not) of books no longer in the library, or of an older
    file under the same name. ``books`` maps book name to UUID."""
    folder = Path(content_dir) / DIR
    keep = {f"{n}-{u}" for n, u in books.items()}
    out = []
    for p in sorted(folder.glob("*")) if folder.is_dir() else []:
        if not p.name.startswith(".") and _STORE_FILE.sub("", p.name) not in keep:
            out.append(p)
    return out


def remove_stale(content_dir: Path, books: dict[str, str]) -> list[Path]:
    gone = stale(content_dir, books)
    for p in gone:
        p.unlink(missing_ok=True)
    return gone


def used_bytes(content_dir: Path) -> int:
    folder = Path(content_dir) / DIR
    return sum(p.stat().st_size for p in folder.glob("*") if p.is_file()) \
        if folder.is_dir() else 0


def build_missing(content_dir: Path, *, reserve_mb: int, budget_mb: int,
                  should_stop: Callable[[], bool] | None = None,
                  progress_for: Callable[[str], Callable[[int, int], None] | None]
                  | None = None) -> list[BuildResult]:
    """The worker's job and ``espace content precompress``: forget the stores of
    books that are gone or replaced, then build the missing ones, book by book, within
    ``budget_mb`` for all stores together (0: none at all)."""
    from .library import library_for

    folder = Path(content_dir) / DIR
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".build.lock", "w") as lock:
        try:  # the worker and `espace content precompress` may both be at it
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return []
        return _build_missing(content_dir, library_for(content_dir).books(),
                              reserve_mb=reserve_mb, budget_mb=budget_mb,
                              should_stop=should_stop, progress_for=progress_for)


def _build_missing(content_dir, books, *, reserve_mb, budget_mb, should_stop,
                   progress_for) -> list[BuildResult]:
    remove_stale(content_dir, {b.name: b.uuid for b in books} if budget_mb else {})
    results: list[BuildResult] = []
    for b in books:
        if not budget_mb or (should_stop and should_stop()):
            break
        if store_path(content_dir, b.name, b.uuid).is_file():
            continue
        part = store_path(content_dir, b.name, b.uuid).with_suffix(".part")
        left = budget_mb * 1024 * 1024 - used_bytes(content_dir) + (
            part.stat().st_size if part.exists() else 0)
        if left <= 0:
            break
        results.append(build(b.path, content_dir, b.name, reserve_mb=reserve_mb,
                             budget_bytes=left, should_stop=should_stop,
                             progress=progress_for(b.name) if progress_for else None))
    return results
