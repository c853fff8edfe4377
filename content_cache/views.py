"""The library's pages: catalogue, reader, media with Range, search, suggestions.

URLs:
  /library/                        tiles, filtered by language (the visitor's first) and tag
  /library/<book>/                 a course's lessons in order, or the book's main page
  /library/<book>/<zim path>       an entry of the ZIM (redirects followed by HTTP 302)
  /library/_/search?q=&book=&lang= full-text search (plain form; works without JS)
  /library/_/suggest?q=            title suggestions (JSON) for the search box
  /library/_/illustration/<book>.png

Articles get our compact bar injected after ``<body>``; the result (gzipped when the
client accepts it) is kept in a bounded LRU (:data:`HOT`), and :class:`FastPath`, a
small WSGI layer in front of the app, answers repeat requests for hot articles from
it without entering Flask. Media is streamed from the ZIM file by byte range.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from http.cookies import SimpleCookie
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
)
from werkzeug.utils import get_content_type
from werkzeug.wsgi import wrap_file

from appliance import i18n
from appliance.http_range import finish, parse_range
from appliance.labels.web import labels_version

from .library import Book, Library, library_for, trim_memory_sometimes
from .precompressed import Packed, body_split, with_viewport
from .usage import COUNTER

bp = Blueprint("content", __name__, template_folder="templates")


def _nest_kiosk_tab() -> None:
    from . import kiosk

    bp.register_blueprint(kiosk.bp)


_nest_kiosk_tab()

HTML_CACHE = "private, max-age=86400"  # our bar is in the visitor's language
MEDIA_CACHE = "public, max-age=2592000"  # a ZIM's entries never change for a UUID
HOT_BYTES = 2 * 1024 * 1024  # ~600 gzipped articles: a course or two being read
MAX_INJECT = 4 * 1024 * 1024  # larger HTML is served as is (no bar, not cached)


def lib() -> Library:
    return library_for(current_app.config["SITE"].content_dir)


# --- hot article cache ---------------------------------------------------------------


class HotCache:
    """A bounded LRU of finished article responses, by (PATH_INFO, lang, gzip)."""

    def __init__(self, max_bytes: int = HOT_BYTES) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple, tuple] = OrderedDict()
        self.size = 0

    def get(self, key: tuple):
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple, value: tuple) -> None:
        body = value[2]
        if len(body) > self.max_bytes // 8:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= len(old[2])
            self._items[key] = value
            self.size += len(body)
            while self.size > self.max_bytes:
                self.size -= len(self._items.popitem(last=False)[1][2])

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.size = 0


HOT = HotCache()


def _accepts_gzip(header: str) -> bool:
    for part in header.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            return "q=0" not in params.replace(" ", "") or "q=0." in params
    return False


def _lang_from_cookie(cookie_header: str, offered: list[str], default: str) -> str:
    if "lang=" in cookie_header:
        try:
            c = SimpleCookie(cookie_header)
        except Exception:
            return default
        if "lang" in c and c["lang"].value in offered:
            return c["lang"].value
    return default


class FastPath:
    """Serve article GETs before Flask (no routing, no request context): from
    :data:`HOT` when cached, else built here with the same code as the view.

    Only for a Host that already got an article through the full app (so every
    ``before_request`` hook, the captive portal's interception included, let it
    through), and only plain cases: anything odd (redirects, media, encoded
    characters, a bar not yet rendered, an error) goes to the app."""

    good_hosts: set[str] = set()

    def __init__(self, app, wsgi_app) -> None:
        self.flask_app = app
        self.wsgi_app = wsgi_app
        site = app.config["SITE"]
        self.offered = list(site.site.languages)
        self.default = site.site.default_language
        self.library = library_for(site.content_dir)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if (path.startswith("/library/") and environ.get("REQUEST_METHOD") == "GET"
                and "%" not in environ.get("REQUEST_URI", "%")
                and not path.startswith("/library/_/")):
            try:
                served = self._serve(environ, path, start_response)
            except Exception:  # the app will answer (or explain) properly
                served = None
            if served is not None:
                return served
        return self.wsgi_app(environ, start_response)

    def _serve(self, environ, path, start_response):
        lang = _lang_from_cookie(environ.get("HTTP_COOKIE", ""), self.offered, self.default)
        accept = environ.get("HTTP_ACCEPT_ENCODING", "")
        gz = _accepts_gzip(accept)
        host = environ.get("HTTP_HOST", "")
        hit = HOT.get((host, path, lang, gz))
        self.library.refresh()
        if hit is not None:
            book, zim_path, body, headers, etag = hit
            if self.library._books.get(book.name) is not book:
                return None
            if etag in environ.get("HTTP_IF_NONE_MATCH", ""):
                start_response("304 Not Modified", headers[2:])
                return [b""]
            COUNTER.record(book.name, zim_path, lang, "view")
            start_response("200 OK", headers)
            return [body]
        if host not in self.good_hosts or (not gz and "br" in accept):
            return None  # (a br-only client gets Flask-Compress in the app)
        name, _, zpath = path[len("/library/"):].partition("/")
        segments = zpath.split("/")
        if (not zpath or "\\" in zpath or "\0" in zpath
                or any(seg in ("", ".", "..") for seg in segments)):
            return None
        book = self.library._books.get(name)
        if book is None:
            return None
        bar = _BARS.get((book.name, book.uuid, lang))
        if bar is None:
            return None
        packed = self.library.packed(book, zpath)
        if packed is not None:
            status, headers, chunks = packed_reply(
                book, zpath, packed, lang, gz, _with_next(bar, path),
                environ.get("HTTP_IF_NONE_MATCH", ""))
            start_response(status, headers)
            return chunks
        r = self.library.resolve(book, zpath)
        if (r is None or r.redirect is not None or not r.mimetype.startswith("text/html")
                or r.size > MAX_INJECT):
            return None
        if _etag(book, r.path, lang) in environ.get("HTTP_IF_NONE_MATCH", ""):
            return None
        body, headers = build_article(book, r, lang, gz, _with_next(bar, path), host, path)
        start_response("200 OK", headers)
        return [body]


@bp.record_once
def _install_fast_path(state) -> None:
    app = state.app
    app.wsgi_app = FastPath(app, app.wsgi_app)


# --- catalogue -------------------------------------------------------------------------


def _books_for(lang: str | None, books: list[Book]) -> list[Book]:
    mine = [b for b in books if b.language == lang]
    return mine or books


@bp.get("/library/")
def library():
    books = lib().books()
    languages = sorted({b.language for b in books})
    lang = request.args.get("lang")
    if lang is None:
        lang = g.lang if any(b.language == g.lang for b in books) else "all"
    tag = request.args.get("tag", "")
    shown = [b for b in books if lang == "all" or b.language == lang]
    tags = sorted({t for b in shown for t in b.visible_tags})
    if tag:
        shown = [b for b in shown if tag in b.visible_tags]
    from appliance.languages import LANGUAGES

    names = {c: LANGUAGES[c].own_name if c in LANGUAGES else c for c in languages}
    return render_template("content/library.html", books=shown, all_count=len(books),
                           book_languages=languages, lang=lang, tag=tag, tags=tags,
                           language_names=names)


@bp.get("/library/<book>/")
def book_home(book: str):
    b = lib().book(book) or abort(404)
    if b.is_mooc:
        lessons = lib().lessons(b)
        if lessons:
            return render_template("content/course.html", book=b, lessons=lessons)
    if not b.main_path:
        abort(404)
    return redirect(entry_url(b.name, b.main_path), code=302)


@bp.get("/library/_/illustration/<book>.png")
def illustration(book: str):
    b = lib().book(book) or abort(404)
    data = lib().illustration(b) or abort(404)
    resp = Response(data, mimetype="image/png")
    resp.headers["Cache-Control"] = MEDIA_CACHE
    resp.set_etag(f"{b.uuid}-ill48")
    return resp.make_conditional(request)


def entry_url(book: str, path: str) -> str:
    return f"/library/{quote(book)}/{quote(path, safe='/')}"


# --- reading -----------------------------------------------------------------------------


def _refuse_traversal(path: str) -> None:
    raw = request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI") or ""
    raw_path = raw.split("?", 1)[0].lower()
    if "%2f" in raw_path or "%5c" in raw_path or "%00" in raw_path:
        abort(400)
    segments = path.split("/")
    if (path.startswith("/") or "\\" in path or "\0" in path
            or any(s in (".", "..") for s in segments)):
        abort(400)


def _etag(book: Book, path: str, extra: str = "") -> str:
    h = hashlib.blake2b(path.encode("utf-8"), digest_size=8).hexdigest()
    return f"{book.uuid}-{h}{('-' + extra) if extra else ''}"


def inject_bar(page: bytes, bar: bytes) -> bytes:
    """Put our bar right after the page's ``<body ...>`` (else at the start), leaving
    the ZIM's own markup, scripts and styles untouched; a page without a viewport tag
    gets one (:func:`~content_cache.precompressed.with_viewport`)."""
    page = with_viewport(page)
    at = body_split(page)
    return page[:at] + bar + page[at:]


@bp.get("/library/<book>/<path:path>", merge_slashes=False)
def entry(book: str, path: str):
    _refuse_traversal(path)
    b = lib().book(book) or abort(404)
    packed = lib().packed(b, path)
    if packed is not None:
        return _packed(b, path, packed)
    r = lib().resolve(b, path)
    if r is None:
        abort(404)
    if r.redirect is not None:
        return redirect(entry_url(b.name, r.redirect), code=302)
    if r.mimetype.startswith("text/html") and r.size <= MAX_INJECT:
        return _article(b, r)
    return _media(b, r)


def _headers(etag: str) -> list[tuple[str, str]]:
    return [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "0"),
            ("ETag", f'"{etag}"'), ("Cache-Control", HTML_CACHE),
            ("Vary", "Accept-Encoding, Cookie")]


def build_article(b: Book, r, lang: str, gz: bool, bar: bytes, host: str,
                  path_info: str) -> tuple[bytes, list[tuple[str, str]]]:
    """The article's bytes (bar injected, gzipped if ``gz``) and headers; kept in
    :data:`HOT` and counted as a view. Shared by the view and :class:`FastPath`."""
    etag = _etag(b, r.path, lang)
    headers = _headers(etag)
    body = inject_bar(bytes(r.item.content), bar)
    if gz:
        body = gzip.compress(body, compresslevel=6, mtime=0)
        headers.append(("Content-Encoding", "gzip"))
    headers[1] = ("Content-Length", str(len(body)))
    # Keyed by Host too: an entry exists only for a Host whose request went through
    # every before_request hook (the captive portal's interception included).
    HOT.put((host, path_info, lang, gz), (b, r.path, body, headers, etag))
    COUNTER.record(b.name, r.path, lang, "view")
    trim_memory_sometimes()
    return body, headers


def _article(b: Book, r) -> Response:
    lang = g.lang
    etag = _etag(b, r.path, lang)
    if etag in request.headers.get("If-None-Match", ""):
        resp = Response(status=304)
        for k, v in _headers(etag)[2:]:
            resp.headers[k] = v
        return resp
    gz = _accepts_gzip(request.headers.get("Accept-Encoding", ""))
    host = request.environ.get("HTTP_HOST", "")
    body, headers = build_article(b, r, lang, gz, _bar(b, lang, request.path), host,
                                  request.environ["PATH_INFO"])
    _remember_host()
    resp = Response(body)
    for k, v in headers:
        resp.headers[k] = v
    return resp


def _remember_host() -> None:
    """This request's Host went through every hook: :class:`FastPath` may serve it."""
    if len(FastPath.good_hosts) >= 16:  # the Host header is the client's: bound it
        FastPath.good_hosts.clear()
    FastPath.good_hosts.add(request.environ.get("HTTP_HOST", ""))


