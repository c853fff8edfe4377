"""The library: the ZIM files of the content directory, their catalogue, and reading.

One :class:`Library` per content directory (see :func:`library_for`). It keeps ONE
open :class:`libzim.reader.Archive` per ZIM, keyed by path + mtime + size so that a
replaced file is reopened, in a bounded LRU; every method is safe to call from
waitress's threads (libzim reads are thread-safe; Xapian searches are not, so each
book's searches take its own lock).
"""

from __future__ import annotations

import html
import os
import posixpath
import re
import sqlite3
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from libzim.reader import Archive
from libzim.search import Query, Searcher
from libzim.suggestion import SuggestionSearcher

from appliance.http_range import RangeFile
from appliance.zimfile import DirectAccess

from .precompressed import Packed, Store, open_store

# ZIM metadata uses ISO 639-3; our language codes are in appliance.languages.
ISO639_3 = {"fra": "fr", "eng": "en", "bam": "bm", "snk": "snk", "ful": "ff", "fuf": "ff",
            "fuc": "ff", "ffm": "ff", "mey": "mey", "ara": "ar", "nqo": "nqo"}
MAX_OPEN = 32  # open archives kept; each holds a file descriptor and libzim caches
RESCAN_SECONDS = 2.0  # how stale the directory listing may be
# Media larger than this is streamed from the file (pread), never held in memory.
STREAM_MIN = 256 * 1024
SNIPPET_BYTES = 64 * 1024  # search snippets come from the start of each result page
BOOK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}")
# libzim's cluster cache (process-wide). Its accounting counts decompressed bytes,
# but each cached zstd cluster also holds its decompressor's window: measured here,
# 16 MB of "cache" cost ~90 MB of RSS. Random reads over a large ZIM rarely hit it
# (no measurable throughput difference between 0 and 16 MB on a 24,590-article ZIM);
# our own LRU (views.HOT) keeps the finished bytes of the hot articles instead.
CLUSTER_CACHE_BYTES = 0


_MALLOC_TUNED = False


def _tune_malloc() -> None:
    """Keep the web process small under load (the Pi has 1-4 GB for everything).

    glibc raises its mmap threshold as large blocks are freed, so the article buffers
    of waitress's threads (50-500 KB: an item's bytes, its gzip) end up in per-thread
    heaps that are never given back; measured, +40 MB after a minute of load. A fixed
    threshold returns such blocks to the system at free(), and two arenas bound the
    per-thread heaps. Linux/glibc only; elsewhere this does nothing."""
    global _MALLOC_TUNED, _LIBC
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
        libc.mallopt(-8, 2)  # M_ARENA_MAX
        _LIBC = libc
    except (OSError, AttributeError):
        pass


_LIBC = None
_TRIM_EVERY = 200
_since_trim = 0


def trim_memory_sometimes(weight: int = 1) -> None:
    """Every few hundred heavy responses (a search weighs ten), hand free heap pages
    back to the system (``malloc_trim``): Xapian and libzim free much more than glibc
    returns."""
    global _since_trim
    _since_trim += weight
    if _since_trim >= _TRIM_EVERY and _LIBC is not None:
        _since_trim = 0
        _LIBC.malloc_trim(0)


def our_language(zim_language: str) -> str:
    """'fra' -> 'fr', 'bam,fra' -> 'bm'; unknown codes are kept as they are."""
    first = (zim_language or "").split(",")[0].strip().lower()
    return ISO639_3.get(first, first)


@dataclass
class Book:
    """One ZIM of the library, as the catalogue shows it."""

    name: str  # file stem: the URL segment /library/<name>/
    path: Path
    title: str
    language: str  # our code ('fr', 'bm', ...)
    description: str
    creator: str = ""
    publisher: str = ""
    date: str = ""
    tags: list[str] = field(default_factory=list)
    article_count: int = 0
    media_count: int = 0
    size: int = 0
    uuid: str = ""
    has_illustration: bool = False
    has_fulltext: bool = False
    main_path: str = ""

    @property
    def is_mooc(self) -> bool:
        """A ZIM is shown as a course when its tags say so (``mooc`` or
        ``_category:mooc``): its lessons are the links of its main page, in order."""
        return any(t.lower() in ("mooc", "_category:mooc") for t in self.tags)

    @property
    def visible_tags(self) -> list[str]:
        out = []
        for t in self.tags:
            t = t.split(":", 1)[1] if t.startswith("_category:") else t
            if t and not t.startswith("_") and t not in out:
                out.append(t)
        return out


