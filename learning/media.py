"""A course's audio and video, served with byte ranges so a phone can seek in a lesson
and resume a download cut by the Wi-Fi (206, 416, 304 and If-Range, through
:mod:`appliance.http_range`).

Uncompressed entries (media always are: libzim's creator stores them so, and the
scrapers too) are streamed from the ZIM file with ``pread`` (:mod:`appliance.zimfile`
finds their bytes), never loaded whole; anything else is sliced from libzim's item.
An entry that is absent, a redirect loop, or that libzim or our reader cannot read
(a truncated or corrupt file) is a plain 404: a phone gets "not found", never a 500.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path

from flask import Response, current_app, request
from werkzeug.wsgi import wrap_file

from appliance.http_range import RangeFile, finish, parse_range
from appliance.zimfile import DirectAccess

CACHE = "public, max-age=2592000"  # an entry never changes within one ZIM (its UUID)
STREAM_MIN = 64 * 1024  # smaller entries are answered from memory


class Entry:
    """An entry's bytes: where they sit in the file (``direct``) or libzim's item."""

    def __init__(self, path: str, mimetype: str, size: int, etag: str, item, direct):
        self.path, self.mimetype, self.size, self.etag = path, mimetype, size, etag
        self.item, self.direct = item, direct


_lock = threading.Lock()
_open: OrderedDict[tuple, object] = OrderedDict()
MAX_OPEN = 8  # archives kept open (a file descriptor and libzim's caches each)


def _archive(zim: Path):
    """The file's libzim Archive, kept open per file version (opening one for every
    range a phone asks for cost a third of each answer, measured in bench/learning.py)."""
    from libzim.reader import Archive

    st = zim.stat()
    key = (str(zim), st.st_size, st.st_mtime_ns, st.st_ino)
    with _lock:
        archive = _open.get(key)
        if archive is not None:
            _open.move_to_end(key)
            return archive
    archive = Archive(str(zim))
    with _lock:
        _open[key] = archive
        while len(_open) > MAX_OPEN:
            _open.popitem(last=False)
    return archive


def find(zim: Path, entry_path: str) -> Entry | None:
    """The entry at ``entry_path`` (redirects followed), or None when it is absent or
    cannot be read."""
    try:
        archive = _archive(zim)
        entry = archive.get_entry_by_path(entry_path)
        for _ in range(8):
            if not entry.is_redirect:
                break
            entry = entry.get_redirect_entry()
        if entry.is_redirect:
            return None
        item = entry.get_item()
        size, mimetype = item.size, item.mimetype
        new_scheme = archive.has_new_namespace_scheme
        uuid = str(archive.uuid)
    except (RuntimeError, KeyError, OSError, ValueError):
        return None
    etag = f"{uuid}-" + hashlib.blake2b(item.path.encode("utf-8"), digest_size=8).hexdigest()
    direct = None
    if size >= STREAM_MIN and not mimetype.startswith("text/"):
        ns, zpath = "C", item.path
        if not new_scheme and item.path[1:2] == "/":  # before 2021: "I/x.webm"
            ns, zpath = item.path[0], item.path[2:]
        try:
            fd = os.open(zim, os.O_RDONLY)
            try:
                direct = DirectAccess(fd).locate(zpath, ns)
                file_size = os.fstat(fd).st_size
            finally:
                os.close(fd)
        except (OSError, ValueError, UnicodeError, IndexError):
            direct = None
        if direct is not None and (direct[1] != size or direct[0] + size > file_size):
            direct = None
    if direct is None:
        try:
            item.content  # noqa: B018 (a corrupt cluster fails here, not mid-answer)
        except RuntimeError:
            return None
    return Entry(item.path, mimetype, size, etag, item, direct)


def serve(zim: Path, entry: Entry) -> Response:
    """The entry, whole or the requested range, with its validators."""
    size = entry.size
    rng = parse_range(request.headers.get("Range"), size)
    if rng and entry.mimetype.split(";")[0] in current_app.config.get("COMPRESS_MIMETYPES", ()):
        rng = None  # Flask-Compress would gzip a 206 body against identity offsets (an SVG)
    if_range = request.headers.get("If-Range")
    if rng is not None and if_range and if_range.strip().strip('"') != entry.etag:
        rng = None  # the phone holds another version: the whole entry
    if rng is None and entry.etag in request.headers.get("If-None-Match", ""):
        resp = Response(status=304)
        resp.set_etag(entry.etag)
        resp.headers["Cache-Control"] = CACHE
        return resp
    if rng is False:
        resp = Response(status=416)
        resp.headers["Content-Range"] = f"bytes */{size}"
        return resp
    start, end = rng if rng else (0, size)
    status = 206 if rng else 200
    if request.method == "HEAD":
        resp = Response(b"", status=status, mimetype=entry.mimetype)
    elif entry.direct is not None:
        body = wrap_file(
            request.environ,
            RangeFile(zim, entry.direct[0] + start, end - start),
            buffer_size=64 * 1024,
        )
        resp = Response(body, status=status, mimetype=entry.mimetype, direct_passthrough=True)
    else:
        data = bytes(entry.item.content)[start:end]
        resp = Response(data, status=status, mimetype=entry.mimetype)
    return finish(resp, start, end, size, bool(rng), entry.etag, CACHE)


def entry_path(course, rel: str) -> str | None:
    """The ZIM path a course's media URL names: under ``media/`` for a course built
    here; for a MOOC, only the audio and video its lessons were found to use."""
    if not rel or rel.startswith("/") or any(s in ("", ".", "..") for s in rel.split("/")):
        return None
    if course.source == "espace":
        return f"media/{rel}"
    used = {p for x in course.lessons() for p in (x.audio, x.video) if p}
    return rel if rel in used else None