def packed_reply(b: Book, path: str, packed: Packed, lang: str, gz: bool, bar: bytes,
                 if_none_match: str) -> tuple[str, list[tuple[str, str]], list]:
    """Status, headers and body chunks for an entry of the precompressed store:
    an HTML page gets our bar (and counts as a view), other text is sent as is.
    Shared by the view and :class:`FastPath`."""
    if packed.is_html:
        etag = _etag(b, path, lang)
        headers = _headers(etag)
    else:
        # As the app answers the same entry from the ZIM (werkzeug's charset,
        # Flask-Compress's ETag suffix for the gzipped representation).
        etag = _etag(b, path) + (":gzip" if gz else "")
        headers = [("Content-Type", get_content_type(packed.mime, "utf-8")),
                   ("Content-Length", "0"), ("ETag", f'"{etag}"'),
                   ("Cache-Control", MEDIA_CACHE), ("Vary", "Accept-Encoding")]
        bar = b""
    if etag in if_none_match:
        return "304 Not Modified", headers[2:], [b""]
    if packed.is_html:
        COUNTER.record(b.name, path, lang, "view")
    if gz:
        chunks = packed.gzip_parts(bar)
        headers.append(("Content-Encoding", "gzip"))
    else:
        chunks = packed.identity_parts(bar)
    headers[1] = ("Content-Length", str(sum(len(c) for c in chunks)))
    return "200 OK", headers, chunks


