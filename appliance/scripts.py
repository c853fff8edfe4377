"""The box's own scripts, served from memory: gzipped once, cached a week by phones,
their URL versioned by their content.

Flask-Compress leaves files sent with ``send_file`` alone (over plain HTTP phones ask for
gzip, which it only streams), and a script cached for a week must not outlive an update
of the box: ``?v=`` is the first characters of its SHA-256. The core's shared scripts
(``appliance/static``, e.g. ``recorder.js``, the in-page recorder of the board's and the
learner's forms) are at ``/js/<name>``; a package serves its own with :func:`response`.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

from flask import Flask, abort, current_app, request, url_for

CORE = Path(__file__).parent / "static"
MAX_AGE = 7 * 24 * 3600


def packed(path: Path) -> tuple[bytes, bytes, str]:
    """The script at ``path``, its gzip and its version, read once per app."""
    cache = current_app.extensions.setdefault("espace_scripts", {})
    found = cache.get(path)
    if found is None:
        data = path.read_bytes()
        found = cache[path] = (
            data,
            gzip.compress(data, 9, mtime=0),
            hashlib.sha256(data).hexdigest()[:10],
        )
    return found


def response(path: Path):
    """The script at ``path`` as a response: gzipped where the phone takes it."""
    data, zipped, _version = packed(path)
    gz = "gzip" in request.headers.get("Accept-Encoding", "").lower()
    out = current_app.response_class(zipped if gz else data, mimetype="text/javascript")
    if gz:
        out.headers["Content-Encoding"] = "gzip"
    out.headers["Vary"] = "Accept-Encoding"
    out.cache_control.public = True
    out.cache_control.max_age = MAX_AGE
    return out


def _core_names() -> frozenset[str]:
    return frozenset(p.name for p in CORE.glob("*.js"))


def script_url(name: str) -> str:
    """The URL of the core's shared script ``name``, versioned by its content."""
    if name not in _core_names():
        raise ValueError(f"no shared script {name!r} in {CORE}")
    return url_for("core_script", name=name, v=packed(CORE / name)[2])


def init_app(app: Flask) -> None:
    names = _core_names()

    def core_script(name: str):
        if name not in names:
            abort(404)
        return response(CORE / name)

    app.add_url_rule("/js/<name>", "core_script", core_script)
    app.add_template_global(script_url)
