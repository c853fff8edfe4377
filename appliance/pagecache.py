"""Pages that depend only on the path and the visitor's language (the landing page,
the language chooser, About) are rendered once per language and kept, with their
gzip bytes, for the life of the process: the site config and the catalogues only
change with a restart. What else a page shows (the announcements on the home) is named
by its ``version`` function, part of the key. A phone that has the page gets a 304 from
its ETag.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from collections.abc import Callable

from flask import Response, current_app, g, request

from . import i18n
from .labels.web import labels_version

_MAX_ENTRIES = 256


def language_page(view: Callable[..., str] | None = None, *,
                  version: Callable[[], object] | None = None):
    """Cache a view whose HTML depends only on (path, query, language, first visit)
    and, when given, what ``version()`` returns (``@language_page(version=f)``)."""
    if view is None:
        return functools.partial(language_page, version=version)

    @functools.wraps(view)
    def wrapped(*args, **kwargs) -> Response:
        cache = current_app.extensions.setdefault("espace.pagecache", {})
        key = (request.full_path, g.lang, i18n.COOKIE in request.cookies,
               version() if version is not None else None,
               labels_version())
        entry = cache.get(key)
        if entry is None:
            body = i18n.mark_fallbacks(view(*args, **kwargs)).encode()
            entry = (body, gzip.compress(body, 6, mtime=0),
                     hashlib.sha256(body).hexdigest()[:20])
            if len(cache) >= _MAX_ENTRIES:
                cache.clear()
            cache[key] = entry
        body, zipped, etag = entry
        accepts_gzip = "gzip" in request.headers.get("Accept-Encoding", "")
        response = Response(zipped if accepts_gzip else body, mimetype="text/html")
        if accepts_gzip:
            response.headers["Content-Encoding"] = "gzip"
        response.headers["Vary"] = "Accept-Encoding, Cookie"
        response.headers["Cache-Control"] = "no-cache"  # revalidate: a 304 is tiny
        response.set_etag(etag + (":gz" if accepts_gzip else ""))
        # werkzeug's conditional checks cost a tenth of the request: only a phone that
        # revalidates (or a client asking If-Match) needs them. The body's length is
        # set already; waitress adds Date.
        if request.if_none_match or request.if_match:
            response.make_conditional(request)
        return response

    return wrapped
