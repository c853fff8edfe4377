"""Facilitator login on the kiosk: PIN against the hashes in site.toml, a lockout
after repeated failures that survives a restart, and logout when idle.

Views protect themselves with :func:`facilitator_required`; the login page calls
:func:`attempt_login`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from flask import current_app, redirect, request, session, url_for

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


def attempt_login(name: str, pin: str) -> str:
    """Check a facilitator's PIN; on success remember them in the session."""
    kiosk = current_app.config["SITE"].kiosk
    if locked_for():
        return LoginResult.LOCKED
    match = next((f for f in kiosk.facilitators if f["name"] == name), None)
    # Check a hash even for an unknown name, so timing does not reveal names.
    pin_hash = match["pin_hash"] if match else kiosk.facilitators[0]["pin_hash"] \
        if kiosk.facilitators else None
    ok = bool(pin_hash and check_pin(pin_hash, pin) and match)
    with database.atomic():
        if ok:
            Meta.set_value(FAILURES, "0")
        else:
            failures = int(Meta.get_value(FAILURES, "0") or 0) + 1
            if failures >= kiosk.max_pin_attempts:
                Meta.set_value(LOCKED_UNTIL, str(_now() + kiosk.lockout_minutes * 60))
                failures = 0
            Meta.set_value(FAILURES, str(failures))
    if not ok:
        current_app.logger.warning("kiosk: wrong PIN for %r", name[:40])
        return LoginResult.WRONG
    session.clear()
    session["facilitator"] = match["name"]
    session["seen"] = _now()
    return LoginResult.OK


def logout() -> None:
    session.pop("facilitator", None)
    session.pop("seen", None)


def current_facilitator() -> str | None:
    """The logged-in facilitator, or None (also after the idle timeout)."""
    name = session.get("facilitator")
    if not name:
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