class Resolved:
    """What a path of a book resolves to: a redirect, or an item."""

    __slots__ = ("redirect", "path", "mimetype", "size", "title", "item", "direct")

    def __init__(self, path: str, redirect: str | None = None, mimetype: str = "",
                 size: int = 0, title: str = "", item=None,
                 direct: tuple[int, int] | None = None) -> None:
        self.path, self.redirect, self.mimetype, self.size = path, redirect, mimetype, size
        self.title, self.item, self.direct = title, item, direct


class _Open:
    """One open archive and what goes with it."""

    def __init__(self, path: Path, key: tuple) -> None:
        self.key = key
        self.archive = Archive(path)
        self.search_lock = threading.Lock()
        self.new_scheme = bool(self.archive.has_new_namespace_scheme)
        self._searcher: Searcher | None = None
        self._suggester: SuggestionSearcher | None = None
        self._store: Store | None = None
        self._store_checked = -RESCAN_SECONDS
        self.fd = os.open(path, os.O_RDONLY)
        try:
            self.direct: DirectAccess | None = DirectAccess(self.fd)
        except (ValueError, OSError, UnicodeError):
            self.direct = None

    @property
    def searcher(self) -> Searcher:
        if self._searcher is None:
            self._searcher = Searcher(self.archive)
        return self._searcher

    @property
    def suggester(self) -> SuggestionSearcher:
        if self._suggester is None:
            self._suggester = SuggestionSearcher(self.archive)
        return self._suggester

    def store(self, content_dir: Path, book: Book) -> Store | None:
        """The book's precompressed store, once it is built (looked for again every
        few seconds until then)."""
        if self._store is None:
            now = time.monotonic()
            if now - self._store_checked >= RESCAN_SECONDS:
                self._store_checked = now
                self._store = open_store(content_dir, book.name, book.uuid)
        return self._store

    def drop_store(self) -> None:
        if self._store is not None:
            self._store.path.unlink(missing_ok=True)
            self._store = None

    def close(self) -> None:
        # The Archive is freed when the last reference goes (a request may still
        # hold it); our own descriptor can close now.
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _meta(archive: Archive, key: str) -> str:
    try:
        return bytes(archive.get_metadata(key)).decode("utf-8", "replace").strip()
    except (KeyError, RuntimeError):
        return ""


def read_book(path: Path, archive: Archive | None = None) -> Book:
    """A book's catalogue entry from the ZIM's own metadata (opens it if needed)."""
    archive = archive or Archive(path)
    st = path.stat()
    try:
        main = archive.main_entry
        main_path = main.get_item().path if main.is_redirect else main.path
    except RuntimeError:
        main_path = ""
    tags = [t.strip() for t in _meta(archive, "Tags").split(";") if t.strip()]
    return Book(
        name=path.stem, path=path, title=_meta(archive, "Title") or path.stem,
        language=our_language(_meta(archive, "Language")),
        description=_meta(archive, "Description"), creator=_meta(archive, "Creator"),
        publisher=_meta(archive, "Publisher"), date=_meta(archive, "Date"), tags=tags,
        article_count=archive.article_count, media_count=archive.media_count,
        size=st.st_size, uuid=str(archive.uuid).replace("-", ""),
        has_illustration=bool(archive.has_illustration(48)),
        has_fulltext=bool(archive.has_fulltext_index), main_path=main_path)


def scan(content_dir: Path) -> list[Book]:
    """Every readable ZIM of a directory (kept for callers of the first version)."""
    return library_for(Path(content_dir)).books()


class _LessonLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href = dict(attrs).get("href")
            self._text = []

    def handle_data(self, data):
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((self._href, " ".join("".join(self._text).split())))
            self._href = None