def _packed(b: Book, path: str, packed: Packed) -> Response:
    gz = _accepts_gzip(request.headers.get("Accept-Encoding", ""))
    bar = _bar(b, g.lang, request.path) if packed.is_html else b""
    status, headers, chunks = packed_reply(b, path, packed, g.lang, gz, bar,
                                           request.headers.get("If-None-Match", ""))
    if packed.is_html:
        _remember_host()
    resp = Response(chunks, status=int(status[:3]), direct_passthrough=True)
    resp.headers.clear()
    for k, v in headers:
        resp.headers[k] = v
    return resp


_BARS: dict[tuple[str, str, str], bytes] = {}
_BARS_LABELS = 0  # the labels' version the bars were rendered with
_NEXT = "__espace_next__"


def _bar(b: Book, lang: str, path: str) -> bytes:
    """Our bar for this book and language, rendered once; only the page's own path
    (for the language chooser's way back) changes per article."""
    global _BARS_LABELS
    if labels_version() != _BARS_LABELS:  # a label was corrected: render bars again
        _BARS_LABELS = labels_version()
        _BARS.clear()
        HOT.clear()
    key = (b.name, b.uuid, lang)
    bar = _BARS.get(key)
    if bar is None:
        if len(_BARS) > 256:
            _BARS.clear()
        bar = _BARS[key] = i18n.mark_fallbacks(render_template(
            "content/_bar.html", book=b, next=_NEXT)).encode("utf-8")
    return _with_next(bar, path)


