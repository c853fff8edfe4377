"""Flask's signed-cookie sessions, with the signature check remembered.

Checking a session cookie's HMAC costs more than serving a cached kiosk page. The
same cookie string always decodes to the same data, so a verified cookie is kept
for a short while (bounded), and only its expiry is re-checked. A forged or
tampered cookie never enters the cache: only what itsdangerous accepted does.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from flask.sessions import SecureCookieSessionInterface

_TTL_SECONDS = 30.0
_MAX_ENTRIES = 512


class CachedSessionInterface(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._verified: OrderedDict[tuple[str, str], tuple[float, dict]] = OrderedDict()

    def open_session(self, app, request):
        value = request.cookies.get(self.get_cookie_name(app))
        if not app.secret_key:
            return super().open_session(app, request)
        if not value:  # a phone without a session: no serializer to build
            return self.session_class()
        key = (app.secret_key, value)
        hit = self._verified.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < _TTL_SECONDS:
            return self.session_class(hit[1])
        session = super().open_session(app, request)
        if session is not None and not session.new and session:
            self._verified[key] = (now, dict(session))
            if len(self._verified) > _MAX_ENTRIES:
                self._verified.popitem(last=False)
        return session
