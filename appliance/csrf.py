"""The box's one CSRF guard, for every form (portal and kiosk), JavaScript optional.

The token is random, kept in Flask's signed session cookie and repeated in a hidden
form field; a POST whose field does not match the cookie's token is refused. Another
site cannot read the cookie, so it cannot forge the field. Chosen over Flask-WTF
because we need nothing else of WTForms and every form here is hand-written.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable

from flask import Flask, abort, request, session

FIELD = "csrf"


def token() -> str:
    value = session.get(FIELD)
    if not value:
        value = secrets.token_urlsafe(18)
        session[FIELD] = value
    return value


def valid() -> bool:
    expected = session.get(FIELD)
    given = request.form.get(FIELD, "")
    return bool(expected) and hmac.compare_digest(str(expected), given)


def protect(view: Callable) -> Callable:
    """Refuse a POST to ``view`` (400) unless it carries the session's token. For
    views that render their own error instead, call :func:`valid`."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if request.method == "POST" and not valid():
            abort(400)
        return view(*args, **kwargs)

    return wrapped


def init_app(app: Flask) -> None:
    """Every template can write ``{{ csrf_token() }}`` in a hidden ``csrf`` field."""
    app.jinja_env.globals["csrf_token"] = token