class Library:
    """The ZIMs of one content directory. Thread-safe."""

    def __init__(self, content_dir: Path) -> None:
        from libzim.reader import set_cluster_cache_max_size

        set_cluster_cache_max_size(CLUSTER_CACHE_BYTES)
        _tune_malloc()
        self.content_dir = Path(content_dir)
        self._lock = threading.Lock()
        self._open: OrderedDict[Path, _Open] = OrderedDict()
        self._books: dict[str, Book] = {}
        self._keys: dict[Path, tuple] = {}
        self._scanned = 0.0
        self._illustrations: dict[str, bytes] = {}
        self._lessons: dict[str, list[tuple[str, str]]] = {}

    # --- catalogue ---------------------------------------------------------------

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._scanned < RESCAN_SECONDS:
            return
        try:
            entries = list(os.scandir(self.content_dir))
        except FileNotFoundError:
            entries = []
        seen: dict[Path, tuple] = {}
        for e in entries:
            if not e.name.endswith(".zim") or e.name.startswith(".") or not e.is_file():
                continue
            if not BOOK_NAME.fullmatch(e.name[:-4]):
                continue
            st = e.stat()
            seen[Path(e.path)] = (st.st_mtime_ns, st.st_size, st.st_ino)
        with self._lock:
            if seen == self._keys:
                self._scanned = now
                return
            books = {}
            for path, key in seen.items():
                old = next((b for b in self._books.values() if b.path == path), None)
                if old is not None and self._keys.get(path) == key:
                    books[old.name] = old
                    continue
                try:
                    books[path.stem] = read_book(path, self._archive_locked(path, key).archive)
                except (RuntimeError, OSError):
                    continue  # unreadable: `espace doctor` and `content list` say so
                self._illustrations.pop(path.stem, None)
                self._lessons.pop(path.stem, None)
            for path in list(self._open):
                if path not in seen:
                    self._open.pop(path).close()
            self._books, self._keys, self._scanned = books, seen, now

    def books(self) -> list[Book]:
        self.refresh()
        return sorted(self._books.values(), key=lambda b: (b.title.lower(), b.name))

    def book(self, name: str) -> Book | None:
        self.refresh()
        return self._books.get(name)

    # --- archives ------------------------------------------------------------------

    def _archive_locked(self, path: Path, key: tuple) -> _Open:
        op = self._open.get(path)
        if op is not None and op.key == key:
            self._open.move_to_end(path)
            return op
        if op is not None:
            self._open.pop(path).close()
        op = _Open(path, key)
        self._open[path] = op
        while len(self._open) > MAX_OPEN:
            self._open.popitem(last=False)[1].close()
        return op

    def _opened(self, book: Book) -> _Open:
        with self._lock:
            key = self._keys.get(book.path)
            if key is None:
                raise KeyError(book.name)
            return self._archive_locked(book.path, key)

    def archive(self, book: Book) -> Archive:
        return self._opened(book).archive

    # --- reading -------------------------------------------------------------------

    def resolve(self, book: Book, path: str) -> Resolved | None:
        """The entry at ``path``: a redirect (to the canonical path) or an item.

        Large uncompressed items also get ``direct`` = (offset, size) in the file."""
        op = self._opened(book)
        try:
            entry = op.archive.get_entry_by_path(path)
        except KeyError:
            return None
        if entry.is_redirect:
            target = entry
            for _ in range(16):  # a loop of redirects ends here
                if not target.is_redirect:
                    break
                target = target.get_redirect_entry()
            return Resolved(path, redirect=target.path)
        item = entry.get_item()
        size = item.size
        mimetype = item.mimetype
        direct = None
        if size >= STREAM_MIN and op.direct is not None and not mimetype.startswith("text/"):
            ns, zpath = "C", item.path
            if not op.new_scheme and item.path[1:2] == "/":
                # Old-scheme ZIMs (before 2021): libzim gives "I/x.webm", "A/x"...
                ns, zpath = item.path[0], item.path[2:]
            try:
                direct = op.direct.locate(zpath, ns)
            except (OSError, ValueError, UnicodeError):
                direct = None
            if direct is not None and direct[1] != size:
                direct = None
        return Resolved(item.path, mimetype=mimetype, size=size, title=entry.title,
                        item=item, direct=direct)

    def packed(self, book: Book, path: str) -> Packed | None:
        """The entry at ``path`` from the book's precompressed store (text entries
        only; None when it is not there: redirects, media, a store not built yet)."""
        op = self._opened(book)
        store = op.store(self.content_dir, book)
        if store is None:
            return None
        try:
            return store.get(path)
        except sqlite3.Error:
            op.drop_store()  # damaged: serve from the ZIM; the worker builds it again
            return None

    def open_range(self, book: Book, offset: int, length: int) -> RangeFile:
        return RangeFile(book.path, offset, length)

    def illustration(self, book: Book) -> bytes | None:
        if book.name in self._illustrations:
            return self._illustrations[book.name]
        data = None
        if book.has_illustration:
            try:
                data = bytes(self.archive(book).get_illustration_item(48).content)
            except (KeyError, RuntimeError):
                data = None
        self._illustrations[book.name] = data
        return data

    def lessons(self, book: Book) -> list[tuple[str, str]]:
        """A course's lessons in order: the links of its main page that lead to an
        article of the same ZIM, redirects followed, each once."""
        if book.name in self._lessons:
            return self._lessons[book.name]
        out: list[tuple[str, str]] = []
        main = self.resolve(book, book.main_path) if book.main_path else None
        if main is not None and main.item is not None and main.mimetype.startswith("text/html"):
            parser = _LessonLinks()
            parser.feed(bytes(main.item.content).decode("utf-8", "replace"))
            seen = {book.main_path}
            base = posixpath.dirname(book.main_path)
            for href, text in parser.links:
                parts = urlsplit(href)
                if parts.scheme or parts.netloc or not parts.path:
                    continue
                target = posixpath.normpath(posixpath.join(base, unquote(parts.path)))
                if target.startswith(("../", "/")) or target == "..":
                    continue
                r = self.resolve(book, target)
                if r is not None and r.redirect:
                    target = r.redirect
                    r = self.resolve(book, target)
                if r is None or r.item is None or not r.mimetype.startswith("text/html"):
                    continue
                if target not in seen:
                    seen.add(target)
                    out.append((target, text or r.title))
        self._lessons[book.name] = out
        return out

    # --- search --------------------------------------------------------------------

    def search(self, books: list[Book], query: str, start: int = 0,
               count: int = 10) -> tuple[int, list[dict]]:
        """Full-text search over several books with each ZIM's Xapian index.

        Results are interleaved book by book (each book's own ranking kept);
        ``(estimated total, results)`` with title, path and a snippet."""
        query = " ".join(query.split())[:200]
        if not query:
            return 0, []
        per_book: list[tuple[Book, list[str]]] = []
        total = 0
        for book in books:
            if not book.has_fulltext:
                continue
            op = self._opened(book)
            with op.search_lock:
                try:
                    res = op.searcher.search(Query().set_query(query))
                    total += res.getEstimatedMatches()
                    per_book.append((book, list(res.getResults(0, start + count))))
                except RuntimeError:
                    continue
        merged: list[tuple[Book, str]] = []
        depth = max((len(p) for _b, p in per_book), default=0)
        for i in range(depth):
            for book, paths in per_book:
                if i < len(paths):
                    merged.append((book, paths[i]))
        results = []
        words = [w for w in re.split(r"\W+", query.lower()) if w]
        for book, path in merged[start:start + count]:
            r = self.resolve(book, path)
            if r is None or r.item is None:
                continue
            # From the precompressed store when there: inflating one page costs far
            # less (time and memory) than decompressing the ZIM cluster it sits in.
            packed = self.packed(book, r.path)
            text = (packed.identity()[:SNIPPET_BYTES] if packed is not None
                    else bytes(r.item.content[:SNIPPET_BYTES]))
            results.append({"book": book.name, "book_title": book.title, "path": r.path,
                            "title": r.title or r.path, "snippet": snippet(text, words)})
        return total, results

    def suggest(self, books: list[Book], text: str, count: int = 8) -> list[dict]:
        """Titles that start like ``text`` (libzim's title index), across books."""
        text = " ".join(text.split())[:100]
        if not text:
            return []
        out: list[dict] = []
        for book in books:
            op = self._opened(book)
            with op.search_lock:
                try:
                    paths = list(op.suggester.suggest(text).getResults(0, count))
                except RuntimeError:
                    continue
            for path in paths:
                try:
                    title = op.archive.get_entry_by_path(path).title
                except KeyError:
                    continue
                out.append({"book": book.name, "path": path, "title": title})
        return out[:count]

    def close(self) -> None:
        with self._lock:
            while self._open:
                self._open.popitem()[1].close()


