"""The browser form's files: ODK Web Forms and Vue as vendored (``static/vendor``, listed
with their hashes in ``MANIFEST.json`` by ``scripts/vendor-web-forms``) and our own
small scripts, served under ``/forms/assets/`` at URLs that change when the file does,
so a phone downloads them once (about 1.3 MB gzipped on the first form) and keeps them:
``Cache-Control: immutable`` for a year.

Each file is gzipped once per process, in memory, for the phones that accept gzip
(every browser does); waitress does not compress.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from functools import cache
from pathlib import Path

from flask import Response, abort, request, url_for

STATIC = Path(__file__).parent / "static"
VENDOR = STATIC / "vendor"
OWN = ("webform.js", "webform.css", "secure-shims.js")  # ours, in static/
IMMUTABLE = "public, max-age=31536000, immutable"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

_lock = threading.Lock()
_gzipped: dict[str, bytes] = {}


@cache
def manifest() -> dict:
    return json.loads((VENDOR / "MANIFEST.json").read_text())


@cache
def _own_hash(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def folder(package: str) -> str:
    """The vendored folder of ``package`` (``web-forms-0.22.0``)."""
    for p in manifest()["packages"]:
        if p["package"] == package:
            return p["folder"]
    raise KeyError(package)


def url(name: str) -> str:
    """The URL of a vendored file (``vue-3.5.45/vue.runtime...js``) or of one of ours."""
    if name in OWN:
        return url_for("webforms.asset", name=f"own-{_own_hash(name)}/{name}")
    if name not in manifest()["files"]:
        raise KeyError(name)
    return url_for("webforms.asset", name=name)


def _resolve(name: str) -> tuple[Path, str] | None:
    """(path, etag) of a served file, or None: only listed names, never a path."""
    meta = manifest()["files"].get(name)
    if meta is not None and not name.endswith("LICENSE"):
        return VENDOR / name, meta["sha256"]
    head, _, tail = name.partition("/")
    if tail in OWN and head == f"own-{_own_hash(tail)}":
        return STATIC / tail, _own_hash(tail)
    return None


def _gzip(name: str, path: Path) -> bytes:
    with _lock:
        body = _gzipped.get(name)
        if body is None:
            body = _gzipped[name] = gzip.compress(path.read_bytes(), 6, mtime=0)
        return body


def serve(name: str) -> Response:
    found = _resolve(name)
    if found is None:
        abort(404)
    path, etag = found
    headers = {"Cache-Control": IMMUTABLE, "ETag": f'"{etag}"', "Vary": "Accept-Encoding"}
    if request.if_none_match.contains(etag):
        return Response(status=304, headers=headers)
    mime = TYPES.get(path.suffix, "application/octet-stream")
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(_gzip(name, path), 200, headers, content_type=mime)
    return Response(path.read_bytes(), 200, headers, content_type=mime)


def first_load_bytes() -> dict[str, int]:
    """Gzipped bytes a phone downloads for its first form (the lazy map chunk apart)."""
    files = manifest()["files"]
    wf, vue = folder("@getodk/web-forms"), folder("vue")
    first = [
        n
        for n in files
        if n.startswith((wf + "/", vue + "/")) and n.endswith(".js") and "MapBlock" not in n
    ]
    return {n: files[n]["gzip_bytes"] for n in sorted(first)}
