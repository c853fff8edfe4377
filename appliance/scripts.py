"""The box's own static files (scripts, stylesheets, their images), served from memory:
gzipped once, their URLs versioned by their content, cached a year under that URL.

Every package keeps its files in its own static folder and names them with
``url_for('<blueprint>.static', filename=...)`` as Flask has it; :func:`init_app` adds
``?v=`` (the first characters of the file's SHA-256) to every such URL, and
:func:`serve_static_folders` answers those endpoints with :func:`response`. A phone caches
a versioned URL for a year (``immutable``: not even a revalidation) and an upgraded box
names new bytes by a new URL, so a phone never runs last week's script against this week's
page. A URL without the current version (a file named from inside a stylesheet, a page
loaded before the upgrade) is cached an hour and revalidated by ETag (a 304).

Flask's own static view sends the file with ``send_file``: a stream, which Flask-Compress
compresses again on every request and never with gzip (its streaming algorithms are
zstd, br, deflate: a phone asking only for gzip got the raw bytes). Here the text types
are gzipped once per process, at level 9. A file is read once per app, so an upgrade is
seen at the restart that installs it; the static folders are small (under 1 MB in all,
kept so by a test).

The core's shared scripts (``appliance/static``, e.g. ``recorder.js``, the in-page recorder
of the board's and the learner's forms) are also at ``/js/<name>`` (:func:`script_url`).
The surveys' browser form has its own immutable URLs (:mod:`surveys.web_assets`).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, abort, current_app, request, url_for
from werkzeug.security import safe_join

CORE = Path(__file__).parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=3600"
# Gzipped for the phones that accept it; images and fonts are compressed already.
TEXT = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}


@dataclass(frozen=True)
class Packed:
    data: bytes
    zipped: bytes | None  # None: not a text type
    version: str
    mimetype: str


def packed(path: Path) -> Packed:
    """The file at ``path``, its gzip and its version, read once per app."""
    cache = current_app.extensions.setdefault("espace_scripts", {})
    found = cache.get(path)
    if found is None:
        data = path.read_bytes()
        mime = TEXT.get(path.suffix.lower())
        found = cache[path] = Packed(
            data,
            gzip.compress(data, 9, mtime=0) if mime else None,
            hashlib.sha256(data).hexdigest()[:10],
            mime or mimetypes.guess_type(path.name)[0] or "application/octet-stream",
        )
    return found


def response(path: Path):
    """The file at ``path`` as a response: gzipped where the phone takes it, a year's
    cache if the URL names its current version, a 304 to a phone that has it."""
    p = packed(path)
    out = current_app.response_class(mimetype=p.mimetype)
    out.headers["Cache-Control"] = IMMUTABLE if request.args.get("v") == p.version else SHORT
    out.headers["Vary"] = "Accept-Encoding"
    out.set_etag(p.version)
    if request.if_none_match.contains(p.version):
        out.status_code = 304
        return out
    if p.zipped is not None and "gzip" in request.headers.get("Accept-Encoding", "").lower():
        out.set_data(p.zipped)
        out.headers["Content-Encoding"] = "gzip"
    else:
        out.set_data(p.data)
    return out


def _folder(app: Flask, endpoint: str | None) -> str | None:
    """The static folder an endpoint serves (the app's ``static``, a blueprint's
    ``<name>.static``), or None."""
    if endpoint == "static":
        return app.static_folder
    name, _, last = (endpoint or "").rpartition(".")
    bp = app.blueprints.get(name) if last == "static" else None
    return bp.static_folder if bp is not None else None


def _file(folder: str, filename: str) -> Path | None:
    joined = safe_join(folder, filename)  # None for "..", absolute paths
    return Path(joined) if joined is not None and Path(joined).is_file() else None


def _versioned(endpoint: str, values: dict) -> None:
    """``url_for`` of a static file gets ``v=<its version>`` (a missing file, none)."""
    if "v" in values or "filename" not in values:
        return
    folder = _folder(current_app, endpoint)
    path = _file(folder, values["filename"]) if folder else None
    if path is not None:
        values["v"] = packed(path).version


def serve_static_folders(app: Flask) -> None:
    """Answer every static endpoint (the app's, each blueprint's) with :func:`response`.
    Call it once the blueprints are registered."""
    for endpoint in list(app.view_functions):
        folder = _folder(app, endpoint)
        if folder is not None:
            app.view_functions[endpoint] = _static_view(folder)


def _static_view(folder: str):
    def static(filename: str):
        path = _file(folder, filename)
        if path is None:
            abort(404)
        return response(path)

    return static


@functools.cache
def _core_names() -> frozenset[str]:
    # Once per process: script_url runs on every page that records (a glob each time).
    return frozenset(p.name for p in CORE.glob("*.js"))


def script_url(name: str) -> str:
    """The URL of the core's shared script ``name``, versioned by its content."""
    if name not in _core_names():
        raise ValueError(f"no shared script {name!r} in {CORE}")
    return url_for("core_script", name=name, v=packed(CORE / name).version)


def init_app(app: Flask) -> None:
    names = _core_names()

    def core_script(name: str):
        if name not in names:
            abort(404)
        return response(CORE / name)

    app.add_url_rule("/js/<name>", "core_script", core_script)
    app.add_template_global(script_url)
    app.url_defaults(_versioned)
    serve_static_folders(app)  # the core's own; espace.app again once blueprints are in