_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]+>", re.S | re.I)


def snippet(page: bytes, words: list[str], width: int = 220) -> str:
    """Plain text around the first query word of an HTML page (escaped for HTML,
    matched words in <b>)."""
    doc = page.decode("utf-8", "replace")
    body = doc.lower().find("<body")
    text = html.unescape(_TAGS.sub(" ", doc[body:] if body >= 0 else doc))
    text = " ".join(text.split())
    low = text.lower()
    pos = min((p for p in (low.find(w) for w in words) if p >= 0), default=0)
    start = max(0, pos - width // 3)
    piece = text[start:start + width]
    out = html.escape(piece)
    for w in words:
        out = re.sub(f"({re.escape(html.escape(w))})", r"<b>\1</b>", out, flags=re.I)
    return ("… " if start else "") + out + (" …" if start + width < len(text) else "")


_LIBRARIES: dict[Path, Library] = {}
_LIBRARIES_LOCK = threading.Lock()


def library_for(content_dir: Path) -> Library:
    """The process's Library for a directory (made on first use)."""
    content_dir = Path(content_dir)
    with _LIBRARIES_LOCK:
        lib = _LIBRARIES.get(content_dir)
        if lib is None:
            lib = _LIBRARIES[content_dir] = Library(content_dir)
        return lib


def forget(content_dir: Path) -> None:
    """Close and drop a directory's Library (tests, and after import/remove)."""
    with _LIBRARIES_LOCK:
        lib = _LIBRARIES.pop(Path(content_dir), None)
    if lib is not None:
        lib.close()
