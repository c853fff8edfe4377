"""The area's PMTiles file over HTTP byte ranges: the map page's vector layer reads the
header, the directories and each tile it needs as ranges of one file. The range rules
are the library's (:mod:`appliance.http_range`); a file that fails its check (corrupt,
truncated, not vector tiles) is never served: 503 and the reason in the log and on the
kiosk, never its bytes."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Response, current_app, request
from werkzeug.wsgi import wrap_file

from appliance.http_range import finish, parse_range

from .build import map_path
from .pmtiles_file import Checked, MapFileError

log = logging.getLogger(__name__)
CHECKED = Checked()
CACHE = "public, max-age=3600, must-revalidate"


def served_path() -> Path:
    return map_path(current_app.config["SITE"].data_dir)


def map_status() -> tuple[object | None, str]:
    """(summary, "") when the map is served; (None, why) when not."""
    try:
        return CHECKED.get(served_path()), ""
    except MapFileError as e:
        return None, str(e)


def serve_tiles() -> Response:
    path = served_path()
    if not path.exists():
        return Response("No offline map on this box yet.\n", status=404, mimetype="text/plain")
    try:
        CHECKED.get(path)
    except MapFileError as e:
        log.warning("map not served: %s", e)
        resp = Response(
            "The offline map is not available on this box.\n", status=503, mimetype="text/plain"
        )
        resp.headers["Cache-Control"] = "no-store"
        return resp
    st = path.stat()
    size = st.st_size
    etag = f"{st.st_ino:x}-{size:x}-{st.st_mtime_ns:x}"
    rng = parse_range(request.headers.get("Range"), size)
    if_range = request.headers.get("If-Range")
    if rng is not None and if_range and if_range.strip('"') != etag:
        rng = None
    if rng is None and etag in request.headers.get("If-None-Match", ""):
        resp = Response(status=304)
        resp.set_etag(etag)
        return resp
    if rng is False:
        resp = Response(status=416)
        resp.headers["Content-Range"] = f"bytes */{size}"
        return resp
    start, end = rng if rng else (0, size)
    length = end - start
    if request.method == "HEAD":
        resp = Response(b"", status=206 if rng else 200, mimetype="application/octet-stream")
    else:
        f = path.open("rb")
        f.seek(start)
        body = wrap_file(request.environ, _Limited(f, length), buffer_size=64 * 1024)
        resp = Response(
            body,
            status=206 if rng else 200,
            mimetype="application/octet-stream",
            direct_passthrough=True,
        )
    return finish(resp, start, end, size, bool(rng), etag, CACHE)


class _Limited:
    """A file object that reads at most ``length`` bytes from where it stands."""

    def __init__(self, f, length: int) -> None:
        self.f, self.left = f, length

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        n = self.left if n < 0 else min(n, self.left)
        data = self.f.read(n)
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.f.close()
