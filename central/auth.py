"""Admin sessions: hashed passwords, CSRF tokens, roles, server-side sessions and
login throttling.

A regional admin sees and acts on the sites of their region; a national viewer sees
every site and changes nothing.

Sessions live in ``admin_session``: the signed cookie only carries a random key whose
hash is a row, so logout and a password change end a session even where its cookie
was copied.

Throttling (every refusal is a row of ``login_failure``, counted over
:data:`WINDOW`): an address gets :data:`ADDRESS_LIMIT` wrong logins, a user name
:data:`USER_LIMIT` from browsers it never logged in from. A browser that did log in
as that user carries a signed *device cookie* and keeps its own allowance
(:data:`DEVICE_LIMIT`), so an attacker hammering a name cannot lock its real owner
out (the device-cookie scheme of OWASP's account-lockout advice). Unknown user names
cost the same password hash as known ones, so timing does not tell them apart.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, request, session, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from .i18n import _
from .models import Admin, AdminSession, LoginFailure, Site, utcnow
from .service import constant_time_equal

WINDOW = dt.timedelta(minutes=15)
ADDRESS_LIMIT = 20
USER_LIMIT = 5
DEVICE_LIMIT = 10
ENROL_LIMIT = 10
DEVICE_COOKIE = "central_device"
DEVICE_DAYS = 90


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def check_csrf() -> None:
    sent = request.form.get("csrf", "")
    if not sent or not constant_time_equal(sent, session.get("csrf", "")):
        abort(400, _("The form has expired or was not sent from this page: reload the page "
                     "and try again."))


# --- sessions ------------------------------------------------------------------------------


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start_session(admin: Admin) -> None:
    """A fresh session for ``admin`` (the old cookie's data is dropped)."""
    key = secrets.token_urlsafe(32)
    # Expired sessions are of no use: the table keeps only live ones.
    AdminSession.delete().where(
        AdminSession.created_at < utcnow() - current_app.permanent_session_lifetime
    ).execute()
    AdminSession.create(key=_hash(key), admin=admin, created_at=utcnow())
    session.clear()
    session["sid"] = key
    session.permanent = True


def end_session() -> None:
    key = session.get("sid")
    if key:
        AdminSession.delete().where(AdminSession.key == _hash(str(key))).execute()
    session.clear()


def end_all_sessions(admin: Admin) -> int:
    """End every session of ``admin`` (password change, deactivation)."""
    return AdminSession.delete().where(AdminSession.admin == admin).execute()


def load_admin() -> None:
    g.admin = None
    key = session.get("sid")
    if not key:
        return
    lifetime = current_app.permanent_session_lifetime
    row = (
        AdminSession.select(AdminSession, Admin)
        .join(Admin)
        .where(
            (AdminSession.key == _hash(str(key)))
            & (AdminSession.created_at > utcnow() - lifetime)
            & (Admin.active == True)  # noqa: E712 - peewee builds SQL from ==
        )
        .first()
    )
    if row is not None:
        g.admin = row.admin


# --- throttling -----------------------------------------------------------------------------


def _failures(scope: str) -> int:
    since = utcnow() - WINDOW
    return (
        LoginFailure.select()
        .where((LoginFailure.scope == scope) & (LoginFailure.at > since))
        .count()
    )


def record_failure(*scopes: str) -> None:
    now = utcnow()
    LoginFailure.insert_many([{"scope": s[:255], "at": now} for s in scopes]).execute()
    # Old rows are of no use once out of the window.
    LoginFailure.delete().where(LoginFailure.at < now - 2 * WINDOW).execute()


def address() -> str:
    return request.remote_addr or "?"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="central-device")


def device_for(username: str) -> str | None:
    """The device id of this browser if it once logged in as ``username``."""
    cookie = request.cookies.get(DEVICE_COOKIE, "")
    try:
        data = _serializer().loads(cookie, max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return None
    if isinstance(data, dict) and data.get("u") == username:
        return str(data.get("d", ""))
    return None


def device_cookie(username: str) -> str:
    return _serializer().dumps({"u": username, "d": secrets.token_urlsafe(12)})


def login_scopes(username: str) -> list[str]:
    """What a wrong password for ``username`` from this browser counts against."""
    device = device_for(username)
    if device:
        return [f"device:{device}"]
    return [f"user:{username.casefold()[:200]}", f"addr:{address()}"]


def login_throttled(username: str) -> bool:
    device = device_for(username)
    if device:
        return _failures(f"device:{device}") >= DEVICE_LIMIT
    return (
        _failures(f"addr:{address()}") >= ADDRESS_LIMIT
        or _failures(f"user:{username.casefold()[:200]}") >= USER_LIMIT
    )


def enrol_throttled() -> bool:
    return _failures(f"enrol:{address()}") >= ENROL_LIMIT


@functools.cache
def _dummy_hash() -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash(secrets.token_hex(16))


def authenticate(username: str, password: str) -> Admin | None:
    """The active admin with this name and password, or None, after the same amount
    of hashing whether or not the name exists."""
    from werkzeug.security import check_password_hash

    admin = Admin.get_or_none(Admin.username == username)
    ok = check_password_hash(admin.password_hash if admin else _dummy_hash(), password)
    return admin if ok and admin is not None and admin.active else None


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this server, else None. Browsers drop tabs and
    newlines inside URLs and read ``\\`` as ``/``: ``/\\t/evil.com`` is ``//evil.com``."""
    if not target or not target.startswith("/"):
        return None
    if any(ord(c) < 0x21 or c in "\\\x7f" for c in target) or target.startswith("//"):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def change_password(admin: Admin, password: str) -> None:
    """Set a new password and end every session of the admin (a thief's too)."""
    from werkzeug.security import generate_password_hash

    from . import service
    from .db import database

    if len(password) < 10:
        raise service.CentralError("passwords have at least 10 characters")
    with database.atomic():
        Admin.update(password_hash=generate_password_hash(password)).where(
            Admin.id == admin.id
        ).execute()
        end_all_sessions(admin)
        service.audit(admin, "admin.password", admin.username)


# --- roles ---------------------------------------------------------------------------------


def login_required(view):
    """Logged-in admins; a trainer (issue 20) only on the views marked ``trainer_ok``
    (central/coaching_views.py): every other page is 403 to them, the start page takes
    them to their own."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.admin is None:
            return redirect(url_for("admin.login", next=request.path))
        if g.admin.role == "trainer" and not getattr(wrapped, "trainer_ok", False):
            if request.endpoint == "admin.sites":
                return redirect(url_for("coaching.index"))
            abort(403, _("A trainer sees only the work of their groups (Coaching page)."))
        return view(*args, **kwargs)

    return wrapped


def writer_required(view):
    """Regional admins only: national viewers are read-only."""

    @functools.wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if g.admin.role != "regional":
            abort(403, _("national viewers cannot change anything"))
        return view(*args, **kwargs)

    return wrapped


def visible_sites():
    query = Site.select().order_by(Site.slug)
    if g.admin.role == "regional":
        query = query.where(Site.region == g.admin.region_id)
    elif g.admin.role != "national":  # a trainer sees work, never a site's figures
        query = query.where(Site.id.is_null())
    return query


def can_see(site: Site) -> bool:
    if g.admin.role == "national":
        return True
    return g.admin.role == "regional" and site.region_id == g.admin.region_id
