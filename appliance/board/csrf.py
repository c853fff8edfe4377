"""A small CSRF guard for the board's forms (portal and kiosk), JavaScript optional.

The token is random, kept in Flask's signed session cookie and repeated in a hidden
form field; a POST whose field does not match the cookie's token is refused. Another
site cannot read the cookie, so it cannot forge the field. Chosen over Flask-WTF
because we need nothing else of WTForms and every form here is hand-written.
"""

from __future__ import annotations

import hmac
import secrets

from flask import request, session

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
