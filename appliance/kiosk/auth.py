"""Facilitator login on the kiosk: PIN against the hashes in site.toml, a lockout
after repeated failures that survives a restart, and logout when idle.

Each login is a row of ``kiosk_session``; the cookie only names it. Logging out
deletes the row, and a row whose facilitator's PIN hash changed in site.toml is dead:
a copied cookie ends with the session it was copied from. The kiosk itself is served
only on the loopback listener (see :mod:`appliance.server`), so a phone on the hotspot
can neither try PINs nor lock the facilitator out.

Views protect themselves with :func:`facilitator_required`; the login page calls
:func:`attempt_login`.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from collections.abc import Callable

from flask import current_app, redirect, request, session, url_for

from .. import csrf
from ..db import database
from ..models import Meta
from ..pins import check_pin

FAILURES = "kiosk:failures"
LOCKED_UNTIL = "kiosk:locked_until"
SEEN_GRANULARITY = 10  # seconds


class LoginResult:
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"


def _now() -> float:
    return time.time()


def locked_for() -> int:
    """Seconds left of a lockout, 0 when the kiosk is open. A lockout never lasts
    longer than configured, even if the clock was set back meanwhile."""
    kiosk = current_app.config["SITE"].kiosk
    until = float(Meta.get_value(LOCKED_UNTIL, "0") or 0)
    left = until - _now()
    return int(min(left, kiosk.lockout_minutes * 60)) if left > 0 else 0


def _reserve_attempt() -> bool:
    """Count one PIN check before it is made, in one write transaction: parallel
    attempts each take their own slot, so no more than ``max_pin_attempts`` checks run
    before the lock, however many arrive at once. False when locked."""
    kiosk = current_app.config["SITE"].kiosk
    with database.atomic():
        if locked_for():
            return False
        failures = int(Meta.get_value(FAILURES, "0") or 0) + 1
        if failures >= kiosk.max_pin_attempts:
            Meta.set_value(LOCKED_UNTIL, str(_now() + kiosk.lockout_minutes * 60))
            failures = 0
        Meta.set_value(FAILURES, str(failures))
    return True


def _pin_mark(pin_hash: str) -> str:
    return hashlib.sha256(pin_hash.encode()).hexdigest()[:16]


def attempt_login(name: str, pin: str) -> str:
    """Check a facilitator's PIN; on success open a session and name it in the cookie."""
    kiosk = current_app.config["SITE"].kiosk
    if not _reserve_attempt():
        return LoginResult.LOCKED
    match = next((f for f in kiosk.facilitators if f["name"] == name), None)
    # Check a hash even for an unknown name, so timing does not reveal names.
    pin_hash = match["pin_hash"] if match else kiosk.facilitators[0]["pin_hash"] \
        if kiosk.facilitators else None
    ok = bool(pin_hash and check_pin(pin_hash, pin) and match)
    if not ok:
        current_app.logger.warning("kiosk: wrong PIN for %r", name[:40])
        return LoginResult.WRONG
    with database.atomic():
        # The right PIN proves the facilitator is here: the count starts again, and a
        # lock that this very attempt's slot set (the last allowed one) is lifted.
        Meta.set_value(FAILURES, "0")
        Meta.set_value(LOCKED_UNTIL, "0")
        key = new_session_row(match)
    session.clear()
    session["facilitator"] = match["name"]
    session["kiosk_sid"] = key
    session["seen"] = _now()
    # A new CSRF token with the new session, in the login's own cookie: the pages'
    # cache (keyed on it) then hits from the first page on, with no second cookie.
    csrf.token()
    return LoginResult.OK


def new_session_row(facilitator: dict) -> str:
    """Store a kiosk session for ``facilitator`` (a site.toml entry); returns the key
    the cookie carries. Call inside a write transaction."""
    key = secrets.token_urlsafe(24)
    # Sessions whose cookie never came back (the screen was switched off) go after a
    # week: the table stays a handful of rows.
    database.execute_sql("DELETE FROM kiosk_session WHERE created < ?", (_now() - 7 * 86400,))
    database.execute_sql("INSERT INTO kiosk_session VALUES (?, ?, ?, ?)",
                         (_key_hash(key), facilitator["name"],
                          _pin_mark(facilitator["pin_hash"]), _now()))
    return key


def _key_hash(key: str) -> str:
    # Only a hash of the cookie's key is stored: a copy of the database opens nothing.
    return hashlib.sha256(key.encode()).hexdigest()


def end_sessions(facilitator: str | None = None) -> int:
    """End every kiosk session (or one facilitator's); returns how many ended."""
    with database.atomic():
        if facilitator is None:
            cursor = database.execute_sql("DELETE FROM kiosk_session")
        else:
            cursor = database.execute_sql("DELETE FROM kiosk_session WHERE facilitator = ?",
                                          (facilitator,))
    return cursor.rowcount


def logout() -> None:
    key = session.pop("kiosk_sid", None)
    if key:
        with database.atomic():
            database.execute_sql("DELETE FROM kiosk_session WHERE key = ?", (_key_hash(key),))
    session.pop("facilitator", None)
    session.pop("seen", None)


def _session_alive(name: str) -> bool:
    key = session.get("kiosk_sid")
    if not key:
        return False
    row = database.execute_sql("SELECT facilitator, pin_mark FROM kiosk_session WHERE key = ?",
                               (_key_hash(str(key)),)).fetchone()
    if row is None or row[0] != name:
        return False
    kiosk = current_app.config["SITE"].kiosk
    match = next((f for f in kiosk.facilitators if f["name"] == name), None)
    # A PIN changed in site.toml (or a facilitator removed) ends their sessions.
    return match is not None and _pin_mark(match["pin_hash"]) == row[1]


def current_facilitator() -> str | None:
    """The logged-in facilitator, or None (also after the idle timeout)."""
    name = session.get("facilitator")
    if not name:
        return None
    if not _session_alive(name):
        logout()
        return None
    idle = current_app.config["SITE"].kiosk.idle_logout_seconds
    since = _now() - float(session.get("seen", 0))
    if since > idle:
        logout()
        return None
    # Renewed at most every few seconds: an unchanged session sends no new cookie,
    # which spares signing one on every request.
    if since >= SEEN_GRANULARITY:
        session["seen"] = _now()
    return name


def facilitator_required(view: Callable) -> Callable:
    """Redirect to the kiosk login (``kiosk.login``) unless a facilitator is in."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_facilitator() is None:
            if request.path.startswith("/api/"):
                return {"error": "Unauthorized"}, 401
            return redirect(url_for("kiosk.login", next=request.path))
        return view(*args, **kwargs)

    return wrapped