def _with_next(bar: bytes, path: str) -> bytes:
    return bar.replace(_NEXT.encode(), quote(path, safe="").encode())


def _media(b: Book, r) -> Response:
    etag = _etag(b, r.path)
    size = r.size
    rng = parse_range(request.headers.get("Range"), size)
    if rng and r.mimetype.split(";")[0] in current_app.config.get("COMPRESS_MIMETYPES", ()):
        # Flask-Compress would gzip a 206 body against identity offsets: answer the
        # whole (small, text) entry instead, as RFC 9110 allows.
        rng = None
    if_range = request.headers.get("If-Range")
    if rng is not None and if_range and if_range.strip('"') != etag:
        rng = None
    if request.headers.get("If-None-Match", "").find(etag) >= 0 and rng is None:
        resp = Response(status=304)
        resp.set_etag(etag)
        resp.headers["Cache-Control"] = MEDIA_CACHE
        return resp
    if rng is False:
        resp = Response(status=416)
        resp.headers["Content-Range"] = f"bytes */{size}"
        return resp
    start, end = rng if rng else (0, size)
    if start == 0 and not r.mimetype.startswith(("image/", "text/", "application/")):
        COUNTER.record(b.name, r.path, g.lang, "play")
    length = end - start
    if request.method == "HEAD":
        resp = Response(b"", status=206 if rng else 200, mimetype=r.mimetype)
    elif r.direct is not None:
        f = lib().open_range(b, r.direct[0] + start, length)
        body = wrap_file(request.environ, f, buffer_size=64 * 1024)
        resp = Response(body, status=206 if rng else 200, mimetype=r.mimetype,
                        direct_passthrough=True)
    else:
        data = r.item.content
        resp = Response(bytes(data[start:end]), status=206 if rng else 200,
                        mimetype=r.mimetype)
    return finish(resp, start, end, size, bool(rng), etag, MEDIA_CACHE)


# --- search ------------------------------------------------------------------------------


def _search_books(book: str, lang: str) -> list[Book]:
    books = lib().books()
    if book:
        return [b for b in books if b.name == book]
    if lang == "all":
        return books
    return _books_for(lang or g.lang, books)


@bp.get("/library/_/search")
def search():
    q = request.args.get("q", "").strip()
    book = request.args.get("book", "")
    lang = request.args.get("lang", "")
    try:
        page = max(1, min(100, int(request.args.get("page", "1"))))
    except ValueError:
        page = 1
    per_page = 10
    books = _search_books(book, lang)
    total, results = (lib().search(books, q, (page - 1) * per_page, per_page) if q
                      else (0, []))
    for res in results:
        res["url"] = entry_url(res["book"], res["path"])
    trim_memory_sometimes(10)  # Xapian's and the snippets' heap is the largest
    return render_template("content/search.html", q=q, book=book, lang=lang, page=page,
                           total=total, results=results, books=books,
                           has_next=total > page * per_page and len(results) == per_page)


@bp.get("/library/_/suggest")
def suggest():
    q = request.args.get("q", "")
    books = _search_books(request.args.get("book", ""), request.args.get("lang", ""))
    out = lib().suggest(books, q)
    for s in out:
        s["url"] = entry_url(s["book"], s["path"])
    resp = jsonify(out)
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp
